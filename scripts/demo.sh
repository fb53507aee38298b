#!/usr/bin/env bash
# demo.sh - `make demo`: loginguard end to end on this machine, in a temp dir.
#
# Registers the users of data/demo-users.tsv (plus one admin) in a fresh SQLite store,
# starts `loginguard run` on a free loopback port, drives it with the seed's random
# logins for 30 s and a short brute-force burst, shows each block as the detector decides
# it, stops the server with SIGTERM and summarises what the audit log holds.
#   LG_BIN=path/to/loginguard    binary (default build/loginguard)
#   DEMO_SECONDS=30              length of the random phase
#   DEMO_RATE=40                 random logins per second (argon2id costs ~11 ms each)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
LG=${LG_BIN:-$ROOT/build/loginguard}
SECONDS_RANDOM=${DEMO_SECONDS:-30}
RATE=${DEMO_RATE:-40}
[ -x "$LG" ] || { echo "demo: $LG not found; run 'make build' first" >&2; exit 1; }

WORK=$(mktemp -d -t loginguard-demo.XXXXXX)
DB=$WORK/loginguard.db
RUN_PID=
TAIL_PID=
cleanup() {
    [ -n "$TAIL_PID" ] && kill "$TAIL_PID" 2>/dev/null || true
    if [ -n "$RUN_PID" ] && kill -0 "$RUN_PID" 2>/dev/null; then
        kill -TERM "$RUN_PID" 2>/dev/null || true
        wait "$RUN_PID" 2>/dev/null || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "1. users: $(grep -c . "$ROOT/data/demo-users.tsv") from data/demo-users.tsv and one admin, into $DB"
while IFS=$'\t' read -r name password; do
    [ -n "$name" ] || continue
    printf '%s\n' "$password" | "$LG" users add "$name" --db "$DB" >/dev/null
done < "$ROOT/data/demo-users.tsv"
ADMIN_PW=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$ADMIN_PW" | "$LG" users add admin --admin --db "$DB" >/dev/null
"$LG" users list --db "$DB" | head -4
echo "   ... (admin password for this run: $ADMIN_PW)"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT
say "2. loginguard run --db $DB --port $PORT"
"$LG" run --db "$DB" --port "$PORT" > "$WORK/blocks.jsonl" 2> "$WORK/run.log" &
RUN_PID=$!
for _ in $(seq 1 100); do
    curl -fs "$URL/healthz" >/dev/null 2>&1 && break
    kill -0 "$RUN_PID" 2>/dev/null || { cat "$WORK/run.log"; exit 1; }
    sleep 0.1
done
curl -fs "$URL/healthz"; echo "   $URL is ready"

# every block, as the detector prints it, in one readable line
python3 -u - "$WORK/blocks.jsonl" <<'EOF_FOLLOW' &
import json, sys, time
f = open(sys.argv[1])
while True:
    line = f.readline()
    if not line:
        time.sleep(0.1)
        continue
    b = json.loads(line)
    until = "permanent" if b["until"] == 0 else time.strftime("%H:%M:%S", time.localtime(b["until"] / 1000))
    print("   BLOCK %-14s until %s  level %d  rule %s  (%s)"
          % (b["user"], until, b["level"], b["rule"], b["reason"]), flush=True)
EOF_FOLLOW
TAIL_PID=$!

say "3. $SECONDS_RANDOM s of random logins ($RATE/s: random user, random password, random ip)"
"$LG" loadgen --url "$URL" --duration "$SECONDS_RANDOM" --rate "$RATE" --connections 16 \
    --scenario random --quiet --json > "$WORK/random.json"
say "4. a 5 s brute-force burst (3 users hammered with wrong passwords)"
"$LG" loadgen --url "$URL" --duration 5 --rate 100 --connections 16 --scenario bruteforce \
    --quiet --json > "$WORK/bruteforce.json"
sleep 0.5
python3 - "$WORK/random.json" "$WORK/bruteforce.json" <<'EOF'
import json, sys
for path, name in zip(sys.argv[1:], ("random", "bruteforce")):
    r = json.load(open(path))
    lat = r["latency_us"]
    print("   loadgen %-10s %5d requests  statuses %s  p50 %.1f ms  p99 %.1f ms"
          % (name, r["requests"], r["status"], lat["p50"] / 1000, lat["p99"] / 1000))
EOF

say "5. SIGTERM: drain requests, flush the bus and the audit store"
sleep 0.3 # let the follower print the last block lines
kill "$TAIL_PID" 2>/dev/null || true
TAIL_PID=
kill -TERM "$RUN_PID"
STATUS=0
wait "$RUN_PID" || STATUS=$?
RUN_PID=
echo "   loginguard run exited with status $STATUS"

say "6. summary"
"$LG" audit --all --db "$DB" > "$WORK/all.jsonl"
python3 - "$WORK/all.jsonl" "$WORK/blocks.jsonl" "$DB" "$LG" <<'EOF'
import collections, json, sys
attempts = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
blocks = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
by = collections.Counter(a["outcome"] for a in attempts)
print("   attempts in the audit log: %d  (ok %d, fail %d, blocked %d)"
      % (len(attempts), by["ok"], by["fail"], by["blocked"]))
users = sorted({b["user"] for b in blocks})
print("   blocks decided: %d, users blocked: %d" % (len(blocks), len(users)))
print("   " + ", ".join(users[:20]) + (" ..." if len(users) > 20 else ""))
if users:
    busiest = collections.Counter(a["user"] for a in attempts if a["user"] in users).most_common(1)[0][0]
    open(sys.argv[1] + ".user", "w").write(busiest)
EOF
if [ -s "$WORK/all.jsonl.user" ]; then
    U=$(cat "$WORK/all.jsonl.user")
    echo
    echo "   the audit log of one blocked user:"
    echo "   \$ $LG audit --user $U --db $DB"
    # to a file first: `head` closing the pipe early would kill audit with SIGPIPE
    "$LG" audit --user "$U" --db "$DB" > "$WORK/audit-user.txt"
    sed -n '1,20s/^/   /p' "$WORK/audit-user.txt"
    n=$(wc -l < "$WORK/audit-user.txt")
    [ "$n" -le 20 ] || echo "   ... ($((n - 20)) more lines in $WORK/audit-user.txt)"
fi
echo
echo "   store, run log and block lines are kept in $WORK (rm -rf it when done)"
exit "$STATUS"
