#!/bin/sh
# A day of tourists through 2 gateways and 2 workers on a 3-node
# JetStream cluster (R3): every acknowledged tap stored exactly once
# across the shards; every charge equals `price` over all the taps; a PAR
# account (phone and card) priced whole on one shard, including cards
# whose PAR appears only after some of their taps (moved from the token's
# shard, which reverses what it had); the deny list travels from a
# worker's shard to every gateway; each shard's ledger verifies.
set -u
BIN=${1:-bin}
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
. tests/cluster-lib.sh
e2e_init cluster.test.sh
# KEEP=DIR keeps the run's files there (debugging).
[ -n "${KEEP:-}" ] && { tmp=$KEEP; rm -rf "$tmp"; mkdir -p "$tmp"; }
trap 'cl_cleanup; [ -n "${KEEP:-}" ] || e2e_cleanup' EXIT
base=$((20000 + $$ % 200 * 50))
CLOCK=2026-11-29T01:00:00Z
TOURISTS=${CLUSTER_TOURISTS:-400}

cl_start || fail "the NATS cluster did not start"
"$BIN"/fare-engine certs init "$tmp/certs" >/dev/null || fail "certs init"
"$BIN"/fare-engine audit keygen "$tmp/ledger.key" >/dev/null || fail "keygen"
# Each worker signs its own shard's checkpoints into its own file.
worker 0 2 --ledger-key-file "$tmp/ledger.key" --checkpoint-file "$tmp/cp-0"
worker 1 2 --ledger-key-file "$tmp/ledger.key" --checkpoint-file "$tmp/cp-1"
gateway 0 2 || fail "gateway 0 not healthy: $(tail -n 2 "$tmp/g0.log")"
gateway 1 2 || fail "gateway 1 not healthy: $(tail -n 2 "$tmp/g1.log")"
gws=$(gw_addr 0),$(gw_addr 1)

# 1. The tourists' day, validators spread over both gateways.
"$BIN"/terminal-sim day --engine "$gws" --certs "$tmp/certs" \
    --tourists "$TOURISTS" --seed 3 --date 2026-11-28 \
    --taps-out "$tmp/day.csv" --ack-log "$tmp/acks" 2>"$tmp/sim.log" ||
    fail "terminal-sim day: $(tail -n 2 "$tmp/sim.log")"

# 2. Cards of another day whose PAR shows only in the afternoon: the
# morning's taps go to the token's shard first and are moved.
"$BIN"/terminal-sim day --generate-only --tourists 60 --seed 7 \
    --date 2026-11-27 --taps-out "$tmp/g7.csv" 2>/dev/null ||
    fail "terminal-sim day --generate-only"
awk -F, -v OFS=, -v part=1 'NR == 1 { print; next }
    $4 == "" && $2 < "2026-11-27T12" && part == 1 { print }
    $4 == "" && $2 >= "2026-11-27T12" && part == 2 {
	if (!($3 in n)) n[$3] = ++cards
	$4 = sprintf("V001LAT%022d", n[$3]); print }' "$tmp/g7.csv" \
    >"$tmp/late1.csv"
awk -F, -v OFS=, 'NR == 1 { print; next }
    $4 == "" && $2 >= "2026-11-27T12" {
	if (!($3 in n)) n[$3] = ++cards
	$4 = sprintf("V001LAT%022d", n[$3]); print }' "$tmp/g7.csv" \
    >"$tmp/late2.csv"
[ "$(wc -l <"$tmp/late2.csv")" -gt 20 ] || fail "too few late-PAR taps"
for part in 1 2; do
	"$BIN"/terminal-sim replay --keep-ids --engine "$gws" \
	    --certs "$tmp/certs" --ack-log "$tmp/acks.late$part" "$tmp/late$part.csv" \
	    2>>"$tmp/sim.log" || fail "replay late$part"
	cat "$tmp/acks.late$part" >>"$tmp/acks"
	# The morning stored before the afternoon arrives.
	wait_stored "$(cut -d' ' -f1 "$tmp/acks" | sort -u | wc -l)" ||
	    fail "acknowledged taps not stored within 120 s"
