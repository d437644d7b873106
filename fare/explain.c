/*
 * Explanations for riders and auditors.  Built from the same result the
 * JSON comes from, so the words can never disagree with the numbers.
 */
#include <stdio.h>
#include <string.h>

#include "explain.h"
#include "limits.h"
#include "parse.h"
#include "price-int.h"
#include "tariff-int.h"

/* tapset.c hands price times to buf_put_json_time(): one "no time". */
_Static_assert(BUF_NO_TIME == PRICE_NO_TIME, "buf and price disagree");

/* "12,345" from a non-negative whole number: commas every three digits. */
static void
group_thousands(uint64_t v, char *out, size_t len)
{
	char digits[24];
	size_t n = (size_t)snprintf(digits, sizeof digits, "%llu",
	    (unsigned long long)v), i, o = 0;

	for (i = 0; i < n && o + 2 < len; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = digits[i];
	}
	out[o] = '\0';
}

void
money_text(const char *currency, int64_t cents, char buf[MONEY_TEXT_MAX])
{
	uint64_t a = cents < 0 ? -(uint64_t)cents : (uint64_t)cents;
	char whole[24];
	char c1 = (char)('0' + a % 100 / 10), c2 = (char)('0' + a % 10);

	/* "€1,234.56" in euros, "USD 1,234.56" in another currency (SPEC
	 * §2: one currency per feed, two decimals); minus before both. */
	group_thousands(a / 100, whole, sizeof whole);
	if (currency == NULL || strcmp(currency, "EUR") == 0 ||
	    *currency == '\0')
		snprintf(buf, MONEY_TEXT_MAX, "%s€%s.%c%c",
		    cents < 0 ? "-" : "", whole, c1, c2);
	else
		snprintf(buf, MONEY_TEXT_MAX, "%s%.3s %s.%c%c",
		    cents < 0 ? "-" : "", currency, whole, c1, c2);
}

void
count_text(uint64_t n, char buf[32])
{
	group_thousands(n, buf, 32);
}

void
money_plain(int64_t cents, char buf[MONEY_TEXT_MAX])
{
	uint64_t a = cents < 0 ? -(uint64_t)cents : (uint64_t)cents;

	snprintf(buf, MONEY_TEXT_MAX, "%s%llu.%02u", cents < 0 ? "-" : "",
	    (unsigned long long)(a / 100), (unsigned)(a % 100));
}

void
explain_money(const struct tariff *t, int64_t cents,
    char buf[MONEY_TEXT_MAX])
{
	money_text(t != NULL ? tariff_currency(t) : "EUR", cents, buf);
}

void
explain_local_time(const struct tariff *t, int64_t utc, int with_date,
    char buf[EXPLAIN_TIME_MAX])
{
	int64_t l, s;
	int32_t off;
	unsigned m, d;
	int y;

	if (utc == PRICE_NO_TIME) {
		snprintf(buf, EXPLAIN_TIME_MAX, "%s", with_date ? "" : "--:--");
		return;
	}
	off = t != NULL ? tz_offset(t->tz, utc) : 0;
	l = utc + off;
	s = l - civil_day_of(l) * 86400;
	if (!with_date) {
		snprintf(buf, EXPLAIN_TIME_MAX, "%02d:%02d", (int)(s / 3600),
		    (int)(s / 60 % 60));
		return;
	}
	civil_from_days(civil_day_of(l), &y, &m, &d);
	/* The offset in force names the side of a clock change. */
	snprintf(buf, EXPLAIN_TIME_MAX, "%04d-%02u-%02u %02d:%02d %c%02d:%02d",
	    y, m, d, (int)(s / 3600), (int)(s / 60 % 60), off < 0 ? '-' : '+',
	    (int)((off < 0 ? -off : off) / 3600),
	    (int)((off < 0 ? -off : off) / 60 % 60));
}

void
explain_day_time(const struct tariff *t, int64_t utc, int32_t service_day,
    char buf[EXPLAIN_TIME_MAX])
{
	/* Midday UTC lies inside the service day for any zone near Europe:
	 * after the night's clock change, before the next. */
	int64_t noon = (int64_t)service_day * 86400 + 43200;
	int32_t off;

	if (utc == PRICE_NO_TIME) {
		*buf = '\0';
		return;
	}
	off = t != NULL ? tz_offset(t->tz, utc) : 0;
	if (civil_day_of(utc + off) == service_day &&
	    off == (t != NULL ? tz_offset(t->tz, noon) : 0))
		explain_local_time(t, utc, 0, buf);
	else
		explain_local_time(t, utc, 1, buf);
}

