"""test_http_concurrency.py - 16 client threads hammer one user's login at once.

Exactly one block is decided (one JSON line on run's stdout, one block in the store),
and after SIGTERM every answered attempt is in the audit log: as many rows as 200/401/423
answers, "ok" rows = 200 answers, every 423 is a "blocked" row. An attempt answered 401
because it raced the block into the API's cache may be recorded "blocked" by the
detector (it arrived inside the block's [since, until) by event time), so the detector's
"fail" + "blocked" equals 401 + 423, and "blocked" is at least the 423 count.
"""
import collections
import http.client
import json
import threading
import time

import lghttp
import lgtest
from lgtest import check

THREADS = 16
PER_THREAD = 12


def hammer(port, user, results, lock, start):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    start.wait()
    local = collections.Counter()
    for i in range(PER_THREAD):
        body = json.dumps({"user": user, "password": "wrong-%d" % i})
        conn.request("POST", "/v1/login", body=body,
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        local[r.status] += 1
    conn.close()
    with lock:
        results.update(local)


def main():
    srv = lghttp.Server(users=[("victim", "victim-pw", False)])
    try:
        results = collections.Counter()
        lock = threading.Lock()
        start = threading.Event()
        threads = [threading.Thread(target=hammer, args=(srv.port, "victim", results, lock, start))
                   for _ in range(THREADS)]
        for t in threads:
            t.start()
        start.set()
        for t in threads:
            t.join(120)
            check(not t.is_alive(), "a client thread is stuck")
        total = sum(results.values())
        check(total == THREADS * PER_THREAD, "answers %s" % results)
        check(set(results) <= {401, 423, 503}, "unexpected statuses %s" % results)
        if results[423] == 0:
            # Seen once in ~10 ASan suites on a loaded machine: the 192 answers all came
            # before the block reached the API (with argon2id at 8 KiB they take ~0.3 s).
            # Block latency is measured by bench/bench_http_block_latency.py; here the
            # block must still reach the API, so ask again until it does.
            print("no 423 during the burst %s; block lines so far %s; log tail:\n%s"
                  % (dict(results), srv.blocks_printed(), srv.log()[-2000:]))
            deadline = time.time() + 10
            while results[423] == 0 and time.time() < deadline:
                st, _, _ = lgtest.request(srv.port, "POST", "/v1/login",
                                          {"user": "victim", "password": "late"})
                results[st] += 1
                time.sleep(0.01)
        check(results[423] > 0, "nobody was refused as blocked: %s" % results)
        check(results[401] >= 5, "fewer than 5 failures before the block: %s" % results)

        # the block decision reaches run's stdout asynchronously
        lgtest.wait_until(lambda: len(srv.blocks_printed()) >= 1, 10, "the block line")
        check(srv.stop() == 0, "run exit status")
        printed = srv.blocks_printed()
        check(len(printed) == 1 and printed[0]["user"] == "victim",
              "run printed %d block lines: %s" % (len(printed), printed))

        attempts, blocks = srv.audit("victim")
        check(len(blocks) == 1, "store holds %d blocks for victim: %s" % (len(blocks), blocks))
        by = collections.Counter(a["outcome"] for a in attempts)
        answered = results[401] + results[423]
        check(len(attempts) == answered,
              "audit has %d attempts, clients saw %d answered (%s)" % (len(attempts), answered,
                                                                      results))
        check(by["ok"] == 0, "ok rows %s" % by)
        check(by["fail"] + by["blocked"] == answered, "audit %s vs answers %s" % (by, results))
        check(by["blocked"] >= results[423], "audit %s has fewer blocked than 423s %s" % (by, results))
        check(by["fail"] >= 5, "audit %s" % by)
        ids = [a["id"] for a in attempts]
        check(len(set(ids)) == len(ids), "duplicate attempt ids")
        print("answers %s audit %s" % (dict(results), dict(by)))
    finally:
        srv.cleanup()
    print("ok")


if __name__ == "__main__":
    main()
