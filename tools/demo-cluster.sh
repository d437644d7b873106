#!/bin/sh
# The main job on the cluster deployment: the same tourists' day as
# tools/demo.sh, through 2 gateways (serve --nats) and 2 pricing workers on
# a 3-node NATS JetStream cluster on loopback (tools/nats-cluster.sh); the
# next morning each shard settles its own account-days with the acquirer
# simulator; declined cards reach every gateway's deny list; the next day
# the gates refuse them and the shards recover the debts.  The summary
# and cross-checks are demo.sh's, over all shards together.
set -eu
BIN=${1:-bin}
out=${DEMO_DIR:-demo-cluster}
TOURISTS=${DEMO_TOURISTS:-2000}
SEED=${DEMO_SEED:-1}
DAY=2026-11-28
NEXT=2026-11-29
rm -rf "$out"
mkdir -p "$out"
out=$(cd "$out" && pwd)
. tests/lib.sh
. tests/cluster-lib.sh
tmp=$out
base=$((25000 + $$ % 100 * 50))
acq=$((base + 40))
apid=
fail() { echo "demo-cluster: $*" >&2; exit 1; }
cleanup() {
	cl_cleanup
	[ -n "$apid" ] && kill -TERM "$apid" 2>/dev/null && wait "$apid" 2>/dev/null
	return 0
}
trap cleanup EXIT

# start CLOCK: both workers (settling with the acquirer) and both gateways.
start() {
	CLOCK=$1
	worker 0 2 --dev --certs "$out/certs" --acquirer 127.0.0.1:$acq \
	    --settle-interval 1 --debt-tap-gap 0
	worker 1 2 --dev --certs "$out/certs" --acquirer 127.0.0.1:$acq \
	    --settle-interval 1 --debt-tap-gap 0
	gateway 0 2 || fail "gateway 0: $(tail -n 2 "$out/g0.log")"
	gateway 1 2 || fail "gateway 1: $(tail -n 2 "$out/g1.log")"
}
stop() {
	for f in "$out"/g0.pid "$out"/g1.pid "$out"/w0.pid "$out"/w1.pid; do
		stop_pid "$f"
	done
}
# q SQL: over every shard at once: temporary views with the tables' and
# views' names, each the union of the shards' (as one engine would hold).
q() {
	{
		echo "ATTACH '$out/shard0.db' AS s0; ATTACH '$out/shard1.db' AS s1;"
		for t in taps charges settlements debts deny v_taps v_legs \
		    v_charges v_operator_revenue v_refused_taps; do
			echo "CREATE TEMP VIEW $t AS SELECT * FROM s0.$t UNION ALL SELECT * FROM s1.$t;"
		done
		echo "$1"
	} | sqlite3 ${2:-} :memory:
}

echo "== certificates; a 3-node JetStream cluster on loopback; the acquirer"
"$BIN"/fare-engine certs init "$out/certs" >/dev/null
cl_start || fail "the cluster did not start"
echo "nats: $urls (stream TAPS, replicas 3, file storage)"
"$BIN"/terminal-sim acquirer --listen 127.0.0.1:$acq \
    --journal "$out/acquirer.journal" --certs "$out/certs" --decline-pct 2 \
    --seed "$SEED" \
    >"$out/acquirer.out" 2>"$out/acquirer.log" &
apid=$!
gws=$(gw_addr 0),$(gw_addr 1)

echo "== $DAY: $TOURISTS visitors tap through 2 gateways; 2 workers price 2 shards"
start ${NEXT}T01:00:00Z
"$BIN"/terminal-sim day --engine "$gws" --certs "$out/certs" \
    --tourists "$TOURISTS" --seed "$SEED" --date $DAY \
    --taps-out "$out/taps.csv" --ack-log "$out/acks.log"
wait_stored "$(cut -d' ' -f1 "$out/acks.log" | sort -u | wc -l)" ||
    fail "the shards did not store every acknowledged tap"
stop

echo "== the next morning (06:30 UTC): each shard settles its closed account-days"
start ${NEXT}T06:30:00Z
i=0
until [ "$(q "SELECT count(*) FROM charges c WHERE c.charge_cents != 0 AND
    NOT EXISTS (SELECT 1 FROM settlements s WHERE s.account = c.account AND
    s.service_day = c.service_day AND s.state != 'pending')")" = 0 ]; do
	i=$((i + 1))
	[ $i -lt 600 ] || fail "settlement did not finish"
	sleep 0.2
done
q "SELECT printf('%d account-days settled: %d captured (EUR %.2f), %d declined (EUR %.2f): debts opened, cards on the deny list',
    count(*), sum(state = 'approved'),
    sum(CASE WHEN state = 'approved' THEN amount_cents END) / 100.0,
    sum(state = 'declined'),
    coalesce(sum(CASE WHEN state = 'declined' THEN amount_cents END), 0) / 100.0)
    FROM settlements WHERE kind = 'capture'"
