"""test_kafka_backpressure.py - Kafka unreachable: the API pushes back, nothing is lost.

Cluster: mock Kafka (1 broker), 1 detector, 1 API whose producer queue holds
QUEUE_MAX messages. The mock is frozen with SIGSTOP (its connections stay open and no
request is answered: an unreachable cluster as the producer sees it) and CLIENTS
attempts are reported at once, each for its own user. The first QUEUE_MAX wait in the
producer's queue; every later one must be answered 503 with Retry-After and the error
body "the event bus is full", and /metrics must count them. After SIGCONT the waiting
ones are answered 202. At the end the audit store (written by the detector from
lg.attempts) holds every attempt answered 202 exactly once and none answered "bus full"
(that 503 means "not recorded, retry": a retry must not make a duplicate).
Before the burst, a user blocked while Kafka was up asks again while it is frozen: the
423 must wait until its "blocked" attempt is acknowledged too (an API killed right after
a 423 must not lose that audit row), so it is answered only after SIGCONT.
"""
import json
import os
import signal
import sys
import threading
import time

import clusterlib
import lgtest
from lgtest import check

QUEUE_MAX = 20
CLIENTS = 60
FULL_WAIT_S = 30


def report(port, key, user, out, lock):
    try:
        st, hdrs, body = lgtest.request(port, "POST", "/v1/attempts",
                                        {"user": user, "ip": "192.0.2.9", "ok": False},
                                        headers=lgtest.reporter_headers(key), timeout=120)
        res = (st, {k.lower(): v for k, v in hdrs.items()}, body)
    except OSError as e:
        res = (None, {}, str(e).encode())
    with lock:
        out[user] = res


def metric(port, name):
    st, _, body = lgtest.request(port, "GET", "/metrics", timeout=10)
    check(st == 200, "/metrics answered %s" % st)
    for line in body.decode().splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    check(False, "no %s in /metrics" % name)


def main():
    c = clusterlib.Cluster(partitions=3, brokers=1)
    with open(c.config, "a") as f:
        f.write("[bus]\nproducer_queue_max = %d\n" % QUEUE_MAX)
    stopped = False
    try:
        c.start(detectors=1, apis=1, haproxy=False)
        api = c.apis[0]
        hdrs = lgtest.reporter_headers(c.key)
        st, _, body = lgtest.request(api.port, "POST", "/v1/attempts",
                                     {"user": "bp-before", "ip": "192.0.2.9", "ok": False},
                                     headers=hdrs)
        check(st == 202, "with Kafka up: %s %r" % (st, body))

        # a user blocked while Kafka is up
        for _ in range(5):
            st, _, body = lgtest.request(api.port, "POST", "/v1/attempts",
                                         {"user": "bp-victim", "ip": "192.0.2.9", "ok": False},
                                         headers=hdrs)
            check(st == 202, "failure of bp-victim: %s %r" % (st, body))
        lgtest.wait_until(lambda: lgtest.request(api.port, "POST", "/v1/attempts",
                                                 {"user": "bp-victim", "ip": "192.0.2.9",
                                                  "ok": False}, headers=hdrs)[0] == 423,
                          15, "bp-victim refused with 423")

        os.kill(c.mock.p.pid, signal.SIGSTOP)
        stopped = True
        out, lock = {}, threading.Lock()
        victim = threading.Thread(target=report, args=(api.port, c.key, "bp-victim", out, lock))
        victim.start()
        time.sleep(1.0)
        with lock:
            check("bp-victim" not in out, "a 423 was answered before Kafka had its attempt: %s"
                  % (out.get("bp-victim"),))
        users = ["bp-%02d" % i for i in range(CLIENTS)]
        threads = [threading.Thread(target=report, args=(api.port, c.key, u, out, lock))
                   for u in users]
        for t in threads:
            t.start()
        expect_full = CLIENTS - (QUEUE_MAX - 1)  # the victim's attempt holds one place
        deadline = time.time() + FULL_WAIT_S
        while time.time() < deadline:
            with lock:
                full = sum(1 for r in out.values() if r[0] == 503)
            if full >= expect_full:
                break
            time.sleep(0.05)
        with lock:
            early = dict(out)
        check(all(r[0] == 503 for r in early.values()),
              "answers while Kafka was frozen: %s" % sorted((u, r[0]) for u, r in early.items()))
        check(len(early) >= expect_full,
              "only %d of %d attempts over the queue bound were refused within %ds"
              % (len(early), expect_full, FULL_WAIT_S))
        for u, (st, hdrs, body) in early.items():
            check("retry-after" in hdrs, "503 for %s without Retry-After: %s" % (u, hdrs))
            doc = json.loads(body)
            check(doc.get("error") and "full" in doc.get("detail", ""),
                  "503 body for %s: %r" % (u, body))
        full_metric = metric(api.port, "lg_bus_publish_full_total")
        check(full_metric >= len(early), "lg_bus_publish_full_total %s < %d refusals"
              % (full_metric, len(early)))

        os.kill(c.mock.p.pid, signal.SIGCONT)
        stopped = False
        for t in threads + [victim]:
            t.join(150)
            check(not t.is_alive(), "a client is still waiting after Kafka came back")
        st, hdrs, body = out.pop("bp-victim")
        check(st == 423 and "retry-after" in hdrs, "bp-victim after Kafka came back: %s %s %r"
              % (st, hdrs, body))
        accepted = sorted(u for u, r in out.items() if r[0] == 202)
        refused_full = sorted(u for u, r in out.items()
                              if r[0] == 503 and b"full" in r[2])
        other = sorted((u, r[0], r[2][:80]) for u, r in out.items()
                       if u not in accepted and u not in refused_full)
        check(not other, "answers neither 202 nor 'bus full': %s" % other)
        check(len(accepted) == CLIENTS - len(refused_full), "accounting")
        check(len(accepted) >= QUEUE_MAX - 2,
              "only %d attempts waited in a queue of %d" % (len(accepted), QUEUE_MAX))

        c.wait_store_stable(at_least=1 + len(accepted), stable_s=1.5)
        _, attempts = c.audit_all()
        stored = [a["user"] for a in attempts if a["user"].startswith("bp-")]
        for u in accepted + ["bp-before"]:
            check(stored.count(u) == 1, "%s answered 202 is stored %d times" % (u, stored.count(u)))
        for u in refused_full:
            check(u not in stored, "%s was answered 'bus full' but is stored" % u)
        outcomes = [a["outcome"] for a in attempts if a["user"] == "bp-victim"]
        check(len(outcomes) >= 7 and outcomes.count("fail") == 5 and
              outcomes.count("blocked") == len(outcomes) - 5,
              "bp-victim's attempts in the store: %s" % outcomes)
        print("kafka frozen: %d answered 503 'bus full' at once (metric %d), %d waited and "
              "got 202 after it came back; store holds each 202 once, no 503"
              % (len(refused_full), full_metric, len(accepted)))
    finally:
        if stopped:
            os.kill(c.mock.p.pid, signal.SIGCONT)
        c.stop()
    print("PASS")


if __name__ == "__main__":
    sys.exit(main())
