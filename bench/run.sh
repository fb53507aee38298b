#!/usr/bin/env bash
# bench/run.sh - every benchmark of bench/, in order, against the release build.
# `make bench` runs it. Figures are printed with the command that produced them; the
# recorded ones (machine, command, figure) live in bench/RESULTS.md.
#   BENCH_ONLY="engine replay" bench/run.sh      run a subset
set -uo pipefail
cd "$(dirname "$0")/.."
B=build/bench
export LG_BIN=${LG_BIN:-$PWD/build/loginguard}
export LG_BUILD_DIR=${LG_BUILD_DIR:-$PWD/build}
only=${BENCH_ONLY:-"engine event store pwhash replay http kafka cluster burst"}
status=0

run() {
    echo
    echo "== $* =="
    "$@" || { echo "bench failed: $*" >&2; status=1; }
}

for b in $only; do
    case $b in
    engine) run $B/bench_engine --runs 3 --mode both ;;
    event) run $B/bench_event ;;
    store) run $B/bench_store --n 1000000 ;;
    pwhash) run $B/bench_pwhash --threads 2 --seconds 5 ;;
    replay) run bash bench/bench_replay.sh ;;
    http) run bash bench/bench_http.sh ;;
    kafka) run $B/bench_kafka_catchup ;;
    cluster) run bash bench/bench_cluster.sh ;;
    burst) run python3 bench/bench_burst.py --trials 5 ;;
    *) echo "bench/run.sh: unknown benchmark '$b'" >&2; status=2 ;;
    esac
done
exit $status
