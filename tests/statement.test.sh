#!/bin/sh
# Statements that add up (`audit card`): a day of 300 visitors through the
# engine (caps, transfers, forgotten check-outs), settled next morning
# with the acquirer declining 10% of accounts, then a second day on which
# the gates refuse the declined cards and their debts are recovered.  For
# the accounts with a cap, a transfer discount, an incomplete journey, a
# decline and a refusal at the gate (and a sample of the rest), each
# day's rows of `audit card --csv` (charge less credit) add up to its day
# total, which is v_charges' charge; rows show stop names and local
# times; the text statement says the same in euros.
set -eu
. tests/lib.sh
BIN=${1:-bin}
FE=$BIN/fare-engine
SIM=$BIN/terminal-sim
e2e_init statement
DAY=2026-11-28
NEXT=2026-11-29

port=$((21000 + $$ % 1000 * 3))
"$FE" certs init "$tmp/certs" >/dev/null
"$SIM" acquirer --listen 127.0.0.1:$((port + 2)) --journal "$tmp/acq.journal" \
    --certs "$tmp/certs" \
    --decline-pct 10 --seed 4 >/dev/null 2>"$tmp/acq.log" &
apid=$!
serve() {
	"$FE" serve --dev --clock "$1" --certs "$tmp/certs" --tariff tariffs/nl \
	    --db "$tmp/engine.db" --listen 127.0.0.1:$port \
	    --http 127.0.0.1:$((port + 1)) --acquirer 127.0.0.1:$((port + 2)) \
	    --settle-interval 1 --debt-tap-gap 0 2>>"$tmp/engine.log" &
	pid=$!
	wait_healthy $((port + 1)) || fail "engine did not start"
}
stop_engine() {
	kill -TERM "$pid"
	wait "$pid"
	pid=
}
q() { sqlite3 "$tmp/engine.db" "$1"; }

serve ${NEXT}T01:00:00Z
"$SIM" day --engine 127.0.0.1:$port --certs "$tmp/certs" --tourists 300 \
    --seed 3 --date $DAY --ack-log "$tmp/acks" 2>"$tmp/sim1.log" ||
    fail "day 1: $(tail -2 "$tmp/sim1.log")"
stop_engine
serve ${NEXT}T06:30:00Z
i=0
until [ "$(q "SELECT count(*) FROM charges c WHERE c.charge_cents != 0 AND
    NOT EXISTS (SELECT 1 FROM settlements s WHERE s.account = c.account AND
    s.service_day = c.service_day AND s.state != 'pending')")" = 0 ]; do
	i=$((i + 1))
	[ $i -lt 600 ] || fail "settlement did not finish"
	sleep 0.2
done
"$SIM" day --engine 127.0.0.1:$port --certs "$tmp/certs" --tourists 300 \
    --seed 3 --date $NEXT 2>"$tmp/sim2.log" || true
i=0
until [ "$(q "SELECT count(*) FROM settlements WHERE state = 'pending'")" = 0 ] &&
    [ "$(q "SELECT count(*) FROM debts d WHERE state = 'open' AND EXISTS
    (SELECT 1 FROM refused r WHERE r.reason = 'denied-at-gate' AND
    r.account = d.account)")" = 0 ]; do
	i=$((i + 1))
	[ $i -lt 600 ] || fail "debts were not recovered"
	sleep 0.2
done
stop_engine

