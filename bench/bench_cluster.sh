#!/usr/bin/env bash
# bench_cluster.sh - the cluster end to end on this machine: HAProxy -> API x3 -> mock
# Kafka (3 brokers) -> detector x2 -> SQLite, as deploy/cluster.sh starts it.
#
#   bench/bench_cluster.sh [SECONDS] [CONNECTIONS]     (default 10 s, 64 connections)
#
# 1. throughput: `loginguard loadgen --endpoint attempts` as fast as it goes through
#    HAProxy (random users out of 50,000), then how long the detectors need to store
#    everything (the store count reaching every answered attempt): sustained end to end
#    only if that drain is short. CPU seconds per process from /proc while loaded show
#    where the cores go; `perf record -g` on the busiest process names its hot symbols.
# 2. block propagation: 200 fresh users, 5 failures at api-1, then polls at api-2 until
#    423 (tests/e2e/clusterlib.py block_propagation): p50/p90/p99/max.
# Everything shares the 2 cores with the load generator: figures are for this machine.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${LG_BUILD_DIR:-$ROOT/build}
LG=$BUILD/loginguard
SECS=${1:-10}
CONNS=${2:-64}
PROP_USERS=${PROP_USERS:-200}
PERF_S=3
WORK=$(mktemp -d -t lg-bench-cluster.XXXXXX)
# HAProxy on PORT, APIs on PORT+1..3: below the ephemeral range (the roles' outgoing
# Kafka connections could take a port there) and not in use in any state
LOW=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range)
for _ in $(seq 1 100); do
    PORT=$((LOW - 12000 + RANDOM % 11000))
    ss -Htan | awk '{print $4}' | grep -qE ":($PORT|$((PORT+1))|$((PORT+2))|$((PORT+3)))\$" || break
done

