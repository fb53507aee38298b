"""test_cluster_detector_failover.py - a detector is SIGKILLed under load; nothing is lost.

Cluster: mock Kafka (3 brokers, lg.attempts with 12 partitions), 2 detectors in one group,
3 APIs behind HAProxy. A brute-force-ish load of POST /v1/attempts goes through HAProxy
(90% failures over 120 users: blocks every few requests; block_for 3 s so users come back
and escalate). Mid-load one detector gets SIGKILL. Checks:
  - the survivor holds every partition within a bound (the group's session timeout is
    6 s, so about 5-11 s), and decides blocks for users of the dead one's partitions;
  - once the store has settled: every attempt acknowledged with 202 is in the audit store,
    and no id appears twice (at-least-once delivery, idempotent writes);
  - the blocks in the store equal those `loginguard replay` decides on the same attempts
    read back with `audit --all`: a failover loses no block and invents none.
"""
import sys
import time
import zlib

import lgtest
from lgtest import check
import clusterlib

PARTITIONS = 12
USERS = ["fo-user-%03d" % i for i in range(120)]
LOAD_S = 24            # the load's bound in time...
LOAD_MAX = 60000       # ...and in requests
KILL_AFTER_S = 6
TAKEOVER_MAX_S = 25    # session.timeout.ms 6000 + rebalance wait (5 s) + a loaded machine


def partition_of(user):
    """librdkafka's default partitioner (consistent_random) for a non-empty key: CRC-32."""
    return zlib.crc32(user.encode()) % PARTITIONS


def main():
    if not clusterlib.have_haproxy():
        clusterlib.skip("haproxy is not installed")
    c = clusterlib.Cluster(partitions=PARTITIONS, rule={"block_for_ms": 3000})
    try:
        run(c)
    finally:
        c.stop()
    print("PASS")


def run(c):
    c.start(detectors=2, apis=3)
    victim, survivor = c.detectors
    victim_parts = c.partitions_of(victim)
    print("victim %s holds %s; survivor %s holds %s" % (
        victim.name, sorted(victim_parts), survivor.name, sorted(c.partitions_of(survivor))))

    load = clusterlib.AttemptLoad(c.haproxy_port, USERS, c.key, threads=6, fail_ratio=0.9,
                                  max_requests=LOAD_MAX, max_s=LOAD_S).start()
    time.sleep(KILL_AFTER_S)
    check(victim.alive(), "victim detector died before the kill")
    t_kill = time.time()
    c.kill(victim)
    lgtest.wait_until(lambda: c.partitions_of(survivor) == set(range(PARTITIONS)),
                      TAKEOVER_MAX_S, "the survivor to hold all %d partitions" % PARTITIONS)
    takeover_s = time.time() - t_kill
    print("takeover: %s holds every partition %.1f s after SIGKILL" % (survivor.name, takeover_s))
    load.join()
    print("load: " + load.summary())
    check(load.sent > 1000, "the load sent only %d requests" % load.sent)
    check(not load.failures, "requests failed while only a detector died: %s" % load.failures[:5])

    n = c.wait_store_stable(at_least=load.recorded())
    text, attempts = c.audit_all()
    ids = [a["id"] for a in attempts]
    check(len(ids) == n, "audit --all printed %d attempts, the store counts %d" % (len(ids), n))
    dups = len(ids) - len(set(ids))
    check(dups == 0, "%d attempt ids appear more than once in the audit store" % dups)
    missing = set(load.acked) - set(ids)
    check(not missing, "%d acknowledged attempts are missing from the audit store, e.g. %s" %
          (len(missing), sorted(missing)[:5]))
    print("store: %d attempts, all %d acknowledged present, no duplicate" % (n, len(load.acked)))

    stored = c.store_blocks()
    replayed = c.replay_blocks(text)
    only_store, only_replay = stored - replayed, replayed - stored
    check(not only_store and not only_replay,
          "blocks differ: %d only in the store %s, %d only in the replay %s" %
          (len(only_store), sorted(only_store)[:5], len(only_replay), sorted(only_replay)[:5]))
    check(len(stored) >= 20, "too few blocks (%d) for the test to mean anything" % len(stored))
    # the takeover did work: blocks decided after the kill for users of the dead one's
    # partitions (so by the survivor, after rebuilding their windows)
    kill_ms = int(t_kill * 1000)
    after = [b for b in stored if b[2] > kill_ms + 1000 and partition_of(b[1]) in victim_parts]
    check(after, "no block decided after the kill for users of partitions %s" %
          sorted(victim_parts))
    levels = max(b[4] for b in stored)
    print("blocks: %d in the store == replay; %d after the kill on the dead detector's "
          "partitions; max level %d" % (len(stored), len(after), levels))


if __name__ == "__main__":
    sys.exit(main())
