"""test_replay_crash.py - `replay --db` killed mid-file leaves whole batches, and a
second run completes the store exactly.

~400k attempts are fed to `replay - --db`; once the store has rows the process gets
SIGKILL while input is still flowing. Then: the database passes integrity_check; the
stored attempts are exactly lines 1..c of the input for c a multiple of the batch size
(no torn batch), each with the fields of its line; the stored blocks are exactly those a
replay of those c lines decides. Running the whole file again stores every attempt
exactly once and the same blocks as one clean run into a fresh database.
"""
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lgtest  # noqa: E402
from lgtest import check, fail  # noqa: E402

N = 400_000
BATCH = 4096  # LG_STORE_BATCH_MAX
SEED = 7
KILL_AFTER = 5 * BATCH


def generate(path):
    """Attempts as JSON lines: `loginguard gen` when built, else an equivalent mix here
    (random users, some brute-forced ones so that blocks are decided)."""
    r = lgtest.run(["loginguard", "gen", "--events", str(N), "--seed", str(SEED),
                    "--start-ms", "1700000000000"], timeout=300)
    lines = [l for l in r.stdout.splitlines() if l.strip()] if r.returncode == 0 else []
    if len(lines) < N // 2:
        rnd = random.Random(SEED)
        t = 1700000000000
        lines = []
        for _ in range(N):
            t += rnd.randint(0, 3)
            if rnd.random() < 0.03:
                user, ok = "victim%d" % rnd.randint(0, 40), False
            else:
                user, ok = "user%d" % rnd.randint(0, 20000), rnd.random() < 0.7
            lines.append(json.dumps({"ts": t, "user": user, "ip": "10.0.%d.%d" % (
                rnd.randint(0, 255), rnd.randint(1, 254)), "ok": ok}, separators=(",", ":")))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return lines


def db_count(db):
    if not os.path.exists(db):
        return 0
    try:
        with sqlite3.connect(db, timeout=5) as c:
            return c.execute("SELECT count(*) FROM attempts").fetchone()[0]
    except sqlite3.Error:
        return 0  # schema not created yet


def db_blocks(db):
    with sqlite3.connect(db, timeout=5) as c:
        return sorted(c.execute("SELECT rule, user, ip, since, until, level, reason FROM blocks"))


def blocks_of(stdout):
    out = []
    for l in stdout.splitlines():
        b = json.loads(l)
        out.append((b["rule"], b.get("user", ""), b.get("ip", ""), b["since"], b["until"],
                    b["level"], b["reason"]))
    return sorted(out)


def line_numbers(lines):
    """id -> line number for lines that carry an id; replay derives "L<line>-<hash>"
    for the others."""
    ids = {}
    for no, line in enumerate(lines, 1):
        i = json.loads(line).get("id")
        if i is not None:
            check(i not in ids, "input id %r appears twice" % i)
            ids[i] = no
    return ids


def line_no(ids, attempt_id):
    if attempt_id in ids:
        return ids[attempt_id]
    check(attempt_id.startswith("L") and "-" in attempt_id, "unexpected id %r" % attempt_id)
    return int(attempt_id[1:attempt_id.index("-")])


def crash_run(path, lines, db):
    """Starts replay on stdin, feeds 3/4 of the input (so it is surely cut mid-file) and
    kills it once KILL_AFTER rows are stored."""
    p = lgtest.start([lgtest.LG_BIN, "replay", "-", "--db", db, "--quiet"],
                     stdin=subprocess.PIPE)
    head = ("\n".join(lines[: 3 * len(lines) // 4]) + "\n").encode()

    def feed():
        try:
            p.stdin.write(head)
            p.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass  # killed while writing: expected

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    deadline = time.time() + 120
    # a few batches in, so that the writer is likely inside a transaction when killed
    while db_count(db) < KILL_AFTER:
        if time.time() > deadline:
            fail("%d attempts not stored within 120 s" % KILL_AFTER)
        if p.poll() is not None:
            fail("replay exited (%s) before it was killed" % p.returncode)
        time.sleep(0.005)
    p.send_signal(signal.SIGKILL)
    p.wait(30)
    feeder.join(30)
    try:
        p.stdin.close()
    except BrokenPipeError:
        pass
    check(p.returncode == -signal.SIGKILL, "replay was not killed: %s" % p.returncode)


def main():
    d = lgtest.tmpdir("lg-crash-")
    try:
        path = os.path.join(d, "attempts.jsonl")
        lines = generate(path)
        n = len(lines)
        ids_in = line_numbers(lines)

        # the reference: one clean run into a fresh store
        ref_db = os.path.join(d, "ref.db")
        r = lgtest.run(["loginguard", "replay", path, "--db", ref_db, "--quiet"], timeout=600)
        check(r.returncode == 0, "reference run: %s" % r.stderr)
        ref_blocks = db_blocks(ref_db)
        check(len(ref_blocks) > 0, "the input should decide some blocks")
        check(db_count(ref_db) == n, "reference run stored %d of %d" % (db_count(ref_db), n))

        db = os.path.join(d, "crash.db")
        crash_run(path, lines, db)

        with sqlite3.connect(db, timeout=5) as c:
            ic = c.execute("PRAGMA integrity_check").fetchall()
            check(ic == [("ok",)], "integrity_check: %r" % ic[:5])
            rows = c.execute("SELECT id, ts, user, ok FROM attempts").fetchall()
        count = len(rows)
        check(0 < count < n, "killed run stored %d of %d" % (count, n))
        check(count % BATCH == 0, "torn batch: %d attempts is not a multiple of %d"
              % (count, BATCH))
        stored = sorted((line_no(ids_in, i), ts, user, ok) for i, ts, user, ok in rows)
        check([s[0] for s in stored] == list(range(1, count + 1)),
              "stored attempts are not exactly lines 1..%d" % count)
        for no, ts, user, ok in stored[:: max(1, count // 2000)] + stored[-3:]:
            want = json.loads(lines[no - 1])
            check((ts, user, bool(ok)) == (want["ts"], want["user"], want["ok"]),
                  "row of line %d differs from the line" % no)
        # the blocks stored are those decided by the same lines
        r = lgtest.run(["loginguard", "replay", "-", "--quiet"],
                       input="\n".join(lines[:count]) + "\n", timeout=300)
        check(r.returncode == 0, "prefix replay: %s" % r.stderr)
        check(db_blocks(db) == blocks_of(r.stdout),
              "blocks stored by the killed run differ from those of lines 1..%d" % count)

        # run again to completion: every attempt exactly once, blocks as a clean run
        r = lgtest.run(["loginguard", "replay", path, "--db", db], timeout=600)
        check(r.returncode == 0, "second run: %s" % r.stderr)
        check("(%d new)" % (n - count) in r.stderr, "second run summary: %r" % r.stderr)
        with sqlite3.connect(db, timeout=5) as c:
            ids = [row[0] for row in c.execute("SELECT id FROM attempts")]
        check(len(ids) == n, "after the second run %d attempts, want %d" % (len(ids), n))
        check(sorted(line_no(ids_in, i) for i in ids) == list(range(1, n + 1)),
              "an attempt is missing or stored twice")
        check(db_blocks(db) == ref_blocks, "blocks after crash + rerun differ from a clean run")
        print("ok: killed after %d of %d attempts (%d batches); rerun completed it"
              % (count, n, count // BATCH))
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
