"""test_time_bounds.py - no single event moves a detector's clock without bound (issue 7,
item 2; DESIGN.md "Trust boundary": refused and counted, never judged).

On the Kafka mock cluster, kcat (a client that is not ours, so nothing upstream checks
it) writes an attempt of the year 9999 straight to lg.attempts. Before the fix the
detector's clock jumped there and every real failure after it was "too late" to count.
Now: five current failures of alice still block her; the detector logs the refused
attempt with its id and user, counts it once (refused_future=1 in its summary), stores
nothing of it and commits past it; a second detector of the group, rebuilding the
windows from the same partition's last window, refuses it again on the re-read and
still blocks bob on his fifth failure (four before the move, one after) and dave, new to
it, on five failures after the move. And
`loginguard run` serves the detector's counters on /metrics, the refused one included.
"""
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lghttp  # noqa: E402
import lgtest  # noqa: E402
import test_kafka_kcat as kk  # noqa: E402
from lgtest import check  # noqa: E402

YEAR_9999 = 253402300799999


def kafka_part():
    tmp = lgtest.tmpdir("lg-time-")
    db = os.path.join(tmp, "audit.db")
    mock, bootstrap = kk.start_mock(tmp)
    det_a, log_a = kk.start_detector(tmp, "detector-a", bootstrap, db)

    # the attack: one attempt far in the future, then a marker to know it was consumed
    now = int(time.time() * 1000)
    kk.kcat_produce(bootstrap, "lg.attempts",
                    ["mallory:" + kk.attempt("m-9999", YEAR_9999, "mallory", False),
                     "carol:" + kk.attempt("c0", now, "carol", True)])
    lgtest.wait_until(lambda: kk.outcomes(db, "carol") == ["ok"], 20, "carol in the store")
    # the batch's watermark has moved (or not) by now: real failures come after it
    now = int(time.time() * 1000)
    kk.kcat_produce(bootstrap, "lg.attempts",
                    ["alice:" + kk.attempt("a%d" % i, now + i, "alice", False) for i in range(5)]
                    + ["bob:" + kk.attempt("b%d" % i, now + i, "bob", False) for i in range(4)])
    blocks = kk.wait_block(bootstrap, "user:alice", 20)
    check(blocks[0]["since"] == now + 4, "unexpected block of alice %r" % blocks[0])
    lgtest.wait_until(lambda: len(kk.outcomes(db, "bob")) == 4, 20, "bob's four failures stored")
    check(lgtest.stop(det_a) == 0, "detector-a did not stop cleanly")
    log = kk.read(log_a)
    refusals = [l for l in log.splitlines() if " refused: ts=%d " % YEAR_9999 in l]
    check(len(refusals) == 1 and "id=m-9999 user=mallory src=kcat" in refusals[0] and
          "more than clock_skew_max_ms (5000)" in refusals[0],
          "detector-a should log the refusal once:\n" + log[-3000:])
    check("refused_future=1 " in log and "stopped attempts=10 " in log,
          "detector-a summary:\n" + log[-2000:])
    check(kk.outcomes(db, "mallory") == [], "a refused attempt was stored: %r"
          % kk.outcomes(db, "mallory"))

    # the rebuild path: detector-b re-reads the partitions' last window (the far-future
    # attempt's message time is now) and must refuse it there too
    det_b, log_b = kk.start_detector(tmp, "detector-b", bootstrap, db)
    kk.wait_log(log_b, "rebuild from offset=", 10, "detector-b rebuild plan")
    # a marker judged live: the rebuild's re-reads are done and the clock has moved
    kk.kcat_produce(bootstrap, "lg.attempts",
                    ["erin:" + kk.attempt("e0", int(time.time() * 1000), "erin", True)])
    lgtest.wait_until(lambda: kk.outcomes(db, "erin") == ["ok"], 20, "erin in the store")
    time.sleep(0.5)
    now = int(time.time() * 1000)
    kk.kcat_produce(bootstrap, "lg.attempts", ["bob:" + kk.attempt("b4", now, "bob", False)]
                    + ["dave:" + kk.attempt("d%d" % i, now + i, "dave", False) for i in range(5)])
    blocks = kk.wait_block(bootstrap, "user:bob", 20)
    check(blocks[0]["since"] == now, "unexpected block of bob %r" % blocks[0])
    # a user new to this detector: with its clock at 9999 his failures were "too late"
    blocks = kk.wait_block(bootstrap, "user:dave", 20)
    check(blocks[0]["since"] == now + 4, "unexpected block of dave %r" % blocks[0])
    check(lgtest.stop(det_b) == 0, "detector-b did not stop cleanly")
    log = kk.read(log_b)
    check(" refused (rebuild): ts=%d " % YEAR_9999 in log,
          "detector-b did not refuse the re-read attempt:\n" + log[-3000:])
    check("refused_future=1 " in log and "stopped attempts=7 " in log,
          "detector-b summary:\n" + log[-2000:])
    check(kk.outcomes(db, "mallory") == [], "a refused attempt was stored on rebuild")
    check(lgtest.stop(mock) == 0, "lg-kafka-mock did not stop cleanly")
    shutil.rmtree(tmp, ignore_errors=True)


def run_metrics_part():
    srv = lghttp.Server()
    try:
        status, _, raw = lgtest.request(srv.port, "GET", "/metrics")
        text = raw.decode()
        check(status == 200, "/metrics: %d" % status)
        for series in ('lg_detector_attempts_refused_total{reason="future"} 0',
                       'lg_detector_attempts_total{outcome="fail"} 0',
                       "lg_detector_blocks_total 0"):
            check("\n" + series + "\n" in text, "run's /metrics lacks %r:\n%s"
                  % (series, text[-1500:]))
        check(text.count("# TYPE lg_detector_attempts_total counter") == 1,
              "one TYPE line per family")
    finally:
        rc = srv.stop()
        srv.cleanup()
    check(rc == 0, "run did not stop cleanly")


def main():
    if kk.KCAT is None:
        lgtest.fail("kcat is not installed (apt-get install kcat)")
    check(os.path.exists(kk.MOCK), "%s not built" % kk.MOCK)
    kafka_part()
    run_metrics_part()
    print("ok: a year-9999 attempt on lg.attempts is refused live and on rebuild; "
          "blocking goes on; run's /metrics counts refusals")


if __name__ == "__main__":
    main()
