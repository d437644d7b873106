#!/bin/sh
# End to end over loopback mutual TLS: certs init, serve, replay the worked
# examples, then v_charges must equal `fare-engine price` for every
# account-day (the engine's clock is set after the taps, so no leg is
# still open), and every acknowledged tap is in v_taps exactly once.
set -eu
. tests/lib.sh
BIN=${1:-bin}
FE=$BIN/fare-engine
SIM=$BIN/terminal-sim
EX=../shared/examples
e2e_init e2e 20

"$FE" certs init "$tmp/certs" >/dev/null
port=$((10000 + $$ % 2000 * 2))
# mini again, shuffled, with ten more duplicate rows, over reconnects.
mkdir -p "$tmp/mini-dup"
cp "$EX"/mini/*.txt "$tmp/mini-dup/"
{ cat "$EX/mini/taps.csv"; sed -n '2,11p' "$EX/mini/taps.csv"; } \
    >"$tmp/mini-dup/taps.csv"
for ex in mini week mini-dup; do
	db=$tmp/$ex.db
	dir=$EX/$ex
	opts=
	if [ $ex = mini-dup ]; then
		dir=$tmp/mini-dup
		opts="--shuffle 7 --reconnect-every 4"
	fi
	"$FE" serve --dev --clock 2027-06-01T00:00:00Z --certs "$tmp/certs" \
	    --tariff "$dir" --db "$db" --listen 127.0.0.1:$port \
	    --http 127.0.0.1:$((port + 1)) 2>"$tmp/engine.log" &
	pid=$!
	wait_healthy $((port + 1)) || fail "engine did not come up"
	# shellcheck disable=SC2086
	"$SIM" replay --engine 127.0.0.1:$port --certs "$tmp/certs" $opts \
	    --ack-log "$tmp/$ex.acks" "$dir/taps.csv" 2>"$tmp/sim.log" ||
	    fail "replay of $ex failed: $(cat "$tmp/sim.log")"
	if [ $ex = mini-dup ]; then
		n=$(grep -c reconnecting "$tmp/sim.log" || true)
		[ "$n" -ge 3 ] || fail "mini-dup: only $n reconnects"
	fi
	# SIGHUP reloads the CRL and the tariff without dropping anything.
	kill -HUP "$pid"
	i=0
	until grep -q "event=tariff_reloaded" "$tmp/engine.log"; do
		i=$((i + 1))
		[ $i -lt 100 ] || fail "no reload after SIGHUP"
		sleep 0.05
	done
	grep -q "event=crl_reloaded" "$tmp/engine.log" || fail "CRL not reloaded"
	kill -TERM "$pid"
	wait "$pid" || fail "engine did not stop cleanly"
	pid=
	grep -q "^<5>.* event=stopped" "$tmp/engine.log" || fail "no clean stop"
	if [ $ex = mini ]; then
		# A restart carries on: the same taps again are resends.
		"$FE" serve --dev --clock 2027-06-01T00:00:00Z --certs \
		    "$tmp/certs" --tariff "$dir" --db "$db" \
		    --listen 127.0.0.1:$port 2>>"$tmp/engine.log" &
		pid=$!
		i=0
		until "$SIM" replay --engine 127.0.0.1:$port --certs \
		    "$tmp/certs" "$dir/taps.csv" 2>"$tmp/sim.log"; do
			i=$((i + 1))
			grep -q "cannot connect" "$tmp/sim.log" && [ $i -lt 50 ] ||
			    fail "replay after restart: $(cat "$tmp/sim.log")"
			sleep 0.1
		done
		kill -TERM "$pid"
		wait "$pid" || fail "engine did not stop cleanly after restart"
		pid=
	fi
	price_charges "$FE" "$dir" "$dir/taps.csv" >"$tmp/want"
	db_charges "$db" >"$tmp/got"
	cmp -s "$tmp/want" "$tmp/got" ||
	    fail "$ex: v_charges differs from price: $(diff "$tmp/want" "$tmp/got")"
	# Acknowledged taps are stored exactly once.
	acked=$(cut -d' ' -f1 "$tmp/$ex.acks" | sort -u | wc -l)
	stored=$(sqlite3 "$db" "SELECT count(*) FROM v_taps")
	[ "$acked" = "$stored" ] || fail "$ex: $acked acked, $stored stored"
	# Operator revenue adds up to the charges, day by day.
	bad=$(sqlite3 "$db" "SELECT count(*) FROM (SELECT service_day,
	    sum(charge_cents) c FROM v_charges GROUP BY service_day) ch
	    LEFT JOIN (SELECT service_day, sum(revenue_cents) r FROM
	    v_operator_revenue GROUP BY service_day) rv USING (service_day)
	    WHERE coalesce(r, 0) != c")
	[ "$bad" = 0 ] || fail "$ex: revenue does not add up on $bad days"
	# The ledger is sound, and tampering is found.
	"$FE" audit verify "$db" >"$tmp/verify" || fail "$ex: $(cat "$tmp/verify")"
	if sqlite3 "$db" "UPDATE ledger SET amount_cents = 0" 2>/dev/null; then
		fail "$ex: the ledger accepted an UPDATE"
	fi
	cp "$db" "$tmp/tampered.db"
	sqlite3 "$tmp/tampered.db" "DROP TRIGGER ledger_no_update;
	    UPDATE ledger SET amount_cents = amount_cents + 1 WHERE entry_id = 2"
	if "$FE" audit verify "$tmp/tampered.db" >"$tmp/verify"; then
		fail "$ex: audit verify missed an altered entry"
	fi
	grep -q "entry 2: hash mismatch" "$tmp/verify" ||
	    fail "$ex: audit verify did not name entry 2: $(cat "$tmp/verify")"
	# One entry deleted: the gap and the broken chain are named.
	cp "$db" "$tmp/tampered.db"
	sqlite3 "$tmp/tampered.db" "DROP TRIGGER ledger_no_delete;
	    DELETE FROM ledger WHERE entry_id = 3"
	if "$FE" audit verify "$tmp/tampered.db" >"$tmp/verify"; then
		fail "$ex: audit verify missed a deleted entry"
	fi
	grep -q "entry 4: expected entry 3" "$tmp/verify" ||
	    fail "$ex: audit verify did not name the gap: $(cat "$tmp/verify")"
	# Two entries swapped (reordered): named too.
	cp "$db" "$tmp/tampered.db"
	sqlite3 "$tmp/tampered.db" "DROP TRIGGER ledger_no_update;
	    UPDATE ledger SET entry_id = -1 WHERE entry_id = 3;
	    UPDATE ledger SET entry_id = 3 WHERE entry_id = 4;
	    UPDATE ledger SET entry_id = 4 WHERE entry_id = -1"
	if "$FE" audit verify "$tmp/tampered.db" >"$tmp/verify"; then
		fail "$ex: audit verify missed two swapped entries"
	fi
	grep -q "entry 3: prev_hash does not match" "$tmp/verify" ||
	    fail "$ex: audit verify did not name the swap: $(cat "$tmp/verify")"
	# No PAN anywhere in the database.
	if sqlite3 "$db" .dump | grep -Eq '4111111111111111|5555555555554444|4000056655665556'; then
		fail "$ex: a PAN reached the database"
	fi
done
exit 0
