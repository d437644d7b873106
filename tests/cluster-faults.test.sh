#!/bin/sh
# Faults under load on the cluster (2 gateways, 2 workers, 3 JetStream
# nodes): while five days of tourists tap through both gateways, kill -9
# one nats-server node, one worker and one gateway at random moments,
# each twice (SEED to reproduce), and restart each.  Afterwards: every
# acknowledged tap stored exactly once across the shards, charges equal
# price, each shard's ledger sound.  Then a JetStream outage (all three
# nodes stopped): the gateways stop acknowledging, /healthz answers 503
# saying why, and everything flows again once the cluster is back.
set -u
BIN=${1:-bin}
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
. tests/cluster-lib.sh
e2e_init cluster-faults.test.sh
# KEEP=DIR keeps the run's files there (debugging).
[ -n "${KEEP:-}" ] && { tmp=$KEEP; rm -rf "$tmp"; mkdir -p "$tmp"; }
trap 'cl_cleanup; [ -n "${KEEP:-}" ] || e2e_cleanup' EXIT
base=$((20000 + ($$ + 97) % 200 * 50))
CLOCK=2026-11-30T01:00:00Z
SEED=${SEED:-$$}
TOURISTS=${CLUSTER_TOURISTS:-300}
echo "cluster-faults: SEED=$SEED"

cl_start || fail "the NATS cluster did not start"
"$BIN"/fare-engine certs init "$tmp/certs" >/dev/null || fail "certs init"
worker 0 2
worker 1 2
gateway 0 2 || fail "gateway 0 not healthy"
gateway 1 2 || fail "gateway 1 not healthy"
gws=$(gw_addr 0),$(gw_addr 1)

# rnd I N: the I-th seeded number, in 0..N-1 (I counted by the caller:
# $(rnd ...) runs in a subshell).
awk -v s="$SEED" 'BEGIN { srand(s); for (i = 0; i < 64; i++)
    print int(rand() * 1000000) }' >"$tmp/rnd"
rnd() {
	echo $(($(sed -n "${1}p" "$tmp/rnd") % $2))
}
ri=0

# The load: five days, one after the other, through both gateways.
(
	for d in 24 25 26 27 28; do
		"$BIN"/terminal-sim day --engine "$gws" --certs "$tmp/certs" \
		    --tourists "$TOURISTS" --seed 11 --date 2026-11-$d \
		    --taps-out "$tmp/day$d.csv" --ack-log "$tmp/acks$d" \
		    2>>"$tmp/sim.log" || echo "2026-11-$d" >>"$tmp/sim.failed"
	done
) &
sim=$!

# The faults: each kind twice, at seeded moments, each restarted.
for round in 1 2; do
	for what in node worker gateway; do
		ri=$((ri + 2))
		sleep "$(rnd $ri 15).$(rnd $((ri - 1)) 10)"
		case $what in
		node)
			ri=$((ri + 1))
			k=$(($(rnd $ri 3) + 1))
			sh tools/nats-cluster.sh kill "$tmp/nc" $k
			sleep 1
			sh tools/nats-cluster.sh up "$tmp/nc" $k ||
			    fail "node $k did not come back"
			;;
		worker)
			ri=$((ri + 1))
			k=$(rnd $ri 2)
			stop_pid "$tmp/w$k.pid" KILL
			worker $k 2
			;;
		gateway)
			ri=$((ri + 1))
			k=$(rnd $ri 2)
			stop_pid "$tmp/g$k.pid" KILL
			gateway $k 2 || fail "gateway $k did not come back"
			;;
		esac
		echo "cluster-faults: round $round: kill -9 $what $k, restarted"
	done
