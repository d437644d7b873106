#!/bin/sh
# Proof against an insider (SPEC §6): forgeries made as someone with write
# access to the database file would make them (sqlite3 edits, the
# append-only triggers dropped and the hash chain recomputed with
# bin/ledger-forge), each caught by what the issue says catches it, with
# the exact words; and an untouched database with its checkpoints passes.
#
# The history: two days of 60 visitors on tariffs/nl (terminal-sim day)
# plus three riders on two validators of our own, settled with the
# acquirer simulator (which writes its settlement reports), the engine
# signing a checkpoint at every day close.
set -eu
. tests/lib.sh
BIN=${1:-bin}
FE=$BIN/fare-engine
SIM=$BIN/terminal-sim
FORGE=$BIN/ledger-forge
T=tariffs/nl
D1=2026-11-24
D2=2026-11-25
e2e_init forgery
port=$((30400 + $$ % 300 * 6))
# until_q DB SQL VALUE: wait (at most 60 s) until the query gives VALUE.
until_q() {
	_n=0
	until [ "$(sqlite3 "$1" "$2")" = "$3" ]; do
		_n=$((_n + 1))
		[ $_n -lt 600 ] || fail "waited for: $2 = $3 (is $(sqlite3 "$1" "$2"))"
		sleep 0.1
	done
}
# lines FILE: its number of lines (0 when missing).
lines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }

"$FE" certs init "$tmp/certs" >/dev/null
"$FE" audit keygen "$tmp/ledger.key" >"$tmp/keygen" || fail "keygen failed"
[ "$(stat -c %a "$tmp/ledger.key")" = 600 ] || fail "ledger key not 0600"
if "$FE" audit keygen "$tmp/ledger.key" 2>"$tmp/err"; then
	fail "keygen overwrote a key"
fi
grep -q "exists already" "$tmp/err" || fail "keygen: $(cat "$tmp/err")"
ln -s "$tmp/nowhere" "$tmp/link.key"
if "$FE" audit keygen "$tmp/link.key" 2>/dev/null; then
	fail "keygen followed a symbolic link"
fi

# Three riders on two validators of our own: the victim's leg sits in the
# middle of both validators' sequences.
cat >"$tmp/own.csv" <<EOF
tap_id,time,card,par,network_id,stop_id,kind
fg-asd.ns:1,${D1}T09:00:00Z,5555555555554444,,NS,asd,in
fg-asd.ns:2,${D1}T09:05:00Z,4111111111111111,,NS,asd,in
fg-asd.ns:3,${D1}T09:10:00Z,4000056655665556,,NS,asd,in
fg-asdz.ns:1,${D1}T09:20:00Z,5555555555554444,,NS,asdz,out
fg-asdz.ns:2,${D1}T09:25:00Z,4111111111111111,,NS,asdz,out
fg-asdz.ns:3,${D1}T09:30:00Z,4000056655665556,,NS,asdz,out
EOF

# serve DB CLOCK ACQ_PORT [ARGS]: the engine on DB at CLOCK, settling with
# the acquirer on ACQ_PORT.
serve() {
	_db=$1 _clock=$2 _acq=$3
	shift 3
	"$FE" serve --dev --clock "$_clock" --certs "$tmp/certs" --tariff "$T" \
	    --db "$_db" --listen 127.0.0.1:$port --http 127.0.0.1:$((port + 1)) \
	    --acquirer 127.0.0.1:$_acq --settle-interval 1 "$@" \
	    2>>"$tmp/engine.log" &
	pid=$!
	wait_healthy $((port + 1)) || fail "engine did not start"
}
stop() {
	kill -TERM "$pid"
	wait "$pid" || fail "engine did not stop cleanly"
	pid=
}
# settled DB DAY: wait until DAY is closed and every charge of it settled.
settled() {
	until_q "$1" "SELECT count(*) > 0 FROM charges WHERE posted = 1 AND
	    service_day = '$2'" 1
	until_q "$1" "SELECT count(*) FROM charges c WHERE service_day = '$2'
	    AND charge_cents != coalesce((SELECT sum(amount_cents) FROM
	    settlements s WHERE s.account = c.account AND s.service_day =
	    c.service_day AND s.state = 'approved'), 0)" 0
	until_q "$1" "SELECT count(*) FROM settlements WHERE state = 'pending'" 0
}
# history DB ACQ_PORT TAPS1 TAPS2 [SERVE ARGS]: day 1 sent in the evening,
# closed and settled the next evening before day 2 is sent, day 2 closed
# and settled the morning after.
history() {
	_h=$1 _a=$2 _t1=$3 _t2=$4
	shift 4
	serve "$_h" ${D1}T21:00:00Z "$_a" "$@"
	"$SIM" replay --keep-ids --engine 127.0.0.1:$port --certs "$tmp/certs" \
	    "$_t1" 2>>"$tmp/sim.log" || fail "replay $_t1: $(tail -2 "$tmp/sim.log")"
	stop
	serve "$_h" ${D2}T21:00:00Z "$_a" "$@"
	settled "$_h" $D1
	"$SIM" replay --keep-ids --engine 127.0.0.1:$port --certs "$tmp/certs" \
	    "$_t2" 2>>"$tmp/sim.log" || fail "replay $_t2: $(tail -2 "$tmp/sim.log")"
	stop
	serve "$_h" 2026-11-26T09:00:00Z "$_a" "$@"
	settled "$_h" $D2
	stop
}