done
cut -d' ' -f1 "$tmp/acks" | sort -u >"$tmp/acked"
# The moves settle: each moved card's taps arrive on the PAR's shard.
_i=0
until [ "$(shards_sum 'SELECT count(*) FROM taps')" -eq \
    "$(wc -l <"$tmp/acked")" ] && [ "$(shards_sum \
    'SELECT count(*) FROM moved_cards')" -gt 0 ]; do
	_i=$((_i + 1))
	[ $_i -lt 600 ] || fail "shards hold $(shards_sum \
	    'SELECT count(*) FROM taps') taps, $(wc -l <"$tmp/acked") acknowledged; $(shards_sum \
	    'SELECT count(*) FROM moved_cards') moved cards"
	sleep 0.1
done

# Every acknowledged tap stored exactly once across the shards.
for db in "$tmp"/shard*.db; do
	sqlite3 "$db" "SELECT tap_id FROM taps"
done | sort >"$tmp/stored"
dups=$(uniq -d "$tmp/stored" | wc -l)
[ "$dups" -eq 0 ] || fail "$dups tap(s) stored on two shards"
cmp -s "$tmp/acked" "$tmp/stored" || fail "stored taps differ from \
acknowledged ones: $(diff "$tmp/acked" "$tmp/stored" | head -3)"

# Every charge equals price over all the taps; no account on two shards.
cat "$tmp/day.csv" >"$tmp/all.csv"
tail -n +2 "$tmp/late1.csv" >>"$tmp/all.csv"
tail -n +2 "$tmp/late2.csv" >>"$tmp/all.csv"
"$BIN"/fare-engine price --tariff tariffs/nl "$tmp/all.csv" 2>/dev/null | jsonl_charges |
    sort >"$tmp/want"
shards_charges >"$tmp/got"
cmp -s "$tmp/want" "$tmp/got" || fail "charges differ from price: \
$(diff "$tmp/want" "$tmp/got" | head -5)"
for db in "$tmp"/shard*.db; do
	sqlite3 "$db" "SELECT DISTINCT account FROM v_taps"
done | sort | uniq -d >"$tmp/split"
[ -s "$tmp/split" ] && fail "accounts with taps on two shards: \
$(head -3 "$tmp/split")"
pars=$(shards_sum "SELECT count(DISTINCT account) FROM v_charges WHERE \
account LIKE 'par:V001DAY%'")
late=$(shards_sum "SELECT count(DISTINCT account) FROM v_charges WHERE \
account LIKE 'par:V001LAT%'")
moved=$(shards_sum "SELECT count(*) FROM moved_cards")
[ "$pars" -gt 0 ] && [ "$late" -gt 0 ] || fail "no PAR accounts priced"
"$BIN"/fare-engine audit verify "$tmp"/shard*.db >"$tmp/verify" ||
    fail "audit verify over the shards: $(head -3 "$tmp/verify")"
tail -n 1 "$tmp/verify" | grep -q "^2 shards: all sound" ||
    fail "audit verify gave no total"
# ... and would see a tap on two shards (copied here on purpose).
sqlite3 "$tmp/shard1.db" ".backup '$tmp/twice.db'" || fail "sqlite3 .backup"
"$BIN"/fare-engine audit verify "$tmp/shard1.db" "$tmp/twice.db" \
    >"$tmp/verify2" && fail "audit verify missed taps on two shards"
grep -q "stored on 2 shards" "$tmp/verify2" ||
    fail "audit verify did not name a tap on two shards: $(tail -n 2 "$tmp/verify2")"
rm -f "$tmp/twice.db"

# Checkpoints per shard: the workers restarted the next morning close
# 2026-11-28, post it and each signs its own ledger into its own file;
# each file holds for its own shard, not for the other.
CLOCK=2026-11-29T09:00:00Z
for k in 0 1; do
	stop_pid "$tmp/w$k.pid"
	worker $k 2 --ledger-key-file "$tmp/ledger.key" --checkpoint-file "$tmp/cp-$k"
done
_i=0
until [ "$(grep -c ' genesis ' "$tmp/cp-0")" -lt "$(wc -l <"$tmp/cp-0")" ] &&
    [ "$(grep -c ' genesis ' "$tmp/cp-1")" -lt "$(wc -l <"$tmp/cp-1")" ]; do
	_i=$((_i + 1))
	[ $_i -lt 600 ] || fail "the workers signed no checkpoint of 2026-11-28: \
$(cat "$tmp/cp-0" "$tmp/cp-1" | cut -c1-80)"
	sleep 0.1