denied_before=$(q "SELECT count(*) FROM deny")
# The shards' deny entries reach both gateways' copies.
i=0
until [ "$(sqlite3 "$out/gw0.db" "SELECT count(*) FROM deny")" -ge "$denied_before" ] &&
    [ "$(sqlite3 "$out/gw1.db" "SELECT count(*) FROM deny")" -ge "$denied_before" ]; do
	i=$((i + 1))
	[ $i -lt 300 ] || fail "the deny list did not reach the gateways"
	sleep 0.1
done
echo "deny list: $denied_before entries on the shards, mirrored by both gateways"

echo "== $NEXT: the same visitors travel on; the gates refuse the declined cards"
"$BIN"/terminal-sim day --engine "$gws" --certs "$out/certs" \
    --tourists "$TOURISTS" --seed "$SEED" --date $NEXT \
    --taps-out "$out/taps-$NEXT.csv" --ack-log "$out/acks-$NEXT.log" || true
wait_stored "$(cut -d' ' -f1 "$out/acks.log" "$out/acks-$NEXT.log" | sort -u | wc -l)" ||
    fail "the shards did not store every acknowledged tap"
i=0
until [ "$(q "SELECT count(*) FROM debts WHERE state = 'open' AND
    next_retry_utc < opened_utc + 86400")" = 0 ] &&
    [ "$(q "SELECT count(*) FROM settlements WHERE state = 'pending'")" = 0 ]; do
	i=$((i + 1))
	[ $i -lt 150 ] || break
	sleep 0.2
done
stop
kill -TERM "$apid"
wait "$apid" || true
apid=

echo "== summary of $DAY (from both shards' databases)"
q "
SELECT count(*) AS taps, count(DISTINCT account) AS travellers,
  count(DISTINCT device_id) AS validators
  FROM v_taps WHERE time_utc < '${NEXT}T03:00:00Z';
SELECT status AS journeys, count(*) AS legs,
  printf('%.2f', sum(fare_cents) / 100.0) AS fares_eur
  FROM v_legs WHERE service_day = '$DAY' GROUP BY status ORDER BY legs DESC;
SELECT count(*) AS travellers,
  printf('%.2f', sum(c.charge_cents) / 100.0) AS charged_eur,
  printf('%.2f', sum(c.uncapped_cents) / 100.0) AS without_caps_eur,
  sum(c.charge_cents < c.uncapped_cents) AS reached_a_cap,
  printf('%.2f', sum(c.uncapped_cents - c.charge_cents) / 100.0)
    AS they_saved_eur FROM charges c WHERE service_day = '$DAY';
SELECT network_id AS operator, printf('%.2f', sum(revenue_cents) / 100.0)
  AS revenue_eur FROM v_operator_revenue WHERE service_day = '$DAY'
  GROUP BY network_id ORDER BY sum(revenue_cents) DESC;
SELECT kind AS settlement, state, count(*) AS n,
  printf('%.2f', sum(amount_cents) / 100.0) AS eur
  FROM settlements WHERE service_day = '$DAY' GROUP BY kind, state;" -box
for k in 0 1; do
	echo "shard $k: $(sqlite3 "$out/shard$k.db" "SELECT count(*) FROM taps") taps," \
	    "$(sqlite3 "$out/shard$k.db" "SELECT count(DISTINCT account) FROM charges") accounts"
done
gate=$(q "SELECT count(*) FROM v_refused_taps WHERE reason = 'denied-at-gate'")
recovered=$(q "SELECT count(*) FROM debts WHERE state = 'recovered'")
echo "next morning: $denied_before declined card(s) on the deny list;" \
    "$gate tap(s) refused at the gate; $recovered debt(s) recovered when" \
    "the card came back; deny list now: $(q "SELECT count(*) FROM deny") entries"

echo "== cross-checks"
price_charges "$BIN"/fare-engine tariffs/nl "$out/taps.csv" 2>/dev/null |
    sort >"$out/price.txt"
q "SELECT account, service_day, charge_cents FROM v_charges
    WHERE service_day = '$DAY'" | sort >"$out/engine.txt"
if cmp -s "$out/price.txt" "$out/engine.txt"; then
	echo "every charge of $DAY on the shards equals fare-engine price" \
	    "($(wc -l <"$out/engine.txt") account-days)"
else
	echo "MISMATCH between the shards and fare-engine price:"
	diff "$out/price.txt" "$out/engine.txt" | head
	exit 1
fi
cut -d' ' -f1 "$out/acks.log" "$out/acks-$NEXT.log" | sort -u >"$out/acked"
for k in 0 1; do
	sqlite3 "$out/shard$k.db" "SELECT tap_id FROM taps"
done | sort >"$out/stored"
if ! cmp -s "$out/acked" "$out/stored"; then
	echo "acknowledged $(wc -l <"$out/acked") taps but the shards store $(wc -l <"$out/stored")"
	exit 1
fi
echo "all $(wc -l <"$out/acked") acknowledged taps stored once, on one shard each"
for k in 0 1; do
	"$BIN"/fare-engine audit verify "$out/shard$k.db"
done
cl_stop
cat "$out/acquirer.out"
echo "Files in $out/: shard0.db, shard1.db (the shards), gw0.db, gw1.db" \
    "(gateways: refused taps, deny list copy), taps.csv, w*.log, g*.log," \
    "nc/ (the cluster's data and logs)"
