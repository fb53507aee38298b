"""test_cluster_api_failover.py - an API instance is SIGKILLed under load behind HAProxy.

Cluster: mock Kafka, 1 detector, 3 APIs behind HAProxy (deploy/haproxy.cfg). A closed-loop
load of POST /v1/attempts on CONCURRENCY keep-alive connections runs through HAProxy;
mid-load one API gets SIGKILL. HAProxy retries only requests that never reached an
instance (conn-failure) and health checks take the dead one out within about a second,
so the only requests allowed to fail are those in flight on it at the kill: at most
CONCURRENCY. Checks that bound, that HAProxy marks the instance DOWN, that the load goes
on without failures afterwards, and that every acknowledged attempt is in the audit store.
"""
import sys
import time

import lgtest
from lgtest import check
import clusterlib

CONCURRENCY = 8
LOAD_S = 12
LOAD_MAX = 40000
KILL_AFTER_S = 4
MARK_DOWN_MAX_S = 5   # inter 500ms fall 2: about 1 s, plus a loaded machine
USERS = ["af-user-%03d" % i for i in range(400)]


def main():
    if not clusterlib.have_haproxy():
        clusterlib.skip("haproxy is not installed")
    c = clusterlib.Cluster(partitions=6)
    try:
        run(c)
    finally:
        c.stop()
    print("PASS")


def run(c):
    c.start(detectors=1, apis=3)
    victim = c.apis[1]
    # mostly successes: few blocks, so nearly every request is a 202 that must be stored
    load = clusterlib.AttemptLoad(c.haproxy_port, USERS, c.key, threads=CONCURRENCY, fail_ratio=0.3,
                                  max_requests=LOAD_MAX, max_s=LOAD_S).start()
    time.sleep(KILL_AFTER_S)
    before = load.sent
    t_kill = time.time()
    c.kill(victim)
    lgtest.wait_until(lambda: c.haproxy_states().get("api2") == "DOWN", MARK_DOWN_MAX_S,
                      "haproxy to mark the killed api2 DOWN")
    down_s = time.time() - t_kill
    load.join()
    after = load.sent - before
    print("load: " + load.summary())
    print("haproxy marked api2 DOWN %.2f s after SIGKILL; %d requests sent after the kill" %
          (down_s, after))
    for t, what in load.failures:
        print("  failed %+.3f s from the kill: %s" % (t - t_kill, what))
    check(load.sent > 1000 and after > 500, "too little load (%d, %d after the kill) for the "
          "test to mean anything" % (load.sent, after))
    check(len(load.failures) <= CONCURRENCY,
          "%d requests failed; at most %d (those in flight on the killed instance) may" %
          (len(load.failures), CONCURRENCY))
    late = [f for f in load.failures if f[0] > t_kill + down_s + 1.0]
    check(not late, "requests failed after haproxy took the instance out: %s" % late[:5])
    states = c.haproxy_states()
    check(states.get("api1") == "UP" and states.get("api3") == "UP",
          "the surviving instances are not UP: %s" % states)

    n = c.wait_store_stable(at_least=load.recorded())
    _, attempts = c.audit_all()
    ids = {a["id"] for a in attempts}
    missing = set(load.acked) - ids
    check(not missing, "%d acknowledged attempts are missing from the audit store, e.g. %s" %
          (len(missing), sorted(missing)[:5]))
    from_victim = sum(1 for i in load.acked if i.startswith(victim.name + "-"))
    print("store: %d attempts; all %d acknowledged present (%d acked by the killed %s); "
          "failures %d <= %d" % (n, len(load.acked), from_victim, victim.name,
                                 len(load.failures), CONCURRENCY))
    check(from_victim > 0, "the killed instance acknowledged nothing: it was never used")


if __name__ == "__main__":
    sys.exit(main())
