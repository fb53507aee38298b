"""test_http_limits.py - bad input and hostile clients against `loginguard run`:

every error status with its JSON body (400 with where the JSON broke, 404, 405 + Allow,
411, 413 at 4096/4097 bytes and for 1 MiB, 414, 415, 431), keep-alive across an error, a
body cut short by a closing client, a complete but truncated JSON, a client sending one
byte per second cut off after http.timeout_s while other clients are served, and 5 000
idle connections at once with the server still answering.
"""
import http.client
import json
import resource
import socket
import time

import lghttp
import lgtest
from lgtest import check

TIMEOUT_S = 3


def post_raw(port, body, content_type="application/json", path="/v1/login", key=None):
    hdrs = {"Content-Type": content_type}
    if key:
        hdrs["Authorization"] = "Bearer " + key
    return lgtest.request(port, "POST", path, body, hdrs)


def error_of(raw):
    doc = json.loads(raw)
    check(set(doc) == {"error", "detail"}, "error body %r" % raw)
    return doc


def check_statuses(port, key):
    st, _, raw = post_raw(port, b'{"user": "alice",\n "password": }')
    check(st == 400, "bad JSON: %d" % st)
    doc = error_of(raw)
    check(doc["error"] == "bad_json" and "line 2, column" in doc["detail"]
          and "(byte " in doc["detail"], "bad JSON detail %r" % doc)

    st, _, raw = post_raw(port, b'{"user": "alice", "user": "bob", "password": "x"}')
    check(st == 400 and "duplicate" in error_of(raw)["detail"], "duplicate key: %d %r" % (st, raw))
    st, _, raw = post_raw(port, b'["alice"]')
    check(st == 400 and error_of(raw)["error"] == "bad_request", "array body: %d" % st)
    st, _, raw = post_raw(port, json.dumps({"user": "a" * 129, "password": "x"}))
    check(st == 400 and "field 'user'" in error_of(raw)["detail"], "long user: %d %r" % (st, raw))
    st, _, raw = post_raw(port, json.dumps({"user": "alice"}))
    check(st == 400 and "password" in error_of(raw)["detail"], "no password: %d" % st)
    st, _, raw = post_raw(port, json.dumps({"user": "alice", "ip": "1.2.3.999", "ok": False}),
                          path="/v1/attempts", key=key)
    check(st == 400 and "field 'ip'" in error_of(raw)["detail"], "bad ip: %d %r" % (st, raw))

    st, _, raw = lgtest.request(port, "GET", "/nope")
    check(st == 404 and error_of(raw)["error"] == "not_found", "404: %d" % st)
    st, _, raw = lgtest.request(port, "GET", "/v1/stats")
    check(st == 404, "/v1/stats is not served yet: %d" % st)
    st, hdrs, raw = lgtest.request(port, "GET", "/v1/login")
    check(st == 405 and hdrs.get("allow") == "POST", "405: %d allow=%r" % (st, hdrs.get("allow")))
    check(error_of(raw)["error"] == "method_not_allowed", "405 body")
    st, hdrs, raw = lgtest.request(port, "PUT", "/v1/blocks/alice", b"{}",
                                   {"Content-Type": "application/json"})
    check(st == 405 and hdrs.get("allow") == "GET, DELETE", "405 on blocks: %r" % hdrs.get("allow"))

    raw = lghttp.raw_exchange(port, b"POST /v1/login HTTP/1.1\r\nHost: x\r\n"
                                    b"Content-Type: application/json\r\n\r\n")
    check(lghttp.status_of(raw) == 411, "no Content-Length: %r" % raw[:80])
    check(b'"length_required"' in raw, "411 body %r" % raw)

    st, _, raw = post_raw(port, b'{"user":"alice","password":"x"}', "text/plain")
    check(st == 415 and error_of(raw)["error"] == "unsupported_media_type", "415: %d" % st)
    raw = lghttp.raw_exchange(port, b"POST /v1/login HTTP/1.1\r\nHost: x\r\n"
                                    b"Content-Length: 2\r\n\r\n{}")
    check(lghttp.status_of(raw) == 415, "no Content-Type: %r" % raw[:60])

    # body bound: 4096 bytes is read and judged, 4097 is refused unread
    def padded(n):
        base = {"user": "alice", "password": "wrong", "pad": ""}
        body = json.dumps(base, separators=(",", ":"))
        return json.dumps(dict(base, pad="x" * (n - len(body))), separators=(",", ":")).encode()
    check(len(padded(4096)) == 4096 and len(padded(4097)) == 4097, "padding")
    st, _, raw = post_raw(port, padded(4095))
    check(st == 401, "4095-byte body: %d %r" % (st, raw))
    st, _, raw = post_raw(port, padded(4096))
    check(st == 401, "4096-byte body: %d %r" % (st, raw))
    st, _, raw = post_raw(port, padded(4097))
    check(st == 413 and error_of(raw)["error"] == "payload_too_large", "4097-byte body: %d" % st)
    raw = lghttp.send_big(port, b"POST /v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: "
                          b"application/json\r\nContent-Length: %d\r\n\r\n" % (1 << 20),
                          b"x" * (1 << 20))
    check(lghttp.status_of(raw) == 413, "1 MiB body: %r" % raw[:60])
    st, _, _ = lgtest.request(port, "GET", "/healthz")
    check(st == 200, "server after a 1 MiB body: %d" % st)
    # chunked: no length up front, so the bound is counted as the bytes arrive
    raw = lghttp.raw_exchange(port, b"POST /v1/login HTTP/1.1\r\nHost: x\r\n"
                              b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                              + b"".join(b"1000\r\n" + b"y" * 4096 + b"\r\n" for _ in range(4))
                              + b"0\r\n\r\n")
    check(lghttp.status_of(raw) == 413, "16 KiB chunked body: %r" % raw[:60])

    st, _, raw = lgtest.request(port, "GET", "/v1/blocks/" + "a" * 3000)
    check(st == 414 and error_of(raw)["error"] == "uri_too_long", "long path: %d" % st)
    raw = lghttp.raw_exchange(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: "
                              + b"h" * 100000 + b"\r\n\r\n", read_until_close=True)
    check(lghttp.status_of(raw) == 431, "100 kB header: %r" % raw[:60])