cleanup() {
    LG_BUILD_DIR=$BUILD "$ROOT/deploy/cluster.sh" down --dir "$WORK/cluster" >/dev/null 2>&1 || true
    [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

echo "# bench_cluster.sh $SECS $CONNS  ($(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
LG_BUILD_DIR=$BUILD "$ROOT/deploy/cluster.sh" up --dir "$WORK/cluster" --port "$PORT" >"$WORK/up.log" 2>&1 ||
    { cat "$WORK/up.log"; exit 1; }
CL=$WORK/cluster
DB=$CL/store.db
# deploy/cluster.sh made the reporter key POST /v1/attempts needs (loadgen reads it here)
LG_REPORTER_KEY=$(cat "$CL/reporter.key")
export LG_REPORTER_KEY
python3 -c 'import json; print(json.dumps(["bench-%05d" % i for i in range(50000)]))' >"$WORK/users.json"

cpu_ticks() { # pid -> utime+stime in clock ticks (all threads)
    awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0
}
store_count() {
    python3 -c 'import sqlite3,sys; c=sqlite3.connect("file:"+sys.argv[1]+"?mode=ro",uri=True,timeout=10); print(c.execute("select count(*) from attempts").fetchone()[0])' "$DB"
}

NAMES="haproxy api-1 api-2 api-3 detector-1 detector-2 kafka"
declare -A T0 T1
before=$(store_count)
for n in $NAMES; do T0[$n]=$(cpu_ticks "$(cat "$CL/pids/$n")"); done
t_start=$(date +%s.%N)
"$LG" loadgen --url "http://127.0.0.1:$PORT" --endpoint attempts --scenario random \
    --users "$WORK/users.json" --duration "$SECS" --connections "$CONNS" --json --quiet \
    >"$WORK/loadgen.json" &
LOADGEN=$!
# a profile of the busiest part, in the middle of the run
sleep $((SECS / 2 > PERF_S ? SECS / 2 - PERF_S / 2 : 1))
if command -v perf >/dev/null; then
    perf record -q -g -o "$WORK/perf.data" -p "$(cat "$CL/pids/api-1")" -- sleep "$PERF_S" \
        >/dev/null 2>&1 || true
fi
wait $LOADGEN
t_end=$(date +%s.%N)
for n in $NAMES; do T1[$n]=$(cpu_ticks "$(cat "$CL/pids/$n")"); done

read -r rate sent answered s202 s423 errors p50 p99 lgcpu < <(python3 - "$WORK/loadgen.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
st = d["status"]
print("%.0f %d %d %d %d %d %.2f %.2f %.2f" % (d["rate"], d["requests"], d["responses"],
      st.get("202", 0), st.get("423", 0), d["errors"]["total"], d["latency_us"]["p50"] / 1000,
      d["latency_us"]["p99"] / 1000, d["cpu"]["user_s"] + d["cpu"]["sys_s"]))
EOF
)
want=$((before + s202 + s423))
drain_start=$(date +%s.%N)
for _ in $(seq 1 600); do
    now=$(store_count)
    [ "$now" -ge "$want" ] && break
    sleep 0.1
done
drain=$(echo "$(date +%s.%N) - $drain_start" | bc)
wall=$(echo "$t_end - $t_start" | bc)
echo
echo "## throughput: loadgen --endpoint attempts --connections $CONNS --duration $SECS via HAProxy"
printf '%-28s %s\n' "attempts/s answered" "$rate  (202: $s202, 423: $s423, errors: $errors of $sent sent)"
printf '%-28s %s\n' "latency p50 / p99" "$p50 ms / $p99 ms"
printf '%-28s %s\n' "store after load" "$now of $want attempts; drain after the load stopped: ${drain}s"
echo
echo "## CPU while loaded (${wall}s wall, $(nproc) cores; loadgen itself: ${lgcpu}s)"
TCK=$(getconf CLK_TCK)
# CPU per answered attempt does not depend on how much of the machine others take
for n in $NAMES; do
    python3 -c 'import sys; t=(int(sys.argv[2])-int(sys.argv[1]))/int(sys.argv[3]); print("%-12s %6.2f s  %5.1f%% of one core  %6.1f us/attempt" % (sys.argv[5], t, 100*t/float(sys.argv[4]), 1e6*t/max(1,int(sys.argv[6]))))' \
        "${T0[$n]}" "${T1[$n]}" "$TCK" "$wall" "$n" "$answered"
done | sort -k2 -nr
total=0
for n in $NAMES; do total=$((total + ${T1[$n]} - ${T0[$n]})); done
python3 -c 'import sys; t=int(sys.argv[1])/int(sys.argv[2]); print("%-12s %6.2f s  %5.1f%% of %s cores  %6.1f us/attempt" % ("all", t, 100*t/float(sys.argv[3])/int(sys.argv[4]), sys.argv[4], 1e6*t/max(1,int(sys.argv[5]))))' \
    "$total" "$TCK" "$wall" "$(nproc)" "$answered"
if [ -s "$WORK/perf.data" ]; then
    echo
    echo "## perf record -g -p <api-1> for ${PERF_S}s: top symbols (self)"
    perf report -i "$WORK/perf.data" --stdio --no-children -g none --percent-limit 1.5 \
        --sort comm,dso,symbol 2>/dev/null |
        grep -E '^ +[0-9]' | head -8
    echo "## the same profile by thread"
    perf report -i "$WORK/perf.data" --stdio --no-children -g none --sort comm 2>/dev/null |
        grep -E '^ +[0-9]' | head -6
fi

echo
echo "## block propagation: 5th failure at api-1 -> first 423 at api-2, $PROP_USERS users"
python3 - "$ROOT/tests/e2e" "$((PORT + 1))" "$((PORT + 2))" "$PROP_USERS" <<'EOF'
import os
import sys
sys.path.insert(0, sys.argv[1])
import clusterlib
lat = clusterlib.block_propagation(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]),
                                   os.environ["LG_REPORTER_KEY"], prefix="bench")
ms = [1000 * x for x in lat]
print("users=%d p50=%.1f ms p90=%.1f ms p99=%.1f ms max=%.1f ms" % (
    len(ms), clusterlib.percentile(ms, 50), clusterlib.percentile(ms, 90),
    clusterlib.percentile(ms, 99), max(ms)))
EOF
