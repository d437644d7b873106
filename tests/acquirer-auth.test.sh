#!/bin/sh
# Issue 16 item 2, "the acquirer link has no authentication": settlement
# speaks mutual TLS with the acquirer's certificate pinned.  A fake
# acquirer (a certificate of its own) that would approve or decline
# everything is refused before any request; one with the right
# certificate whose answers do not echo the request is not booked; a
# plain TCP client gets nothing from the real acquirer; then the real one
# settles every day once, and the ledger verifies.
set -eu
. tests/lib.sh
BIN=${1:-bin}
FE=$BIN/fare-engine
SIM=$BIN/terminal-sim
EX=../shared/examples/mini
e2e_init acquirer-auth 10
q() { sqlite3 "$tmp/engine.db" "$1"; }
port=$((26000 + $$ % 300 * 3))
acq=$((port + 2))
# until_q SQL VALUE: wait (at most 20 s) until the query gives VALUE.
until_q() {
	i=0
	until [ "$(q "$1")" = "$2" ]; do
		i=$((i + 1)); [ $i -lt 200 ] || fail "waited for: $1 = $2 (is $(q "$1"))"
		sleep 0.1
	done
}
# until_log TEXT: wait (at most 20 s) until the engine logged TEXT.
until_log() {
	i=0
	until grep -q "$1" "$tmp/engine.log"; do
		i=$((i + 1)); [ $i -lt 200 ] || fail "never logged: $1"
		sleep 0.1
	done
}
# acquirer CERTS JOURNAL [OPTION]: start the simulator as $apid.
acquirer() {
	"$SIM" acquirer --listen 127.0.0.1:$acq --certs "$1" --journal "$2" \
	    ${3:-} >/dev/null 2>>"$tmp/acq.log" &
	apid=$!
}
stop_acquirer() {
	kill -TERM "$apid"
	wait "$apid" || true
	apid=
}
booked() {
	q "SELECT count(*) FROM settlements WHERE state != 'pending'"
}

"$FE" certs init "$tmp/certs" >/dev/null
"$FE" certs init "$tmp/fake" >/dev/null
# 1. A fake acquirer: a certificate of its own CA, accepting the engine
# (it knows the engine's certificate and CA: both are public).
cp "$tmp/certs/ca.crt" "$tmp/certs/engine.crt" "$tmp/fake/"
acquirer "$tmp/fake" "$tmp/fake.journal"
"$FE" serve --dev --clock 2026-11-29T08:00:00Z --certs "$tmp/certs" \
    --tariff "$EX" --db "$tmp/engine.db" --listen 127.0.0.1:$port \
    --http 127.0.0.1:$((port + 1)) --acquirer 127.0.0.1:$acq \
    --settle-interval 1 --settle-timeout-ms 2000 2>"$tmp/engine.log" &
pid=$!
wait_healthy $((port + 1)) || fail "engine did not start"
"$SIM" replay --engine 127.0.0.1:$port --certs "$tmp/certs" "$EX/taps.csv" \
    2>"$tmp/sim.log" || fail "replay: $(tail -2 "$tmp/sim.log")"
until_log "event=acquirer_link_refused acquirer=127.0.0.1:$acq error=\"TLS: the acquirer's certificate is not the one pinned"
pending=$(q "SELECT count(*) FROM settlements WHERE state = 'pending'")
[ "$pending" -gt 0 ] || fail "no settlement requested"
[ "$(booked)" = 0 ] || fail "a fake acquirer's answer was booked"
[ ! -s "$tmp/fake.journal" ] || fail "a request reached the fake acquirer"
[ "$(q "SELECT count(*) FROM deny")" = 0 ] || fail "the fake acquirer denied riders"
stop_acquirer

# 2. The right certificate, answers that do not echo the request.
acquirer "$tmp/certs" "$tmp/acq.journal" --lie
until_log "does not echo the request"
[ "$(booked)" = 0 ] || fail "an answer echoing another amount was booked"
[ "$(q "SELECT count(*) FROM ledger WHERE reason IN ('capture', 'decline')")" = 0 ] ||
    fail "money moved in the ledger on a lying answer"
stop_acquirer

# 3. The real acquirer (the same journal: what it decided stands).  A
# plain TCP client gets no answer from it.
acquirer "$tmp/certs" "$tmp/acq.journal"
printf 'CAPTURE 0123456789abcdef0123456789abcdef tok:00000000000000000000000000000001 100 EUR 2026-11-28 OC0000000000000000\n' |
    curl -s -m 5 telnet://127.0.0.1:$acq >"$tmp/plain.out" 2>/dev/null || true
grep -q "APPROVED\|DECLINED" "$tmp/plain.out" &&
    fail "a plain TCP client got an answer: $(cat "$tmp/plain.out")"
until_q "SELECT count(*) FROM settlements WHERE state = 'pending'" 0
approved=$(q "SELECT count(*) FROM settlements WHERE state = 'approved'")
[ "$approved" -gt 0 ] || fail "nothing approved"
kill -TERM "$pid"
wait "$pid" || fail "engine did not stop cleanly"
pid=
stop_acquirer
"$FE" audit verify "$tmp/engine.db" >"$tmp/verify" || fail "$(cat "$tmp/verify")"
# The acquirer captured, per account-day, exactly what the engine booked.
awk '$6 == "APPROVED" { s[$2 "|" $4] += $3 }
    END { for (x in s) print x "|" s[x] }' "$tmp/acq.journal" | sort >"$tmp/acq.sum"
q "SELECT account || '|' || service_day || '|' || sum(amount_cents) FROM
    settlements WHERE state = 'approved' GROUP BY account, service_day" |
    sort >"$tmp/eng.sum"
cmp -s "$tmp/acq.sum" "$tmp/eng.sum" ||
    fail "acquirer and engine disagree: $(diff "$tmp/acq.sum" "$tmp/eng.sum" | head -5)"
echo "acquirer-auth: fake acquirer refused (pinned certificate), lying answers" \
    "not booked, plain TCP unanswered; $approved account-days then settled once"
