#!/usr/bin/env bash
# bench_http.sh [SECONDS] - HTTP figures of `loginguard run` (release build), measured with
# both `loginguard loadgen --json` and wrk, on loopback, load generator on the same cores:
#   1. POST /v1/attempts (reporter key)         req/s, p99   (target >= 60k req/s)
#   2. POST /v1/login of a blocked user (423)   req/s, p99   (target >= 60k req/s)
#   3. POST /v1/login, right password           logins/s vs bench_pwhash on as many
#                                               threads as workers (target >= 90 %)
#   4. block latency: 5th failure -> first 423  p50/p99 over 200 users (target p99 < 5 ms)
# Each figure is printed with the command that produced it. Runs are short (SECONDS,
# default 5) because the machine is shared; re-take them on a quiet machine.
#   LG_BUILD_DIR=build   where loginguard and bench/bench_pwhash are
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${LG_BUILD_DIR:-$ROOT/build}
LG=$BUILD/loginguard
PWHASH=$BUILD/bench/bench_pwhash
SECS=${1:-5}
CONNS=${BENCH_CONNECTIONS:-64}
WORKERS=${BENCH_WORKERS:-2}
for f in "$LG" "$PWHASH"; do [ -x "$f" ] || { echo "bench_http: $f missing (make build)" >&2; exit 1; }; done
command -v wrk >/dev/null || { echo "bench_http: wrk not installed" >&2; exit 1; }

WORK=$(mktemp -d -t lg-bench-http.XXXXXX)
RUN_PID=
cleanup() {
    if [ -n "$RUN_PID" ] && kill -0 "$RUN_PID" 2>/dev/null; then kill -TERM "$RUN_PID"; wait "$RUN_PID" || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

cat > "$WORK/lg.conf" <<CONF
[auth]
jwt_secret = bench-secret-0123456789abcdef0123456789abcdef
workers = $WORKERS
CONF
printf 'correct horse battery staple\n' | "$LG" users add bench_login --db "$WORK/lg.db" --config "$WORK/lg.conf" >/dev/null
# POST /v1/attempts needs a reporter key: loadgen and wrk's script read it from here
LG_REPORTER_KEY=$("$LG" keys add bench --db "$WORK/lg.db" --config "$WORK/lg.conf" 2>/dev/null)
export LG_REPORTER_KEY
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT
"$LG" run --config "$WORK/lg.conf" --db "$WORK/lg.db" --port "$PORT" > "$WORK/blocks.jsonl" 2> "$WORK/run.log" &
RUN_PID=$!
for _ in $(seq 1 100); do curl -fs "$URL/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fs "$URL/healthz" >/dev/null || { cat "$WORK/run.log"; exit 1; }

cpu_ticks() { awk '{print $14 + $15}' "/proc/$RUN_PID/stat"; }
HZ=$(getconf CLK_TCK)

# wrk: req/s, p99 and non-2xx count; $1 = label, $2 = lua script, $3 = connections
wrk_run() {
    local label=$1 script=$2 conns=$3 t0 t1 out
    t0=$(cpu_ticks)
    out=$(wrk -t1 -c"$conns" -d"${SECS}s" --latency -s "$script" "$URL" 2>&1)
    t1=$(cpu_ticks)
    echo "$out" > "$WORK/wrk-$label.txt"
    python3 - "$label" "$WORK/wrk-$label.txt" "$((t1 - t0))" "$HZ" <<'PY'
import re, sys
label, ticks, hz = sys.argv[1], int(sys.argv[3]), int(sys.argv[4])
text = open(sys.argv[2]).read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", text)
scale = {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)]
total = re.search(r"(\d+) requests in", text).group(1)
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
cpu_us = ticks / hz * 1e6 / max(1, int(total))
print("  wrk     %-16s %9.0f req/s  p99 %7.2f ms  requests %s  non-2xx %s  server cpu %.1f us/req"
      % (label, rps, float(p99.group(1)) * scale, total, non2xx.group(1) if non2xx else 0, cpu_us))
PY
}

# loadgen: req/s, p99 and statuses; remaining args go to loadgen
loadgen_run() {
    local label=$1
    shift
    "$LG" loadgen --url "$URL" --duration "$SECS" --connections "$CONNS" --quiet --json "$@" \
        > "$WORK/loadgen-$label.json"
    python3 - "$label" "$WORK/loadgen-$label.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[2]))
print("  loadgen %-16s %9.0f req/s  p99 %7.2f ms  requests %d  statuses %s"
      % (sys.argv[1], r["rate"], r["latency_us"]["p99"] / 1000, r["requests"], r["status"]))
PY
}

