#!/usr/bin/env bash
# test_users_cli.sh - `loginguard users add|list|del` against a temp SQLite file: the
# password comes from stdin's first line, duplicates and unknown names give clear errors
# and exit 1, usage errors exit 2, --config sets the argon2id cost and the default --db.
set -euo pipefail
BIN=${LG_BIN:?LG_BIN must name the loginguard binary}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/lg_users_cli.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
DB="$TMP/users.db"
fails=0

check() { # check NAME EXPECTED_RC ACTUAL_RC [OUTPUT PATTERN]
    local name=$1 want=$2 got=$3 out=${4-} pat=${5-}
    if [[ $got != "$want" ]]; then
        echo "FAIL $name: exit $got, want $want; output: $out"; fails=$((fails + 1)); return
    fi
    if [[ -n $pat && $out != *"$pat"* ]]; then
        echo "FAIL $name: output lacks '$pat': $out"; fails=$((fails + 1)); return
    fi
    echo "ok   $name"
}

run() { # run STDIN ARGS... -> sets out, rc
    local input=$1; shift
    set +e
    out=$(printf '%b' "$input" | timeout 30 "$BIN" users "$@" 2>&1)
    rc=$?
    set -e
}

run '' --help;                          check "users --help" 0 "$rc" "$out" "users add NAME"
run '' add --help;                      check "users add --help" 0 "$rc" "$out" "--admin"
run 's3cret\n' add alice --db "$DB";    check "add alice" 0 "$rc" "$out" "added user 'alice'"
run 'pw\r\nsecond line\n' add root --admin --db "$DB"
check "add root --admin" 0 "$rc" "$out" "role admin"
run 'other\n' add alice --db "$DB";     check "duplicate add" 1 "$rc" "$out" "user 'alice' already exists"
run '' add bob --db "$DB";              check "empty stdin refused" 1 "$rc" "$out" "empty password"
run '\n' add bob --db "$DB";            check "empty line refused" 1 "$rc" "$out" "empty password"
long=$(head -c 1025 /dev/zero | tr '\0' p)
run "$long\n" add bob --db "$DB";       check "1025-byte password refused" 1 "$rc" "$out" "longer than 1024"
run "${long:1}\n" add bob --db "$DB";   check "1024-byte password accepted" 0 "$rc" "$out" "added user 'bob'"
run 'x\n' add $'a\tc' --db "$DB";        check "control char in name" 1 "$rc" "$out" "invalid user name"
run '' list --db "$DB";                 check "list" 0 "$rc" "$out" "root"
set +e; [[ $out == *"alice"*"user"* && $out == *"root"*"admin"* && $out == *"bob"* ]]; ok=$?; set -e
check "list shows names and roles" 0 $ok "$out"
run '' del carol --db "$DB";            check "del unknown" 1 "$rc" "$out" "no such user 'carol'"
run '' del bob --db "$DB";              check "del bob" 0 "$rc" "$out" "deleted user 'bob'"
run '' list --db "$DB"
set +e; [[ $out != *"bob"* ]]; ok=$?; set -e
check "bob gone from list" 0 $ok "$out"
run '' frob;                            check "unknown action" 2 "$rc" "$out" "unknown action 'frob'"
run '' add;                             check "add without NAME" 2 "$rc" "$out" "expected one NAME"
run '' list --admin;                    check "--admin on list" 2 "$rc" "$out" "add only"

# --config: the store url and the argon2id cost come from the file
cat >"$TMP/lg.conf" <<EOF
[store]
url = $TMP/conf.db
[auth]
argon2_opslimit = 3
argon2_memlimit_kib = 1024
EOF
run 'pw\n' add carol --config "$TMP/lg.conf"; check "add with --config" 0 "$rc" "$out" "added"
# python3's sqlite3 module: always there for the other e2e tests, so this check never
# silently skips itself
hash=$(python3 -c 'import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("SELECT pwhash FROM users").fetchall())' \
    "$TMP/conf.db" 2>&1 || true)
set +e; [[ $hash == *'$argon2id$v=19$m=1024,t=3,p=1$'* ]]; ok=$?; set -e
check "cost from config" 0 $ok "$hash"
run '' list --config "$TMP/lg.conf";    check "list via config store" 0 "$rc" "$out" "carol"

if ((fails > 0)); then
    echo "$fails check(s) failed"
    exit 1
fi
echo "all checks passed"
