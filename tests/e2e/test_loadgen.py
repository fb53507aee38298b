"""test_loadgen.py - `loginguard loadgen` against a small HTTP/1.1 keep-alive server.

The server (stdlib ThreadingHTTPServer, in this process) answers by a rule on the body
(password "123456" -> 423, user starting with a..h -> 200, else 401; /v1/attempts -> 202
with "Authorization: Bearer <KEY>", else 401, as the API does) and counts what it sent, so the test can check loadgen's JSON report against the truth:
counts add up, statuses match, --rate is roughly kept, errors are counted, exit codes.
Everything runs on 127.0.0.1 with bounded durations and timeouts.
"""
import collections
import http.server
import json
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lgtest  # noqa: E402

DATA = os.path.join(lgtest.SRC_DIR, "data")
USERS = os.path.join(DATA, "ids.json")
PASSWORDS = os.path.join(DATA, "passwords.json")


# the reporter key the mock server accepts on /v1/attempts
KEY = "lgk_" + "k" * 43


class Counts:
    def __init__(self):
        self.lock = threading.Lock()
        self.status = collections.Counter()
        self.bodies = []
        self.auth = collections.Counter()  # (path, Authorization header or None)
        self.connections = 0


COUNTS = Counts()


def decide(path, body, auth):
    if path == "/v1/attempts":
        return 202 if auth == "Bearer " + KEY else 401
    if body.get("password") == "123456":
        return 423
    return 200 if body.get("user", "x")[0] in "abcdefgh" else 401


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    # headers and body go out in two writes: without this, Nagle on this side and the
    # client's delayed ACK add 40 ms to every response
    disable_nagle_algorithm = True

    def setup(self):
        super().setup()
        with COUNTS.lock:
            COUNTS.connections += 1

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(n)
        try:
            body = json.loads(raw)
            status = decide(self.path, body, self.headers.get("Authorization"))
        except ValueError:
            body, status = None, 400
        # counted before answering, so the count is complete once loadgen has its answer
        with COUNTS.lock:
            COUNTS.status[status] += 1
            COUNTS.auth[(self.path, self.headers.get("Authorization"))] += 1
            if len(COUNTS.bodies) < 5000:
                COUNTS.bodies.append(body)
        out = b'{"ok":true}' if status < 300 else b'{"error":"x","detail":"y"}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


def start_server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def reset():
    with COUNTS.lock:
        COUNTS.status.clear()
        COUNTS.bodies.clear()
        COUNTS.auth.clear()
        COUNTS.connections = 0


def loadgen(port, *args, timeout=60, env=None):
    argv = ["loginguard", "loadgen", "--url", "http://127.0.0.1:%d" % port, "--json",
            "--users", USERS, "--passwords", PASSWORDS, "--seed", "42"] + list(args)
    p = lgtest.run(argv, timeout=timeout, env=env)
    lgtest.check(p.returncode == 0, "loadgen %s exited %d: %s" % (args, p.returncode, p.stderr))
    try:
        return json.loads(p.stdout), p.stderr
    except ValueError:
        lgtest.fail("loadgen --json printed no JSON: %r" % p.stdout[:500])


def check_counts_add_up(r):
    status_sum = sum(r["status"].values())
    lgtest.check(status_sum == r["responses"], "status counts %d != responses %d"
                 % (status_sum, r["responses"]))
    e = r["errors"]
    lgtest.check(e["total"] == e["connect"] + e["reset"] + e["timeout"] + e["parse"],
                 "error total does not add up: %s" % e)
    done = r["responses"] + e["reset"] + e["timeout"] + e["parse"]
    lgtest.check(done == r["requests"], "requests %d != responses + request errors %d"
                 % (r["requests"], done))
    lgtest.check(r["latency_us"]["count"] == r["responses"], "latency count != responses")


def test_help():
    p = lgtest.run(["loginguard", "loadgen", "--help"])
    lgtest.check(p.returncode == 0, "--help exited %d" % p.returncode)
    for word in ("--url", "--rate", "--duration", "--scenario", "--json", "exit status"):
        lgtest.check(word in p.stdout, "--help does not mention %s" % word)


