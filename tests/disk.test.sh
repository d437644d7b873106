#!/bin/sh
# Disk faults.  (1) The database on a small tmpfs that fills up under a
# day of taps: the engine stops acknowledging, says why in its log and on
# /healthz (503), acknowledges nothing it did not commit, and carries on
# by itself when space returns.  (2) Injected SQLite write errors (the
# test build bin/fare-engine-faults fails writes N..N+M-1, as SQLite's own
# tests do), as I/O errors and as "disk full": the same.  Each time every
# tap the simulator logged is stored once, the database passes
# integrity_check, the ledger verifies and the charges equal `price`.
set -eu
. tests/lib.sh
BIN=${1:-bin}
FE=$BIN/fare-engine
SIM=$BIN/terminal-sim
e2e_init disk 8
port=$((24000 + $$ % 800 * 2))
http=$((port + 1))
health() { curl -s -o "$tmp/health.json" -w '%{http_code}' "http://127.0.0.1:$http/healthz" || true; }

"$FE" certs init "$tmp/certs" >/dev/null

# check NAME DB TAPS ACKS: the invariants after a run.
check() {
	rows=$(($(wc -l <"$3") - 1))
	acked=$(cut -d' ' -f2 "$4" | sort -u | wc -l)
	stored=$(sqlite3 "$2" "SELECT count(*) FROM taps")
	[ "$acked" = "$rows" ] || fail "$1: $rows taps, $acked acknowledged"
	[ "$stored" = "$rows" ] || fail "$1: $rows taps, $stored stored"
	[ "$(sqlite3 "$2" "PRAGMA integrity_check")" = ok ] ||
	    fail "$1: the database is damaged"
	"$FE" audit verify "$2" >"$tmp/verify" || fail "$1: $(cat "$tmp/verify")"
	price_charges "$FE" tariffs/nl "$3" >"$tmp/want"
	db_charges "$2" >"$tmp/got"
	cmp -s "$tmp/want" "$tmp/got" || fail "$1: v_charges differs from price"
}

# (1) A full filesystem, then space again.
mkdir "$tmp/fs"
mount -t tmpfs -o size=12m tmpfs "$tmp/fs" || fail "cannot mount a tmpfs (root needed)"
mounted=1
"$FE" serve --dev --clock 2026-11-29T12:00:00Z --certs "$tmp/certs" \
    --tariff tariffs/nl --db "$tmp/fs/engine.db" --listen 127.0.0.1:$port \
    --http 127.0.0.1:$http 2>"$tmp/engine.log" &
pid=$!
wait_healthy $http || fail "engine did not start"
# Leave about 1.5 MB: a day of 600 visitors needs several.
avail=$(df -k --output=avail "$tmp/fs" | tail -1)
dd if=/dev/zero of="$tmp/fs/filler" bs=1k count=$((avail - 1500)) 2>/dev/null || true
"$SIM" day --engine 127.0.0.1:$port --certs "$tmp/certs" --tourists 600 \
    --seed 21 --taps-out "$tmp/full.csv" --ack-log "$tmp/full.acks" \
    2>"$tmp/sim.log" &
spid=$!
i=0
until [ "$(health)" = 503 ]; do
	i=$((i + 1))
	kill -0 $spid 2>/dev/null || fail "the day finished without filling the disk"
	[ $i -lt 300 ] || fail "the engine never said it was failing"
	sleep 0.1
done
grep -q "full" "$tmp/health.json" || fail "/healthz does not say why: $(cat "$tmp/health.json")"
grep -q "event=journal_failing error=\"cannot commit a batch; nothing acknowledged: database or disk is full\"" \
    "$tmp/engine.log" || fail "the log does not say why"
