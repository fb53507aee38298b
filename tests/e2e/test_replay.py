"""test_replay.py - `loginguard replay`, `audit` and `config` end to end.

Blocks for a crafted file are compared byte for byte (the 59999 / 60000 ms boundary,
reset on success, BLOCKED outcomes, escalation); every kind of bad line is reported as
`line N: ...` while the good lines around it still count; --strict stops at the first;
replay --db followed by audit shows every attempt with its outcome; audit --all is
replayable; usage errors exit 2; config output loads back; docs/CONFIG.md is current;
a ts that jumps more than --max-jump (default 1 day) ahead of the stream is a bad line,
not a new clock, so one far-future line cannot switch detection off for the rest.
"""
import json
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lgtest  # noqa: E402
from lgtest import check, fail  # noqa: E402

T = 1700000000000
MIN15 = 15 * 60 * 1000


def attempt(ts, user, ok, **extra):
    d = {"ts": ts, "user": user, "ok": ok}
    d.update(extra)
    return json.dumps(d, separators=(",", ":"))


def block(user, since, until, level, rule="user", reason="5 failures in 60s"):
    return json.dumps({"v": 1, "user": user, "since": since, "until": until, "level": level,
                       "reason": reason, "rule": rule}, separators=(",", ":"))


def write(path, lines, raw=None):
    with open(path, "wb") as f:
        for line in lines:
            f.write(line if isinstance(line, bytes) else line.encode())
            f.write(b"\n")
        if raw:
            f.write(raw)
    return path


def crafted():
    """Lines in ts order, and the blocks replay must print, in order."""
    lines, want = [], []
    # five failures spanning 59999 ms (< window): blocked at the fifth
    for d in (0, 1000, 2000, 3000, 59999):
        lines.append(attempt(T + d, "edge_in", False, ip="203.0.113.7"))
    want.append(block("edge_in", T + 59999, T + 59999 + MIN15, 1))
    # five failures spanning exactly 60000 ms: not strictly less, no block
    b = T + 100000
    for d in (0, 1000, 2000, 3000, 60000):
        lines.append(attempt(b + d, "edge_out", False))
    # a success clears the window: 4 + ok + 1 failures, no block
    b = T + 200000
    for d in (0, 1000, 2000, 3000):
        lines.append(attempt(b + d, "reset", False))
    lines.append(attempt(b + 3500, "reset", True))
    lines.append(attempt(b + 4000, "reset", False))
    # a block, an attempt while blocked (not counted), then escalation to level 2
    b = T + 300000
    for d in range(5):
        lines.append(attempt(b + d, "esc", False, ip="2001:db8::1"))
    want.append(block("esc", b + 4, b + 4 + MIN15, 1))
    lines.append(attempt(b + 5, "esc", False, outcome="ok"))  # outcome is ignored
    b2 = b + 4 + MIN15
    for d in range(5):
        lines.append(attempt(b2 + d, "esc", False))
    want.append(block("esc", b2 + 4, b2 + 4 + 2 * MIN15, 2))
    esc_outcomes = ["fail"] * 5 + ["blocked"] + ["fail"] * 5
    return lines, want, esc_outcomes


def replay(args, input=None, timeout=120):
    return lgtest.run(["loginguard", "replay"] + args, input=input, timeout=timeout)


def stderr_lines(r):
    return [l for l in r.stderr.splitlines() if l.startswith("line ")]


def test_blocks_match_exactly(d):
    lines, want, _ = crafted()
    path = write(os.path.join(d, "crafted.jsonl"), lines)
    r = replay([path])
    check(r.returncode == 0, "replay exit %d: %s" % (r.returncode, r.stderr))
    check(r.stdout.splitlines() == want,
          "blocks differ:\n got %r\nwant %r" % (r.stdout.splitlines(), want))
    check(stderr_lines(r) == [], "unexpected bad lines: %r" % r.stderr)
    summary = r.stderr.strip().splitlines()[-1]
    check(summary.startswith("replay: %d lines, %d attempts (ok 1, fail %d, blocked 1), "
                             "0 bad lines, 3 blocks" % (len(lines), len(lines), len(lines) - 2)),
          "summary: %r" % summary)
    # stdin gives the same
    r2 = replay(["-", "--quiet"], input="\n".join(lines) + "\n")
    check(r2.returncode == 0 and r2.stdout.splitlines() == want, "stdin replay differs")
    check(r2.stderr == "", "--quiet still wrote %r" % r2.stderr)
    # a permanent block with block_for_ms = 0 (--set), until = 0
    r3 = replay([path, "--set", "rule.user.block_for_ms=0", "--quiet"])
    check(r3.returncode == 0, "replay --set: %s" % r3.stderr)
    got = [json.loads(l) for l in r3.stdout.splitlines()]
    check([(b["user"], b["until"]) for b in got] == [("edge_in", 0), ("esc", 0)],
          "permanent blocks: %r" % got)


