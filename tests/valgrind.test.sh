#!/bin/sh
# The end-to-end smoke test under valgrind (memcheck): the engine serves
# the mini example over mutual TLS with settlement against the acquirer
# simulator, terminal-sim replays it, `price` and `audit` run on the
# result; every process must finish with no memory error and no leak
# (definite or indirect).  Skipped under SAN=1 (ASan and valgrind do not
# mix); `make test` runs it with the normal build.
set -eu
. tests/lib.sh
BIN=${1:-bin}
case "$BIN" in *san*) echo "valgrind: not with the sanitizer build"; exit 0 ;; esac
FE=$BIN/fare-engine
SIM=$BIN/terminal-sim
EX=../shared/examples/mini
e2e_init valgrind 30
fail() { echo "valgrind: $*" >&2; tail -30 "$tmp"/vg.* >&2 2>/dev/null; exit 1; }
VG="valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect
    --error-exitcode=99"
vg() {	# vg NAME CMD...: under memcheck, log in $tmp/vg.NAME
	_n=$1
	shift
	$VG --log-file="$tmp/vg.$_n" "$@"
}
port=$((29000 + $$ % 400 * 3))

"$FE" certs init "$tmp/certs" >/dev/null
$VG --log-file="$tmp/vg.acquirer" "$SIM" acquirer --listen 127.0.0.1:$((port + 2)) \
    --journal "$tmp/acq.journal" --certs "$tmp/certs" --decline-pct 30 \
    >/dev/null 2>&1 &
apid=$!
$VG --log-file="$tmp/vg.serve" "$FE" serve --dev --clock 2026-11-30T07:00:00Z --certs "$tmp/certs" \
    --tariff "$EX" --db "$tmp/engine.db" --listen 127.0.0.1:$port \
    --http 127.0.0.1:$((port + 1)) --acquirer 127.0.0.1:$((port + 2)) \
    --settle-interval 1 2>"$tmp/engine.log" &
pid=$!
i=0
until [ "$(curl -s -o /dev/null -w '%{http_code}' \
    "http://127.0.0.1:$((port + 1))/healthz" 2>/dev/null)" = 200 ]; do
	i=$((i + 1))
	[ $i -lt 300 ] || fail "engine did not start under valgrind"
	sleep 0.1
done
vg replay "$SIM" replay --engine 127.0.0.1:$port --certs "$tmp/certs" \
    --ack-log "$tmp/acks" "$EX/taps.csv" 2>"$tmp/sim.log" ||
    fail "replay: $(tail -3 "$tmp/sim.log")"
# Settlement runs (its thread, the acquirer) before the engine stops.
i=0
until [ "$(sqlite3 "$tmp/engine.db" "SELECT count(*) FROM settlements
    WHERE state != 'pending'" 2>/dev/null)" -ge 3 ]; do
	i=$((i + 1))
	[ $i -lt 300 ] || fail "no settlement under valgrind"
	sleep 0.1
done
kill -TERM "$pid"
wait "$pid" || fail "serve: exit $? (99: memcheck errors)"
pid=
kill -TERM "$apid"
wait "$apid" || fail "acquirer: exit $? (99: memcheck errors)"
apid=
vg price "$FE" price --tariff "$EX" "$EX/taps.csv" >"$tmp/price.jsonl" ||
    fail "price under valgrind"
cmp -s "$tmp/price.jsonl" "$EX/expected.jsonl" || fail "price output differs"
vg verify "$FE" audit verify "$tmp/engine.db" >/dev/null || fail "audit verify"
vg explain "$FE" audit explain "$tmp/engine.db" \
    "$(sqlite3 "$tmp/engine.db" "SELECT account FROM charges LIMIT 1")" \
    2026-11-28 --tariff "$EX" >/dev/null || fail "audit explain"
for f in "$tmp"/vg.*; do
	[ -s "$f" ] && fail "$(basename "$f"): $(head -20 "$f")"
done
echo "valgrind: serve (with settlement), replay, acquirer, price, audit" \
    "verify and explain: no memory errors, no leaks"
