"""test_full_key_table.py - junk keys that fill a rule's key table do not switch it off.

An attacker sends failures for more distinct junk users than the table holds (keys_max),
then brute-forces a real one. Before, failures of new keys beyond keys_max were not
counted at all: the brute force never blocked. Now a new key evicts the least recently
active ones:
  1. `loginguard replay` with keys_max = 64: 1000 junk users, then five failures of
     "victim" - its block is printed, and the summary says what was evicted;
  2. `loginguard run` with keys_max = 64: 80 junk logins, then five wrong passwords for
     "victim" - 423 after them, lg_engine_keys_evicted_total{rule="user"} in /metrics,
     and a "table full" warning in the log.
"""
import json
import os
import re
import shutil
import time

import lghttp
import lgtest
from lgtest import check

T = 1700000000000
KEYS_MAX = 64
RULE_CONF = "[rule user]\nkeys_max = %d\n" % KEYS_MAX


def attempt(ts, user, ok=False):
    return json.dumps({"ts": ts, "user": user, "ok": ok}, separators=(",", ":"))


def replay_case():
    tmp = lgtest.tmpdir("lg-full-")
    conf = os.path.join(tmp, "lg.conf")
    with open(conf, "w") as f:
        f.write(RULE_CONF)
    lines = [attempt(T + i, "junk%d" % i) for i in range(1000)]
    lines += [attempt(T + 1000 + i * 100, "victim") for i in range(5)]
    r = lgtest.run(["loginguard", "replay", "-", "--config", conf],
                   input="\n".join(lines) + "\n")
    check(r.returncode == 0, "replay exited %d: %s" % (r.returncode, r.stderr))
    blocks = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
    check([b["user"] for b in blocks] == ["victim"],
          "the brute force after 1000 junk keys (keys_max %d) did not block: %r\n%s"
          % (KEYS_MAX, blocks, r.stderr))
    check(blocks[0]["since"] == T + 1400 and blocks[0]["level"] == 1,
          "unexpected block %r" % blocks[0])
    m = re.search(r"rule user table full: (\d+) keys and (\d+) block records evicted, "
                  r"(\d+) not kept", r.stderr)
    check(m is not None, "no full-table line in the summary: %s" % r.stderr)
    check(int(m.group(1)) >= 1000 - KEYS_MAX and int(m.group(3)) == 0,
          "summary counts: %s" % m.group(0))
    shutil.rmtree(tmp, ignore_errors=True)


def metric(text, name, labels):
    m = re.search(r"^%s\{%s\} (\S+)$" % (re.escape(name), re.escape(labels)), text, re.M)
    return float(m.group(1)) if m else None


def run_case():
    srv = lghttp.Server(users=[("victim", "victim-pw", False)], extra_config=RULE_CONF)
    try:
        for i in range(KEYS_MAX + 16):
            st, _, _ = srv.login("junk%d" % i, "x")
            check(st == 401, "junk login %d: %d" % (i, st))
        time.sleep(0.05)  # the brute force comes after them (slices of last activity)
        for i in range(5):
            st, _, _ = srv.login("victim", "wrong-%d" % i)
            check(st == 401, "failure %d of victim: %d" % (i + 1, st))
        srv.wait_blocked("victim")
        st, _, doc = srv.login("victim", "victim-pw")
        check(st == 423, "victim after five failures behind %d junk keys: %d %s"
              % (KEYS_MAX + 16, st, doc))
        st, _, raw = lgtest.request(srv.port, "GET", "/metrics")
        text = raw.decode()
        evicted = metric(text, "lg_engine_keys_evicted_total", 'rule="user"')
        check(st == 200 and evicted is not None and evicted >= 16,
              "lg_engine_keys_evicted_total{rule=\"user\"} = %r" % evicted)
        check(metric(text, "lg_engine_keys_full_total", 'rule="user"') == 0,
              "keys not kept in /metrics:\n" + text)
        check("table full" in srv.log() and "rule=user" in srv.log(),
              "no table-full warning in the log:\n" + srv.log()[-2000:])
        check(srv.stop() == 0, "run did not exit 0")
    finally:
        srv.cleanup()


def main():
    replay_case()
    run_case()
    print("ok: a key table full of junk keys still blocks a brute force (replay and run)")


if __name__ == "__main__":
    main()
