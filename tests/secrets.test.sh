#!/bin/sh
# Issue 16 items 7 and 8, "secrets and files" and "crash dumps": outside
# --dev the engine refuses the published development key and key files
# others can read; it creates its database, WAL and SHM 0600 and runs
# with core dumps off; certs writes keys 0600 through files no one can
# plant, refuses to replace a CA without --force, and takes device ids,
# never paths.
set -eu
. tests/lib.sh
BIN=${1:-bin}
FE=$BIN/fare-engine
e2e_init secrets 10
port=$((27000 + $$ % 1000 * 2))
mode() { stat -c %a "$1"; }
serve() {
	"$FE" serve --certs "$tmp/certs" --tariff ../shared/examples/mini \
	    --db "$tmp/engine.db" --listen 127.0.0.1:$port \
	    --http 127.0.0.1:$((port + 1)) "$@"
}

# certs: a planted temporary file or link is never written through.
mkdir -m 700 "$tmp/certs"
touch "$tmp/certs/ca.key.tmp" && chmod 666 "$tmp/certs/ca.key.tmp"
ln -s "$tmp/elsewhere" "$tmp/certs/engine.key.tmp"
"$FE" certs init "$tmp/certs" >/dev/null
for k in ca.key engine.key acquirer.key; do
	[ "$(mode "$tmp/certs/$k")" = 600 ] || fail "$k is $(mode "$tmp/certs/$k")"
done
[ ! -s "$tmp/certs/ca.key.tmp" ] || fail "the key was written into a planted file"
[ ! -e "$tmp/elsewhere" ] || fail "the key was written through a planted link"
# An existing CA is kept unless --force.
sum=$(md5sum <"$tmp/certs/ca.crt")
if "$FE" certs init "$tmp/certs" 2>"$tmp/init.err"; then
	fail "certs init replaced an existing CA"
fi
grep -q "already exists" "$tmp/init.err" || fail "no reason: $(cat "$tmp/init.err")"
[ "$(md5sum <"$tmp/certs/ca.crt")" = "$sum" ] || fail "the CA changed"
# Device ids, never paths.
crl=$(md5sum <"$tmp/certs/crl.pem")
for id in ../engine ../../etc/x "a/b" ""; do
	if "$FE" certs revoke "$tmp/certs" "$id" 2>/dev/null ||
	    "$FE" certs device "$tmp/certs" "$id" >/dev/null 2>&1; then
		fail "device id '$id' accepted"
	fi
done
[ "$(md5sum <"$tmp/certs/crl.pem")" = "$crl" ] || fail "the CRL changed"

# serve outside --dev: the development key, and readable key files.
printf 'onecity-dev-token-key\n' >"$tmp/dev.key"
chmod 600 "$tmp/dev.key"
if serve --token-key-file "$tmp/dev.key" 2>"$tmp/e1.log"; then
	fail "serve ran on the development key"
fi
grep -q "published development key" "$tmp/e1.log" || fail "$(cat "$tmp/e1.log")"
head -c 32 /dev/urandom | base64 >"$tmp/token.key"
chmod 640 "$tmp/token.key"
if serve --token-key-file "$tmp/token.key" 2>"$tmp/e2.log"; then
	fail "serve ran on a group-readable key"
fi
grep -q "mode 0640 lets its group read a secret key" "$tmp/e2.log" ||
    fail "$(cat "$tmp/e2.log")"
chmod 600 "$tmp/token.key"
chmod 644 "$tmp/certs/engine.key"
if serve --token-key-file "$tmp/token.key" 2>"$tmp/e3.log"; then
	fail "serve ran with a world-readable TLS key"
fi
grep -q "engine.key: mode 0644 lets everyone read" "$tmp/e3.log" ||
    fail "$(cat "$tmp/e3.log")"
chmod 600 "$tmp/certs/engine.key"
[ ! -e "$tmp/engine.db" ] || fail "a refused start created the database"

# A cluster worker (issue 19) holds a shard's database and the token key
# as serve does: the same checks (no NATS needed to see them).
worker() {
	"$FE" worker --nats nats://127.0.0.1:1 --shard 0 --shards 1 \
	    --tariff ../shared/examples/mini "$@"
}
(umask 022 && worker --db "$tmp/shard.db") 2>/dev/null || true
[ "$(mode "$tmp/shard.db")" = 600 ] ||
    fail "the worker made its database $(mode "$tmp/shard.db") (umask 022)"