/* A leg's time on its day's lines: "08:01", or dated where it must be. */
static void
local_hm(const struct tariff *t, int64_t utc, int32_t day, char out[32])
{
	if (utc == PRICE_NO_TIME)
		explain_local_time(t, utc, 0, out);
	else
		explain_day_time(t, utc, day, out);
}

static const char *
stop_label(const struct tariff *t, uint32_t s, char *buf, size_t len)
{
	if (s == TARIFF_NONE)
		return "(no check-in)";
	snprintf(buf, len, "%s (%s)", tariff_stop_id(t, s),
	    tariff_stop_name(t, s));
	return buf;
}

static void
explain_leg_rule(const struct tariff *t, const struct price_leg *l,
    struct buf *o)
{
	const struct t_leg_rule *r = &t->leg_rule[l->rule];
	char e1[32], e2[32];
	int64_t base = t->product[r->product].amount_cents;

	explain_money(t, base, e1);
	buf_printf(o, "     priced by fare_leg_rules.txt line %lu (leg group %s, "
	    "product %s %s", r->row, r->leg_group == TARIFF_NONE ? "none" :
	    strtab_name(t->leg_group_ids, r->leg_group),
	    strtab_name(t->product_ids, r->product), e1);
	if (l->distance_m >= 0) {
		explain_money(t, l->status == LEG_AUTOCOMPLETED ? 0 :
		    l->fare_cents - base, e2);
		buf_printf(o, ", %lld.%03lld km", (long long)(l->distance_m / 1000),
		    (long long)(l->distance_m % 1000));
		if (l->status != LEG_AUTOCOMPLETED)
			buf_printf(o, " adds %s", e2);
	}
	buf_printf(o, ")\n");
}

static void
explain_leg(const struct tariff *t, const struct price_leg *l, uint32_t no,
    int32_t day, struct buf *o)
{
	char a[160], b[160], ti[32], to[32], fare[32], con[32];
	const struct t_network *nw = &t->network[l->network];

	local_hm(t, l->checkin, day, ti);
	local_hm(t, l->checkout, day, to);
	explain_money(t, l->fare_cents, fare);
	explain_money(t, l->contribution_cents, con);
	buf_printf(o, "  %u. %s: %s %s -> %s %s: %s, fare %s, counts %s\n", no,
	    tariff_network_id(t, l->network),
	    stop_label(t, l->from_stop, a, sizeof a), ti,
	    l->to_stop == TARIFF_NONE ? "(no check-out)" :
	    stop_label(t, l->to_stop, b, sizeof b), to,
	    price_status_name(l->status), fare, con);
	switch (l->status) {
	case LEG_COMPLETE:
		explain_leg_rule(t, l, o);
		break;
	case LEG_AUTOCOMPLETED:
		explain_leg_rule(t, l, o);
		buf_printf(o, "     check-out missing: completed to the stop of the "
		    "next tap, at the lower of that fare and the missing "
		    "check-out fare\n");
		break;
	case LEG_INCOMPLETE:
		buf_printf(o, "     %s: the missing check-out fare %s, outside "
		    "every cap\n", l->checkin == PRICE_NO_TIME ?
		    "check-out without a check-in" : "no check-out",
		    nw->incomplete_product == TARIFF_NONE ? "(none)" :
		    strtab_name(t->product_ids, nw->incomplete_product));
		break;
	case LEG_CANCELLED:
		buf_printf(o, "     checked out where it checked in within %d "
		    "minutes: cancelled, free\n", nw->cancel_s / 60);
		break;
	case LEG_UNPRICED:
		buf_printf(o, "     no fare rule matches this leg: not charged, "
		    "reported to the operator\n");
		break;
	case LEG_OPEN:
		buf_printf(o, "     still open: priced when it closes\n");
		break;
	}
	if (l->transfer != TARIFF_NONE) {
		const struct t_transfer_rule *x = &t->transfer[l->transfer];
		static const char *const kinds[] = {"A + AB", "A + AB + B",
		    "AB"};
		char p[32];
		explain_money(t, x->product == TARIFF_NONE ? 0 :
		    t->product[x->product].amount_cents, p);
		buf_printf(o, "     a transfer in journey %u by "
		    "fare_transfer_rules.txt line %lu (%s, transfer product "
		    "%s)\n", l->journey, x->row, kinds[x->transfer_type], p);
	}
}