def test_bad_lines_reported_and_skipped(d):
    u128 = "u" * 128
    good = lambda i: attempt(T + i, "mixed", False)  # noqa: E731
    base = good(9)
    pad = 65536 - len(base)  # a line of exactly LG_LINE_MAX bytes reaches the decoder
    lines = [
        good(0),                                                      # 1
        '{"ts":1,"user":',                                            # 2 broken JSON
        '{"ts":%d,"user":"mixed"}' % T,                               # 3 missing ok
        '{"ts":"soon","user":"mixed","ok":false}',                    # 4 wrong type
        good(1),                                                      # 5
        attempt(T, "v" * 129, False),                                 # 6 129-byte user
        attempt(T, u128, True),                                       # 7 128 bytes: valid
        '{"ts":%d,"user":"a\\u0001b","ok":false}' % T,                # 8 control char
        b'{"ts":1,"user":"\xff\xfe","ok":false}',                     # 9 invalid UTF-8
        good(2),                                                      # 10
        attempt(T, "mixed", False, ip="999.1.1.1"),                   # 11 invalid IP
        attempt(T, "x" * (3 << 19), False),                           # 12 1.5 MiB line
        "",                                                           # 13 blank
        "   \t",                                                      # 14 blank
        good(3) + "\r",                                               # 15 CRLF
        base[:-1] + " " * pad + "}",                                  # 16 65536 bytes
        base[:-1] + " " * (pad + 1) + "}",                            # 17 65537 bytes
        '[1,2]',                                                      # 18 not an object
        good(4),                                                      # 19
    ]
    check(len(lines[15]) == 65536 and len(lines[16]) == 65537, "padding arithmetic")
    path = write(os.path.join(d, "bad.jsonl"), lines)
    r = replay([path])
    check(r.returncode == 0, "replay exit %d" % r.returncode)
    want_blocks = [block("mixed", T + 4, T + 4 + MIN15, 1)]
    check(r.stdout.splitlines() == want_blocks,
          "good lines around bad ones must still count: %r" % r.stdout)
    errs = stderr_lines(r)
    expect = {
        2: r"invalid JSON",
        3: r"missing field 'ok'$",
        4: r"field 'ts': expected an integer",
        6: r"field 'user': longer than 128 bytes$",
        8: r"field 'user': control character U\+0001",
        9: r"UTF-8|decode byte 0xff",
        11: r"field 'ip': not a valid IPv4 or IPv6 address$",
        12: r"^line 12: longer than 65536 bytes$",
        # 65536 bytes is a line; the decoder then refuses an event of that size
        16: r"^line 16: (?!longer than 65536 bytes$)",
        17: r"^line 17: longer than 65536 bytes$",
        18: r"object",
    }
    nums = [int(re.match(r"line (\d+): ", e).group(1)) for e in errs]
    check(nums == sorted(expect), "bad lines reported: %r" % errs)
    for e in errs:
        n = int(re.match(r"line (\d+): ", e).group(1))
        check(re.search(expect[n], e), "line %d message %r !~ %r" % (n, e, expect[n]))
        check(len(e) < 300, "message for line %d is not short: %d bytes" % (n, len(e)))
    summary = r.stderr.strip().splitlines()[-1]
    check(" 19 lines, 6 attempts (ok 1, fail 5, blocked 0), 11 bad lines, 1 blocks" in summary,
          "summary: %r" % summary)

    # --strict: exit 1 at line 2, nothing after it is judged
    r = replay([path, "--strict"])
    check(r.returncode == 1, "--strict exit %d" % r.returncode)
    check(stderr_lines(r) == [e for e in errs if e.startswith("line 2:")],
          "--strict reports: %r" % r.stderr)
    check(r.stdout == "", "--strict printed blocks: %r" % r.stdout)
    # --strict on a too-long line
    p2 = write(os.path.join(d, "long.jsonl"), [good(0), "y" * 70000, good(1)])
    r = replay([p2, "--strict"])
    check(r.returncode == 1 and stderr_lines(r) == ["line 2: longer than 65536 bytes"],
          "--strict long line: %d %r" % (r.returncode, r.stderr))
    # a last line without newline still counts
    p3 = os.path.join(d, "nonl.jsonl")
    write(p3, [good(i) for i in range(4)], raw=good(4).encode())
    r = replay([p3, "--quiet"])
    check(r.stdout.splitlines() == want_blocks, "last line without newline: %r" % r.stdout)