def check_keep_alive(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/healthz")
    r = conn.getresponse()
    r.read()
    sock = conn.sock
    check(r.status == 200, "keep-alive 1")
    conn.request("POST", "/v1/login", body=b"{", headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    r.read()
    check(r.status == 400, "keep-alive 2")
    conn.request("GET", "/v1/blocks/alice")
    r = conn.getresponse()
    r.read()
    check(r.status == 200 and conn.sock is sock, "keep-alive 3: one connection for 3 requests")
    conn.close()


def check_truncated_bodies(port):
    # the client announces 200 bytes, sends 20, then closes: nothing to answer, server fine
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"POST /v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: 200\r\n\r\n" + b'{"user":"alice","pas')
    s.close()
    st, _, _ = lgtest.request(port, "GET", "/healthz")
    check(st == 200, "server after a cut body: %d" % st)
    # a complete request whose JSON stops half-way
    st, _, raw = post_raw(port, b'{"user":"alice","pas')
    check(st == 400 and "invalid JSON" in error_of(raw)["detail"], "truncated JSON: %d %r" % (st, raw))


def check_slow_client(port):
    """One byte per second never trips an inactivity timeout; the whole-request bound
    must cut it after TIMEOUT_S while other clients are served."""
    request = b"POST /v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    s = socket.create_connection(("127.0.0.1", port), timeout=1)
    t0 = time.time()
    sent = 0
    cut_after = None
    served = 0
    while time.time() - t0 < TIMEOUT_S + 6:
        try:
            s.send(request[sent % len(request):sent % len(request) + 1])
            sent += 1
            s.settimeout(1.0)
            got = s.recv(1)  # waits up to 1 s: one byte per second
            if got == b"":
                cut_after = time.time() - t0
                break
        except socket.timeout:
            pass
        except (ConnectionResetError, BrokenPipeError):
            cut_after = time.time() - t0
            break
        t1 = time.time()
        st, _, _ = lgtest.request(port, "GET", "/healthz", timeout=2)
        check(st == 200 and time.time() - t1 < 1.0, "others are not served during the slow client")
        served += 1
    s.close()
    check(cut_after is not None, "a 1 byte/s client was not cut off within %d s" % (TIMEOUT_S + 6))
    check(TIMEOUT_S - 0.5 <= cut_after <= TIMEOUT_S + 2.5,
          "slow client cut after %.1f s, timeout_s=%d" % (cut_after, TIMEOUT_S))
    check(sent >= TIMEOUT_S - 1 and served >= TIMEOUT_S - 1,
          "sent %d bytes, served %d others" % (sent, served))
    return cut_after


def check_idle_connections(port, n=5000):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    socks = []
    try:
        for _ in range(n):
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        st, _, _ = lgtest.request(port, "GET", "/healthz", timeout=10)
        check(st == 200, "with %d idle connections: %d" % (n, st))
        st, _, doc = lgtest.request_json(port, "GET", "/v1/blocks/alice", timeout=10)
        check(st == 200, "request with %d idle connections: %d" % (n, st))
    finally:
        for s in socks:
            s.close()


def main():
    # 5 000 client sockets plus the server's (it inherits this limit and raises its own)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 12000
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    check(resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= 10400,
          "RLIMIT_NOFILE hard limit %d is too low for 5000 connections" % hard)

    srv = lghttp.Server(users=[("alice", "alice-pw", False)], timeout_s=TIMEOUT_S)
    try:
        check_statuses(srv.port, srv.key)
        check_keep_alive(srv.port)
        check_truncated_bodies(srv.port)
        cut = check_slow_client(srv.port)
        check_idle_connections(srv.port)
        st, _, raw = lgtest.request(srv.port, "GET", "/metrics")
        check(st == 200 and b"lg_http_timeouts_total" in raw, "metrics")
        timeouts = [l for l in raw.decode().splitlines() if l.startswith("lg_http_timeouts_total")]
        check(int(timeouts[0].split()[1]) >= 1, "timeouts counted: %s" % timeouts)
        check(srv.stop() == 0, "run exit status")
        print("slow client cut after %.1f s" % cut)
    finally:
        srv.cleanup()
    print("ok")


if __name__ == "__main__":
    main()