# The taps of both days (the same visitors), as the validators log them.
for d in $D1 $D2; do
	"$SIM" day --generate-only --tourists 60 --seed 15 --date $d \
	    --taps-out "$tmp/day-$d.csv" --engine 127.0.0.1:1 \
	    --certs "$tmp/certs" 2>>"$tmp/sim.log" || fail "day $d"
done
{ cat "$tmp/day-$D1.csv"; tail -n +2 "$tmp/own.csv"; } >"$tmp/t1.csv"

mkdir "$tmp/reports"
"$SIM" acquirer --listen 127.0.0.1:$((port + 2)) --journal "$tmp/acq.journal" \
    --certs "$tmp/certs" \
    --report-dir "$tmp/reports" >/dev/null 2>"$tmp/acq.log" &
apid=$!
DB=$tmp/engine.db
history "$DB" $((port + 2)) "$tmp/t1.csv" "$tmp/day-$D2.csv" \
    --ledger-key-file "$tmp/ledger.key" --checkpoint-file "$tmp/checkpoints"
[ "$(lines "$tmp/checkpoints")" = 3 ] ||
    fail "expected 3 checkpoints (one per start, at each close): $(cat "$tmp/checkpoints")"
grep -q "event=checkpoint_signed closed_through=$D1 " "$tmp/engine.log" ||
    fail "no checkpoint at the close of $D1"
# The acquirer's and the auditor's copy: the engine's, and one signed on
# demand after the last settlement.
cp "$tmp/checkpoints" "$tmp/copy"
"$FE" audit checkpoint "$DB" --key "$tmp/ledger.key" >>"$tmp/copy" ||
    fail "audit checkpoint"
[ "$(lines "$tmp/copy")" = 4 ] || fail "audit checkpoint printed no line"
kill -TERM "$apid"
wait "$apid" || true
apid=
CP="--checkpoints $tmp/copy --pubkey $tmp/ledger.key.pub"

# verify_fails NAME DB [ARGS]: audit verify must exit 1; its output in
# $tmp/NAME.out.
verify_fails() {
	_name=$1 _db=$2
	shift 2
	if "$FE" audit verify "$_db" "$@" >"$tmp/$_name.out" 2>&1; then
		fail "$_name: audit verify passed: $(cat "$tmp/$_name.out")"
	fi
}
# expect NAME TEXT: the output of NAME says TEXT.
expect() {
	grep -qF -- "$2" "$tmp/$1.out" ||
	    fail "$1: no '$2' in: $(head -5 "$tmp/$1.out")"
}
q() { sqlite3 "$DB" "$1"; }

