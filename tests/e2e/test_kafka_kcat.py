"""test_kafka_kcat.py - `loginguard detector` on a Kafka cluster (build/lg-kafka-mock), fed
and read by kcat, a client that is not ours: attempts produced with kcat (key = user,
value = the WIRE attempt) come back as blocks on lg.blocks; a second detector started
after the first stopped rebuilds the windows from the committed offsets and blocks on
the next failure; a tombstone produced with kcat unblocks. Every wait is bounded; the
mock's consumer groups wait 3 s before the first join.
"""
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lgtest  # noqa: E402

MOCK = os.path.join(lgtest.BUILD_DIR, "lg-kafka-mock")
KCAT = shutil.which("kcat")
GROUP = "e2e-detector"


def read(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "replace")


def wait_log(path, needle, timeout, what, count=1):
    lgtest.wait_until(lambda: read(path).count(needle) >= count, timeout, what)


def start_mock(tmp):
    log = os.path.join(tmp, "mock.log")
    p = lgtest.start([MOCK, "--brokers", "3", "--partitions", "6"], log_path=log)
    lgtest.wait_until(lambda: "BOOTSTRAP " in read(log), 15, "lg-kafka-mock BOOTSTRAP line")
    for line in read(log).splitlines():
        if line.startswith("BOOTSTRAP "):
            return p, line.split()[1]
    lgtest.fail("no BOOTSTRAP line")


def start_detector(tmp, name, bootstrap, db):
    log = os.path.join(tmp, name + ".log")
    p = lgtest.start(["loginguard", "detector", "--bus", "kafka://" + bootstrap,
                      "--store", db, "--group", GROUP], log_path=log,
                     env={"LG_LOG_LEVEL": "info"})
    # joined and the partitions planned (3 s first-join delay, ~5 s after a leave)
    wait_log(log, "group=" + GROUP + " assigned", 30, name + " assigned partitions")
    return p, log


def attempt(aid, ts, user, ok):
    return json.dumps({"v": 1, "id": aid, "ts": ts, "user": user, "ip": "203.0.113.7",
                       "ok": ok, "outcome": "ok" if ok else "fail", "src": "kcat"},
                      separators=(",", ":"))


def kcat_produce(bootstrap, topic, lines, extra=()):
    r = subprocess.run([KCAT, "-b", bootstrap, "-P", "-t", topic, "-K:", "-X", "acks=all"]
                       + list(extra), input="\n".join(lines) + "\n", capture_output=True,
                       text=True, timeout=30)
    lgtest.check(r.returncode == 0, "kcat produce failed: %s" % r.stderr)


def kcat_blocks(bootstrap):
    """Every message of lg.blocks as (key, value or None)."""
    r = subprocess.run([KCAT, "-b", bootstrap, "-C", "-t", "lg.blocks", "-o", "beginning",
                        "-e", "-q", "-Z", "-f", "%k\t%S\t%s\n"], capture_output=True,
                       text=True, timeout=30)
    lgtest.check(r.returncode == 0, "kcat consume failed: %s" % r.stderr)
    out = []
    for line in r.stdout.splitlines():
        key, size, value = line.split("\t", 2)
        out.append((key, None if size == "-1" else json.loads(value)))
    return out


def wait_block(bootstrap, user, timeout):
    found = []

    def have():
        found[:] = [v for k, v in kcat_blocks(bootstrap) if k == user and v is not None]
        return bool(found)
    lgtest.wait_until(have, timeout, "a block of %s on lg.blocks" % user)
    return found


def outcomes(db, user):
    with sqlite3.connect(db) as c:
        return [r[0] for r in c.execute(
            "SELECT outcome FROM attempts WHERE user = ? ORDER BY ts, id", (user,))]