# requests formatted once in init: wrk.format in request() cost wrk ~5 us a request,
# which the load generator then took from the server's two cores
cat > "$WORK/attempts.lua" <<'LUA'
local reqs = {}
local n = 0
init = function(args)
  local headers = {["Content-Type"] = "application/json",
                   ["Authorization"] = "Bearer " .. os.getenv("LG_REPORTER_KEY")}
  for i = 0, 99999 do
    reqs[i + 1] = wrk.format("POST", "/v1/attempts", headers,
      string.format('{"user":"bench%d","ip":"10.0.%d.%d","ok":true}', i, i % 250, i % 200))
  end
end
request = function()
  n = n % #reqs + 1
  return reqs[n]
end
LUA
cat > "$WORK/blocked.lua" <<'LUA'
wrk.method = "POST"
wrk.path = "/v1/login"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"user":"bench_victim","password":"not-it","ip":"203.0.113.9"}'
LUA
cat > "$WORK/login.lua" <<'LUA'
wrk.method = "POST"
wrk.path = "/v1/login"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"user":"bench_login","password":"correct horse battery staple"}'
LUA

echo "loginguard HTTP bench: $SECS s per run, $CONNS connections, workers=$WORKERS, $(nproc) cores shared with the load generator"
echo "server: $LG run --config $WORK/lg.conf (port $PORT)"
echo
echo "1. POST /v1/attempts with a reporter key   (wrk -t1 -c$CONNS -d${SECS}s --latency -s attempts.lua: 100k users, ok=true;"
echo "   loadgen --endpoint attempts: the 200 ids of data/ids.json, so many answers are 423)"
wrk_run attempts "$WORK/attempts.lua" "$CONNS"
loadgen_run attempts --endpoint attempts --users "$ROOT/data/ids.json" --scenario random

echo
echo "2. POST /v1/login of a blocked user   (wrk ... -s blocked.lua; loadgen --users ['bench_victim'])"
for i in 1 2 3 4 5; do
    curl -s -o /dev/null -H 'Content-Type: application/json' -H "Authorization: Bearer $LG_REPORTER_KEY" \
        -d "{\"user\":\"bench_victim\",\"ip\":\"203.0.113.9\",\"ok\":false}" "$URL/v1/attempts"
done
for _ in $(seq 1 100); do
    curl -s "$URL/v1/blocks/bench_victim" | grep -q '"blocked":true' && break; sleep 0.05
done
echo '["bench_victim"]' > "$WORK/bench_victim.json"
wrk_run blocked-login "$WORK/blocked.lua" "$CONNS"
loadgen_run blocked-login --endpoint login --users "$WORK/bench_victim.json" --scenario random

echo
echo "3. POST /v1/login with the right password (argon2id at the configured cost)"
wrk_run login "$WORK/login.lua" 16
LOGIN_RPS=$(python3 -c 'import re,sys; print(re.search(r"Requests/sec:\s+([\d.]+)", open(sys.argv[1]).read()).group(1))' "$WORK/wrk-login.txt")
PW=$("$PWHASH" --threads "$WORKERS" --seconds "$SECS")
echo "  $PWHASH --threads $WORKERS --seconds $SECS"
echo "  $PW"
python3 - "$LOGIN_RPS" "$PW" <<'PY'
import re, sys
login = float(sys.argv[1])
ceiling = float(re.search(r"verify_per_s=([\d.]+)", sys.argv[2]).group(1))
print("  logins/s %.1f vs argon2id verify ceiling %.1f/s: %.0f %% (target >= 90 %%)"
      % (login, ceiling, 100 * login / ceiling))
PY

echo
echo "4. block latency: python3 bench/bench_http_block_latency.py $PORT 200"
echo "  $(python3 "$ROOT/bench/bench_http_block_latency.py" "$PORT" 200)"

kill -TERM "$RUN_PID"
STATUS=0
wait "$RUN_PID" || STATUS=$?
RUN_PID=
echo
echo "run stopped with status $STATUS; $(grep -c . "$WORK/blocks.jsonl") blocks were decided during the bench"
