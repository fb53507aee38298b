"""test_client_address.py - the address IP-keyed rules key a login by, on `loginguard run`.

As an attacker would try it (issue 7, "Client address"):
- a login naming a fresh `ip` in its body per guess: ignored, the one real address blocks;
- X-Forwarded-For sent straight to the API (no trusted proxy): ignored the same way;
behind a trusted proxy (trusted_proxies = 127.0.0.1/32, the proxy being this test):
- two clients named by X-Forwarded-For have separate keys, whatever the client prepends;
- six spellings of 2001:db8::1 are one key, ::ffff:192.0.2.1 is 192.0.2.1, two addresses
  of one /64 are one key (user_ip, ipv6_prefix 64), and the block names the network;
- a broken X-Forwarded-For is counted in /metrics and keyed by the proxy's address;
- /metrics and GET /v1/blocks/{user} answer a client outside admin_networks only with an
  admin token (403 without), /healthz always.
"""
import http.client
import json
import time

import lghttp
import lgtest
from lgtest import check

SPELLINGS = ["2001:db8::1", "2001:DB8::1", "2001:0db8::1", "2001:db8:0:0::1",
             "2001:db8:0000:0000:0000:0000:0000:0001", "2001:db8::0:1", "2001:DB8:0::1"]


def login_xff(srv, user, password, xff=(), body_ip=None, token=None):
    """POST /v1/login with one X-Forwarded-For header line per element of xff."""
    body = {"user": user, "password": password}
    if body_ip:
        body["ip"] = body_ip
    return request(srv.port, "POST", "/v1/login", body, xff, token)


def request(port, method, path, body=None, xff=(), token=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest(method, path)
        data = json.dumps(body).encode() if body is not None else b""
        if body is not None:
            conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(len(data)))
        for v in xff:
            conn.putheader("X-Forwarded-For", v)
        if token:
            conn.putheader("Authorization", "Bearer " + token)
        conn.endheaders(data)
        r = conn.getresponse()
        raw = r.read()
        try:
            doc = json.loads(raw) if raw else None
        except ValueError:
            doc = raw
        return r.status, doc
    finally:
        conn.close()


def wait_block(srv, rule, ip, timeout=10):
    """The block `run` printed for (rule, ip); fails the test when none comes."""
    found = []

    def printed():
        found[:] = [b for b in srv.blocks_printed() if b["rule"] == rule and b.get("ip") == ip]
        return bool(found)
    lgtest.wait_until(printed, timeout, "a block of rule %s for ip %s (printed: %s)"
                      % (rule, ip, srv.blocks_printed()))
    return found[0]


def wait_refused(srv, user, xff=(), body_ip=None, timeout=5):
    """Polls a login until it is 423 (the block reaches the API's cache right after the
    detector prints it)."""
    deadline = time.time() + timeout
    st = None
    while time.time() < deadline:
        st, _ = login_xff(srv, user, "whatever", xff, body_ip)
        if st == 423:
            return
        time.sleep(0.05)
    lgtest.fail("login of %s xff=%s body ip=%s: %s, expected 423" % (user, xff, body_ip, st))


def stored_ips(srv, user):
    """The addresses of user's attempts in the audit log, once the detector stored them."""
    lgtest.wait_until(lambda: srv.audit(user)[0], 10, "attempts of %s in the audit log" % user)
    return [a["ip"] for a in srv.audit(user)[0]]


def guesses_keyed_by_the_peer(how):
    """Three guesses, each naming a fresh address (in the body, or in X-Forwarded-For
    sent straight to the API), and a fresh user: rule ip blocks the one real address."""
    srv = lghttp.Server(extra_config="[rule ip]\nenabled = true\nthreshold = 3\n")

    def claim(i):
        fresh = "198.51.100.%d" % (i + 1)
        return {"body_ip": fresh} if how == "body" else {"xff": [fresh]}
    try:
        for i in range(3):
            st, _ = login_xff(srv, "%s%d" % (how, i), "wrong", **claim(i))
            check(st == 401, "%s guess %d: %d" % (how, i + 1, st))
        wait_block(srv, "ip", "127.0.0.1")
        wait_refused(srv, how + "9", **claim(98))
        ips = stored_ips(srv, how + "0")
        check(ips == ["127.0.0.1"], "stored address of a %s-spoofed login: %s" % (how, ips))
        # nor can a client outside admin_networks claim to be inside (or the reverse)
        st, _ = request(srv.port, "GET", "/metrics", xff=["203.0.113.50"])
        check(st == 200, "/metrics from loopback with an unbelieved XFF: %d" % st)
        check(srv.stop() == 0, "run did not exit 0")
    finally:
        srv.cleanup()


def test_spoofed_body_ip_is_ignored():
    guesses_keyed_by_the_peer("body")


def test_xff_from_an_untrusted_peer_is_ignored():
    guesses_keyed_by_the_peer("xff")


