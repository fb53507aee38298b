#!/usr/bin/env bash
# cluster.sh - a loginguard cluster on this machine's loopback, in one command:
# mock Kafka (3 brokers), 2 detectors, 3 API instances and HAProxy in front of them.
#
#   deploy/cluster.sh up [--dir DIR] [--port PORT]    start (or report the running cluster)
#   deploy/cluster.sh status [--dir DIR]              each process and each API's /healthz
#   deploy/cluster.sh down [--dir DIR]                SIGTERM, then SIGKILL after a bound
#
# DIR (default /tmp/loginguard-cluster) holds pids/, logs/, bootstrap, the store, the JWT
# secret, the APIs' api.conf and the reporter key for POST /v1/attempts (reporter.key,
# mode 0600); PORT (default 8000) is HAProxy's, the APIs take PORT+1..PORT+3. Binaries
# come from LG_BUILD_DIR (default build/). `up` is safe to re-run: it starts only what is
# not running (everything, store included, if the mock Kafka itself is gone).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${LG_BUILD_DIR:-$ROOT/build}
LG=${LG_BIN:-$BUILD/loginguard}
MOCK=$BUILD/lg-kafka-mock
HAPROXY=${LG_HAPROXY:-haproxy}
CFG=$ROOT/deploy/haproxy.cfg
DIR=/tmp/loginguard-cluster
PORT=8000
PORT_SET=0
N_API=3
N_DET=2
BROKERS=3
PARTITIONS=6
START_TIMEOUT_S=40   # bound on each readiness wait
STOP_TIMEOUT_S=15    # SIGTERM grace before SIGKILL (a detector drains its batch first)
# HAProxy connects to the APIs from this loopback address (LG_HAPROXY_SOURCE), the one
# proxy in their trusted_proxies: its X-Forwarded-For names the client, while a local
# process talking to an API port directly from 127.0.0.1 is keyed by its own address
HAPROXY_SOURCE=127.0.0.2

usage() {
    cat <<EOF
usage: deploy/cluster.sh up|status|down [--dir DIR] [--port PORT]

Runs a loginguard cluster on 127.0.0.1: lg-kafka-mock ($BROKERS brokers, lg.attempts with
$PARTITIONS partitions), $N_DET detectors (one consumer group), $N_API API instances and
HAProxy (deploy/haproxy.cfg) in front of them, all sharing one SQLite store.

  up       start what is not running (all of it, with a fresh store, if Kafka is not),
           wait until every part is ready, print the status
           (demo users from data/demo-users.tsv plus 'admin', password in DIR/admin.password;
           a reporter key for POST /v1/attempts in DIR/reporter.key)
  status   each process (pid, alive) and each API's /healthz; exit 1 if anything is down
  down     stop everything: SIGTERM, SIGKILL after ${STOP_TIMEOUT_S}s; keeps DIR's logs and store

  --dir DIR    state directory (default $DIR): pids/, logs/, bootstrap, store.db,
               admin.password, reporter.key
  --port PORT  HAProxy's port (default $PORT); APIs listen on PORT+1..PORT+$N_API
  -h, --help   this text

Environment: LG_BUILD_DIR (default build/), LG_JWT_SECRET (default: random, kept in DIR).
EOF
}

die() { echo "cluster.sh: $*" >&2; exit 1; }

CMD=${1:-}
[ -n "$CMD" ] || { usage >&2; exit 2; }
shift
case $CMD in -h|--help) usage; exit 0 ;; esac
while [ $# -gt 0 ]; do
    case $1 in
        --dir) [ $# -ge 2 ] || die "--dir needs a value"; DIR=$2; shift 2 ;;
        --port) [ $# -ge 2 ] || die "--port needs a value"; PORT=$2; PORT_SET=1; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "cluster.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done
[[ $PORT =~ ^[0-9]+$ ]] && [ "$PORT" -ge 1 ] && [ "$PORT" -le $((65535 - N_API)) ] ||
    die "invalid --port '$PORT': must be 1..$((65535 - N_API))"
DIR=$(mkdir -p "$DIR" && cd "$DIR" && pwd)
PIDS=$DIR/pids
LOGS=$DIR/logs
DB=$DIR/store.db
# status and down use the port the cluster was started with
if [ $PORT_SET -eq 0 ] && [ -s "$DIR/port" ]; then PORT=$(cat "$DIR/port"); fi

# --- processes: DIR/pids/NAME holds the pid, DIR/logs/NAME.log the output -------------

names() {
    echo kafka
    for i in $(seq 1 $N_DET); do echo "detector-$i"; done
    for i in $(seq 1 $N_API); do echo "api-$i"; done
    echo haproxy
}

pid_of() { [ -f "$PIDS/$1" ] && cat "$PIDS/$1" || true; }

# alive only if the pid still runs the program started under that name: a stale pid file
# must never make `down` signal an unrelated process that reused the pid
alive() {
    local pid prog
    pid=$(pid_of "$1")
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
    case $1 in kafka) prog=lg-kafka-mock ;; haproxy) prog=haproxy ;; *) prog=loginguard ;; esac
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$prog"
}

