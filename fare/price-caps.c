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

/* Per-subset tables, built when the tariff loads (tariff-load.c). */
static uint64_t
subset_mask(const struct tariff *t, uint32_t s)
{
	return t->subset_mask[s];
}

static int64_t
subset_amount(const struct tariff *t, uint32_t s)
{
	return t->subset_amount[s];
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
day_sums(const struct tariff *t, const struct price_result *r,
    const struct price_day *d, struct day_sums *s)
{
	uint32_t i;

	memset(s->net, 0, sizeof(int64_t) * t->nnetworks);
	memset(s->incomplete, 0, sizeof(int64_t) * t->nnetworks);
	s->nets = 0;
	for (i = 0; i < d->nlegs; i++) {
		const struct price_leg *l = &r->leg[d->legs_off + i];
		if (l->status == LEG_COMPLETE || l->status == LEG_AUTOCOMPLETED) {
			s->net[l->network] += l->contribution_cents;
			s->nets |= (uint64_t)1 << l->network;
		} else if (l->status == LEG_INCOMPLETE)
			s->incomplete[l->network] += l->fare_cents;
	}
}

/*
 * The best day-cap subset of every day of the week so far, for every
 * subset W of week caps: computed once per (W, day) and reused by
 * week_total, the capped total and the split.
 */
struct day_best {
	int64_t		 cost;
	uint32_t	 chosen;
};

/* One entry per subset W of week caps; lives in price_result's scratch. */
struct week_entry {
	uint32_t	 wsub;		/* the subset W */
	int64_t		 cum;		/* amount(W) + the days so far */
	struct day_best	 best[7];
};

struct week_memo {
	struct week_entry *e;
	uint32_t	 nw;
};

static int
memo_start(const struct tariff *t, struct price_result *r,
    struct week_memo *m, uint32_t week_caps)
{
	uint32_t w = 0;

	if (price_reserve(&r->memo, &r->memo_cap, (size_t)1 <<
	    __builtin_popcount(week_caps), sizeof *m->e) == -1)
		return -1;
	m->e = r->memo;
	m->nw = 0;
	do {
		m->e[m->nw].wsub = w;
		m->e[m->nw].cum = subset_amount(t, w);
		m->nw++;
		w = (w - week_caps) & week_caps;
	} while (w != 0);
	return 0;
}

/* Adds day number d (0-based in the week); returns week_total(D). */
static int64_t
memo_add_day(const struct tariff *t, struct week_memo *m,
    const struct day_sums *sum, size_t d, uint32_t day_caps, uint32_t *pick)
{
	int64_t best = 0;
	uint32_t i, best_i = 0;

	for (i = 0; i < m->nw; i++) {
		struct week_entry *e = &m->e[i];
		struct day_best *b = &e->best[d];
		b->cost = price_best_subset(t, day_caps, sum->net, sum->nets &
		    ~subset_mask(t, e->wsub), &b->chosen);
		e->cum += b->cost;
		if (i == 0 || e->cum < best || (e->cum == best &&
		    subset_better(e->wsub, m->e[best_i].wsub))) {
			best = e->cum;
			best_i = i;
		}
	}
	*pick = best_i;
	return best;
}

/* The split of Monday..D (days 0..n-1) under memo entry wi, into out. */
static void
split_week(const struct tariff *t, const struct day_sums *sums, size_t n,
    const struct week_memo *m, uint32_t wi, int64_t *out)
{
	int64_t week_sum[LIMIT_NETWORKS];
	uint64_t wmask = subset_mask(t, m->e[wi].wsub), nets = 0, mm;
	size_t d;
	int k;

	memset(out, 0, sizeof(int64_t) * t->nnetworks);
	memset(week_sum, 0, sizeof(int64_t) * t->nnetworks);
	for (d = 0; d < n; d++) {
		nets |= sums[d].nets;
		for (mm = sums[d].nets & wmask; mm != 0; mm &= mm - 1) {
			k = __builtin_ctzll(mm);
			week_sum[k] += sums[d].net[k];
		}
	}
	split_caps(t, m->e[wi].wsub, week_sum, nets & wmask, out);
	for (d = 0; d < n; d++) {
		uint64_t open = sums[d].nets & ~wmask, covered;
		covered = split_caps(t, m->e[wi].best[d].chosen, sums[d].net,
		    open, out);
		for (mm = open & ~covered; mm != 0; mm &= mm - 1) {
			k = __builtin_ctzll(mm);
			out[k] += sums[d].net[k];
		}
	}
}

static int
emit_shares(const struct tariff *t, struct price_result *r,
    struct price_day *d, const int64_t *now, const int64_t *before,
    const struct day_sums *s)
{
	uint32_t n;

	d->shares_off = (uint32_t)r->nshares;
	for (n = 0; n < t->nnetworks; n++) {
		int64_t v = now[n] - before[n] + s->incomplete[n];
		if (v == 0)
			continue;
		if (price_reserve((void **)&r->share, &r->share_cap,
		    r->nshares + 1, sizeof *r->share) == -1)
			return -1;
		r->share[r->nshares].network = n;
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
	struct week_memo memo;
	int64_t split_now[LIMIT_NETWORKS], split_before[LIMIT_NETWORKS];
	int64_t prev_total = 0;
	size_t i, nweek = 0;
	int32_t monday = 0;
	uint32_t k, wi;

	sort_legs_by_day(r);
	if (make_days(r) == -1)
		return -1;
	for (i = 0; i < r->ndays; i++) {
		struct price_day *d = &r->day[i];
		struct day_sums *sum;
		if (nweek == 0 || week_monday(d->service_day) != monday) {
			monday = week_monday(d->service_day);
			nweek = 0;
			prev_total = 0;
			memset(split_before, 0, sizeof split_before);
			if (memo_start(t, r, &memo, wc) == -1)
				return -1;
		}
		assert(nweek < 7);
		sum = &sums[nweek];
		day_sums(t, r, d, sum);
		for (k = 0; k < d->nlegs; k++)
			d->uncapped_cents +=
			    r->leg[d->legs_off + k].contribution_cents;
		for (k = 0; k < t->nnetworks; k++)
			d->incomplete_cents += sum->incomplete[k];
		d->week_total_cents = memo_add_day(t, &memo, sum, nweek, dc,
		    &wi);
		nweek++;
		d->week_caps = memo.e[wi].wsub;
		d->day_caps = memo.e[wi].best[nweek - 1].chosen;
		d->capped_cents = memo.e[wi].best[nweek - 1].cost;
		d->charge_cents = d->week_total_cents - prev_total +
		    d->incomplete_cents;
		split_week(t, sums, nweek, &memo, wi, split_now);
		if (emit_shares(t, r, d, split_now, split_before, sum) == -1)
			return -1;
		mark_caps(t, r, d);
		prev_total = d->week_total_cents;
		memcpy(split_before, split_now, sizeof(int64_t) * t->nnetworks);
	}
	return 0;
}

int64_t
price_day_caps_cents(const struct tariff *t, const struct price_day *d)
{
	int64_t sum = 0;
	uint32_t k;

	for (k = 0; k < t->ncaps; k++)
		if (d->day_caps & (1u << k))
			sum += t->cap[k].amount_cents;
	return sum;
}
