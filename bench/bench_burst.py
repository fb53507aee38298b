"""bench_burst.py [--trials N] [--conns C] - verifications per block under a login burst.

The figure of DESIGN.md "Trust boundary / Admission": C connections send one
wrong-password login each for one fresh user at once; the bench counts the passwords
verified (401 answers) before the rest were refused (423). Three setups, default
argon2id cost (t=2, m=19 MiB): `loginguard run`; the cluster (mock Kafka, 1 detector,
3 APIs) behind HAProxy with deploy/haproxy.cfg (logins hashed by user); and the same
cluster with `balance leastconn` (the routing before), for comparison. Prints one line
per setup: min/median/max verifications over the trials.
"""
import argparse
import collections
import http.client
import json
import os
import re
import statistics
import sys
import tempfile
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "e2e"))
import clusterlib  # noqa: E402
import lghttp  # noqa: E402
import lgtest  # noqa: E402


def burst(port, user, conns):
    results = collections.Counter()
    lock = threading.Lock()
    barrier = threading.Barrier(conns)

    def one(i):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.connect()
        barrier.wait(30)
        conn.request("POST", "/v1/login", body=json.dumps({"user": user, "password": "w%d" % i}),
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        conn.close()
        with lock:
            results[r.status] += 1

    threads = [threading.Thread(target=one, args=(i,)) for i in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


def report(label, runs):
    v = [r[401] for r in runs]
    other = sum(sum(n for s, n in r.items() if s not in (401, 423)) for r in runs)
    print("%-34s verifications per burst: min %d median %d max %d  (trials %d, non-401/423 "
          "answers %d)" % (label, min(v), statistics.median(v), max(v), len(v), other))


def bench_run(trials, conns):
    users = [("burst-%d" % i, "right-pw-%d" % i, False) for i in range(trials)]
    srv = lghttp.Server(users=users, argon2=(2, 19456))
    try:
        report("run", [burst(srv.port, u[0], conns) for u in users])
    finally:
        srv.cleanup()


def bench_cluster(trials, conns, leastconn):
    cfg = clusterlib.HAPROXY_CFG
    if leastconn:
        with open(cfg) as f:
            text = f.read()
        text = re.sub(r"    balance hash .*\n    hash-type consistent\n", "    balance leastconn\n",
                      text)
        tmp = tempfile.NamedTemporaryFile("w", suffix=".cfg", delete=False)
        tmp.write(text)
        tmp.close()
        clusterlib.HAPROXY_CFG = tmp.name
    users = ["burst-%d" % i for i in range(trials)]
    c = clusterlib.Cluster(partitions=6)
    try:
        c.start(detectors=1, apis=3, users=users)
        runs = [burst(c.haproxy_port, u, conns) for u in users]
        report("cluster, 3 APIs, " + ("balance leastconn" if leastconn else "hash by user"), runs)
    finally:
        c.stop(check_exit=False)
        clusterlib.HAPROXY_CFG = cfg


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--conns", type=int, default=200)
    args = ap.parse_args()
    bench_run(args.trials, args.conns)
    if clusterlib.have_haproxy():
        bench_cluster(args.trials, args.conns, leastconn=False)
        bench_cluster(args.trials, args.conns, leastconn=True)
    else:
        print("cluster: skipped, haproxy is not installed")


if __name__ == "__main__":
    main()
