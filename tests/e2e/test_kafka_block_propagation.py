"""test_kafka_block_propagation.py - a block decided from failures at one API instance is
enforced by another one: the 5th failure at instance A, then 423 at instance B.

Cluster: mock Kafka (fetch.wait.max.ms 10), 1 detector, 2 APIs, no HAProxy. For USERS
fresh users, 5 failures at A, then the same attempt at B until 423. Checks each user is
refused by B within BOUND_S (a correctness bound, far above the ~10-50 ms measured by
bench/bench_cluster.sh: speed is measured there, not asserted here), and that B's refusals
are recorded in the audit store as "blocked" attempts from B.
"""
import sys

from lgtest import check
import clusterlib

USERS = 30
BOUND_S = 5.0


def main():
    c = clusterlib.Cluster(partitions=6)
    try:
        c.start(detectors=1, apis=2, haproxy=False)
        a, b = c.apis
        lat = clusterlib.block_propagation(a.port, b.port, USERS, c.key, prefix="bp",
                                           timeout_s=BOUND_S)
        print("A -> B block propagation over %d users: p50 %.1f ms, p99 %.1f ms, max %.1f ms"
              % (USERS, 1000 * clusterlib.percentile(lat, 50),
                 1000 * clusterlib.percentile(lat, 99), 1000 * max(lat)))
        check(max(lat) < BOUND_S, "a user was refused only after %.2f s" % max(lat))
        c.wait_store_stable(at_least=USERS * 6, stable_s=1.0)
        _, attempts = c.audit_all()
        refused_at_b = [x for x in attempts if x["src"] == b.name and x["outcome"] == "blocked"]
        check(len(refused_at_b) >= USERS, "only %d blocked attempts from %s in the store" %
              (len(refused_at_b), b.name))
    finally:
        c.stop()
    print("PASS")


if __name__ == "__main__":
    sys.exit(main())
