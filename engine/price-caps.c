/*
 * Caps with the best-price guarantee, daily charges and apportionment
 * (SPEC §4).  The day's capped total is the exact minimum over every
 * subset of day caps; weekly caps sit one level up over the days of the
 * week so far; shares are split by largest remainder and a day's share is
 * the difference of the week-so-far splits, so shares always add up to the
 * charge.  Network sets are uint64_t masks (at most 64 networks).
 */
#include <assert.h>
#include <string.h>

#include "limits.h"
#include "parse.h"
#include "price-int.h"
#include "tariff-int.h"

struct day_sums {
	int64_t		 net[LIMIT_NETWORKS];	/* priced contributions */
	uint64_t	 nets;			/* networks with legs */
	int64_t		 incomplete[LIMIT_NETWORKS];
};

static int
popcount32(uint32_t x)
{
	return __builtin_popcount(x);
}

/* Whether subset a beats b on a cost tie: fewer caps, then smaller ids. */
static int
subset_better(uint32_t a, uint32_t b)
{
	uint32_t x;

	if (popcount32(a) != popcount32(b))
		return popcount32(a) < popcount32(b);
	x = a ^ b;
	return x != 0 && (a & x & -x) != 0;
}

static uint64_t
subset_mask(const struct tariff *t, uint32_t s)
{
	uint64_t m = 0;

	for (; s != 0; s &= s - 1)
		m |= t->cap[__builtin_ctz(s)].networks;
	return m;
}

static int64_t
subset_amount(const struct tariff *t, uint32_t s)
{
	int64_t a = 0;

	for (; s != 0; s &= s - 1)
		a += t->cap[__builtin_ctz(s)].amount_cents;
	return a;
}

int64_t
price_best_subset(const struct tariff *t, uint32_t caps, const int64_t *netsum,
    uint64_t nets, uint32_t *chosen)
{
	int64_t best = 0, cost;
	uint32_t s, best_s = 0;
	uint64_t m, open;
	int first = 1;

	/* Enumerates the subsets of caps, the empty one included. */
	s = 0;
	do {
		cost = subset_amount(t, s);
		open = nets & ~subset_mask(t, s);
		for (m = open; m != 0; m &= m - 1)
			cost += netsum[__builtin_ctzll(m)];
		if (first || cost < best ||
		    (cost == best && subset_better(s, best_s))) {
			best = cost;
			best_s = s;
			first = 0;
		}
		s = (s - caps) & caps;
	} while (s != 0);
	*chosen = best_s;
	return best;
}

/* Largest-remainder split of amount over weights; ties to lower network. */
static void
apportion(int64_t amount, const int64_t *w, uint64_t nets, int64_t *out)
{
	__int128 total = 0;
	int64_t rem[LIMIT_NETWORKS], given = 0;
	uint64_t m;
	int n;

	for (m = nets; m != 0; m &= m - 1)
		total += w[__builtin_ctzll(m)];
	if (total <= 0) {
		/* Only a zero-amount cap can be chosen over zero weights. */
		if (nets != 0)
			out[__builtin_ctzll(nets)] += amount;
		return;
	}
	for (m = nets; m != 0; m &= m - 1) {
		n = __builtin_ctzll(m);
		__int128 p = (__int128)amount * w[n];
		int64_t q = (int64_t)(p / total);
		rem[n] = (int64_t)(p % total);
		out[n] += q;
		given += q;
	}
	for (; given < amount; given++) {
		int bn = -1;
		for (m = nets; m != 0; m &= m - 1) {
			n = __builtin_ctzll(m);
			if (rem[n] >= 0 && (bn == -1 || rem[n] > rem[bn]))
				bn = n;
		}
		assert(bn != -1);
		out[bn]++;
		rem[bn] = -1;
	}
}

/*
 * Splits the chosen caps of one level over per-network sums: each network
 * goes to the chosen cap with the smallest cap_id covering it.  Returns
 * the networks covered.
 */
