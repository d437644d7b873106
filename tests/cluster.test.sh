#!/bin/sh
# A day of tourists through 2 gateways and 2 workers on a 3-node
# JetStream cluster (R3): every acknowledged tap stored exactly once
# across the shards; every charge equals `price` over all the taps; a PAR
# account (phone and card) priced whole on one shard, including cards
# whose PAR appears only after some of their taps (moved from the token's
# shard, which reverses what it had), and cards that later show a second
# PAR (a greater one priced with the first; a lesser one on another
# shard refused as par-on-other-shard); the deny list travels from a
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
# 3. The same cards the day before, each showing a second PAR (SPEC §3:
# a card belongs to the least PAR it showed).  A greater one (ZZZ): the
# card stays on its first PAR's shard, whose writer keeps the least;
# every such tap is acknowledged.  A lesser one: the card's account
# changes; the cluster does that when both PARs share a shard (AAA: with
# 2 shards, FNV-1a's lowest bit is the parity of the characters' lowest
# bits, and AAA's equals LAT's) and otherwise refuses the tap (AAB:
# par-on-other-shard), kept in the gateway's database.
awk -F, -v OFS=, 'NR == 1 { print; next } {
	if (!($3 in n)) n[$3] = ++cards
	p = n[$3] % 2 ? "ZZZ" : (n[$3] % 4 ? "AAB" : "AAA")
	$4 = sprintf("V001%s%022d", p, n[$3])
	sub(/2026-11-27/, "2026-11-26", $2)
	sub(/:20784/, ":20783", $1); print }' "$tmp/late2.csv" >"$tmp/late3.csv"
"$BIN"/terminal-sim replay --keep-ids --engine "$gws" --certs "$tmp/certs" \
    --ack-log "$tmp/acks.late3" "$tmp/late3.csv" 2>"$tmp/sim3.log" &&
    fail "no tap of a lesser second PAR refused (the test needs one)"
grep " refused: " "$tmp/sim3.log" >"$tmp/refused3" ||
    fail "replay late3: $(tail -n 2 "$tmp/sim3.log")"
grep -v " refused: par-on-other-shard$" "$tmp/refused3" &&
    fail "a second PAR's tap refused for another reason"
sed 's/^terminal-sim: tap \([^ ]*\) refused.*/\1/' "$tmp/refused3" |
    sort >"$tmp/refused3.ids"
awk -F, 'NR > 1 && $4 ~ /^V001AAB/ { print $1 }' "$tmp/late3.csv" |
    sort >"$tmp/aab.ids"
[ -s "$tmp/aab.ids" ] || fail "no lesser PAR on the other shard in late3"
cmp -s "$tmp/aab.ids" "$tmp/refused3.ids" || fail "refused: not the taps \
of a lesser PAR on the other shard: $(diff "$tmp/aab.ids" \
"$tmp/refused3.ids" | head -3)"
[ "$(($(wc -l <"$tmp/acks.late3") + $(wc -l <"$tmp/refused3.ids")))" -eq \
    "$(($(wc -l <"$tmp/late3.csv") - 1))" ] || fail "late3: not every tap answered"
[ "$(sqlite3 "$tmp/gw0.db" "SELECT count(*) FROM refused WHERE reason = \
'par-on-other-shard'")" -gt 0 ] || [ "$(sqlite3 "$tmp/gw1.db" "SELECT \
count(*) FROM refused WHERE reason = 'par-on-other-shard'")" -gt 0 ] ||
    fail "no par-on-other-shard refusal kept in a gateway's database"
cat "$tmp/acks.late3" >>"$tmp/acks"
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
# late3's refused taps are not the engine's: price goes without them.
awk -F, 'NR == FNR { r[$1]; next } FNR > 1 && !($1 in r)' \
    "$tmp/refused3.ids" "$tmp/late3.csv" >>"$tmp/all.csv"
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
# found under its PAR, on one shard, and its total is what price says
# (2 days: 2026-11-27, and 2026-11-26 when it showed a greater PAR).
pan=$(awk -F, '$4 == "V001LAT0000000000000000000001" { print $3; exit }' \
    "$tmp/late2.csv")
"$BIN"/fare-engine audit card "$tmp/shard0.db" "$tmp/shard1.db" --pan "$pan" \
    --tariff tariffs/nl >"$tmp/card" 2>&1 || fail "audit card: $(tail -n 2 "$tmp/card")"
cents=$(awk -F'|' '$1 == "par:V001LAT0000000000000000000001" { n += $3 }
    END { printf "€%d.%02d", n / 100, n % 100 }' "$tmp/want")
grep -q "^par:V001LAT0000000000000000000001: 2 days on 1 of 2 shards, $cents in all$" \
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
    "$(wc -l <"$tmp/refused3.ids") second-PAR taps refused on the other shard," \
    "$moved card(s) moved); deny list mirrored; per-shard checkpoints," \
    "audit operators and card over the shards agree"