def main():
    if KCAT is None:
        lgtest.fail("kcat is not installed (apt-get install kcat)")
    lgtest.check(os.path.exists(MOCK), "%s not built" % MOCK)
    tmp = lgtest.tmpdir()
    db = os.path.join(tmp, "audit.db")
    mock, bootstrap = start_mock(tmp)

    # 1. five failures of alice within the window -> one block on lg.blocks
    det_a, log_a = start_detector(tmp, "detector-a", bootstrap, db)
    now = int(time.time() * 1000)
    lines = ["alice:" + attempt("a%d" % i, now + i, "alice", False) for i in range(5)]
    lines += ["bob:" + attempt("b%d" % i, now + i, "bob", False) for i in range(4)]
    lines += ["carol:" + attempt("c0", now, "carol", True), "x:not json"]
    kcat_produce(bootstrap, "lg.attempts", lines)
    blocks = wait_block(bootstrap, "user:alice", 20)
    lgtest.check(len(blocks) == 1, "expected one block of alice, got %r" % blocks)
    b = blocks[0]
    lgtest.check(b["rule"] == "user" and b["level"] == 1 and b["since"] == now + 4,
                 "unexpected block %r" % b)
    lgtest.check(b["until"] == now + 4 + 15 * 60 * 1000, "unexpected until in %r" % b)
    lgtest.check(not any(k == "user:bob" for k, _ in kcat_blocks(bootstrap)),
                 "bob has only 4 failures and must not be blocked")
    rc = lgtest.stop(det_a)
    lgtest.check(rc == 0, "detector-a exited %s" % rc)
    log = read(log_a)
    lgtest.check("stopped attempts=10 " in log and "bad=1 " in log,
                 "detector-a summary wrong:\n" + log[-2000:])
    lgtest.check(outcomes(db, "alice") == ["fail"] * 5, "alice in store: %r" % outcomes(db, "alice"))
    lgtest.check(outcomes(db, "carol") == ["ok"], "carol in store: %r" % outcomes(db, "carol"))

    # 2. a new detector rebuilds bob's window from the committed offsets: his 5th
    #    failure blocks him even though another process judged the first four
    det_b, log_b = start_detector(tmp, "detector-b", bootstrap, db)
    wait_log(log_b, "rebuild from offset=", 10, "detector-b rebuild plan")
    kcat_produce(bootstrap, "lg.attempts", ["bob:" + attempt("b4", now + 10, "bob", False)])
    blocks = wait_block(bootstrap, "user:bob", 20)
    lgtest.check(blocks[0]["since"] == now + 10, "unexpected block of bob %r" % blocks[0])

    # 3. a tombstone produced with kcat (-Z: empty value = NULL) unblocks alice: her next
    #    failure inside the old block counts again instead of being "blocked". Its key is
    #    the bare user, as versions before key namespaces wrote it: read as "user:alice"
    kcat_produce(bootstrap, "lg.blocks", ["alice:"], extra=["-Z"])
    wait_log(log_b, "unblock key=user:alice", 15, "detector-b reading the tombstone")
    kcat_produce(bootstrap, "lg.attempts", ["alice:" + attempt("a5", now + 20, "alice", False),
                                            "bob:" + attempt("b5", now + 20, "bob", False)])
    lgtest.wait_until(lambda: len(outcomes(db, "alice")) == 6 and len(outcomes(db, "bob")) == 6,
                      20, "the last attempts in the store")
    lgtest.check(outcomes(db, "alice")[-1] == "fail", "alice after unblock: %r" % outcomes(db, "alice"))
    lgtest.check(outcomes(db, "bob")[-1] == "blocked", "bob still blocked: %r" % outcomes(db, "bob"))
    with sqlite3.connect(db) as c:
        n_blocks = c.execute("SELECT count(*) FROM blocks").fetchone()[0]
        n_unblocks = c.execute("SELECT count(*) FROM unblocks WHERE key = 'user:alice'").fetchone()[0]
    lgtest.check(n_blocks == 2, "expected 2 blocks in the store, got %d" % n_blocks)
    lgtest.check(n_unblocks == 1, "expected the unblock recorded once, got %d" % n_unblocks)

    rc = lgtest.stop(det_b)
    lgtest.check(rc == 0, "detector-b exited %s" % rc)
    # the ten valid attempts of step 1 were re-read to rebuild windows, not re-judged
    lgtest.check("rebuilt=10 " in read(log_b) and "stopped attempts=3 " in read(log_b),
                 "detector-b summary wrong:\n" + read(log_b)[-2000:])
    lgtest.check(lgtest.stop(mock) == 0, "lg-kafka-mock did not stop cleanly")
    shutil.rmtree(tmp, ignore_errors=True)
    print("ok: kcat -> detector -> lg.blocks; rebuild across processes; tombstone unblocks")


if __name__ == "__main__":
    main()