# 0. Untouched, with its checkpoints: sound, and reconciled.
"$FE" audit verify "$DB" $CP >"$tmp/clean.out" || fail "untouched: $(cat "$tmp/clean.out")"
expect clean "ledger sound"
expect clean "4 checkpoints signed by ledger key"
grep -q "^warning:" "$tmp/clean.out" && fail "untouched: $(grep warning "$tmp/clean.out")"
repriced=$(sed -n 's/.*; \([0-9]*\) closed account-days repriced.*/\1/p' "$tmp/clean.out")
closed=$(q "SELECT count(*) FROM charges WHERE posted = 1")
[ "$repriced" = "$closed" ] || fail "untouched: $repriced of $closed closed days repriced"
"$FE" audit reconcile "$DB" "$tmp"/reports/*.csv >"$tmp/rec.out" ||
    fail "untouched: reconcile: $(cat "$tmp/rec.out")"
# With the engine's own checkpoints only, the last day's captures came
# after the latest: verify says how many entries no checkpoint covers.
"$FE" audit verify "$DB" --checkpoints "$tmp/checkpoints" \
    --pubkey "$tmp/ledger.key.pub" >"$tmp/engcp.out" ||
    fail "untouched, engine's checkpoints: $(cat "$tmp/engcp.out")"
after=$(($(q "SELECT count(*) FROM ledger") - $(tail -1 "$tmp/checkpoints" |
    cut -d' ' -f4)))
[ $after -gt 0 ] || fail "no entries after the engine's latest checkpoint"
expect engcp "the $after after it are in no checkpoint yet"
grep -q "in no checkpoint yet" "$tmp/clean.out" &&
    fail "untouched: entries said uncovered: $(cat "$tmp/clean.out")"

# 1. Revenue moved between operators consistently (shares and ledger),
# 500 cents of one rider-day: the old checks pass, repricing does not.
set -- $(q "SELECT a.account, a.service_day, a.network_id, b.network_id
    FROM shares a JOIN shares b USING (account, service_day) WHERE
    a.cents >= 500 AND a.network_id != b.network_id ORDER BY a.account
    LIMIT 1" | tr '|' ' ')
[ $# = 4 ] || fail "no rider-day with two operators"
acc=$1 day=$2 from=$3 to=$4
cp "$DB" "$tmp/f1.db"
"$FORGE" unlock "$tmp/f1.db"
sqlite3 "$tmp/f1.db" "
    UPDATE shares SET cents = cents - 500 WHERE account = '$acc' AND
      service_day = '$day' AND network_id = '$from';
    UPDATE shares SET cents = cents + 500 WHERE account = '$acc' AND
      service_day = '$day' AND network_id = '$to';
    UPDATE ledger SET amount_cents = amount_cents + 500 WHERE entry_id =
      (SELECT min(entry_id) FROM ledger WHERE rider_account = '$acc' AND
       service_day = '$day' AND ledger_account = 'revenue:$from');
    UPDATE ledger SET amount_cents = amount_cents - 500 WHERE entry_id =
      (SELECT min(entry_id) FROM ledger WHERE rider_account = '$acc' AND
       service_day = '$day' AND ledger_account = 'revenue:$to');"
"$FORGE" rechain "$tmp/f1.db"
"$FE" audit operators "$tmp/f1.db" --day "$day" >/dev/null ||
    fail "forgery 1: audit operators should be fooled (it only adds up)"
verify_fails f1 "$tmp/f1.db"
want=$(q "SELECT cents FROM shares WHERE account = '$acc' AND
    service_day = '$day' AND network_id = '$from'")
expect f1 "reprice: $acc $day (tariff version 1): share $from $((want - 500)) but the taps give $want"
grep -q "hash mismatch\|but postings" "$tmp/f1.out" &&
    fail "forgery 1 was not consistent: $(cat "$tmp/f1.out")"
verify_fails f1cp "$tmp/f1.db" $CP
expect f1cp "the checkpoint signed"
# 1b. The same forgery with the day's tariff version cleared, as if it
# had been priced before versions were kept: it is still repriced (with
# the version its service day's other days name) and caught.
cp "$tmp/f1.db" "$tmp/f1b.db"
"$FORGE" unlock "$tmp/f1b.db"
sqlite3 "$tmp/f1b.db" "UPDATE charges SET tariff_version = NULL WHERE
    account = '$acc' AND service_day = '$day'"
"$FORGE" rechain "$tmp/f1b.db"
verify_fails f1b "$tmp/f1b.db"
expect f1b "warning: reprice: $acc $day names no tariff version"
expect f1b "reprice: $acc $day (tariff version 1): share $from $((want - 500)) but the taps give $want"
# 1c. The same forgery with the day marked as closed with a leg still
# open (and that leg's status too): still repriced, as of that leg's
# check-in, and caught.
cp "$tmp/f1.db" "$tmp/f1c.db"
"$FORGE" unlock "$tmp/f1c.db"
sqlite3 "$tmp/f1c.db" "UPDATE charges SET open_legs = 1 WHERE
    account = '$acc' AND service_day = '$day'"
"$FORGE" rechain "$tmp/f1c.db"
verify_fails f1c "$tmp/f1c.db"
expect f1c "reprice: $acc $day (tariff version 1): charged with 1 leg open but no stored leg is open"
sqlite3 "$tmp/f1c.db" "UPDATE legs SET status = 'open' WHERE
    account = '$acc' AND service_day = '$day' AND leg_no = 1"
verify_fails f1c "$tmp/f1c.db"
expect f1c "reprice: $acc $day (tariff version 1): share $from $((want - 500)) but the taps give $want"

# 2. A rider's leg deleted everywhere: taps, leg, share, charge,
# settlement, ledger entries (renumbered): repricing agrees with what is
# left; the checkpoints and the validators' sequence numbers do not.
vacc=$(q "SELECT account FROM v_taps WHERE tap_id = 'fg-asd.ns:2'")
[ -n "$vacc" ] || fail "no victim"
cp "$DB" "$tmp/f2.db"
"$FORGE" unlock "$tmp/f2.db"
sqlite3 "$tmp/f2.db" "
    DELETE FROM taps WHERE tap_id IN ('fg-asd.ns:2', 'fg-asdz.ns:2');
    DELETE FROM cards WHERE token = substr('$vacc', 5);
    DELETE FROM legs WHERE account = '$vacc';
    DELETE FROM shares WHERE account = '$vacc';
    DELETE FROM charges WHERE account = '$vacc';
    DELETE FROM settlements WHERE account = '$vacc';
    DELETE FROM ledger WHERE rider_account = '$vacc';"
"$FORGE" rechain "$tmp/f2.db"
"$FE" audit verify "$tmp/f2.db" >"$tmp/f2nocp.out" ||
    fail "forgery 2 was not consistent: $(cat "$tmp/f2nocp.out")"
verify_fails f2 "$tmp/f2.db" $CP
expect f2 "the checkpoint signed"
expect f2 "at or before entry"
expect f2 "warning: validator fg-asd.ns: 1 gap in its sequence numbers, 1 number missing (the first after 1)"
expect f2 "warning: validator fg-asdz.ns: 1 gap in its sequence numbers, 1 number missing (the first after 1)"

# 3. The ledger's tail truncated with its settlements (the last day's
# captures): the chain that is left is intact; the checkpoint is not.
cp "$DB" "$tmp/f3.db"
total=$(q "SELECT count(*) FROM ledger")
gone=$(q "SELECT count(*) FROM ledger WHERE reason = 'capture' AND
    service_day = '$D2'")
[ "$(q "SELECT min(entry_id) FROM ledger WHERE reason = 'capture' AND
    service_day = '$D2'")" = $((total - gone + 1)) ] ||
    fail "the last day's captures are not the ledger's tail"
"$FORGE" unlock "$tmp/f3.db"
sqlite3 "$tmp/f3.db" "
    DELETE FROM ledger WHERE entry_id > $((total - gone));
    DELETE FROM settlements WHERE service_day = '$D2' AND kind = 'capture';"
"$FORGE" rechain "$tmp/f3.db"
"$FE" audit verify "$tmp/f3.db" >"$tmp/f3nocp.out" ||
    fail "forgery 3 was not consistent: $(cat "$tmp/f3nocp.out")"
verify_fails f3 "$tmp/f3.db" $CP
expect f3 "the ledger has $((total - gone)) entries, fewer than the $total this checkpoint signed: it shrank"

# 4. A whole consistent history rewritten: a second engine fed the same
# taps but one (no ledger key: the insider has none), settled with an
# acquirer of its own; its file put in place of the real one.
# The second tap of a validator with three or more that day: a gap.
skip=$(tail -n +2 "$tmp/day-$D1.csv" | cut -d, -f1 | sort -t: -k1,1 -k2,2n |
    awk -F: '{ n[$1]++; if (n[$1] == 2) s[$1] = $0 }
    END { for (d in n) if (n[d] >= 3) { print s[d]; exit } }')
[ -n "$skip" ] || fail "no validator with three taps"
grep -v "^$skip," "$tmp/t1.csv" >"$tmp/t1-but-one.csv"
mkdir "$tmp/reports2"
"$SIM" acquirer --listen 127.0.0.1:$((port + 3)) --journal "$tmp/acq2.journal" \
    --certs "$tmp/certs" \
    --report-dir "$tmp/reports2" >/dev/null 2>>"$tmp/acq.log" &
apid=$!
history "$tmp/f4.db" $((port + 3)) "$tmp/t1-but-one.csv" "$tmp/day-$D2.csv"
kill -TERM "$apid"
wait "$apid" || true
apid=
"$FE" audit verify "$tmp/f4.db" >"$tmp/f4nocp.out" ||
    fail "the second history is not sound: $(cat "$tmp/f4nocp.out")"
verify_fails f4 "$tmp/f4.db" $CP
grep -qE "the checkpoint signed|it shrank" "$tmp/f4.out" ||
    fail "f4: the checkpoints did not say why: $(head -5 "$tmp/f4.out")"
dev=${skip%:*}
expect f4 "warning: validator $dev: 1 gap"

# 5. An edited checkpoint line: the entry count of the last line lowered
# (as if the ledger had been shorter): the signature says no.
n=$(tail -1 "$tmp/copy" | cut -d' ' -f4)
sed "4s/ $n / $((n - 2)) /" "$tmp/copy" >"$tmp/edited"
cmp -s "$tmp/copy" "$tmp/edited" && fail "the checkpoint line was not edited"
verify_fails f5 "$DB" --checkpoints "$tmp/edited" --pubkey "$tmp/ledger.key.pub"
expect f5 "$tmp/edited:4: bad signature (the line was altered or not signed with the ledger key)"

# 6. A settlement forged consistently (an approved capture lowered by 100
# cents, with its ledger entries): verify cannot tell; the acquirer's
# report can.
set -- $(q "SELECT id, idem_key, amount_cents FROM settlements WHERE
    state = 'approved' AND kind = 'capture' AND amount_cents > 100
    ORDER BY id LIMIT 1" | tr '|' ' ')
sid=$1 key=$2 amt=$3
txn=$(q "SELECT l.txn_id FROM ledger l JOIN settlements s ON
    l.rider_account = s.account AND l.service_day = s.service_day WHERE
    s.id = $sid AND l.reason = 'capture' AND l.amount_cents = $amt AND
    l.ledger_account = 'clearing:acquirer' ORDER BY l.entry_id LIMIT 1")
cp "$DB" "$tmp/f6.db"
"$FORGE" unlock "$tmp/f6.db"
sqlite3 "$tmp/f6.db" "
    UPDATE settlements SET amount_cents = amount_cents - 100 WHERE id = $sid;
    UPDATE ledger SET amount_cents = amount_cents - 100 WHERE txn_id = $txn
      AND ledger_account = 'clearing:acquirer';
    UPDATE ledger SET amount_cents = amount_cents + 100 WHERE txn_id = $txn
      AND ledger_account LIKE 'rider:%';"
"$FORGE" rechain "$tmp/f6.db"
"$FE" audit verify "$tmp/f6.db" >"$tmp/f6nocp.out" ||
    fail "forgery 6 was not consistent: $(cat "$tmp/f6nocp.out")"
if "$FE" audit reconcile "$tmp/f6.db" "$tmp"/reports/*.csv >"$tmp/f6.out"; then
	fail "reconcile missed a forged settlement: $(cat "$tmp/f6.out")"
fi
expect f6 "settlement $key: the engine has"
# Amounts as a person reads them (money_text): "€12.34".
eur() { awk -v c="$1" 'BEGIN { printf "€%d.%02d", c / 100, c % 100 }'; }
expect f6 "$(eur $((amt - 100))) approved"
expect f6 "$(eur "$amt") approved"
expect f6 "NOT reconciled: 1 difference"
# And the rewritten history of 4 against the real acquirer's report.
if "$FE" audit reconcile "$tmp/f4.db" "$tmp"/reports/*.csv >"$tmp/f4rec.out"; then
	fail "reconcile missed the rewritten history"
fi

# 7. A day closed with a leg still open, honestly: a check-in an hour
# before the engine's clock, the day closed with no grace, the leg not
# yet past its max_leg_minutes (360): repriced as of that check-in, sound.
cat >"$tmp/open.csv" <<EOF
tap_id,time,card,par,network_id,stop_id,kind
fg-asd.ns:1,2026-11-23T20:00:00Z,4111111111111111,,NS,asd,in
fg-asdz.ns:1,2026-11-23T20:20:00Z,4111111111111111,,NS,asdz,out
fg-asd.ns:2,2026-11-24T02:30:00Z,4111111111111111,,NS,asd,in
EOF
serve "$tmp/open.db" 2026-11-24T03:30:00Z $((port + 2)) --settle-grace 0
"$SIM" replay --keep-ids --engine 127.0.0.1:$port --certs "$tmp/certs" \
    "$tmp/open.csv" 2>>"$tmp/sim.log" || fail "replay open.csv"
until_q "$tmp/open.db" "SELECT count(*) FROM charges WHERE posted = 1 AND
    open_legs = 1" 1
stop
"$FE" audit verify "$tmp/open.db" >"$tmp/open.out" ||
    fail "a day closed with a leg open: $(cat "$tmp/open.out")"
expect open "1 closed account-days repriced from their taps"
expect open "1 with legs still open"

echo "forgery: untouched, with its 4 checkpoints: sound ($repriced" \
    "account-days repriced from their taps) and reconciled; caught: revenue" \
    "moved between operators (repricing), a leg deleted everywhere" \
    "(checkpoints; 2 sequence gaps), the tail truncated (checkpoint: the" \
    "ledger shrank), a history rewritten by a second engine (checkpoints;" \
    "1 gap), an edited checkpoint (signature), a forged settlement" \
    "(reconcile)"
