#!/bin/sh
# A simulated week of 200 visitors through the engine and the acquirer
# simulator: each night the engine settles the closed day; some cards are
# declined (debt, deny list), refused at the gate the next day, and
# recovered when they tap; late check-outs arrive two days late and are
# settled as refunds; the acquirer drops and duplicates answers and
# crashes once mid-settlement.  Afterwards: the ledger is sound, revenue
# equals charges day by day, what was captured plus what is owed equals
# every charge, the acquirer captured each account-day exactly what the
# engine recorded (no double capture), and the charges equal `price`.
set -eu
. tests/lib.sh
BIN=${1:-bin}
FE=$BIN/fare-engine
SIM=$BIN/terminal-sim
e2e_init settle 8
q() { sqlite3 "$tmp/engine.db" "$1"; }

port=$((12000 + $$ % 600 * 3))
acq=$((port + 2))
crash="--crash-after 120"
acquirer() {	# (re)starts the acquirer if it is not running
	if [ -n "$apid" ] && kill -0 "$apid" 2>/dev/null; then return 0; fi
	[ -n "$apid" ] && { wait "$apid" 2>/dev/null || true; }
	"$SIM" acquirer --listen 127.0.0.1:$acq --journal "$tmp/acq.journal" \
	    --certs "$tmp/certs" \
	    --decline-pct 6 --seed 4 --drop-pct 3 --dup-pct 10 --latency-ms 1 \
	    $crash >>"$tmp/acq.out" 2>>"$tmp/acq.log" &
	apid=$!
	crash=
	sleep 0.2
}
serve() {
	"$FE" serve --dev --clock "$1" --certs "$tmp/certs" --tariff tariffs/nl \
	    --db "$tmp/engine.db" --listen 127.0.0.1:$port \
	    --http 127.0.0.1:$((port + 1)) --acquirer 127.0.0.1:$acq \
	    --settle-interval 1 --settle-timeout-ms 300 --debt-tap-gap 0 \
	    2>>"$tmp/engine.log" &
	pid=$!
	wait_healthy $((port + 1)) || fail "engine did not start"
}
# settled_until DAY: closed days all asked for, nothing pending.
settled_until() {
	i=0
	while :; do
		acquirer
		left=$(q "SELECT (SELECT count(*) FROM settlements WHERE
		    state = 'pending') + (SELECT count(*) FROM charges c WHERE
		    c.service_day < '$1' AND c.open_legs = 0 AND c.charge_cents !=
		    (SELECT coalesce(sum(amount_cents), 0) FROM settlements s
		    WHERE s.account = c.account AND s.service_day = c.service_day
		    AND s.kind IN ('capture', 'refund')))")
		[ "$left" = 0 ] && return 0
		i=$((i + 1))
		[ $i -lt 300 ] || fail "settlement of days before $1 did not finish ($left left)"
		sleep 0.2
	done
}

"$FE" certs init "$tmp/certs" >/dev/null
days="2026-11-23 2026-11-24 2026-11-25 2026-11-26 2026-11-27 2026-11-28 2026-11-29 2026-11-30"
prev2=
prev1=
for d in $days; do
	next=$(date -u -d "$d + 1 day" +%F)
	acquirer
	serve "${next}T06:30:00Z"
	if [ "$d" != 2026-11-30 ]; then
		"$SIM" day --engine 127.0.0.1:$port --certs "$tmp/certs" \
		    --tourists 200 --seed 3 --date "$d" --taps-out "$tmp/$d.csv" \
		    --late-out "$tmp/late-$d.csv" --late-pct 4 \
		    --ack-log "$tmp/acks-$d" 2>"$tmp/sim.log" ||
		    fail "day $d: $(tail -3 "$tmp/sim.log")"
	fi
	# Check-outs held back two days ago arrive now: late taps (the
	# last round also forwards the last day's).
	lates=$prev2
	[ "$d" = 2026-11-30 ] && lates="$prev2 $prev1"
	for late in $lates; do
		"$SIM" replay --keep-ids --engine 127.0.0.1:$port --certs \
		    "$tmp/certs" --ack-log "$tmp/acks-late-$late" \
		    "$tmp/late-$late.csv" 2>"$tmp/sim.log" ||
		    fail "late taps of $late: $(tail -3 "$tmp/sim.log")"
	done
	settled_until "$next"
	kill -TERM "$pid"
	wait "$pid" || fail "engine did not stop cleanly"
	pid=
	prev2=$prev1
	prev1=$d