static void
explain_subsets(const struct tariff *t, uint32_t caps, const int64_t *netsum,
    uint64_t nets, uint32_t chosen, struct buf *o)
{
	uint32_t s = 0, shown = 0;
	char e[32];

	do {
		int64_t cost = 0;
		uint64_t cov = 0, m;
		uint32_t k;
		for (k = 0; k < t->ncaps; k++)
			if (s >> k & 1) {
				cost += t->cap[k].amount_cents;
				cov |= t->cap[k].networks;
			}
		for (m = nets & ~cov; m != 0; m &= m - 1)
			cost += netsum[__builtin_ctzll(m)];
		explain_money(t, cost, e);
		if (shown++ < 32) {
			buf_printf(o, "    %s", s == 0 ? "no cap" : "");
			for (k = 0; k < t->ncaps; k++)
				if (s >> k & 1)
					buf_printf(o, "%s%s", (s & ((1u << k) - 1)) ?
					    " + " : "", t->cap[k].id);
			buf_printf(o, ": %s%s\n", e, s == chosen ?
			    "  <- the cheapest (chosen)" : "");
		}
		s = (s - caps) & caps;
	} while (s != 0);
	if (shown > 32)
		buf_printf(o, "    ... %u combinations in all\n", shown);
}

void
explain_day(const struct tariff *t, const char *account,
    const struct price_result *r, const struct price_day *d, struct buf *o)
{
	static const char *const wd[] = {"Monday", "Tuesday", "Wednesday",
	    "Thursday", "Friday", "Saturday", "Sunday"};
	int64_t netsum[LIMIT_NETWORKS];
	uint64_t nets = 0, wmask = 0;
	uint32_t i, dc = 0, k;
	char day[11], e1[32], e2[32], e3[32];

	civil_format_day(d->service_day, day);
	buf_printf(o, "%s, service day %s (%s), times in %s\n", account, day,
	    wd[civil_weekday(d->service_day)], tariff_timezone(t));
	memset(netsum, 0, sizeof netsum);
	for (i = 0; i < d->nlegs; i++) {
		const struct price_leg *l = &r->leg[d->legs_off + i];
		explain_leg(t, l, i + 1, d->service_day, o);
		if (l->status == LEG_COMPLETE || l->status == LEG_AUTOCOMPLETED) {
			netsum[l->network] += l->contribution_cents;
			nets |= (uint64_t)1 << l->network;
		}
	}
	for (k = 0; k < t->ncaps; k++) {
		if (t->cap[k].period == T_PERIOD_DAY)
			dc |= 1u << k;
		if (d->week_caps >> k & 1)
			wmask |= t->cap[k].networks;
	}
	if (t->ncaps > 0) {
		buf_printf(o, "  Caps: the day's fares under each combination of "
		    "day caps%s:\n", wmask ? " (legs under the chosen week "
		    "cap left out)" : "");
		explain_subsets(t, dc, netsum, nets & ~wmask, d->day_caps, o);
		if (d->week_caps != 0 || d->week_total_cents != d->capped_cents) {
			explain_money(t, d->week_total_cents, e1);
			buf_printf(o, "  Week so far (Monday to this day): the "
			    "cheapest total is %s", e1);
			for (k = 0; k < t->ncaps; k++)
				if (d->week_caps >> k & 1)
					buf_printf(o, ", with week cap %s",
					    t->cap[k].id);
			buf_printf(o, "\n");
		}
	}
	explain_money(t, d->charge_cents, e1);
	explain_money(t, d->uncapped_cents, e2);
	explain_money(t, d->incomplete_cents, e3);
	buf_printf(o, "  Charge: %s (fares without caps %s; of the charge, %s are "
	    "missing check-out fares)\n", e1, e2, e3);
	buf_printf(o, "  Operators:");
	for (i = 0; i < d->nshares; i++) {
		const struct price_share *sh = &r->share[d->shares_off + i];
		explain_money(t, sh->cents, e1);
		buf_printf(o, " %s %s", tariff_network_id(t, sh->network), e1);
	}
	buf_printf(o, "%s\n    (each cap's amount is shared among its legs' "
	    "networks in proportion to their fares, largest remainder in "
	    "whole cents)\n\n", d->nshares == 0 ? " none" : "");
}