def test_usage_errors_exit_2():
    for args in (["--rate", "1"], ["--url", "ftp://x"], ["--url", "http://127.0.0.1:1",
                 "--rate", "-5"], ["--url", "http://127.0.0.1:1", "--scenario", "nope"],
                 ["--url", "http://127.0.0.1:1", "--threads", "4", "--connections", "2"],
                 ["--url", "http://127.0.0.1:1", "--users", "/nonexistent/ids.json"],
                 ["--url", "http://127.0.0.1:1", "--bogus"],
                 ["--url", "http://127.0.0.1:1", "--key", KEY],  # login is public
                 ["--url", "http://127.0.0.1:1", "--endpoint", "attempts", "--key", "a b"],
                 ["--url", "http://127.0.0.1:1", "--endpoint", "attempts", "--key",
                  "k\r\nX-Injected: 1"],
                 ["--url", "http://127.0.0.1:1", "--endpoint", "attempts", "--key", "k" * 2049]):
        p = lgtest.run(["loginguard", "loadgen"] + args)
        lgtest.check(p.returncode == 2, "%s exited %d, want 2" % (args, p.returncode))
        lgtest.check("loadgen" in p.stderr and p.stderr.strip(), "%s: no message" % args)


def test_refused_port_exits_1():
    port = lgtest.free_port()  # nothing listens there
    p = lgtest.run(["loginguard", "loadgen", "--url", "http://127.0.0.1:%d" % port,
                    "--duration", "1", "--users", USERS, "--passwords", PASSWORDS])
    lgtest.check(p.returncode == 1, "refused port exited %d, want 1" % p.returncode)
    lgtest.check("cannot connect" in p.stderr, "no reason given: %r" % p.stderr)


def test_rate_is_kept_and_statuses_match_server(port):
    reset()
    # 16 connections: the pacer needs a free one every 5 ms even on a busy machine
    r, err = loadgen(port, "--rate", "200", "--duration", "2", "--connections", "16")
    check_counts_add_up(r)
    lgtest.check(r["errors"]["total"] == 0, "errors against a healthy server: %s" % r["errors"])
    lgtest.check(300 <= r["requests"] <= 500, "200/s for 2 s sent %d requests" % r["requests"])
    with COUNTS.lock:
        server = {str(k): v for k, v in COUNTS.status.items()}
        conns = COUNTS.connections
    lgtest.check(server == r["status"], "server sent %s, loadgen saw %s" % (server, r["status"]))
    lgtest.check(set(server) <= {"200", "401", "423"}, "unexpected statuses %s" % server)
    lgtest.check("200" in server and "401" in server, "the rule's statuses did not all occur")
    # 16 keep-alive connections plus the one loadgen opens first to check the target
    lgtest.check(conns <= 17, "keep-alive not used: %d connections for 16" % conns)
    lgtest.check(r["latency_us"]["from"] == "scheduled", "paced latency not from schedule")
    lat = r["latency_us"]
    lgtest.check(lat["min"] <= lat["p50"] <= lat["p99"] <= lat["max"], "percentiles %s" % lat)
    lgtest.check("requests" in err, "no progress line on stderr: %r" % err)


def test_requests_limit_and_bodies(port):
    reset()
    # LG_REPORTER_KEY set: still no Authorization on /v1/login (it is public)
    r, _ = loadgen(port, "--requests", "300", "--connections", "4", "--threads", "2", "--quiet",
                   env={"LG_REPORTER_KEY": KEY})
    check_counts_add_up(r)
    lgtest.check(r["requests"] == 300, "--requests 300 sent %d" % r["requests"])
    lgtest.check(r["responses"] == 300, "300 requests got %d responses" % r["responses"])
    with COUNTS.lock:
        bodies = list(COUNTS.bodies)
    ids = set(json.load(open(USERS)))
    pws = set(json.load(open(PASSWORDS)))
    for b in bodies:
        lgtest.check(b is not None and b["user"] in ids and b["password"] in pws,
                     "random scenario sent %r" % b)
        lgtest.check(b["ip"].split(".")[0] in ("192", "198", "203"), "ip %r" % b["ip"])
    lgtest.check(len({b["user"] for b in bodies}) > 50, "ids are not random")
    with COUNTS.lock:
        auth = dict(COUNTS.auth)
    lgtest.check(auth == {("/v1/login", None): 300}, "login requests carried %s" % auth)