def audit(args):
    return lgtest.run(["loginguard", "audit"] + args)


def test_db_then_audit(d):
    lines, want, esc_outcomes = crafted()
    path = write(os.path.join(d, "crafted.jsonl"), lines)
    db = os.path.join(d, "audit.db")
    r = replay([path, "--db", db])
    check(r.returncode == 0, "replay --db: %s" % r.stderr)
    check(r.stdout.splitlines() == want, "blocks with --db differ")
    check("stored %d attempts (%d new) and 3 blocks in 1 batches" % (len(lines), len(lines))
          in r.stderr, "store summary: %r" % r.stderr)

    r = audit(["--user", "esc", "--db", db, "--json"])
    check(r.returncode == 0, "audit --json: %s" % r.stderr)
    rows = [json.loads(l) for l in r.stdout.splitlines()]
    attempts = [x for x in rows if "ts" in x]
    blocks = [x for x in rows if "since" in x]
    check([a["outcome"] for a in attempts] == esc_outcomes,
          "esc outcomes %r" % [a["outcome"] for a in attempts])
    check(all(a["src"] == "replay" and re.match(r"^L\d+-[0-9a-f]{16}$", a["id"])
              for a in attempts), "ids/src: %r" % attempts[:2])
    check([json.dumps(b, separators=(",", ":")) for b in blocks] == want[1:],
          "esc blocks %r" % blocks)

    r = audit(["--user", "edge_in", "--db", db])
    check(r.returncode == 0, "audit: %s" % r.stderr)
    out = r.stdout
    check("attempts of 'edge_in'" in out and "blocks of 'edge_in'" in out, out)
    check("2023-11-14T22:13:20.000Z  203.0.113.7" in out, "time/ip column: %s" % out)
    check(out.count(" fail ") == 5, "five failures listed: %s" % out)
    check("2023-11-14T22:14:19.999Z  2023-11-14T22:29:19.999Z  1      user" in out,
          "block row: %s" % out)
    r = audit(["--user", "edge_in", "--db", db, "--limit", "2", "--json"])
    check(len([l for l in r.stdout.splitlines() if '"ts"' in l]) == 2, "--limit 2: %s" % r.stdout)
    r = audit(["--user", "nobody", "--db", db])
    check(r.returncode == 0 and "no attempts or blocks recorded for 'nobody'" in r.stdout,
          r.stdout)

    # idempotent: the same file again stores nothing new
    r = replay([path, "--db", db])
    check("(0 new)" in r.stderr, "second run inserted rows: %r" % r.stderr)

    # audit --all is replayable and gives the same blocks
    r = audit(["--all", "--db", db])
    check(r.returncode == 0 and len(r.stdout.splitlines()) == len(lines), "audit --all")
    ts = [json.loads(l)["ts"] for l in r.stdout.splitlines()]
    check(ts == sorted(ts), "audit --all not ordered by ts")
    r2 = replay(["-", "--quiet"], input=r.stdout)
    check(r2.returncode == 0 and r2.stdout.splitlines() == want, "replay of audit --all")

    # a permanent block shows as permanent
    db2 = os.path.join(d, "perm.db")
    r = replay([path, "--db", db2, "--set", "rule.user.block_for_ms=0", "--quiet"])
    r = audit(["--user", "esc", "--db", db2])
    check(re.search(r"permanent\s+1\s+user", r.stdout), "permanent block: %s" % r.stdout)

    # a missing store is an error, and audit does not create it
    missing = os.path.join(d, "missing.db")
    r = audit(["--user", "esc", "--db", missing])
    check(r.returncode == 2 and "no audit store at" in r.stderr, "missing db: %r" % r.stderr)
    check(not os.path.exists(missing), "audit created an empty store")
    # the default store comes from the configuration
    conf = write(os.path.join(d, "store.conf"), ["[store]", "url = " + db])
    r = audit(["--user", "esc", "--config", conf, "--json"])
    check(r.returncode == 0 and len(r.stdout.splitlines()) == 13, "audit via config store")