static uint64_t
split_caps(const struct tariff *t, uint32_t chosen, const int64_t *sum,
    uint64_t nets, int64_t *out)
{
	uint64_t covered = 0;
	uint32_t s;

	for (s = chosen; s != 0; s &= s - 1) {
		const struct t_cap *c = &t->cap[__builtin_ctz(s)];
		uint64_t mine = c->networks & nets & ~covered;
		apportion(c->amount_cents, sum, mine != 0 ? mine :
		    c->networks & ~covered, out);
		covered |= c->networks;
	}
	return covered;
}

static uint32_t
caps_of_period(const struct tariff *t, enum t_period p)
{
	uint32_t k, m = 0;

	for (k = 0; k < t->ncaps; k++)
		if (t->cap[k].period == p)
			m |= 1u << k;
	return m;
}

static int32_t
week_monday(int32_t day)
{
	return day - civil_weekday(day);
}

/* Sorts legs by service day, keeping first-tap order within a day. */
static void
sort_legs_by_day(struct price_result *r)
{
	size_t i, j;

	for (i = 1; i < r->nlegs; i++) {
		struct price_leg l = r->leg[i];
		for (j = i; j > 0 && r->leg[j - 1].service_day > l.service_day;
		    j--)
			r->leg[j] = r->leg[j - 1];
		r->leg[j] = l;
	}
}

static int
make_days(struct price_result *r)
{
	size_t i;

	for (i = 0; i < r->nlegs; i++) {
		struct price_day *d;
		if (r->ndays > 0 &&
		    r->day[r->ndays - 1].service_day == r->leg[i].service_day) {
			r->day[r->ndays - 1].nlegs++;
			continue;
		}
		if (price_reserve((void **)&r->day, &r->day_cap, r->ndays + 1,
		    sizeof *r->day) == -1)
			return -1;
		d = &r->day[r->ndays++];
		memset(d, 0, sizeof *d);
		d->service_day = r->leg[i].service_day;
		d->legs_off = (uint32_t)i;
		d->nlegs = 1;
	}
	return 0;
}

static void
day_sums(const struct price_result *r, const struct price_day *d,
    struct day_sums *s)
{
	uint32_t i;

	memset(s, 0, sizeof *s);
	for (i = 0; i < d->nlegs; i++) {
		const struct price_leg *l = &r->leg[d->legs_off + i];
		if (l->status == LEG_COMPLETE || l->status == LEG_AUTOCOMPLETED) {
			s->net[l->network] += l->contribution_cents;
			s->nets |= (uint64_t)1 << l->network;
		} else if (l->status == LEG_INCOMPLETE)
			s->incomplete[l->network] += l->fare_cents;
	}
}

/* The split of Monday..D (days[0..n]) under week caps w, into out. */
static void
split_week(const struct tariff *t, const struct day_sums *sums, size_t n,
    uint32_t w, uint32_t day_caps, int64_t *out, uint32_t *last_day_caps)
{
	int64_t week_sum[LIMIT_NETWORKS];
	uint64_t wmask = subset_mask(t, w), nets = 0, m;
	size_t d;
	int k;

	memset(out, 0, sizeof(int64_t) * LIMIT_NETWORKS);
	memset(week_sum, 0, sizeof week_sum);
	for (d = 0; d < n; d++) {
		nets |= sums[d].nets;
		for (m = sums[d].nets; m != 0; m &= m - 1) {
			k = __builtin_ctzll(m);
			week_sum[k] += sums[d].net[k];
		}
	}
	split_caps(t, w, week_sum, nets & wmask, out);
	for (d = 0; d < n; d++) {
		uint64_t open = sums[d].nets & ~wmask, covered;
		uint32_t s;
		price_best_subset(t, day_caps, sums[d].net, open, &s);
		covered = split_caps(t, s, sums[d].net, open, out);
		for (m = open & ~covered; m != 0; m &= m - 1) {
			k = __builtin_ctzll(m);
			out[k] += sums[d].net[k];
		}
		*last_day_caps = s;
	}
}