def test_bruteforce_targets_few_ids_with_wrong_passwords(port):
    reset()
    r, _ = loadgen(port, "--requests", "400", "--scenario", "bruteforce", "--connections", "4",
                   "--quiet")
    check_counts_add_up(r)
    with COUNTS.lock:
        bodies = list(COUNTS.bodies)
    pws = set(json.load(open(PASSWORDS)))
    wrong = collections.Counter(b["user"] for b in bodies if b["password"] not in pws)
    lgtest.check(len(wrong) == 3, "bruteforce targets: %s" % dict(wrong))
    lgtest.check(sum(wrong.values()) > 200, "too little attack traffic: %s" % dict(wrong))


def attempts_run(port, *args, env=None):
    reset()
    p = lgtest.run(["loginguard", "loadgen", "--url", "http://127.0.0.1:%d/" % port, "--json",
                    "--quiet", "--users", USERS, "--endpoint", "attempts", "--requests", "200",
                    "--scenario", "stuffing", "--connections", "2"] + list(args),
                   timeout=60, env=env)
    lgtest.check(p.returncode == 0, "attempts run exited %d: %s" % (p.returncode, p.stderr))
    with COUNTS.lock:
        auth = dict(COUNTS.auth)
    return json.loads(p.stdout), p.stderr, auth


def test_attempts_endpoint(port):
    # the key from the environment (kept out of ps), then from --key (which wins)
    for args, env in (((), {"LG_REPORTER_KEY": KEY}),
                      (("--key", KEY), {"LG_REPORTER_KEY": "lgk_wrong"})):
        r, _, auth = attempts_run(port, *args, env=env)
        lgtest.check(r["status"] == {"202": 200}, "attempts statuses %s (%s)" % (r["status"], args))
        lgtest.check(auth == {("/v1/attempts", "Bearer " + KEY): 200},
                     "Authorization headers sent: %s" % auth)
    lgtest.check(r["path"] == "/v1/attempts", "path %s" % r["path"])
    with COUNTS.lock:
        bodies = list(COUNTS.bodies)
    stuffing = [b for b in bodies if b["ip"] == "198.51.100.77"]
    lgtest.check(len(stuffing) > 150, "stuffing from one ip: %d of 200" % len(stuffing))
    lgtest.check(len({b["user"] for b in stuffing}) > 100, "stuffing does not walk the ids")
    lgtest.check(all(isinstance(b["ok"], bool) and "password" not in b for b in bodies),
                 "attempt bodies malformed")
    # no key at all: said on stderr, sent without Authorization, answered 401
    r, err, auth = attempts_run(port, env={"LG_REPORTER_KEY": ""})
    lgtest.check(r["status"] == {"401": 200}, "statuses without a key %s" % r["status"])
    lgtest.check(auth == {("/v1/attempts", None): 200}, "headers without a key: %s" % auth)
    lgtest.check("LG_REPORTER_KEY" in err, "no hint about the missing key: %r" % err)


def test_server_dying_counts_errors_and_ends():
    # a server that accepts, reads, and closes without answering: every request is a reset
    import socket
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)
    port = ls.getsockname()[1]
    stop = threading.Event()

    def serve():
        ls.settimeout(0.2)
        while not stop.is_set():
            try:
                c, _ = ls.accept()
            except OSError:
                continue
            c.settimeout(1)
            try:
                c.recv(65536)
            except OSError:
                pass
            c.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        r, _ = loadgen(port, "--requests", "50", "--connections", "2", "--timeout", "2",
                       "--quiet", timeout=60)
    finally:
        stop.set()
        t.join(5)
        ls.close()
    check_counts_add_up(r)
    lgtest.check(r["responses"] == 0, "a server that never answers gave responses")
    lgtest.check(r["errors"]["reset"] + r["errors"]["timeout"] == 50,
                 "50 unanswered requests counted as %s" % r["errors"])


def main():
    test_help()
    test_usage_errors_exit_2()
    test_refused_port_exits_1()
    srv = start_server()
    port = srv.server_address[1]
    try:
        test_rate_is_kept_and_statuses_match_server(port)
        test_requests_limit_and_bodies(port)
        test_bruteforce_targets_few_ids_with_wrong_passwords(port)
        test_attempts_endpoint(port)
    finally:
        srv.shutdown()
        srv.server_close()
    test_server_dying_counts_errors_and_ends()
    print("test_loadgen: all passed")


if __name__ == "__main__":
    main()
