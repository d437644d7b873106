#!/bin/sh
# The database keeps each tariff version it priced with (SPEC §6), and
# audit verify reprices each closed day with its own: the mini example is
# priced, its first day closed, then the city boarding fare is raised
# (1.08 to 1.50) and the tariff reloaded; a tap of the second day prices
# that week again with the new version.  verify passes (days of both
# versions); a day that claims the other version, and a stored tariff
# file altered, are each named.
set -eu
. tests/lib.sh
BIN=${1:-bin}
FE=$BIN/fare-engine
SIM=$BIN/terminal-sim
EX=../shared/examples/mini
e2e_init tariff-version
port=$((31000 + $$ % 250 * 3))
q() { sqlite3 "$tmp/engine.db" "$1"; }
# until_log TEXT: wait (at most 20 s) until the engine's log says TEXT.
until_log() {
	_n=0
	until grep -qF -- "$1" "$tmp/engine.log"; do
		_n=$((_n + 1)); [ $_n -lt 200 ] || fail "the log never said: $1"
		sleep 0.1
	done
}
serve() {
	"$FE" serve --dev --clock "$1" --certs "$tmp/certs" \
	    --tariff "$tmp/tariff" --db "$tmp/engine.db" \
	    --listen 127.0.0.1:$port --http 127.0.0.1:$((port + 1)) \
	    2>>"$tmp/engine.log" &
	pid=$!
	wait_healthy $((port + 1)) || fail "engine did not start"
}
stop() { kill -TERM "$pid"; wait "$pid" || fail "engine stopped badly"; pid=; }

"$FE" certs init "$tmp/certs" >/dev/null
cp -r "$EX" "$tmp/tariff"
rm "$tmp/tariff/taps.csv" "$tmp/tariff/expected.jsonl"
serve 2026-11-29T20:00:00Z
until_log "event=tariff_version id=1 "
"$SIM" replay --engine 127.0.0.1:$port --certs "$tmp/certs" "$EX/taps.csv" \
    2>"$tmp/sim.log" || fail "replay: $(tail -2 "$tmp/sim.log")"
# A new fare, reloaded: version 2 from now on.
sed -i 's/^city_boarding,City boarding fare,1.08,EUR/city_boarding,City boarding fare,1.50,EUR/;
    s/^city_transfer,City transfer (boarding fare waived),-1.08,EUR/city_transfer,City transfer (boarding fare waived),-1.50,EUR/' \
    "$tmp/tariff/fare_products.txt"
grep -q "1.50" "$tmp/tariff/fare_products.txt" || fail "the fare was not changed"
kill -HUP "$pid"
printf 'tap_id,time,card,par,network_id,stop_id,kind\nlate-1:1,2026-11-29T18:00:00Z,5555555555554444,,CITY,D,in\n' \
    >"$tmp/late.csv"
"$SIM" replay --keep-ids --engine 127.0.0.1:$port --certs "$tmp/certs" \
    "$tmp/late.csv" 2>"$tmp/sim.log" || fail "late tap: $(tail -2 "$tmp/sim.log")"
until_log "event=tariff_version id=2 "
stop
serve 2026-11-30T20:00:00Z	# the second day closes
until [ "$(q "SELECT count(*) FROM charges WHERE posted = 0")" = 0 ]; do
	sleep 0.1
done
stop
[ "$(q "SELECT count(*) FROM v_tariff_versions WHERE files = 10")" = 2 ] ||
    fail "not two versions of 10 files: $(q "SELECT * FROM v_tariff_versions")"
[ "$(q "SELECT group_concat(DISTINCT tariff_version) FROM (SELECT
    tariff_version FROM charges ORDER BY 1)")" = "1,2" ] ||
    fail "the days do not name both versions"
"$FE" audit verify "$tmp/engine.db" >"$tmp/verify" || fail "$(cat "$tmp/verify")"
grep -q "closed account-days repriced" "$tmp/verify" || fail "$(cat "$tmp/verify")"
n=$(sed -n 's/.*; \([0-9]*\) closed account-days repriced.*/\1/p' "$tmp/verify")
[ "$n" = "$(q "SELECT count(*) FROM charges")" ] || fail "only $n days repriced"

# A day of version 1 that claims version 2: repricing with 2 differs.
acc=$(q "SELECT account FROM charges WHERE tariff_version = 1 AND
    charge_cents > 0 ORDER BY account LIMIT 1")
day=$(q "SELECT service_day FROM charges WHERE account = '$acc' AND
    tariff_version = 1 LIMIT 1")
cp "$tmp/engine.db" "$tmp/f1.db"
sqlite3 "$tmp/f1.db" "UPDATE charges SET tariff_version = 2 WHERE
    account = '$acc' AND service_day = '$day'"
if "$FE" audit verify "$tmp/f1.db" >"$tmp/f1"; then
	fail "a day repriced with the wrong version passed"
fi
grep -q "^reprice: $acc $day (tariff version 2): " "$tmp/f1" ||
    fail "the wrong version was not named: $(head -3 "$tmp/f1")"
# A stored tariff file altered (the old fare made dearer): its hash.
cp "$tmp/engine.db" "$tmp/f2.db"
sqlite3 "$tmp/f2.db" "UPDATE tariff_files SET content = CAST(replace(CAST(
    content AS TEXT), '1.08', '9.08') AS BLOB) WHERE version_id = 1 AND
    name = 'fare_products.txt'"
if "$FE" audit verify "$tmp/f2.db" >"$tmp/f2"; then
	fail "an altered tariff version passed"
fi
grep -q "^reprice: tariff version 1: its files hash to .*, not the stored .* (altered)" \
    "$tmp/f2" || fail "the altered version was not named: $(head -3 "$tmp/f2")"
echo "tariff-version: two versions kept (10 files each), $n account-days" \
    "repriced each with its own; a day claiming the other version and an" \
    "altered stored tariff are named"