api_port() { echo $((PORT + ${1#api-})); }

# Starts NAME in its own session (a Ctrl-C in this shell does not reach it).
launch() {
    local name=$1
    shift
    # a fresh log per process: status reads the partitions from it
    [ -f "$LOGS/$name.log" ] && mv "$LOGS/$name.log" "$LOGS/$name.log.prev"
    setsid "$@" >"$LOGS/$name.log" 2>&1 </dev/null &
    echo $! >"$PIDS/$name"
}

port_busy() { [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]; }

http_status() { curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$1$2" || true; }

wait_for() { # what, command...: polls every 0.1 s up to START_TIMEOUT_S
    local what=$1 i
    shift
    for i in $(seq 1 $((START_TIMEOUT_S * 10))); do
        "$@" && return 0
        sleep 0.1
    done
    die "timed out after ${START_TIMEOUT_S}s waiting for $what (logs in $LOGS)"
}

# HAProxy's view of the backend servers, from its admin socket: "api1 UP" lines
haproxy_servers() {
    python3 - "$DIR/haproxy.sock" <<'EOF' 2>/dev/null || true
import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(2); s.connect(sys.argv[1])
s.sendall(b"show stat\n"); data = b""
while True:
    c = s.recv(65536)
    if not c: break
    data += c
lines = data.decode().splitlines(); cols = lines[0][2:].split(",")
for ln in lines[1:]:
    r = dict(zip(cols, ln.split(",")))
    if r.get("pxname") == "lg_api" and r.get("svname") not in (None, "BACKEND"):
        print(r["svname"], r["status"])
EOF
}

haproxy_all_up() { must_live haproxy; [ "$(haproxy_servers | grep -c ' UP$')" -eq "$N_API" ]; }

# partitions of lg.attempts a detector holds now, from its rebalance log lines
detector_partitions() {
    [ -f "$LOGS/$1.log" ] || return 0
    awk '/consumer topic=lg.attempts .* (assigned|revoked) partitions=/ {
             split($NF, kv, "="); n = split(kv[2], p, ",")
             for (i = 1; i <= n; i++) held[p[i]] = ($(NF-1) == "assigned")
         }
         /consumer topic=lg.attempts rebalance error/ { delete held }
         END { s = ""; for (k in held) if (held[k]) s = s (s == "" ? "" : ",") k; print s }' \
        "$LOGS/$1.log" 2>/dev/null | tr ',' '\n' | sort -n | paste -sd, -
}

# every detector alive and holding partitions, all partitions held: the group is stable
detectors_assigned() {
    local i all=
    for i in $(seq 1 $N_DET); do
        must_live "detector-$i"
        [ -n "$(detector_partitions "detector-$i")" ] || return 1
        all+="$(detector_partitions "detector-$i"),"
    done
    [ "$(echo "${all%,}" | tr ',' '\n' | sort -nu | wc -l)" -eq "$PARTITIONS" ]
}

# a process that died while we wait for it: stop waiting, show why
must_live() {
    alive "$1" && return 0
    echo "cluster.sh: $1 exited; last lines of $LOGS/$1.log:" >&2
    tail -5 "$LOGS/$1.log" >&2
    exit 1
}

api_ready() { must_live "$1"; [ "$(http_status "$(api_port "$1")" /healthz)" = 200 ]; }

bootstrap_ready() { must_live kafka; grep -q '^BOOTSTRAP ' "$DIR/bootstrap" 2>/dev/null; }

# --- up --------------------------------------------------------------------------------

register_users() {
    local name password
    if [ -f "$ROOT/data/demo-users.tsv" ]; then
        while IFS=$'\t' read -r name password; do
            [ -n "$name" ] || continue
            printf '%s\n' "$password" | "$LG" users add "$name" --db "$DB" >/dev/null
        done <"$ROOT/data/demo-users.tsv"
    else
        printf 'correct horse battery staple\n' | "$LG" users add alice --db "$DB" >/dev/null
        printf 'Tr0ub4dor&3\n' | "$LG" users add bob --db "$DB" >/dev/null
    fi
    head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$DIR/admin.password"
    chmod 600 "$DIR/admin.password"
    "$LG" users add admin --admin --db "$DB" <"$DIR/admin.password" >/dev/null
    echo done >"$DIR/users.done"
}

# POST /v1/attempts takes only reporters: one key for the operator's own reporters,
# shown nowhere but in a file only its owner reads
make_reporter_key() {
    local key
    # the file was lost but the store kept: replace the key nobody can show any more
    "$LG" keys delete reporter --db "$DB" >/dev/null 2>&1 || true
    key=$("$LG" keys add reporter --db "$DB")
    (umask 077 && printf '%s\n' "$key" >"$DIR/reporter.key")
    echo "cluster.sh: reporter key for POST /v1/attempts saved in $DIR/reporter.key (mode 0600):" \
        "curl -H \"Authorization: Bearer \$(cat $DIR/reporter.key)\" ..." >&2
}

cmd_up() {
    local name i bus
    [ -x "$LG" ] || die "$LG not found: build first (make build, or set LG_BUILD_DIR)"
    [ -x "$MOCK" ] || die "$MOCK not found: build first"
    command -v "$HAPROXY" >/dev/null || die "haproxy not found (apt-get install haproxy)"
    mkdir -p "$PIDS" "$LOGS"

    # Kafka alive: keep what runs, start only what is missing (a dead API or detector
    # rejoins the same topics and store). Kafka dead: the mock's topics died with it, so
    # everything starts from scratch, store included (it must match the topics).
    if alive kafka; then
        bus="kafka://$(sed -n 's/^BOOTSTRAP //p' "$DIR/bootstrap")"
        echo "mock kafka is running: starting only what is not"
    else
        for name in $(names); do
            alive "$name" || continue
            echo "kafka is gone: stopping the rest of the old cluster first"
            cmd_down
            mkdir -p "$PIDS" "$LOGS"
            break
        done
        for i in $(seq 0 $N_API); do
            port_busy $((PORT + i)) && die "port $((PORT + i)) is in use (choose --port)"
        done
        echo "$PORT" >"$DIR/port"
        rm -f "$DB" "$DB-wal" "$DB-shm" "$DIR/users.done" "$DIR/reporter.key" "$DIR/bootstrap" \
            "$PIDS"/*
        for name in $(names); do
            [ -f "$LOGS/$name.log" ] && mv "$LOGS/$name.log" "$LOGS/$name.log.prev"
        done
        echo "starting mock kafka ($BROKERS brokers, $PARTITIONS partitions)"
        setsid "$MOCK" --brokers "$BROKERS" --partitions "$PARTITIONS" >"$DIR/bootstrap" \
            2>>"$LOGS/kafka.log" </dev/null &
        echo $! >"$PIDS/kafka"
        wait_for "the mock kafka's BOOTSTRAP line" bootstrap_ready
        bus="kafka://$(sed -n 's/^BOOTSTRAP //p' "$DIR/bootstrap")"
    fi

    if [ -z "${LG_JWT_SECRET:-}" ]; then
        [ -s "$DIR/jwt_secret" ] ||
            (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$DIR/jwt_secret")
        LG_JWT_SECRET=$(cat "$DIR/jwt_secret")
    fi
    export LG_JWT_SECRET
    [ -s "$DIR/users.done" ] || { echo "registering users in $DB"; register_users; }
    [ -s "$DIR/reporter.key" ] || make_reporter_key

    for i in $(seq 1 $N_DET); do
        alive "detector-$i" && continue
        echo "starting detector-$i"
        launch "detector-$i" "$LG" detector --bus "$bus" --store "$DB"
    done
    # admin_networks keeps its default (loopback): behind HAProxy it is judged on the
    # client's address, so local operators read /metrics through HAProxy or directly
    printf '[http]\ntrusted_proxies = %s/32\n' "$HAPROXY_SOURCE" >"$DIR/api.conf"
    for i in $(seq 1 $N_API); do
        alive "api-$i" && continue
        port_busy "$(api_port "api-$i")" && die "port $(api_port "api-$i") is in use"
        echo "starting api-$i"
        launch "api-$i" "$LG" api --bus "$bus" --store "$DB" --port "$(api_port "api-$i")" \
            --name "api-$i" --config "$DIR/api.conf"
    done
    for i in $(seq 1 $N_API); do
        wait_for "api-$i /healthz" api_ready "api-$i"
    done
    wait_for "the detectors to share every partition" detectors_assigned

    if ! alive haproxy; then
        local env=(LG_HAPROXY_BIND="127.0.0.1:$PORT" LG_RUN_DIR="$DIR"
                   LG_HAPROXY_SOURCE="$HAPROXY_SOURCE")
        for i in $(seq 1 $N_API); do env+=("LG_API$i=127.0.0.1:$(api_port "api-$i")"); done
        env "${env[@]}" "$HAPROXY" -c -q -f "$CFG" || die "haproxy rejects $CFG"
        port_busy "$PORT" && die "port $PORT is in use (choose --port)"
        echo "starting haproxy"
        launch haproxy env "${env[@]}" "$HAPROXY" -f "$CFG" -db
    fi
    wait_for "haproxy to see every API UP" haproxy_all_up
    cmd_status
    echo
    echo "ready: http://127.0.0.1:$PORT  (try: curl -s http://127.0.0.1:$PORT/healthz)"
    echo "users: data/demo-users.tsv; admin password in $DIR/admin.password"
    echo "reporter key (POST /v1/attempts): $DIR/reporter.key"
}

# --- status ----------------------------------------------------------------------------

cmd_status() {
    local name pid state extra bad=0 servers
    servers=$(haproxy_servers)
    printf '%-12s %-8s %-6s %s\n' PROCESS PID STATE DETAIL
    for name in $(names); do
        pid=$(pid_of "$name")
        if alive "$name"; then state=up; else state=down; bad=1; fi
        extra=
        case $name in
            kafka) extra=$(sed -n 's/^BOOTSTRAP //p' "$DIR/bootstrap" 2>/dev/null || true) ;;
            api-*)
                local code
                code=$(http_status "$(api_port "$name")" /healthz)
                extra="127.0.0.1:$(api_port "$name") /healthz=$code"
                extra+=" haproxy=$(echo "$servers" | awk -v s="api${name#api-}" '$1==s{print $2}')"
                [ "$code" = 200 ] || bad=1 ;;
            detector-*)
                extra="lg.attempts partitions=$(detector_partitions "$name")" ;;
            haproxy) extra="127.0.0.1:$PORT /healthz=$(http_status "$PORT" /healthz)" ;;
        esac
        if [ "$state" = down ]; then   # a dead API: HAProxy's view of it, if any
            case $extra in *haproxy=?*) extra=haproxy=${extra##*haproxy=} ;; *) extra= ;; esac
        fi
        printf '%-12s %-8s %-6s %s\n' "$name" "${pid:--}" "$state" "$extra"
    done
    return $bad
}

# --- down ------------------------------------------------------------------------------

cmd_down() {
    local name pid i left
    # front to back: no new requests, then APIs, then detectors (they drain), kafka last
    for name in haproxy $(names | grep '^api-') $(names | grep '^detector-') kafka; do
        alive "$name" || { rm -f "$PIDS/$name"; continue; }
        pid=$(pid_of "$name")
        kill -TERM "$pid" 2>/dev/null || true
        for i in $(seq 1 $((STOP_TIMEOUT_S * 10))); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "$name (pid $pid) ignored SIGTERM for ${STOP_TIMEOUT_S}s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        rm -f "$PIDS/$name"
        echo "stopped $name (pid $pid)"
    done
    left=0
    for name in $(names); do alive "$name" && left=1; done
    [ $left -eq 0 ] || die "some processes are still running"
    echo "cluster in $DIR is down (logs and store kept)"
}

case $CMD in
    up) cmd_up ;;
    status) cmd_status ;;
    down) cmd_down ;;
    *) echo "cluster.sh: unknown command '$CMD'" >&2; usage >&2; exit 2 ;;
esac
