#!/bin/sh
# The main job: a simulated day of visitors through the live engine over
# mutual TLS; the day closes and is settled with the acquirer simulator;
# the next morning, cards that were declined are refused at the gate until
# their debt is recovered.  Then a summary of charges, caps, settlement
# and operator revenue, cross-checked against offline pricing and the
# ledger's own audit.
#
# DEMO_DEPLOY picks the deployment the same day runs on: embedded (the
# default, `make demo`: one engine, one SQLite database) or cluster (`make
# demo-cluster`: 2 gateways and 2 pricing workers on a 3-node JetStream
# cluster; tools/demo-cluster.sh replaces the functions below that start,
# stop and read the engine).  The steps, the summary and the cross-checks
# are this file's, for both.
set -eu
BIN=${1:-bin}
DEPLOY=${DEMO_DEPLOY:-embedded}
case $DEPLOY in
embedded) out=${DEMO_DIR:-demo} ;;
cluster) out=${DEMO_DIR:-demo-cluster} ;;
*) echo "demo: DEMO_DEPLOY=$DEPLOY: embedded or cluster" >&2; exit 2 ;;
esac
TOURISTS=${DEMO_TOURISTS:-${DEMO_ACCOUNTS:-2000}}
SEED=${DEMO_SEED:-1}
DAY=2026-11-28
NEXT=2026-11-29
rm -rf "$out"
mkdir -p "$out"
. tests/lib.sh
port=$((30000 + $$ % 1000 * 3))
http=$((port + 1))
acq=$((port + 2))
pid=
apid=
deploy_stop() { :; }
# cleanup: on exit; deploy_stop gets the demo's exit status.
cleanup() {
	_rc=$?
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	[ -n "$apid" ] && kill -TERM "$apid" 2>/dev/null && wait "$apid" 2>/dev/null
	deploy_stop "$_rc"
	return 0
}
trap cleanup EXIT

