#!/bin/sh
# The main job: a simulated day of visitors through the live engine over
# mutual TLS, on the embedded SQLite database, then a summary of charges,
# caps and operator revenue, cross-checked against offline pricing.
set -eu
BIN=${1:-bin}
out=${DEMO_DIR:-demo}
ACCOUNTS=${DEMO_ACCOUNTS:-2000}
DAY=2026-11-28
rm -rf "$out"
mkdir -p "$out"
port=$((30000 + $$ % 1000 * 2))
pid=
cleanup() {
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	return 0
}
trap cleanup EXIT

echo "== tariff"
"$BIN"/fare-engine tariff check tariffs/nl
echo "== certificates (dev CA, engine, validators on demand)"
"$BIN"/fare-engine certs init "$out/certs"
echo "== a day of $ACCOUNTS visitors on $DAY (seeded)"
"$BIN"/gen-taps --tariff tariffs/nl --accounts "$ACCOUNTS" --seed 1 \
    --day "$DAY" >"$out/taps.csv"
echo "$(($(wc -l <"$out/taps.csv") - 1)) taps"
echo "== engine (simulated clock: the next day at noon, so the day is closed)"
"$BIN"/fare-engine serve --dev --clock 2026-11-29T12:00:00Z \
    --certs "$out/certs" --tariff tariffs/nl --db "$out/engine.db" \
    --listen 127.0.0.1:$port --http 127.0.0.1:$((port + 1)) \
    2>"$out/engine.log" &
pid=$!
i=0
until [ "$(curl -s -o /dev/null -w '%{http_code}' \
    http://127.0.0.1:$((port + 1))/healthz 2>/dev/null)" = 200 ]; do
	i=$((i + 1))
	if [ $i -ge 100 ]; then cat "$out/engine.log"; exit 1; fi
	sleep 0.1
done
echo "== validators replay the day over mutual TLS"
"$BIN"/terminal-sim replay --engine 127.0.0.1:$port --certs "$out/certs" \
    --ack-log "$out/acks.log" "$out/taps.csv"
curl -s http://127.0.0.1:$((port + 1))/healthz
kill -TERM "$pid"
wait "$pid"
pid=
echo "== summary (from the engine's database)"
sqlite3 -box "$out/engine.db" "
SELECT count(*) AS taps, count(DISTINCT account) AS travellers
  FROM v_taps;
SELECT status, count(*) AS legs, printf('%.2f', sum(fare_cents) / 100.0)
  AS fares_eur FROM v_legs GROUP BY status ORDER BY legs DESC;
SELECT count(*) AS account_days,
  printf('%.2f', sum(c.charge_cents) / 100.0) AS charged_eur,
  printf('%.2f', sum(c.uncapped_cents) / 100.0) AS without_caps_eur,
  sum(c.charge_cents < c.uncapped_cents) AS capped_travellers,
  printf('%.2f', sum(c.uncapped_cents - c.charge_cents) / 100.0)
    AS saved_eur FROM charges c;
SELECT network_id AS operator, printf('%.2f', sum(revenue_cents) / 100.0)
  AS revenue_eur FROM v_operator_revenue GROUP BY network_id
  ORDER BY sum(revenue_cents) DESC;"
echo "== cross-check: offline pricing of the same taps"
"$BIN"/fare-engine price --tariff tariffs/nl "$out/taps.csv" |
    sed 's/^{"account":"\([^"]*\)","service_day":"\([^"]*\)","charge_cents":\([-0-9]*\),.*/\1|\2|\3/' \
    >"$out/price.txt"
sqlite3 "$out/engine.db" "SELECT account, service_day, charge_cents
    FROM v_charges ORDER BY account, service_day" >"$out/engine.txt"
if cmp -s "$out/price.txt" "$out/engine.txt"; then
	echo "every charge in the engine equals fare-engine price" \
	    "($(wc -l <"$out/engine.txt") account-days)"
else
	echo "MISMATCH between the engine and fare-engine price:"
	diff "$out/price.txt" "$out/engine.txt" | head
	exit 1
fi
echo "Files in $out/: engine.db (query it: sqlite3 $out/engine.db" \
    "'SELECT * FROM v_charges LIMIT 5'), taps.csv, engine.log, acks.log"
