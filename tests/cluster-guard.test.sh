#!/bin/sh
# An operator's mistakes on the cluster, each refused at start with a
# message that names it, before any tap is taken: a gateway or worker
# started with another --shards than the cluster's (the bucket `layout`
# records it; --reshard changes it); a worker on another shard's
# database (table shard_identity); a second worker on a database in use
# (flock); a new, empty database under a consumer that has acknowledged
# taps (the shard would start in the middle of its history), and
# --rebuild, which prices the shard again from the stream's start; a
# worker whose database is deleted while it runs stops (exit 1); and
# audit verify names a card with taps on two shards, a database that is
# not a shard (a gateway's) and a shard missing.
set -u
BIN=${1:-bin}
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
. tests/cluster-lib.sh
e2e_init cluster-guard.test.sh
trap 'cl_cleanup; [ -n "${KEEP:-}" ] || e2e_cleanup' EXIT
[ -n "${KEEP:-}" ] && { tmp=$KEEP; rm -rf "$tmp"; mkdir -p "$tmp"; }
base=$((24000 + $$ % 150 * 50))
CLOCK=2026-11-29T01:00:00Z

# refused LOG WHAT CMD...: CMD exits non-zero within 60 s and LOG says WHAT.
refused() {
	_log=$1 _what=$2
	shift 2
	"$@" 2>"$_log" &
	_p=$!
	_i=0
	while kill -0 $_p 2>/dev/null && [ $_i -lt 600 ]; do
		_i=$((_i + 1))
		sleep 0.1
	done
	if kill -0 $_p 2>/dev/null; then
		kill -KILL $_p
		fail "$*: still running, not refused ($_what)"
	fi
	wait $_p && fail "$*: exit 0, not refused ($_what)"
	grep -q "$_what" "$_log" || fail "$*: not refused for '$_what': \
$(grep -v '^tariffs' "$_log" | tail -n 2)"
}

cl_start || fail "the NATS cluster did not start"
"$BIN"/fare-engine certs init "$tmp/certs" >/dev/null || fail "certs init"
worker 0 2
worker 1 2
gateway 0 2 || fail "gateway 0 not healthy: $(tail -n 2 "$tmp/g0.log")"
"$BIN"/terminal-sim day --engine "$(gw_addr 0)" --certs "$tmp/certs" \
    --tourists 20 --seed 5 --date 2026-11-28 --taps-out "$tmp/day.csv" \
    --ack-log "$tmp/acks" 2>"$tmp/sim.log" ||
    fail "terminal-sim day: $(tail -n 2 "$tmp/sim.log")"
n=$(cut -d' ' -f1 "$tmp/acks" | sort -u | wc -l)
wait_stored "$n" || fail "acknowledged taps not stored"

# 0. audit verify names a card with taps on two shards (a card that
# showed a second PAR: README): here a copy of shard 0's taps under
# other tap_ids and no charges, as a second shard.
sqlite3 "$tmp/shard0.db" ".backup '$tmp/copy.db'" || fail "sqlite3 .backup"
sqlite3 "$tmp/copy.db" "UPDATE taps SET tap_id = 'x' || tap_id; DELETE FROM \
    charges" || fail "cannot edit the copy"
card=$(sqlite3 "$tmp/shard0.db" "SELECT token FROM taps LIMIT 1")
"$BIN"/fare-engine audit verify "$tmp/shard0.db" "$tmp/copy.db" \
    >"$tmp/verify" 2>&1 && fail "audit verify missed a card on two shards"
grep -q "^card $card priced on 2 shards$" "$tmp/verify" ||
    fail "audit verify did not name the card on two shards: \
$(tail -n 3 "$tmp/verify")"
rm -f "$tmp/copy.db"
# ... and a set of databases that is not the cluster's shards: a
# gateway's database among them, a shard missing.
"$BIN"/fare-engine audit verify "$tmp/shard0.db" "$tmp/gw0.db" \
    >"$tmp/verify" 2>&1 && fail "audit verify took a gateway's database for a shard"
grep -q "gw0.db: not a worker's shard database" "$tmp/verify" &&
    grep -q "^shard 1 of 2 not given" "$tmp/verify" ||
    fail "audit verify did not name the gateway's database and the missing \
shard: $(tail -n 3 "$tmp/verify")"
"$BIN"/fare-engine audit verify "$tmp/shard0.db" "$tmp/shard1.db" \
    >"$tmp/verify" 2>&1 || fail "audit verify over both shards: \
$(tail -n 3 "$tmp/verify")"

# 1. Another number of shards: a gateway and a worker.
refused "$tmp/g9.log" "the cluster has 2 shard(s)" \
    "$BIN"/fare-engine serve --dev --clock "$CLOCK" --certs "$tmp/certs" \
    --tariff tariffs/nl --db "$tmp/gw9.db" --listen 127.0.0.1:$((base + 40)) \
    --nats "$urls" --shards 3
refused "$tmp/w9.log" "the cluster has 2 shard(s)" \
    "$BIN"/fare-engine worker --nats "$urls" --shard 2 --shards 3 \
    --db "$tmp/shard2.db" --tariff tariffs/nl --clock "$CLOCK"

