#!/bin/sh
# Issue 16 item 9, "mistyped configuration starts a broken engine": every
# config value is parsed with the range-checked parser; an unknown key, a
# bad value, a key given twice, another section or a line that is not
# "key = value" stops start-up with "FILE:LINE: key: message" (each
# problem named) and exit status 2, and no database is created.  Flags
# alike (exit 2).  A good file starts the engine with its values.
set -eu
. tests/lib.sh
BIN=${1:-bin}
FE=$BIN/fare-engine
e2e_init config 10
port=$((31000 + $$ % 800 * 2))
"$FE" certs init "$tmp/certs" >/dev/null
cat >"$tmp/bad.ini" <<EOF
[engine]
certs = $tmp/certs
tariff = ../shared/examples/mini
db = $tmp/engine.db
late_tap_days = thirty
settle_grace_s = abc
max_connections = 0
synchronous = fast
listen = localhost
handshake_timeout_s = 10
handshake_timeout_s = 11
late_tap_dayz = 30
acquirer = 127.0.0.1:99999
EOF
rc=0
"$FE" serve --dev --config "$tmp/bad.ini" 2>"$tmp/bad.err" || rc=$?
[ "$rc" = 2 ] || fail "exit $rc for a bad config: $(cat "$tmp/bad.err")"
for want in \
    "bad.ini:5: late_tap_days: 'thirty': not an integer (1-3650)" \
    "bad.ini:6: settle_grace_s: 'abc': not an integer (0-604800)" \
    "bad.ini:7: max_connections: '0': out of range" \
    "bad.ini:8: synchronous: 'fast': full or normal" \
    "bad.ini:9: listen: 'localhost': not HOST:PORT" \
    "bad.ini:11: handshake_timeout_s: given twice" \
    "bad.ini:12: late_tap_dayz: unknown key" \
    "bad.ini:13: acquirer: '127.0.0.1:99999': not HOST:PORT"; do
	grep -qF "$want" "$tmp/bad.err" || fail "missing: $want; got: $(cat "$tmp/bad.err")"
done
[ ! -e "$tmp/engine.db" ] || fail "a bad config created the database"
# Each is an error line of the log, as journald files it (<3>), like every
# other line the engine writes.
bad=$(grep -v '^<3>' "$tmp/bad.err" | head -2)
[ -z "$bad" ] || fail "config problems without the <3> level: $bad"
printf '[engine]\nlate_tap_days 30\n' >"$tmp/syntax.ini"
rc=0
"$FE" serve --dev --config "$tmp/syntax.ini" 2>"$tmp/syntax.err" || rc=$?
[ "$rc" = 2 ] && grep -q "syntax.ini:2: not 'key = value'" "$tmp/syntax.err" ||
    fail "a line without '=': exit $rc, $(cat "$tmp/syntax.err")"
grep -q "^<3>" "$tmp/syntax.err" || fail "no <3> level: $(cat "$tmp/syntax.err")"
# A line longer than the reader takes (inih: 199 bytes) is refused whole:
# split, a long comment's tail was read as a setting ("late_tap_days = 1"
# from a comment started the engine with it) and errors named a line the
# file did not have.
printf '[engine]\n; %s late_tap_days = 1\nlate_tap_days = 30\n' \
    "$(head -c 196 /dev/zero | tr '\0' x)" >"$tmp/long.ini"
rc=0
"$FE" serve --dev --config "$tmp/long.ini" 2>"$tmp/long.err" || rc=$?
[ "$rc" = 2 ] && grep -q "long.ini:2: line longer than 199 bytes" "$tmp/long.err" &&
    ! grep -q "given twice" "$tmp/long.err" ||
    fail "a long comment line: exit $rc, $(cat "$tmp/long.err")"
printf '[validators]\nlisten = 127.0.0.1:1\n' >"$tmp/section.ini"
rc=0
"$FE" serve --dev --config "$tmp/section.ini" 2>"$tmp/section.err" || rc=$?
[ "$rc" = 2 ] && grep -q "section.ini:2: listen: in section \[validators\]" \
    "$tmp/section.err" || fail "another section: exit $rc, $(cat "$tmp/section.err")"
rc=0
"$FE" serve --dev --config "$tmp/bad.ini" --settle-grace abc 2>/dev/null || rc=$?
[ "$rc" = 2 ] || fail "--settle-grace abc: exit $rc"
# A good file: the engine runs with its values (late_tap_days = 1 shows
# in a refusal of a tap two days old).
cat >"$tmp/good.ini" <<EOF
[engine]
; comments and blank lines are fine

certs = $tmp/certs
tariff = ../shared/examples/mini
db = $tmp/engine.db
listen = 127.0.0.1:$port
http = 127.0.0.1:$((port + 1))
late_tap_days = 1
synchronous = normal
acquirer = none
EOF
"$FE" serve --dev --strict-clock --clock 2026-11-28T12:00:00Z \
    --config "$tmp/good.ini" 2>"$tmp/engine.log" &
pid=$!
wait_healthy $((port + 1)) || fail "the good config did not start"
printf 'tap_id,time,card,par,network_id,stop_id,kind\nold:1,2026-11-26T11:00:00Z,4111111111111111,,CITY,C,in\n' \
    >"$tmp/old.csv"
"$BIN"/terminal-sim replay --engine 127.0.0.1:$port --certs "$tmp/certs" \
    "$tmp/old.csv" >/dev/null 2>&1 || true
[ "$(sqlite3 "$tmp/engine.db" "SELECT reason FROM refused")" = too-old ] ||
    fail "late_tap_days = 1 not in force"
echo "config: every bad line named as FILE:LINE: key: message, exit 2, no" \
    "database; a good file in force"