# While it fails, nothing more is acknowledged.  (At the edge of full a
# smaller batch may still fit: an ack then follows a commit that did
# succeed, and the log says so; that is not a lost tap.)
# Acks of the last batch that committed before the failure may still be on
# their way to the simulator when /healthz turns 503: wait until the count
# has stood still for a second (at most 30 s: an engine acknowledging
# while failing never stands still).
before=$(grep -c . "$tmp/full.acks" || true)
i=0
while :; do
	sleep 1
	now=$(grep -c . "$tmp/full.acks" || true)
	[ "$now" = "$before" ] && break
	before=$now
	i=$((i + 1))
	[ $i -lt 30 ] || break
done
resumed0=$(grep -c "event=journal_committing" "$tmp/engine.log" || true)
sleep 1
stuck=$(grep -c . "$tmp/full.acks" || true)
resumed1=$(grep -c "event=journal_committing" "$tmp/engine.log" || true)
[ "$stuck" = "$before" ] || [ "$resumed1" != "$resumed0" ] ||
    fail "acknowledged $before then $stuck while failing, with no commit"
kill -0 $spid 2>/dev/null || fail "the simulator gave up"
rm -f "$tmp/fs/filler"
# Bounded: a WAL that fills the disk again never lets the day finish.
rc=0
wait_exit $spid 300 || rc=$?
[ $rc != 124 ] || fail "the day did not finish within 300 s after space returned: $(ls -l "$tmp/fs" | tr '\n' ' ')"
[ $rc = 0 ] || fail "the day did not finish after space returned: $(tail -3 "$tmp/sim.log")"
spid=
grep -q "event=journal_committing" "$tmp/engine.log" || fail "no resume in the log"
[ "$(health)" = 200 ] || fail "/healthz still failing after space returned"
kill -TERM "$pid"
wait_exit "$pid" 60 || fail "engine did not stop cleanly"
pid=
check full "$tmp/fs/engine.db" "$tmp/full.csv" "$tmp/full.acks"
echo "disk: full filesystem: $stuck taps acknowledged before it filled, none while full, the rest after space returned: all $(($(wc -l <"$tmp/full.csv") - 1)) stored once, database intact"

# (2) Injected write errors: I/O errors, then "disk full".
for mode in io full; do
	spec=400:6
	[ $mode = full ] && spec=900:6:full
	rm -f "$tmp/engine.db"*
	ONECITY_FAULT_WRITES=$spec "$BIN"/fare-engine-faults serve --dev \
	    --clock 2026-11-29T12:00:00Z --certs "$tmp/certs" --tariff tariffs/nl \
	    --db "$tmp/engine.db" --listen 127.0.0.1:$port \
	    --http 127.0.0.1:$http 2>"$tmp/engine.log" &
	pid=$!
	wait_healthy $http || fail "$mode: engine did not start"
	"$SIM" day --engine 127.0.0.1:$port --certs "$tmp/certs" --tourists 300 \
	    --seed 22 --taps-out "$tmp/$mode.csv" --ack-log "$tmp/$mode.acks" \
	    2>"$tmp/sim.log" &
	spid=$!
	rc=0
	wait_exit $spid 300 || rc=$?
	[ $rc != 124 ] || fail "$mode: the day did not finish within 300 s"
	[ $rc = 0 ] || fail "$mode: $(tail -3 "$tmp/sim.log")"
	spid=
	kill -TERM "$pid"
	wait_exit "$pid" 60 || fail "$mode: engine did not stop cleanly"
	pid=
	grep -q "event=fault_injection" "$tmp/engine.log" || fail "$mode: no faults injected"
	n=$(grep -c "event=journal_failing error=\"cannot commit" "$tmp/engine.log" || true)
	[ "$n" -gt 0 ] || fail "$mode: no failed commit"
	grep -q "event=journal_committing" "$tmp/engine.log" || fail "$mode: no resume"
	check "$mode" "$tmp/engine.db" "$tmp/$mode.csv" "$tmp/$mode.acks"
	echo "disk: injected $mode errors (writes $spec): commits failed, retried, all taps stored once, database intact"
done
