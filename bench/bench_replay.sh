#!/bin/bash
# bench_replay.sh - end-to-end speed of `loginguard replay`: JSON lines in, blocks out,
# without and with the SQLite audit store (--db, fresh database each run).
#
#   bench/bench_replay.sh                  10M events, release build (build/loginguard)
#   EVENTS=1000000 USERS=1000 bench/bench_replay.sh
#   LG_BIN=/path/to/loginguard RUNS=3 bench/bench_replay.sh
#
# The input comes from `loginguard gen` (fixed seed and start time, so it is the same file
# every time) and is cached in build/bench-data. Prints events/s as replay reports it
# (attempts judged / elapsed inside the process) and the wall time of each run.
set -euo pipefail

SRC_DIR=$(cd "$(dirname "$0")/.." && pwd)
LG_BIN=${LG_BIN:-$SRC_DIR/build/loginguard}
EVENTS=${EVENTS:-10000000}
USERS=${USERS:-100000}
RUNS=${RUNS:-1}
SEED=${SEED:-1}
DATA_DIR=${DATA_DIR:-$SRC_DIR/build/bench-data}

if [ ! -x "$LG_BIN" ]; then
    echo "bench_replay: no binary at $LG_BIN (make build, or set LG_BIN)" >&2
    exit 2
fi
mkdir -p "$DATA_DIR"
input="$DATA_DIR/replay-$EVENTS-u$USERS-s$SEED.jsonl"
if [ ! -s "$input" ]; then
    echo "generating $EVENTS events for $USERS users into $input"
    "$LG_BIN" gen --events "$EVENTS" --users "$USERS" --seed "$SEED" \
        --start-ms 1700000000000 --out "$input.tmp"
    mv "$input.tmp" "$input"
fi
size=$(stat -c %s "$input")
echo "input: $input ($EVENTS lines, $((size / 1048576)) MiB)"
echo "binary: $LG_BIN; cores: $(nproc); load: $(cut -d' ' -f1-3 /proc/loadavg)"

db_dir=$(mktemp -d "$DATA_DIR/replay-db.XXXXXX")
trap 'rm -rf "$db_dir"' EXIT

# one run; prints "<label>: <events/s> events/s, <wall> s wall" and the summary line
run() {
    local label=$1
    shift
    local t0 t1 summary rate
    t0=$(date +%s.%N)
    summary=$("$LG_BIN" replay "$input" "$@" 2>&1 >/dev/null | tail -n 1)
    t1=$(date +%s.%N)
    rate=$(sed -n 's/.*, \([0-9]*\) events\/s.*/\1/p' <<<"$summary")
    printf '%-10s %10s events/s  %6.2f s wall\n' "$label" "${rate:-?}" \
        "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')"
    echo "           $summary"
}

for i in $(seq 1 "$RUNS"); do
    run "replay" --progress
done
for i in $(seq 1 "$RUNS"); do
    rm -f "$db_dir"/replay.db*
    run "replay+db" --db "$db_dir/replay.db" --progress
done