# The gate shows the fare: the ack log keeps its two columns and adds the
# ack's leg fare, day charge and day caps; the sim logs a sample of gates.
bad=$(awk 'NF != 5 || $3 !~ /^[0-9]+$/ || $4 !~ /^[0-9]+$/ ||
    $5 !~ /^[0-9]+$/ || $1 != $2' "$tmp/acks" | head -2)
[ -z "$bad" ] || fail "ack log lines: $bad"
[ "$(awk '$3 > 0' "$tmp/acks" | wc -l)" -gt 0 ] || fail "no leg fare in any ack"
[ "$(awk '$5 > 0 && $4 >= $5' "$tmp/acks" | wc -l)" -gt 0 ] ||
    fail "no ack of a capped day"
[ "$(awk '$4 > 0' "$tmp/acks" | wc -l)" -gt 0 ] || fail "no day charge in any ack"
grep -Eq '^terminal-sim: [a-z0-9.-]+: (€[0-9,]+\.[0-9][0-9] ride|checked in), €[0-9,]+\.[0-9][0-9] today' \
    "$tmp/sim1.log" || fail "no gate display in the day's log: $(head -5 "$tmp/sim1.log")"

# The auditor's views: gate refusals with tap, time, network and stop;
# the deny list's history with its reasons.
[ "$(q "SELECT count(*) FROM v_refused_taps WHERE reason = 'denied-at-gate'
    AND (tap_id IS NULL OR time_utc IS NULL OR network_id IS NULL OR
    stop_id IS NULL OR account IS NULL OR service_day != '$NEXT')")" = 0 ] ||
    fail "gate refusals without their tap's fields in v_refused_taps"
[ "$(q "SELECT count(*) FROM v_deny_log WHERE action = 'added' AND
    reason LIKE 'declined%'")" -gt 0 ] && [ "$(q "SELECT count(*) FROM
    v_deny_log WHERE action = 'lifted' AND reason LIKE 'debt recovered%'")" -gt 0 ] ||
    fail "v_deny_log: $(q "SELECT * FROM v_deny_log LIMIT 3")"

# The accounts whose statements have each thing to add up, and a sample.
pick() { q "$1 LIMIT 3" >>"$tmp/accounts"; }
: >"$tmp/accounts"
pick "SELECT account FROM charges WHERE charge_cents < uncapped_cents AND
    service_day = '$DAY' AND account IN (SELECT account FROM legs WHERE
    status = 'incomplete') AND account IN (SELECT account FROM legs WHERE
    contribution_cents < fare_cents AND status = 'complete')"
pick "SELECT account FROM charges WHERE charge_cents < uncapped_cents"
pick "SELECT account FROM legs WHERE contribution_cents < fare_cents AND
    status = 'complete'"
pick "SELECT account FROM legs WHERE status = 'incomplete'"
pick "SELECT account FROM legs WHERE status = 'autocompleted'"
pick "SELECT account FROM debts"
pick "SELECT account FROM refused WHERE reason = 'denied-at-gate'"
q "SELECT DISTINCT account FROM charges ORDER BY random() LIMIT 15" >>"$tmp/accounts"
sort -u "$tmp/accounts" >"$tmp/acc"
[ "$(wc -l <"$tmp/acc")" -ge 15 ] || fail "too few accounts: $(wc -l <"$tmp/acc")"

# Every statement as CSV into one table (sqlite3 reads RFC 4180).
n=0
echo "CREATE TABLE s (account, date, start, end_, journey, charge, credit,
    total, note, zone, currency);" >"$tmp/load.sql"
while read -r acc; do
	n=$((n + 1))
	"$FE" audit card "$tmp/engine.db" --par "${acc#par:}" --tariff tariffs/nl \
	    --csv >"$tmp/s$n.csv" 2>"$tmp/err" ||
	    case $acc in
	    tok:*) "$FE" audit card "$tmp/engine.db" --token "$acc" \
		--tariff tariffs/nl --csv >"$tmp/s$n.csv" ||
		fail "audit card $acc failed" ;;
	    *) fail "audit card $acc: $(cat "$tmp/err")" ;;
	    esac
	head -1 "$tmp/s$n.csv" | grep -qx 'Date,Start Time,End Time,Journey/Action,Charge,Credit,Day Total,Note,Time Zone,Currency' ||
	    fail "$acc: CSV header: $(head -1 "$tmp/s$n.csv")"
	printf '.import --csv %s t%s\nINSERT INTO s SELECT %s, * FROM t%s;\n' \
	    "$tmp/s$n.csv" $n "'$acc'" $n >>"$tmp/load.sql"
done <"$tmp/acc"
sqlite3 "$tmp/check.db" <"$tmp/load.sql"
sqlite3 "$tmp/check.db" "ATTACH '$tmp/engine.db' AS e;
CREATE TABLE days AS SELECT account, date,
  sum(CASE WHEN journey NOT LIKE 'Day total%' THEN
    CAST(round(coalesce(nullif(charge, ''), 0) * 100) AS INTEGER) -
    CAST(round(coalesce(nullif(credit, ''), 0) * 100) AS INTEGER) END) AS rows_cents,
  sum(CASE WHEN journey LIKE 'Day total%' THEN
    CAST(round(total * 100) AS INTEGER) END) AS total_cents
  FROM s GROUP BY account, date;" || fail "cannot load the statements"
c() { sqlite3 "$tmp/check.db" "ATTACH '$tmp/engine.db' AS e; $1"; }