chmod 644 "$tmp/token.key"
worker --db "$tmp/shard1.db" --token-key-file "$tmp/token.key" \
    --acquirer 127.0.0.1:1 --certs "$tmp/certs" 2>"$tmp/w1.log" || true
grep -q "mode 0644 lets everyone read a secret key" "$tmp/w1.log" ||
    fail "the worker took a world-readable key: $(cat "$tmp/w1.log")"
chmod 600 "$tmp/token.key"
worker --db "$tmp/shard2.db" --token-key-file "$tmp/dev.key" \
    --acquirer 127.0.0.1:1 --certs "$tmp/certs" 2>"$tmp/w2.log" || true
grep -q "published development key" "$tmp/w2.log" ||
    fail "the worker took the development key: $(cat "$tmp/w2.log")"
# ... and its ledger key (the shard's signed checkpoints) as serve does.
"$FE" audit keygen "$tmp/ledger.key" >/dev/null || fail "audit keygen"
chmod 644 "$tmp/ledger.key"
worker --db "$tmp/shard3.db" --ledger-key-file "$tmp/ledger.key" \
    --checkpoint-file "$tmp/cp" 2>"$tmp/w3.log" || true
grep -q "ledger.key: mode 0644 lets everyone read a secret key" \
    "$tmp/w3.log" ||
    fail "the worker took a world-readable ledger key: $(cat "$tmp/w3.log")"
chmod 600 "$tmp/ledger.key"
worker --db "$tmp/shard4.db" --ledger-key-file "$tmp/ledger.key" \
    --checkpoint-file "$tmp/cp" 2>"$tmp/w4.log" || true
grep -q "mode 0.* lets" "$tmp/w4.log" &&
    fail "the worker refused a 0600 ledger key: $(cat "$tmp/w4.log")"
grep -q "cannot connect to NATS" "$tmp/w4.log" ||
    fail "the worker with a 0600 ledger key: $(cat "$tmp/w4.log")"

# A good start: files 0600, no core dumps, the CA key warned about.  The
# engine runs without capabilities (setpriv), as a plain user would, so
# that whether it is dumpable shows: a process of the same user and
# capabilities may read a dumpable process's /proc/PID/environ, not an
# undumpable one's.
(umask 022 && exec setpriv --bounding-set=-all --inh-caps=-all "$FE" serve \
    --certs "$tmp/certs" --tariff ../shared/examples/mini \
    --db "$tmp/engine.db" --listen 127.0.0.1:$port \
    --http 127.0.0.1:$((port + 1)) --token-key-file "$tmp/token.key") \
    2>"$tmp/engine.log" &
pid=$!
wait_healthy $((port + 1)) || fail "no engine"
printf 'tap_id,time,card,par,network_id,stop_id,kind\nt:1,%s,4111111111111111,,CITY,C,in\n' \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$tmp/taps.csv"
"$BIN"/terminal-sim replay --engine 127.0.0.1:$port --certs "$tmp/certs" \
    "$tmp/taps.csv" 2>"$tmp/sim.log" || fail "replay: $(cat "$tmp/sim.log")"
for f in engine.db engine.db-wal engine.db-shm; do
	[ -e "$tmp/$f" ] || fail "no $f"
	[ "$(mode "$tmp/$f")" = 600 ] || fail "$f is $(mode "$tmp/$f") (umask 022 outside)"
done
grep -q "^Max core file size *0 *0 " /proc/"$pid"/limits ||
    fail "core dumps not off: $(grep core /proc/"$pid"/limits)"
if setpriv --bounding-set=-all --inh-caps=-all head -c 1 \
    /proc/"$pid"/environ >/dev/null 2>&1; then
	fail "the engine is dumpable (PR_SET_DUMPABLE)"
fi
grep -q "keep the CA key offline" "$tmp/engine.log" || fail "no CA key warning"
# A backup is the database too: 0600 whatever the umask, and never
# written through a planted temporary link.
ln -s "$tmp/elsewhere.db" "$tmp/backup.db.tmp"
(umask 022 && "$FE" backup "$tmp/engine.db" "$tmp/backup.db" >/dev/null) ||
    fail "backup failed"
[ "$(mode "$tmp/backup.db")" = 600 ] ||
    fail "backup.db is $(mode "$tmp/backup.db") (umask 022)"
[ ! -e "$tmp/elsewhere.db" ] || fail "the backup was written through a planted link"
echo "secrets: dev key and readable keys refused, files 0600, keys never" \
    "written through planted files, CA kept without --force, ids not paths," \
    "core dumps off"