def test_behind_a_trusted_proxy():
    srv = lghttp.Server(users=[("root", "root-pw", True)], extra_config=(
        "trusted_proxies = 127.0.0.1/32\n"       # [http], the last section of config_text
        "[rule ip]\nenabled = true\nthreshold = 3\nipv6_prefix = 128\n"
        "[rule user_ip]\nenabled = true\nthreshold = 3\n"))
    try:
        # two clients, separate keys; what a client prepends is its own word
        for i in range(3):
            st, _ = login_xff(srv, "a%d" % i, "wrong", xff=["10.%d.0.1, 192.0.2.10" % i])
            check(st == 401, "192.0.2.10 guess %d: %d" % (i + 1, st))
        wait_block(srv, "ip", "192.0.2.10")
        wait_refused(srv, "a9", xff=["192.0.2.10"])
        st, _ = login_xff(srv, "a9", "wrong", xff=["192.0.2.11"])
        check(st == 401, "192.0.2.11 refused by the block of 192.0.2.10: %d" % st)
        st, _ = login_xff(srv, "a8", "wrong")
        check(st == 401, "the proxy itself refused by a client's block: %d" % st)

        # six spellings, one key (rule ip with ipv6_prefix 128: the address itself)
        for i, sp in enumerate(SPELLINGS[:3]):
            st, _ = login_xff(srv, "s%d" % i, "wrong", xff=[sp])
            check(st == 401, "spelling %s: %d" % (sp, st))
        wait_block(srv, "ip", "2001:db8::1")
        wait_refused(srv, "s9", xff=[SPELLINGS[3]])
        for sp in SPELLINGS[4:]:
            st, _ = login_xff(srv, "s8", "wrong", xff=[sp])
            check(st == 423, "spelling %s after the block: %d" % (sp, st))
        check(len([b for b in srv.blocks_printed() if b.get("ip") == "2001:db8::1"]) == 1,
              "one block for every spelling: %s" % srv.blocks_printed())
        ips = stored_ips(srv, "s1")
        check(ips == ["2001:db8::1"], "stored as %s" % ips)

        # IPv4-mapped is IPv4; brackets and ports are peeled off
        for i, v in enumerate(["::ffff:192.0.2.20", "[::ffff:192.0.2.20]:443", "192.0.2.20:80"]):
            st, _ = login_xff(srv, "m%d" % i, "wrong", xff=[v])
            check(st == 401, "mapped guess %s: %d" % (v, st))
        wait_block(srv, "ip", "192.0.2.20")
        wait_refused(srv, "m9", xff=["192.0.2.20"])

        # two addresses of one /64 are one key of user_ip (ipv6_prefix 64); several
        # X-Forwarded-For lines are one list, read from the right
        for v in (["2001:db8:1:2::1"], ["2001:db8:1:2::2"], ["198.51.100.1", "2001:db8:1:2:ff::3"]):
            st, _ = login_xff(srv, "carol", "wrong", xff=v)
            check(st == 401, "carol from %s: %d" % (v, st))
        b = wait_block(srv, "user_ip", "2001:db8:1:2::/64")
        check(b["user"] == "carol", "user_ip block %s" % b)
        wait_refused(srv, "carol", xff=["2001:db8:1:2:abcd::1"])
        st, _ = login_xff(srv, "carol", "wrong", xff=["2001:db8:1:3::1"])
        check(st == 401, "carol from another /64: %d" % st)
        st, _ = login_xff(srv, "dave", "wrong", xff=["2001:db8:1:2::1"])
        check(st == 401, "dave from carol's /64: %d" % st)

        # a broken header from the trusted proxy: counted, keyed by the proxy's address
        st, _ = login_xff(srv, "g1", "wrong", xff=["not-an-address"])
        check(st == 401, "garbage XFF login: %d" % st)
        ips = stored_ips(srv, "g1")
        check(ips == ["127.0.0.1"], "garbage XFF keyed as %s" % ips)

        # admin_networks: judged on the client, not on the proxy
        st, doc = request(srv.port, "GET", "/metrics", xff=["203.0.113.50"])
        check(st == 403 and doc["error"] == "forbidden", "/metrics for an outsider: %d %s"
              % (st, doc))
        st, doc = request(srv.port, "GET", "/v1/blocks/carol", xff=["203.0.113.50"])
        check(st == 403, "GET /v1/blocks/carol for an outsider: %d %s" % (st, doc))
        st, _ = request(srv.port, "GET", "/healthz", xff=["203.0.113.50"])
        check(st == 200, "/healthz for an outsider: %d" % st)
        st, doc = login_xff(srv, "root", "root-pw")
        check(st == 200, "admin login: %d %s" % (st, doc))
        token = doc["token"]
        st, text = request(srv.port, "GET", "/metrics", xff=["203.0.113.50"], token=token)
        check(st == 200, "/metrics for an outsider with an admin token: %d" % st)
        check(b"lg_http_xff_invalid_total 1" in text, "xff_invalid not counted: %r" % text[:200])
        st, doc = request(srv.port, "GET", "/v1/blocks/carol", xff=["203.0.113.50"], token=token)
        check(st == 200 and doc["blocked"] is False, "block status with an admin token: %d %s"
              % (st, doc))
        st, _ = request(srv.port, "GET", "/metrics", xff=["127.0.0.1"])
        check(st == 200, "/metrics for a loopback client behind the proxy: %d" % st)

        # a report names its own address: canonical too (an admin token may report)
        st, doc = request(srv.port, "POST", "/v1/attempts",
                          {"user": "rep1", "ip": "2001:DB8:0::77", "ok": True}, token=token)
        check(st == 202, "report: %d %s" % (st, doc))
        ips = stored_ips(srv, "rep1")
        check(ips == ["2001:db8::77"], "report stored as %s" % ips)
        check(srv.stop() == 0, "run did not exit 0")
    finally:
        srv.cleanup()


def main():
    test_spoofed_body_ip_is_ignored()
    test_xff_from_an_untrusted_peer_is_ignored()
    test_behind_a_trusted_proxy()
    print("ok: the client address is the peer's or the trusted proxy's word, one key per "
          "address or /64")


if __name__ == "__main__":
    main()