/* week_total over days[0..n] of one week: the minimum over week caps. */
static int64_t
week_total(const struct tariff *t, const struct day_sums *sums, size_t n,
    uint32_t week_caps, uint32_t day_caps, uint32_t *chosen)
{
	int64_t best = 0, cost;
	uint32_t w = 0, best_w = 0, s;
	size_t d;
	int first = 1;

	do {
		uint64_t wmask = subset_mask(t, w);
		cost = subset_amount(t, w);
		for (d = 0; d < n; d++)
			cost += price_best_subset(t, day_caps, sums[d].net,
			    sums[d].nets & ~wmask, &s);
		if (first || cost < best ||
		    (cost == best && subset_better(w, best_w))) {
			best = cost;
			best_w = w;
			first = 0;
		}
		w = (w - week_caps) & week_caps;
	} while (w != 0);
	*chosen = best_w;
	return best;
}

static int
emit_shares(struct price_result *r, struct price_day *d, const int64_t *now,
    const int64_t *before, const struct day_sums *s)
{
	int n;

	d->shares_off = (uint32_t)r->nshares;
	for (n = 0; n < LIMIT_NETWORKS; n++) {
		int64_t v = now[n] - before[n] + s->incomplete[n];
		if (v == 0)
			continue;
		if (price_reserve((void **)&r->share, &r->share_cap,
		    r->nshares + 1, sizeof *r->share) == -1)
			return -1;
		r->share[r->nshares].network = (uint32_t)n;
		r->share[r->nshares].cents = v;
		r->nshares++;
		d->nshares++;
	}
	return 0;
}

static void
mark_caps(const struct tariff *t, struct price_result *r, struct price_day *d)
{
	uint64_t wmask = subset_mask(t, d->week_caps);
	uint32_t i, s;

	for (i = 0; i < d->nlegs; i++) {
		struct price_leg *l = &r->leg[d->legs_off + i];
		uint64_t bit = (uint64_t)1 << l->network;
		uint32_t pick = (wmask & bit) ? d->week_caps : d->day_caps;
		l->cap = -1;
		if (l->status != LEG_COMPLETE && l->status != LEG_AUTOCOMPLETED)
			continue;
		for (s = pick; s != 0; s &= s - 1)
			if (t->cap[__builtin_ctz(s)].networks & bit) {
				l->cap = (int8_t)__builtin_ctz(s);
				break;
			}
	}
}

int
price_caps(const struct tariff *t, struct price_result *r)
{
	uint32_t wc = caps_of_period(t, T_PERIOD_WEEK);
	uint32_t dc = caps_of_period(t, T_PERIOD_DAY);
	struct day_sums sums[7];
	int64_t split_now[LIMIT_NETWORKS], split_before[LIMIT_NETWORKS];
	int64_t prev_total = 0;
	size_t i, nweek = 0;
	int32_t monday = 0;
	uint32_t i2;

	sort_legs_by_day(r);
	if (make_days(r) == -1)
		return -1;
	for (i = 0; i < r->ndays; i++) {
		struct price_day *d = &r->day[i];
		if (nweek == 0 || week_monday(d->service_day) != monday) {
			monday = week_monday(d->service_day);
			nweek = 0;
			prev_total = 0;
			memset(split_before, 0, sizeof split_before);
		}
		assert(nweek < 7);
		day_sums(r, d, &sums[nweek]);
		nweek++;
		for (i2 = 0; i2 < d->nlegs; i2++)
			d->uncapped_cents +=
			    r->leg[d->legs_off + i2].contribution_cents;
		for (i2 = 0; i2 < LIMIT_NETWORKS; i2++)
			d->incomplete_cents += sums[nweek - 1].incomplete[i2];
		d->week_total_cents = week_total(t, sums, nweek, wc, dc,
		    &d->week_caps);
		d->capped_cents = price_best_subset(t, dc,
		    sums[nweek - 1].net, sums[nweek - 1].nets &
		    ~subset_mask(t, d->week_caps), &d->day_caps);
		d->charge_cents = d->week_total_cents - prev_total +
		    d->incomplete_cents;
		split_week(t, sums, nweek, d->week_caps, dc, split_now,
		    &d->day_caps);
		if (emit_shares(r, d, split_now, split_before,
		    &sums[nweek - 1]) == -1)
			return -1;
		mark_caps(t, r, d);
		prev_total = d->week_total_cents;
		memcpy(split_before, split_now, sizeof split_now);
	}
	return 0;
}
