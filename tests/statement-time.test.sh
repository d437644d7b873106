#!/bin/sh
# A rider's times and words as a person reads them (`audit card`, its
# --csv, `price --explain`): a service day's rows are grouped under its
# date, so a time past midnight or on the far side of a clock change
# carries its own date and UTC offset ("2026-10-25 02:10 +01:00"), while
# an ordinary daytime leg stays "09:00"; the night of the autumn change
# (02:30 CEST, then 02:10 CET), the spring one (01:50 CET to 03:10
# CEST) and a journey over midnight and over the 04:00 day start; the
# rider's web page (found by its reference) the same.  Long
# stop names are never cut in the text statement, and stop names with
# commas and quotes survive a real CSV parser (python3's csv).  Audit
# operators and reconcile say money in the tariff's currency (USD).
set -eu
. tests/lib.sh
BIN=${1:-bin}
FE=$BIN/fare-engine
SIM=$BIN/terminal-sim
e2e_init statement-time

A=V001R17BRIDERA000000000000001
B=V001R17BRIDERB000000000000001
cat >"$tmp/taps.csv" <<EOF
tap_id,time,card,par,network_id,stop_id,kind
r01,2026-10-24T21:40:00Z,4111111111111012,$A,NS,asd,in
r02,2026-10-24T22:15:00Z,4111111111111012,$A,NS,hlm,out
r03,2026-10-25T00:30:00Z,4111111111111012,$A,NS,hlm,in
r04,2026-10-25T01:10:00Z,4111111111111012,$A,NS,asd,out
r05,2026-10-25T02:50:00Z,4111111111111012,$A,NS,asd,in
r06,2026-10-25T03:20:00Z,4111111111111012,$A,NS,hlm,out
r07,2026-10-25T09:00:00Z,4111111111111012,$A,NS,hlm,in
r08,2026-10-25T09:20:00Z,4111111111111012,$A,NS,asd,out
r09,2026-03-29T00:50:00Z,4111111111111012,$A,NS,asd,in
r10,2026-03-29T01:10:00Z,4111111111111012,$A,NS,hlm,out
r11,2026-11-20T08:00:00Z,4111111111111020,$B,GVB,gvb-centraal,in
r12,2026-11-20T08:20:00Z,4111111111111020,$B,GVB,gvb-vondelpark,out
r13,2026-11-20T09:00:00Z,4111111111111020,$B,NS,asd,in
r14,2026-11-20T09:30:00Z,4111111111111020,$B,NS,hlm,out
EOF
port=$((23000 + $$ % 1000 * 4))
"$FE" certs init "$tmp/certs" >/dev/null
"$SIM" acquirer --listen 127.0.0.1:$((port + 2)) --journal "$tmp/acq.journal" \
    --certs "$tmp/certs" >/dev/null 2>"$tmp/acq.log" &
apid=$!
"$FE" serve --dev --clock 2026-11-25T10:00:00Z --certs "$tmp/certs" \
    --tariff tariffs/nl --db "$tmp/engine.db" --listen 127.0.0.1:$port \
    --http 127.0.0.1:$((port + 1)) --acquirer 127.0.0.1:$((port + 2)) \
    --settle-interval 1 2>>"$tmp/engine.log" &
pid=$!
wait_healthy $((port + 1)) || fail "engine did not start"
"$SIM" replay --engine 127.0.0.1:$port --certs "$tmp/certs" "$tmp/taps.csv" \
    2>"$tmp/sim.log" || fail "replay: $(cat "$tmp/sim.log")"
q() { sqlite3 "$tmp/engine.db" "$1"; }
i=0
until [ "$(q "SELECT count(*) FROM settlements WHERE state = 'approved'")" = 4 ]; do
	i=$((i + 1))
	[ $i -lt 600 ] || fail "the 4 account-days were not settled: $(q "SELECT * FROM settlements")"
	sleep 0.2
done
kill -TERM "$pid"
wait "$pid"
pid=

card() {
	"$FE" audit card "$tmp/engine.db" --par "$1" --tariff "${3:-tariffs/nl}" \
	    $2 >"$tmp/out" 2>"$tmp/err" || fail "audit card $1 $2: $(cat "$tmp/err")"
}
# has FILE TEXT WHY: a line of FILE holds TEXT (fixed string).
has() {
	grep -qF -- "$2" "$1" || fail "$3: no '$2' in: $(cat "$1")"
}

card $A --csv
cp "$tmp/out" "$tmp/a.csv"
# Over midnight: the start on the row's date, the end dated.
has "$tmp/a.csv" "2026-10-24,23:40,2026-10-25 00:15 +02:00,NS: Amsterdam Centraal to Haarlem" \
    "a journey over midnight"
# The repeated hour: 02:30 summer time, then 02:10 winter time.
has "$tmp/a.csv" "2026-10-24,2026-10-25 02:30 +02:00,2026-10-25 02:10 +01:00," \
    "a journey over the autumn clock change"
# Before the 04:00 day start, on the next date: still the day before.
has "$tmp/a.csv" "2026-10-24,2026-10-25 03:50 +01:00,2026-10-25 04:20 +01:00," \
    "a journey over the service day's start"
# The day after the change: ordinary times, no date.
has "$tmp/a.csv" "2026-10-25,10:00,10:20,NS: Haarlem to Amsterdam Centraal" \
    "an ordinary leg on the day of the change"