done

"$FE" audit verify "$tmp/engine.db" >"$tmp/verify" || fail "$(cat "$tmp/verify")"
bad=$(q "SELECT count(*) FROM (SELECT service_day, sum(charge_cents) c FROM
    v_charges GROUP BY service_day) ch LEFT JOIN (SELECT service_day,
    sum(revenue_cents) r FROM v_operator_revenue GROUP BY service_day) rv
    USING (service_day) WHERE coalesce(r, 0) != c")
[ "$bad" = 0 ] || fail "revenue differs from charges on $bad days"
# Collected (captures, recoveries, net of refunds) plus what is still
# owed equals every charge.
bad=$(q "SELECT count(*) FROM charges c WHERE c.charge_cents !=
    (SELECT coalesce(sum(amount_cents), 0) FROM settlements s WHERE
     s.account = c.account AND s.service_day = c.service_day AND
     s.state = 'approved')
    + (SELECT coalesce(sum(amount_cents), 0) FROM debts d WHERE
     d.account = c.account AND d.service_day = c.service_day AND
     d.state != 'recovered')")
[ "$bad" = 0 ] || fail "$bad account-days where collected + owed != charge"
unsettled=$(q "SELECT count(*) FROM v_charges v WHERE NOT settled AND NOT
    EXISTS (SELECT 1 FROM debts d WHERE d.account = v.account AND
    d.service_day = v.service_day AND d.state != 'recovered')")
[ "$unsettled" = 0 ] || fail "$unsettled account-days not settled and not in debt"
adjusted=$(q "SELECT count(*) FROM settlements WHERE state = 'debt-adjusted'")
# The acquirer captured, per account-day, exactly what the engine posted.
awk '$6 == "APPROVED" { s[$2 "|" $4] += $3 }
    END { for (x in s) print x "|" s[x] }' "$tmp/acq.journal" | sort >"$tmp/acq.sum"
q "SELECT account || '|' || service_day || '|' || sum(amount_cents) FROM
    settlements WHERE state = 'approved' GROUP BY account, service_day" |
    sort >"$tmp/eng.sum"
cmp -s "$tmp/acq.sum" "$tmp/eng.sum" ||
    fail "acquirer and engine disagree: $(diff "$tmp/acq.sum" "$tmp/eng.sum" | head -5)"
# Each request reached the acquirer with its reference (SPEC §6): 80 bits
# of Crockford base32 after "OC", one per request, none naming the account.
awk '{ print $1 "|" $5 }' "$tmp/acq.journal" | sort >"$tmp/acq.refs"
q "SELECT idem_key || '|' || reference FROM settlements WHERE state IN
    ('approved', 'declined')" | sort >"$tmp/eng.refs"
cmp -s "$tmp/acq.refs" "$tmp/eng.refs" ||
    fail "references differ: $(diff "$tmp/acq.refs" "$tmp/eng.refs" | head -5)"
badref=$(q "SELECT count(*) FROM settlements WHERE reference IS NULL OR
    reference NOT GLOB 'OC[0-9A-HJKMNP-TV-Z][0-9A-HJKMNP-TV-Z][0-9A-HJKMNP-TV-Z][0-9A-HJKMNP-TV-Z][0-9A-HJKMNP-TV-Z][0-9A-HJKMNP-TV-Z][0-9A-HJKMNP-TV-Z][0-9A-HJKMNP-TV-Z][0-9A-HJKMNP-TV-Z][0-9A-HJKMNP-TV-Z][0-9A-HJKMNP-TV-Z][0-9A-HJKMNP-TV-Z][0-9A-HJKMNP-TV-Z][0-9A-HJKMNP-TV-Z][0-9A-HJKMNP-TV-Z][0-9A-HJKMNP-TV-Z]'
    OR instr(idem_key, account) > 0 OR instr(idem_key, service_day) > 0")
[ "$badref" = 0 ] || fail "$badref settlements without a proper reference or key"
dupref=$(q "SELECT count(*) - count(DISTINCT reference) FROM settlements")
[ "$dupref" = 0 ] || fail "$dupref references used twice"
# What happened along the way.
declined=$(q "SELECT count(*) FROM settlements WHERE state = 'declined'")
recovered=$(q "SELECT count(*) FROM debts WHERE state = 'recovered'")
refunds=$(q "SELECT count(*) FROM settlements WHERE kind = 'refund'")
extra=$(q "SELECT count(*) FROM settlements s WHERE kind = 'capture' AND
    EXISTS (SELECT 1 FROM settlements t WHERE t.account = s.account AND
    t.service_day = s.service_day AND t.id < s.id)")
gate=$(q "SELECT count(*) FROM refused WHERE reason = 'denied-at-gate'")
kill -TERM "$apid"
wait "$apid" || true
apid=
repeats=$(grep -h -o '([0-9]* repeated' "$tmp/acq.out" | tr -d '(' |
    awk '{ s += $1 } END { print s + 0 }')
[ "$declined" -gt 0 ] || fail "no declines"
[ "$recovered" -gt 0 ] || fail "no debt recovered"
[ "$refunds" -gt 0 ] || fail "no refund for a late check-out"
[ "$gate" -gt 0 ] || fail "no card refused at the gate"
[ "$repeats" -gt 0 ] || fail "no request was repeated after a lost answer"
grep -q "crashing on purpose" "$tmp/acq.log" || fail "the acquirer never crashed"
# A card refused at the gate after its decline, accepted after recovery.
back=$(q "SELECT count(*) FROM debts d WHERE d.state = 'recovered' AND
    EXISTS (SELECT 1 FROM refused r WHERE r.reason = 'denied-at-gate' AND
    r.detail = 'account ' || d.account) AND EXISTS (SELECT 1 FROM v_taps t
    WHERE t.account = d.account AND t.received_utc >
    strftime('%Y-%m-%dT%H:%M:%SZ', d.last_try_utc, 'unixepoch'))")
[ "$back" -gt 0 ] || fail "no card accepted again after its recovery"
# The charges equal offline pricing of every acknowledged tap.
cat "$tmp"/acks-* | cut -d' ' -f2 | sort -u >"$tmp/acked"
{ echo tap_id,time,card,par,network_id,stop_id,kind
  for f in "$tmp"/20*.csv "$tmp"/late-*.csv; do tail -n +2 "$f"; done |
  awk -F, 'NR == FNR { ok[$1] = 1; next } ok[$1]' "$tmp/acked" -
} >"$tmp/all.csv"
price_charges "$FE" tariffs/nl "$tmp/all.csv" >"$tmp/want"
db_charges "$tmp/engine.db" >"$tmp/got"
cmp -s "$tmp/want" "$tmp/got" ||
    fail "v_charges differs from price: $(diff "$tmp/want" "$tmp/got" | head -5)"
weekcap=$(q "SELECT count(*) FROM (SELECT account FROM charges WHERE
    service_day BETWEEN '2026-11-23' AND '2026-11-29' GROUP BY account
    HAVING sum(charge_cents) <= 6000 AND sum(uncapped_cents) > 6000 AND
    count(*) = 7)")
[ "$weekcap" -gt 0 ] || fail "nobody reached the weekly cap"
echo "settle: a week of 200 visitors: $declined declined, $recovered recovered" \
    "($gate taps refused at the gate), $refunds refunds and $extra extra" \
    "captures for late taps, $adjusted debts lowered by a late tap; the" \
    "acquirer crashed once and answered" \
    "$repeats repeated keys from its journal; no double capture; ledger" \
    "sound; charges equal price ($(wc -l <"$tmp/got") account-days;" \
    "$weekcap travellers held to the weekly cap)"