# 2. A second worker on a database in use.
refused "$tmp/w8.log" "another worker has this shard's database open" \
    "$BIN"/fare-engine worker --nats "$urls" --shard 0 --shards 2 \
    --db "$tmp/shard0.db" --tariff tariffs/nl --clock "$CLOCK"

# 3. Shard 1's database under --shard 0.
stop_pid "$tmp/w1.pid"
refused "$tmp/w7.log" "holds shard 1 of 2" \
    "$BIN"/fare-engine worker --nats "$urls" --shard 0 --shards 2 \
    --db "$tmp/shard1.db" --tariff tariffs/nl --clock "$CLOCK"

# 4. Shard 1's database lost: a new one under the same consumer is
# refused; --rebuild prices the shard again from the stream, whole.
want=$(sqlite3 "$tmp/shard1.db" "SELECT count(*) FROM taps")
[ "$want" -gt 0 ] || fail "shard 1 holds no taps"
db_charges "$tmp/shard1.db" >"$tmp/charges1"
mv "$tmp/shard1.db" "$tmp/shard1.lost"
rm -f "$tmp/shard1.db-wal" "$tmp/shard1.db-shm"
: >"$tmp/w1.log"
refused "$tmp/w6.log" "is a new database, but consumer worker-1" \
    "$BIN"/fare-engine worker --nats "$urls" --shard 1 --shards 2 \
    --db "$tmp/shard1.db" --tariff tariffs/nl --clock "$CLOCK"
rm -f "$tmp/shard1.db" "$tmp/shard1.db-wal" "$tmp/shard1.db-shm"
worker 1 2 --rebuild
_i=0
until grep -q 'event=worker_started' "$tmp/w1.log"; do
	_i=$((_i + 1))
	[ $_i -lt 600 ] || fail "--rebuild: $(grep -v '^tariffs' "$tmp/w1.log" | tail -n 2)"
	sleep 0.1
done
_i=0
until [ "$(sqlite3 "$tmp/shard1.db" "SELECT count(*) FROM taps" \
    2>/dev/null)" = "$want" ]; do
	_i=$((_i + 1))
	[ $_i -lt 1200 ] || fail "--rebuild: $(sqlite3 "$tmp/shard1.db" \
	    "SELECT count(*) FROM taps") of $want taps after 120 s"
	sleep 0.1
done
db_charges "$tmp/shard1.db" | cmp -s - "$tmp/charges1" ||
    fail "--rebuild: charges differ from the lost database's"
stop_pid "$tmp/w1.pid"
refused "$tmp/w5.log" "is not new" \
    "$BIN"/fare-engine worker --nats "$urls" --shard 1 --shards 2 \
    --db "$tmp/shard1.db" --tariff tariffs/nl --clock "$CLOCK" --rebuild

# 5. A database deleted under a running worker: it stops, exit 1.
: >"$tmp/w1.log"
worker 1 2
_i=0
until grep -q 'event=worker_started' "$tmp/w1.log"; do
	_i=$((_i + 1))
	[ $_i -lt 600 ] || fail "worker 1 did not start again"
	sleep 0.1
done
wpid=$(cat "$tmp/w1.pid")
rm -f "$tmp/shard1.db"
_i=0
while kill -0 "$wpid" 2>/dev/null; do
	_i=$((_i + 1))
	[ $_i -lt 300 ] || fail "worker 1 runs on with its database deleted"
	sleep 0.1
done
wait "$wpid"
[ $? -eq 1 ] || fail "worker 1 stopped with its database deleted, not exit 1"
grep -q 'event=database_deleted' "$tmp/w1.log" ||
    fail "worker 1 did not say its database was deleted"
rm -f "$tmp/w1.pid"

# 6. --reshard (stopped gateways and workers, new databases): records
# another number, from the stream's next sequence on: the new consumer
# reads none of the old layout's taps; the old number is refused then.
stop_pid "$tmp/w0.pid"
stop_pid "$tmp/g0.pid"
"$BIN"/fare-engine worker --nats "$urls" --shard 0 --shards 3 --reshard \
    --db "$tmp/new0.db" --tariff tariffs/nl --clock "$CLOCK" \
    2>"$tmp/w4.log" &
echo $! >"$tmp/w4.pid"
_i=0
until grep -q 'event=worker_started' "$tmp/w4.log"; do
	_i=$((_i + 1))
	[ $_i -lt 600 ] || fail "--reshard: $(grep -v '^tariffs' "$tmp/w4.log" | tail -n 2)"
	sleep 0.1
done
pending=$(curl -s "http://127.0.0.1:$((base + 21))/jsz?consumers=true" |
    awk '/"name": "worker-0"/ { f = 1 }
	f && /"num_pending":/ { gsub(/[^0-9]/, ""); print; exit }')
[ "$pending" = 0 ] || fail "--reshard: the new consumer has '$pending' old taps pending"
refused "$tmp/g8.log" "the cluster has 3 shard(s)" \
    "$BIN"/fare-engine serve --dev --clock "$CLOCK" --certs "$tmp/certs" \
    --tariff tariffs/nl --db "$tmp/gw8.db" --listen 127.0.0.1:$((base + 40)) \
    --nats "$urls" --shards 2
stop_pid "$tmp/w4.pid"
echo "cluster-guard: other --shards, another shard's database, a database" \
    "in use, a lost database refused; --rebuild restored $want taps; a" \
    "deleted database stops its worker; --reshard recorded"