# The embedded deployment.  engines: the validators' address list.
engines=127.0.0.1:$port
from="the engine's database"
on="in the engine"
# deploy_start: what runs beside the engine (nothing embedded).
deploy_start() { :; }
# serve CLOCK: the engine on the demo database, with the engine clock set.
serve() {
	"$BIN"/fare-engine serve --dev --clock "$1" \
	    --certs "$out/certs" --tariff tariffs/nl --db "$out/engine.db" \
	    --listen 127.0.0.1:$port --http 127.0.0.1:$http \
	    --acquirer 127.0.0.1:$acq --settle-interval 1 --debt-tap-gap 0 \
	    --ledger-key-file "$out/ledger.key" \
	    --checkpoint-file "$out/checkpoints" 2>>"$out/engine.log" &
	pid=$!
	wait_healthy $http || { tail "$out/engine.log"; exit 1; }
}
stop_engine() {
	kill -TERM "$pid"
	wait "$pid"
	pid=
}
# q SQL [SQLITE3-OPTION]: a query of the engine's tables and views.
q() { sqlite3 ${2:-} "$out/engine.db" "$1"; }
# deploy_settled: after settlement (the cluster mirrors the deny list).
deploy_settled() { :; }
# deploy_summary: lines after the summary's tables (the cluster's shards).
deploy_summary() { :; }
# verify, reconcile: the ledger's audit and the acquirer's reports.
verify() {
	"$BIN"/fare-engine audit verify "$out/engine.db" \
	    --checkpoints "$out/checkpoints" --pubkey "$out/ledger.key.pub"
}
reconcile() {
	"$BIN"/fare-engine audit reconcile "$out/engine.db" "$out"/reports/*.csv
}
files="engine.db (try: sqlite3 $out/engine.db 'SELECT * FROM v_charges \
LIMIT 5'; fare-engine audit operators $out/engine.db --day $DAY), taps.csv, \
engine.log, acks.log, acquirer.journal, checkpoints (and ledger.key.pub to \
check them), reports/ (the acquirer's settlement reports)"
webdb=$out/engine.db
[ "$DEPLOY" = cluster ] && . tools/demo-cluster.sh

# eur SQL: the SQL of an amount in cents shown as a person reads money
# ("€33,572.86"), the way fare-engine shows it (money_text).
eur() {
	echo "(CASE WHEN ($1) < 0 THEN '-' ELSE '' END || '€' ||
	    printf('%,d', abs($1) / 100) || '.' || printf('%02d', abs($1) % 100))"
}
# waiting WHAT: says on one line what the demo waits for, and how long it
# took once done (done_waiting).
waiting() { printf '   (waiting for %s ...' "$1"; wait_start=$(date +%s); }
done_waiting() { echo " $(($(date +%s) - wait_start)) s)"; }
# acked_ids: the acknowledged taps' ids, sorted, each once.
acked_ids() { cat "$out"/acks*.log | cut -d' ' -f1 | sort -u; }
# wait_stored: until the engine stores every acknowledged tap (at once
# when embedded; the workers catch up on the cluster), at most 120 s.
wait_stored() {
	_n=$(acked_ids | wc -l)
	_i=0
	until [ "$(q "SELECT count(*) FROM taps")" -ge "$_n" ]; do
		_i=$((_i + 1))
		[ $_i -lt 1200 ] || { echo "stored $(q "SELECT count(*) FROM \
taps") of $_n acknowledged taps after 120 s"; exit 1; }
		sleep 0.1
	done
}

echo "== tariff"
"$BIN"/fare-engine tariff check tariffs/nl
echo "== certificates (dev CA, engine; each validator gets its own on demand)"
"$BIN"/fare-engine certs init "$out/certs"
echo "== the ledger key (signs a checkpoint at every day close)"
"$BIN"/fare-engine audit keygen "$out/ledger.key"
mkdir -p "$out/reports"
echo "== acquirer simulator (a separate process; declines 2% of accounts once)"
"$BIN"/terminal-sim acquirer --listen 127.0.0.1:$acq \
    --journal "$out/acquirer.journal" --certs "$out/certs" --decline-pct 2 \
    --seed "$SEED" --report-dir "$out/reports" \
    >"$out/acquirer.out" 2>"$out/acquirer.log" &
apid=$!
deploy_start

echo "== $DAY: $TOURISTS visitors tap through the day (engine clock: that night)"
waiting "the engine to answer /healthz"
serve ${NEXT}T01:00:00Z
done_waiting
"$BIN"/terminal-sim day --engine "$engines" --certs "$out/certs" \
    --tourists "$TOURISTS" --seed "$SEED" --date $DAY \
    --taps-out "$out/taps.csv" --ack-log "$out/acks.log"
wait_stored
stop_engine

echo "== the next morning (07:30 Europe/Amsterdam): the day is closed, plus 3 hours' grace: settlement"
waiting "the engine to answer /healthz, then the acquirer to answer every account-day's capture"
serve ${NEXT}T06:30:00Z
i=0
until [ "$(q "SELECT count(*) FROM charges c WHERE c.charge_cents != 0 AND
    NOT EXISTS (SELECT 1 FROM settlements s WHERE s.account = c.account AND
    s.service_day = c.service_day AND s.state != 'pending')")" = 0 ]; do
	i=$((i + 1))
	[ $i -lt 1500 ] || { echo "settlement did not finish within 300 s"; exit 1; }
	sleep 0.2
done
done_waiting
deploy_settled
q "SELECT printf('%d account-days settled: %d captured (%s), %d declined (%s): debts opened, cards on the deny list',
    count(*), sum(state = 'approved'),
    $(eur "coalesce(sum(CASE WHEN state = 'approved' THEN amount_cents END), 0)"),
    sum(state = 'declined'),
    $(eur "coalesce(sum(CASE WHEN state = 'declined' THEN amount_cents END), 0)"))
    FROM settlements WHERE kind = 'capture'"
denied_before=$(q "SELECT count(*) FROM deny")

echo "== $NEXT: the same visitors travel on; the gates refuse the declined cards"
"$BIN"/terminal-sim day --engine "$engines" --certs "$out/certs" \
    --tourists "$TOURISTS" --seed "$SEED" --date $NEXT \
    --taps-out "$out/taps-$NEXT.csv" --ack-log "$out/acks-$NEXT.log" || true
# Their taps at the gate made the engine retry their debts at once.
waiting "the acquirer to answer the debts' recoveries"
wait_stored
i=0
until [ "$(q "SELECT count(*) FROM debts WHERE state = 'open' AND
    next_retry_utc < opened_utc + 86400")" = 0 ] &&
    [ "$(q "SELECT count(*) FROM settlements WHERE state = 'pending'")" = 0 ]; do
	i=$((i + 1))
	[ $i -lt 150 ] || break
	sleep 0.2
done
done_waiting
stop_engine
kill -TERM "$apid"
wait "$apid" || true
apid=

echo "== summary of $DAY (from $from)"
q "
SELECT count(*) AS taps, count(DISTINCT account) AS travellers,
  count(DISTINCT device_id) AS validators
  FROM v_taps WHERE time_utc < '${NEXT}T03:00:00Z';
SELECT status AS journeys, count(*) AS legs,
  $(eur "sum(fare_cents)") AS fares
  FROM v_legs WHERE service_day = '$DAY' GROUP BY status ORDER BY legs DESC;
SELECT count(*) AS travellers,
  $(eur "sum(c.charge_cents)") AS charged,
  $(eur "sum(c.uncapped_cents)") AS without_caps,
  sum(c.charge_cents < c.uncapped_cents) AS reached_a_cap,
  $(eur "sum(c.uncapped_cents - c.charge_cents)")
    AS they_saved FROM charges c WHERE service_day = '$DAY';
SELECT network_id AS operator, $(eur "sum(revenue_cents)")
  AS revenue FROM v_operator_revenue WHERE service_day = '$DAY'
  GROUP BY network_id ORDER BY sum(revenue_cents) DESC;
SELECT kind AS settlement, state, count(*) AS n,
  $(eur "sum(amount_cents)") AS amount
  FROM settlements WHERE service_day = '$DAY' GROUP BY kind, state;" -box
deploy_summary
gate=$(q "SELECT count(*) FROM v_refused_taps WHERE reason = 'denied-at-gate'")
recovered=$(q "SELECT count(*) FROM debts WHERE state = 'recovered'")
echo "next morning: $denied_before declined card(s) on the deny list;" \
    "$gate tap(s) refused at the gate; $recovered debt(s) recovered when" \
    "the card came back; deny list now: $(q "SELECT count(*) FROM deny") entries"

echo "== cross-checks"
price_charges "$BIN"/fare-engine tariffs/nl "$out/taps.csv" >"$out/price.txt"
q "SELECT account, service_day, charge_cents FROM v_charges
    WHERE service_day = '$DAY' ORDER BY account, service_day" >"$out/engine.txt"
if cmp -s "$out/price.txt" "$out/engine.txt"; then
	echo "every charge of $DAY $on equals fare-engine price" \
	    "($(wc -l <"$out/engine.txt") account-days)"
else
	echo "MISMATCH $on with fare-engine price:"
	diff "$out/price.txt" "$out/engine.txt" | head
	exit 1
fi
# Every acknowledged tap is stored exactly once, and nothing else.
acked_ids >"$out/acked"
q "SELECT tap_id FROM taps" | sort >"$out/stored"
if ! cmp -s "$out/acked" "$out/stored"; then
	echo "acknowledged $(wc -l <"$out/acked") taps but stored" \
	    "$(wc -l <"$out/stored") ($(sort -u "$out/stored" | wc -l) distinct)"
	exit 1
fi
echo "all $(wc -l <"$out/acked") acknowledged taps stored once"
verify
reconcile
cat "$out/acquirer.out"
echo "Files in $out/: $files"

if [ "$DEPLOY" = cluster ]; then
	echo "The web pages read one database: $BIN/fare-engine web --db" \
	    "$out/shard0.db --tariff tariffs/nl --listen 127.0.0.1:8080" \
	    "(and one for shard1.db)"
	exit 0
fi
# The web pages over the demo's database: render times (server time, the
# Server-Timing header; the dashboard alternates days, so that no answer
# comes from its 2-second cache), then the command to browse them.
refs=$(q "SELECT (SELECT reference FROM v_settlements s JOIN v_charges c
    USING (account, service_day) WHERE s.service_day = '$DAY' AND
    s.kind = 'capture' AND s.state = 'approved' AND c.charge_cents <
    c.uncapped_cents ORDER BY s.reference LIMIT 1), (SELECT reference FROM
    v_settlements WHERE service_day = '$DAY' AND kind = 'capture' AND
    state = 'declined' ORDER BY reference LIMIT 1), (SELECT reference FROM
    v_settlements s WHERE s.service_day = '$DAY' AND s.kind = 'capture'
    AND s.state = 'approved' AND EXISTS (SELECT 1 FROM v_legs l WHERE
    l.account = s.account AND l.service_day = s.service_day AND l.status =
    'incomplete') ORDER BY s.reference LIMIT 1)" | tr '|' ' ')
wport=$((port + 3))
"$BIN"/fare-engine web --db "$out/engine.db" --tariff tariffs/nl \
    --listen 127.0.0.1:$wport --crl "$out/certs/crl.pem" \
    2>>"$out/web.log" &
pid=$!
i=0
until curl -s -o /dev/null "http://127.0.0.1:$wport/trips"; do
	i=$((i + 1))
	[ $i -lt 100 ] || { echo "fare-engine web did not start"; exit 1; }
	sleep 0.1
done
# ms PATH: the server time of one answer, and its CPU time after a ':'.
ms() {
	curl -s -o /dev/null -D - "http://127.0.0.1:$wport$1" | sed -n \
	    's/^Server-Timing: app;dur=\([0-9.]*\), cpu;dur=\([0-9.]*\).*/\1:\2/p'
}
dash= rider=
for n in 1 2 3 4 5; do
	dash="$dash $(ms "/?day=$DAY") $(ms "/?day=$NEXT")"
	for r in $refs; do rider="$rider $(ms "/trips?ref=$r")"; done
done
kill -TERM "$pid"
wait "$pid" || true
pid=
stat() {	# "median X ms, max Y ms" of the times given (field $1 of W:C)
	echo "$2" | tr ' ' '\n' | sed '/^$/d' | cut -d: -f"$1" | sort -n |
	    awk '{ v[NR] = $1 } END { printf "median %.1f ms, max %.1f ms",
	    v[int((NR + 1) / 2)], v[NR] }'
}
echo "== web pages over $out/engine.db (server time per page, 10 dashboards," \
    "$(echo $rider | wc -w) rider pages)"
echo "dashboard: $(stat 1 "$dash") ($(stat 2 "$dash") on the CPU);" \
    "rider page: $(stat 1 "$rider") ($(stat 2 "$rider") on the CPU)"
echo "Browse the day: $BIN/fare-engine web --db $out/engine.db --tariff" \
    "tariffs/nl --listen 127.0.0.1:8080"
echo "  then http://127.0.0.1:8080/ (the dashboard) and" \
    "http://127.0.0.1:8080/trips (riders); sample references:"
set -- $refs
echo "  $1 (paid, capped), $2 (declined, then recovered), $3 (paid, with" \
    "an incomplete journey: a tap in or out missing)"