DAY = 24 * 3600 * 1000


def test_far_future_ts_is_a_bad_line_not_a_new_clock(d):
    # Issue 7: one line of the year 9999 made the engine's clock jump there, so the real
    # failures after it came "too late" and nobody was blocked.
    lines = [attempt(T, "mallory", False),                               # 1
             attempt(T + 8000000000000, "mallory", False),               # 2 +8e12 ms
             attempt(253402300799999, "mallory", False),                 # 3 year 9999
             attempt(T + DAY, "edge", False),                            # 4 exactly 1 d: ok
             attempt(T + 2 * DAY + 1, "edge", False)]                    # 5 1 d + 1 ms
    base = T + DAY + 1000
    lines += [attempt(base + i, "alice", False) for i in range(5)]      # 6..10
    path = write(os.path.join(d, "future.jsonl"), lines)
    r = replay([path])
    check(r.returncode == 0, "replay exit %d: %s" % (r.returncode, r.stderr))
    check(stderr_lines(r) == [
        "line 2: field 'ts': jumps 8000000000000 ms ahead of the stream (more than "
        "--max-jump 86400000)",
        "line 3: field 'ts': jumps %d ms ahead of the stream (more than --max-jump 86400000)"
        % (253402300799999 - T),
        "line 5: field 'ts': jumps 86400001 ms ahead of the stream (more than --max-jump "
        "86400000)"], "bad lines: %r" % r.stderr)
    check(r.stdout.splitlines() == [block("alice", base + 4, base + 4 + MIN15, 1)],
          "alice's failures after the far-future lines must block: %r" % r.stdout)
    summary = r.stderr.strip().splitlines()[-1]
    check(" 10 lines, 7 attempts (ok 0, fail 7, blocked 0), 3 bad lines, 1 blocks" in summary,
          "summary: %r" % summary)

    # --strict stops at the first one (exit 1); the lines before it still count
    r = replay([path, "--strict", "--quiet"])
    check(r.returncode == 1 and stderr_lines(r) == [
        "line 2: field 'ts': jumps 8000000000000 ms ahead of the stream (more than "
        "--max-jump 86400000)"], "--strict: %d %r" % (r.returncode, r.stderr))

    # --max-jump takes the config's units: 2h lets a 1 h gap pass, not a 3 h one
    hour = 3600 * 1000
    p2 = write(os.path.join(d, "gaps.jsonl"),
               [attempt(T, "g", False), attempt(T + hour, "g", False),
                attempt(T + 4 * hour, "g", False), attempt(T + 2 * hour, "g", False)])
    for flag, want in (("2h", 7200000), ("7200000", 7200000), ("7200s", 7200000)):
        r = replay([p2, "--max-jump", flag, "--quiet"])
        check(r.returncode == 0 and stderr_lines(r) == [
            "line 3: field 'ts': jumps %d ms ahead of the stream (more than --max-jump %d)"
            % (3 * hour, want)], "--max-jump %s: %r" % (flag, r.stderr))
    r = replay([p2, "--max-jump", "1d", "--quiet"])
    check(r.returncode == 0 and stderr_lines(r) == [], "--max-jump 1d: %r" % r.stderr)
    for flag in ("0", "-5", "soon", "2y", ""):
        r = replay([p2, "--max-jump", flag])
        check(r.returncode == 2 and "invalid --max-jump" in r.stderr,
              "--max-jump %r: %d %r" % (flag, r.returncode, r.stderr))
    r = lgtest.run(["loginguard", "replay", "--help"])
    check("--max-jump DUR" in r.stdout, "replay --help does not document --max-jump")