done
"$BIN"/fare-engine audit verify "$tmp/shard0.db" "$tmp/shard1.db" \
    --checkpoints "$tmp/cp-0,$tmp/cp-1" --pubkey "$tmp/ledger.key.pub" \
    >"$tmp/verify3" || fail "audit verify with each shard's checkpoints: \
$(grep -v '^warning' "$tmp/verify3" | head -3)"
grep -q "each shard's checkpoints hold" "$tmp/verify3" ||
    fail "audit verify: $(tail -n 1 "$tmp/verify3")"
"$BIN"/fare-engine audit verify "$tmp/shard0.db" "$tmp/shard1.db" \
    --checkpoints "$tmp/cp-1,$tmp/cp-0" --pubkey "$tmp/ledger.key.pub" \
    >"$tmp/verify4" && fail "audit verify took shard 1's checkpoints for shard 0"
"$BIN"/fare-engine audit verify "$tmp/shard0.db" "$tmp/shard1.db" \
    --checkpoints "$tmp/cp-0" --pubkey "$tmp/ledger.key.pub" \
    >/dev/null 2>"$tmp/verify5"
[ $? -eq 2 ] && grep -q "1 file for 2 databases" "$tmp/verify5" ||
    fail "audit verify with too few checkpoint files: $(cat "$tmp/verify5")"

# audit operators over the shards: a table per shard, then the total,
# each equal to its riders' charges; the total's legs are all the legs.
"$BIN"/fare-engine audit operators "$tmp/shard0.db" "$tmp/shard1.db" \
    --day 2026-11-28 >"$tmp/ops" || fail "audit operators over the shards: \
$(grep -v ': equal' "$tmp/ops" | tail -n 3)"
[ "$(grep -c ": equal$" "$tmp/ops")" -eq 3 ] ||
    fail "audit operators: not 3 tables (2 shards, total): $(cat "$tmp/ops")"
legs=$(sed -n '/: all 2 shards$/,/^total/p' "$tmp/ops" |
    awk 'NR > 2 && $1 != "total" { n += $2 } END { print n + 0 }')
[ "$legs" -eq "$(shards_sum "SELECT count(*) FROM legs WHERE service_day = \
'2026-11-28' AND network_id IS NOT NULL")" ] ||
    fail "audit operators' total counts $legs legs"
# audit card over the shards: a moved card (named by its card number) is
# found under its PAR, on one shard, and its total is what price says.
pan=$(awk -F, '$4 == "V001LAT0000000000000000000001" { print $3; exit }' \
    "$tmp/late2.csv")
"$BIN"/fare-engine audit card "$tmp/shard0.db" "$tmp/shard1.db" --pan "$pan" \
    --tariff tariffs/nl >"$tmp/card" 2>&1 || fail "audit card: $(tail -n 2 "$tmp/card")"
cents=$(awk -F'|' '$1 == "par:V001LAT0000000000000000000001" { n += $3 }
    END { printf "€%d.%02d", n / 100, n % 100 }' "$tmp/want")
grep -q "^par:V001LAT0000000000000000000001: 1 day on 1 of 2 shards, $cents in all$" \
    "$tmp/card" || fail "audit card over the shards (price: $cents): $(tail -n 1 "$tmp/card")"

# 3. The deny list across the cluster: an entry made on shard 1 reaches
# gateway 0's validators' list (its mirror) within seconds.
"$BIN"/fare-engine deny add "$tmp/shard1.db" par:V001LAT0000000000000000000001 \
    "test" >/dev/null || fail "deny add"
_i=0
until [ "$(sqlite3 "$tmp/gw0.db" "SELECT count(*) FROM deny WHERE account = \
    'par:V001LAT0000000000000000000001'")" = 1 ]; do
	_i=$((_i + 1))
	[ $_i -lt 300 ] || fail "deny entry did not reach gateway 0"
	sleep 0.1
done
echo "cluster: $(wc -l <"$tmp/acked") taps acknowledged through 2 gateways," \
    "stored once over 2 shards ($(sqlite3 "$tmp/shard0.db" \
    'SELECT count(*) FROM taps') + $(sqlite3 "$tmp/shard1.db" \
    'SELECT count(*) FROM taps')); $(wc -l <"$tmp/want") account-days" \
    "equal price ($pars phone/card PAR accounts, $late with a late PAR," \
    "$moved card(s) moved); deny list mirrored; per-shard checkpoints," \
    "audit operators and card over the shards agree"
