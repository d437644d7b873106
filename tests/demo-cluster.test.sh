#!/bin/sh
# `make demo-cluster` on a small day: tools/demo.sh with DEMO_DEPLOY=cluster
# runs the tourists' two days through 2 gateways and 2 workers on a 3-node
# JetStream cluster and must pass the embedded demo's own cross-checks
# (charges equal price, every acknowledged tap stored once, the ledgers
# and each shard's checkpoints sound, the settlements reconciled with the
# acquirer's reports across the shards).
set -eu
. tests/lib.sh
BIN=${1:-bin}
e2e_init demo-cluster
DEMO_DIR=$tmp/demo DEMO_TOURISTS=150 DEMO_DEPLOY=cluster sh tools/demo.sh \
    "$BIN" >"$tmp/stdout" 2>"$tmp/stderr" ||
    fail "the demo failed: $(tail -n 5 "$tmp/stdout") $(tail -n 3 "$tmp/stderr")"
for want in "every charge of 2026-11-28 on the shards equals fare-engine price" \
    "acknowledged taps stored once" \
    "2 shards: all sound; no tap, no account and no card on two shards; each shard's checkpoints hold" \
    "/shards: reconciled: " "mirrored by both gateways"; do
	grep -qF "$want" "$tmp/stdout" ||
	    fail "the demo did not print '$want': $(tail -n 5 "$tmp/stdout")"
done
# Both shards priced and settled some of the day.
for k in 0 1; do
	n=$(sqlite3 "$tmp/demo/shard$k.db" "SELECT count(*) FROM settlements")
	[ "$n" -gt 0 ] || fail "shard $k settled nothing"
done
echo "demo-cluster: $(grep -o 'all [0-9]* acknowledged taps stored once' "$tmp/stdout");" \
    "$(grep -o 'reconciled: [0-9]* settlements' "$tmp/stdout") across 2 shards"