def test_usage_errors_and_help(d):
    for cmd in ("replay", "audit", "config"):
        r = lgtest.run(["loginguard", cmd, "--help"])
        check(r.returncode == 0 and r.stdout.startswith("usage: loginguard " + cmd),
              "%s --help: %d %r" % (cmd, r.returncode, r.stdout[:80]))
        r = lgtest.run(["loginguard", cmd, "--bogus"])
        check(r.returncode == 2, "%s --bogus exit %d" % (cmd, r.returncode))
    r = replay([os.path.join(d, "nope.jsonl")])
    check(r.returncode == 2 and "cannot open" in r.stderr, "unreadable file: %r" % r.stderr)
    bad = write(os.path.join(d, "bad.conf"), ["[rule user]", "window_ms = 0"])
    r = replay(["--config", bad, "-"], input="")
    check(r.returncode == 2 and r.stderr.strip() ==
          "loginguard replay: invalid window_ms '0' for rule 'user' (%s:2): must be 1..86400000"
          % bad, "bad config: %r" % r.stderr)
    r = replay(["--set", "rule.user.threshold=65", "-"], input="")
    check(r.returncode == 2 and "must be 1..64" in r.stderr, "bad --set: %r" % r.stderr)
    r = audit(["--db", "x.db"])
    check(r.returncode == 2, "audit without --user/--all")
    r = audit(["--user", "a" * 129, "--db", "x.db"])
    check(r.returncode == 2 and "longer than 128 bytes" in r.stderr, "audit bad user")


def test_config_round_trip_and_docs(d):
    r = lgtest.run(["loginguard", "config", "--set", "rule.user.threshold=7",
                    "--set", "rule.ip.enabled=true", "--set", "http.port=9999"])
    check(r.returncode == 0, "config: %s" % r.stderr)
    path = write(os.path.join(d, "printed.conf"), [r.stdout])
    r2 = lgtest.run(["loginguard", "config", "--config", path])
    check(r2.returncode == 0, "reload: %s" % r2.stderr)
    check(r2.stdout == r.stdout, "printed config does not load back the same")
    check("\n[rule user]\n" in r.stdout and "\nthreshold = 7\n" in r.stdout, r.stdout[:400])
    # the rule settings in the file take effect in replay: threshold 7 -> no block at 5
    lines, _, _ = crafted()
    r3 = replay(["--config", path, "--quiet", "-"], input="\n".join(lines) + "\n")
    check(r3.returncode == 0 and r3.stdout == "", "threshold 7 still blocked: %r" % r3.stdout)
    # the example configuration loads and spells out default values
    example = os.path.join(lgtest.SRC_DIR, "loginguard.conf.example")
    r = lgtest.run(["loginguard", "config", "--config", example])
    check(r.returncode == 0, "loginguard.conf.example: %s" % r.stderr)
    r = lgtest.run(["loginguard", "config"])
    check(r.stdout == lgtest.run(["loginguard", "config", "--config", example]).stdout,
          "loginguard.conf.example should spell out the defaults it lists")
    # docs/CONFIG.md is the generated reference
    r = lgtest.run(["loginguard", "config", "--markdown"])
    with open(os.path.join(lgtest.SRC_DIR, "docs", "CONFIG.md")) as f:
        check(f.read() == r.stdout, "docs/CONFIG.md is stale: regenerate with "
              "`loginguard config --markdown > docs/CONFIG.md`")
    # environment beats the file, and a bad value names the variable
    r = lgtest.run(["loginguard", "config"], env={"LG_STORE_URL": "env.db"})
    check("\n[store]\n" in r.stdout and "\nurl = env.db\n" in r.stdout, "LG_STORE_URL")
    r = lgtest.run(["loginguard", "config"], env={"LG_LOG_LEVEL": "loud"})
    check(r.returncode == 2 and "(environment LG_LOG_LEVEL)" in r.stderr, r.stderr)


def main():
    d = lgtest.tmpdir("lg-replay-")
    try:
        test_blocks_match_exactly(d)
        test_bad_lines_reported_and_skipped(d)
        test_far_future_ts_is_a_bad_line_not_a_new_clock(d)
        test_db_then_audit(d)
        test_usage_errors_and_help(d)
        test_config_round_trip_and_docs(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    print("ok")


if __name__ == "__main__":
    main()