# The rows of each day add up to its total, and the total is the charge.
bad=$(c "SELECT account || ' ' || date || ': rows ' || rows_cents || ', total '
    || total_cents FROM days WHERE coalesce(rows_cents, 0) != total_cents LIMIT 3")
[ -z "$bad" ] || fail "rows do not add up: $bad"
bad=$(c "SELECT d.account || ' ' || d.date || ': ' || d.total_cents || ' vs '
    || coalesce(v.charge_cents, 'none') FROM days d LEFT JOIN e.v_charges v
    ON v.account = d.account AND v.service_day = d.date
    WHERE d.total_cents != coalesce(v.charge_cents, 0) LIMIT 3")
[ -z "$bad" ] || fail "day totals differ from v_charges: $bad"
missing=$(c "SELECT count(*) FROM e.v_charges v WHERE v.account IN
    (SELECT account FROM days) AND NOT EXISTS (SELECT 1 FROM days d WHERE
    d.account = v.account AND d.date = v.service_day)")
[ "$missing" = 0 ] || fail "$missing charged days missing from statements"
# Each case was there to add up (else this test proves less than it says).
has() {
	[ "$(c "SELECT count(*) FROM s WHERE $1")" -gt 0 ] || fail "no row with $2"
}
has "journey LIKE 'Cap reached%' AND credit != ''" "a cap's discount"
has "note = 'transfer discount' AND credit != ''" "a transfer discount"
has "note LIKE 'no check-out: maximum fare'" "an incomplete journey"
has "journey LIKE '%: refused at the gate at %'" "a tap refused at the gate"
has "note LIKE '%declined €%' AND note LIKE '%recovered €%'" "a declined then recovered day"
has "note LIKE '%captured €%'" "a captured day"
# Stop names and local times, not ids and UTC.
has "journey LIKE '%Amsterdam Centraal%'" "a stop name"
[ "$(c "SELECT count(*) FROM s WHERE journey LIKE '%: asd to %'")" = 0 ] ||
    fail "stop ids instead of names"
[ "$(c "SELECT DISTINCT zone FROM s")" = Europe/Amsterdam ] || fail "time zone column"
# A leg's start is its check-in in local time (UTC+1 in November).
acc=$(c "SELECT account FROM e.legs WHERE status = 'complete' AND
    account IN (SELECT account FROM days) LIMIT 1")
want=$(c "SELECT strftime('%H:%M', checkin_utc + 3600, 'unixepoch') FROM e.legs
    WHERE account = '$acc' AND status = 'complete' ORDER BY service_day, leg_no LIMIT 1")
got=$(c "SELECT start FROM s WHERE account = '$acc' AND note = '' AND start != ''
    AND journey NOT LIKE 'Day total%' ORDER BY date, rowid LIMIT 1")
[ "$got" = "$want" ] || fail "$acc: first leg starts $got, want $want (local)"

# The text statement: the same day total in euros, the zone named.
acc=$(head -1 "$tmp/acc")
day_cents=$(q "SELECT charge_cents FROM v_charges WHERE account = '$acc' ORDER BY service_day LIMIT 1")
euros=$(awk -v c="$day_cents" 'BEGIN { printf "€%d.%02d", c / 100, c % 100 }')
"$FE" audit card "$tmp/engine.db" --par "${acc#par:}" --tariff tariffs/nl \
    >"$tmp/text" 2>&1 || "$FE" audit card "$tmp/engine.db" --token "$acc" \
    --tariff tariffs/nl >"$tmp/text"
grep -q "times in Europe/Amsterdam (local), amounts in EUR" "$tmp/text" ||
    fail "text statement header: $(head -1 "$tmp/text")"
grep "Day total" "$tmp/text" | head -1 | grep -qF -- "$euros" ||
    fail "text statement day total is not $euros: $(grep 'Day total' "$tmp/text" | head -1)"
# Bad usage exits 2 naming it.
set +e
"$FE" audit card "$tmp/engine.db" --par "${acc#par:}" --tariff tariffs/nl \
    --day 2026-13-01 >/dev/null 2>"$tmp/err"
rc=$?
set -e
[ $rc = 2 ] && grep -q -- "--day '2026-13-01'" "$tmp/err" ||
    fail "an invalid --day: exit $rc, $(cat "$tmp/err")"
"$FE" audit card --help | grep -q "usage: fare-engine audit card" ||
    fail "audit card --help"
# --pan - reads the card number from stdin (out of ps and the shell's
# history): the same statement as --pan PAN.
"$SIM" day --engine 127.0.0.1:1 --certs "$tmp/certs" --tourists 300 \
    --seed 3 --date $DAY --generate-only --taps-out "$tmp/gen.csv" 2>/dev/null
pan=$(awk -F, 'NR == 2 { print $3 }' "$tmp/gen.csv")
"$FE" audit card "$tmp/engine.db" --pan "$pan" --tariff tariffs/nl \
    >"$tmp/pan.txt" || fail "audit card --pan failed"
printf '%s\n' "$pan" | "$FE" audit card "$tmp/engine.db" --pan - \
    --tariff tariffs/nl >"$tmp/pan-stdin.txt" || fail "audit card --pan - failed"
[ -s "$tmp/pan.txt" ] && cmp -s "$tmp/pan.txt" "$tmp/pan-stdin.txt" ||
    fail "--pan - differs from --pan PAN: $(diff "$tmp/pan.txt" "$tmp/pan-stdin.txt" | head -3)"
set +e
"$FE" audit card "$tmp/engine.db" --pan - --tariff tariffs/nl </dev/null \
    >/dev/null 2>"$tmp/err"
rc=$?
set -e
[ $rc = 2 ] && grep -q "no card number on stdin" "$tmp/err" ||
    fail "--pan - without a line: exit $rc, $(cat "$tmp/err")"
echo "statement: $(wc -l <"$tmp/acc") accounts' statements ($(c "SELECT count(*) FROM days") days, with caps, transfers, incomplete journeys, declines, recoveries and gate refusals): each day's rows add up to its total, which equals v_charges"