done
wait $sim
sim=
[ -f "$tmp/sim.failed" ] && fail "terminal-sim day failed on \
$(cat "$tmp/sim.failed"): $(tail -n 3 "$tmp/sim.log")"
cat "$tmp"/acks2? | cut -d' ' -f1 | sort -u >"$tmp/acked"
head -n 1 "$tmp/day24.csv" >"$tmp/all.csv"
for d in 24 25 26 27 28; do
	tail -n +2 "$tmp/day$d.csv" >>"$tmp/all.csv"
done
[ "$(wc -l <"$tmp/acked")" -eq $(($(wc -l <"$tmp/all.csv") - 1)) ] ||
    fail "$(wc -l <"$tmp/acked") of $(($(wc -l <"$tmp/all.csv") - 1)) taps acknowledged"
cl_check "$tmp/acked" "$tmp/all.csv"
echo "cluster-faults: $(wc -l <"$tmp/acked") taps under 6 kill -9 faults:" \
    "stored once, $(wc -l <"$tmp/want") account-days equal price, ledgers sound"

# The outage: all three nodes stopped while validators tap.
sh tools/nats-cluster.sh stop "$tmp/nc"
"$BIN"/terminal-sim day --engine "$gws" --certs "$tmp/certs" \
    --tourists 100 --seed 12 --date 2026-11-29 --taps-out "$tmp/day29.csv" \
    --ack-log "$tmp/acks29" --queue "$tmp/queue29" 2>>"$tmp/sim.log" &
sim=$!
_i=0
until curl -s "http://127.0.0.1:$((base + 31))/healthz" >"$tmp/health" \
    2>/dev/null && grep -q '"reason":"jetstream: ' "$tmp/health"; do
	_i=$((_i + 1))
	[ $_i -lt 600 ] || fail "gateway 0's /healthz does not say JetStream \
is failing: $(cat "$tmp/health")"
	sleep 0.1
done
code=$(curl -s -o /dev/null -w '%{http_code}' \
    "http://127.0.0.1:$((base + 31))/healthz")
[ "$code" = 503 ] || fail "/healthz answered $code during the outage"
# Taps reach both gateways and wait there (queued > 0 on each /healthz):
# the validators sent, and not one of them was acknowledged (the cluster
# went down before the day began).
for g in 0 1; do
	_i=0
	until curl -s "http://127.0.0.1:$((base + 31 + 2 * g))/healthz" \
	    >"$tmp/health$g" 2>/dev/null &&
	    ! grep -q '"queued":0[,}]' "$tmp/health$g" &&
	    grep -q '"queued":' "$tmp/health$g"; do
		_i=$((_i + 1))
		[ $_i -lt 600 ] || fail "no tap waiting at gateway $g during the \
outage: $(cat "$tmp/health$g")"
		sleep 0.1
	done
done
acked=$(cat "$tmp/acks29" 2>/dev/null | wc -l)
[ "$acked" -eq 0 ] || fail "$acked tap(s) acknowledged during the outage"
echo "cluster-faults: outage: /healthz 503: $(sed 's/.*"reason":"\([^"]*\)".*/\1/' "$tmp/health")"
# Back: the same data directories.
for k in 1 2 3; do
	sh tools/nats-cluster.sh up "$tmp/nc" $k >/dev/null 2>&1 &
done
wait_healthy $((base + 31)) || true
_i=0
until ! kill -0 $sim 2>/dev/null; do
	_i=$((_i + 1))
	[ $_i -lt 1800 ] || fail "the validators' queues did not drain \
within 180 s of the cluster's return"
	sleep 0.1
done
wait $sim || fail "terminal-sim day after the outage: $(tail -n 3 "$tmp/sim.log")"
sim=
cat "$tmp"/acks2? | cut -d' ' -f1 | sort -u >"$tmp/acked"
tail -n +2 "$tmp/day29.csv" >>"$tmp/all.csv"
cl_check "$tmp/acked" "$tmp/all.csv"
echo "cluster-faults: after the outage: $(wc -l <"$tmp/acked") taps stored" \
    "once, charges equal price, ledgers sound"
