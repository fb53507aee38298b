"""test_http_burst.py - concurrency buys no extra guesses (DESIGN.md "Trust boundary").

CONNS connections, one wrong-password login each for one user, released at once against
`loginguard run` (rule user: 5 failures in 60 s). At most 5 passwords are verified (401);
every other answer is 423 without a password check, and the right password sent after
the burst is refused too (423, no token). The store holds exactly 5 "fail" rows, the
rest "blocked", and one block. Run twice: with a cheap argon2id (checks finish while the
burst is still arriving) and with the default cost (~20 ms a check: all 5 are in flight
while the rest arrive). Before the admission gate, 200 such logins verified 62 passwords.
"""
import collections
import http.client
import json
import threading

import lghttp
import lgtest
from lgtest import check

CONNS = 200
THRESHOLD = 5


def one_login(port, user, password, results, lock, barrier):
    """One login on its own connection, sent when all CONNS are connected (barrier)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.connect()
    barrier.wait(30)
    try:
        conn.request("POST", "/v1/login", body=json.dumps({"user": user, "password": password}),
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        body = r.read()
        status = r.status
    finally:
        conn.close()
    with lock:
        results[status] += 1
        if status == 423:
            check(r.getheader("Retry-After") is not None, "423 without Retry-After")
            check(json.loads(body)["error"] == "blocked", "423 body %r" % body)


def fire(port, user, conns=CONNS):
    """conns wrong-password logins for user at once; the Counter of their statuses."""
    results = collections.Counter()
    lock = threading.Lock()
    barrier = threading.Barrier(conns)
    threads = [threading.Thread(target=one_login,
                                args=(port, user, "wrong-%d" % i, results, lock, barrier))
               for i in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
        check(not t.is_alive(), "a client thread is stuck")
    return results


def burst(argon2, label):
    srv = lghttp.Server(users=[("victim", "victim-right-pw", False)], argon2=argon2)
    try:
        results = fire(srv.port, "victim")
        check(sum(results[s] for s in (401, 423, 503, 200)) == CONNS, "answers %s" % results)
        check(results[503] == 0, "%s: %d answers were 503: %s" % (label, results[503], results))
        check(results[401] <= THRESHOLD,
              "%s: %d passwords verified for one user in a burst of %d (threshold %d): %s"
              % (label, results[401], CONNS, THRESHOLD, results))
        check(results[401] == THRESHOLD, "%s: only %d failures verified: %s"
              % (label, results[401], results))
        check(results[423] == CONNS - THRESHOLD, "%s: answers %s" % (label, results))

        # the right password after the threshold-th failure: refused, no token
        st, hdrs, doc = srv.login("victim", "victim-right-pw")
        check(st == 423, "%s: right password after the burst got %d %s" % (label, st, doc))

        lgtest.wait_until(lambda: len(srv.blocks_printed()) >= 1, 10, "the block line")
        check(srv.stop() == 0, "run exit status")
        attempts, blocks = srv.audit("victim")
        by = collections.Counter(a["outcome"] for a in attempts)
        check(len(blocks) == 1, "%s: %d blocks: %s" % (label, len(blocks), blocks))
        check(len(attempts) == CONNS + 1, "%s: %d attempts stored" % (label, len(attempts)))
        check(by["fail"] == THRESHOLD and by["ok"] == 0 and by["blocked"] == CONNS + 1 - THRESHOLD,
              "%s: audit %s" % (label, dict(by)))
        fails = sorted(a["ts"] for a in attempts if a["outcome"] == "fail")
        check(blocks[0]["since"] == fails[-1], "%s: block since %d, last failure %d"
              % (label, blocks[0]["since"], fails[-1]))
        print("%s: answers %s audit %s" % (label, dict(results), dict(by)))
    finally:
        srv.cleanup()


def main():
    burst((1, 8), "cheap argon2id")
    burst((2, 19456), "default argon2id")
    print("ok")


if __name__ == "__main__":
    main()