# The spring change: 01:50 winter time to 03:10 summer time (20 minutes).
has "$tmp/a.csv" "2026-03-28,2026-03-29 01:50 +01:00,2026-03-29 03:10 +02:00," \
    "a journey over the spring clock change"
card $A ""
has "$tmp/out" "2026-10-24  2026-10-25 02:30 +02:00  2026-10-25 02:10 +01:00  NS: Haarlem to Amsterdam Centraal" \
    "the text statement over the autumn change"
"$FE" price --tariff tariffs/nl --explain "$tmp/taps.csv" >"$tmp/explain" \
    2>/dev/null || fail "price --explain"
has "$tmp/explain" "hlm (Haarlem) 2026-10-25 02:30 +02:00 -> asd (Amsterdam Centraal) 2026-10-25 02:10 +01:00" \
    "price --explain over the autumn change"
has "$tmp/explain" "hlm (Haarlem) 10:00 -> asd (Amsterdam Centraal) 10:20" \
    "price --explain on an ordinary leg"

# The rider's page of that night, by the reference on the bank statement.
ref=$(q "SELECT reference FROM v_settlements WHERE service_day = '2026-10-24'")
"$FE" web --db "$tmp/engine.db" --tariff tariffs/nl \
    --listen 127.0.0.1:$((port + 3)) 2>"$tmp/web.log" &
spid=$!
i=0
until curl -s -o "$tmp/page" "http://127.0.0.1:$((port + 3))/trips?ref=$ref"; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "web did not answer: $(cat "$tmp/web.log")"
	sleep 0.1
done
has "$tmp/page" "2026-10-25 02:30 +02:00–2026-10-25 02:10 +01:00" \
    "the rider's page over the autumn change"
has "$tmp/page" "23:40–2026-10-25 00:15 +02:00" "the rider's page over midnight"

# A long stop name whole in the text statement, not cut to a column.
card $B ""
has "$tmp/out" "GVB: Centraal Station (GVB) to Vondelpark (1e Constantijn Huygensstraat)  " \
    "a long stop name in the text statement"
# Names with a comma and quotes: the CSV still parses, field for field.
cp -r tariffs/nl "$tmp/t"
sed -i 's/^hlm,Haarlem,/hlm,"Haarlem, ""Centraal""",/' "$tmp/t/stops.txt"
card $B --csv "$tmp/t"
python3 - "$tmp/out" <<'EOF' || fail "the CSV does not parse: $(cat "$tmp/out")"
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline='', encoding='utf-8')))
assert rows[0] == ['Date', 'Start Time', 'End Time', 'Journey/Action',
    'Charge', 'Credit', 'Day Total', 'Note', 'Time Zone', 'Currency'], rows[0]
assert all(len(r) == 10 for r in rows), [len(r) for r in rows]
assert 'NS: Amsterdam Centraal to Haarlem, "Centraal"' in [r[3] for r in rows], rows
EOF
# Amounts of any width stay in their columns (a copy of the database
# with a leg of USD 1,234.56, shown in dollars): each row's day total
# ends where the head's "day total" ends.
cp "$tmp/engine.db" "$tmp/big.db"
sqlite3 "$tmp/big.db" "UPDATE legs SET fare_cents = 123456,
    contribution_cents = 123456 WHERE account = 'par:$B' AND leg_no = 1;
    UPDATE charges SET charge_cents = charge_cents + 123456,
    uncapped_cents = uncapped_cents + 123456 WHERE account = 'par:$B'"
cp -r tariffs/nl "$tmp/usd"
sed -i 's/,EUR,/,USD,/; s/,EUR$/,USD/' "$tmp/usd/fare_products.txt" \
    "$tmp/usd/fare_caps.txt"
"$FE" audit card "$tmp/big.db" --par $B --tariff "$tmp/usd" >"$tmp/big" ||
    fail "audit card of a big day"
has "$tmp/big" "USD 1,234.56" "an amount over a thousand"
python3 - "$tmp/big" <<'EOF' || fail "columns do not line up: $(cat "$tmp/big")"
import sys
lines = open(sys.argv[1], encoding='utf-8').read().splitlines()
end = lines[1].index('day total') + len('day total')
for l in lines[2:]:
    assert l[end - 1] != ' ' and l[end:end + 1] in ('', ' '), (end, l)
EOF

# Commands that read only the database show money in the currency of the
# latest tariff version (a feed in dollars: not "€").
q "INSERT INTO tariff_versions VALUES (99, 'usd', 0);
INSERT INTO tariff_files VALUES (99, 'fare_products.txt',
CAST('fare_product_id,amount,currency' || char(10) || 'x,1.00,USD' ||
char(10) AS BLOB))"
"$FE" audit operators "$tmp/engine.db" --day 2026-10-24 >"$tmp/ops" ||
    fail "audit operators: $(cat "$tmp/ops")"
has "$tmp/ops" "USD 17.19" "audit operators in the tariff's currency"
grep -q "€" "$tmp/ops" && fail "audit operators shows euros: $(cat "$tmp/ops")"
"$FE" audit reconcile "$tmp/engine.db" /dev/null --day 2026-10-24 >"$tmp/rec" ||
    true
has "$tmp/rec" "USD 17.19" "audit reconcile in the tariff's currency"
echo "statement-time: dated times over midnight, the day start and both clock changes (audit card, --csv, price --explain); long names whole; names with commas and quotes parse"
