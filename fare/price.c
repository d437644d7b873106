/*
 * Legs, leg fares and journeys (SPEC §4).  Walks one account's taps once,
 * keeping at most one open leg, then prices each leg against the tariff
 * and chains priced legs into journeys through the transfer rules.  Caps
 * and apportionment follow in price-caps.c.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "limits.h"
#include "parse.h"
#include "price-int.h"
#include "tariff-int.h"

#define NONE TARIFF_NONE

void
price_result_init(struct price_result *r)
{
	memset(r, 0, sizeof *r);
}

void
price_result_free(struct price_result *r)
{
	free(r->leg);
	free(r->day);
	free(r->share);
	free(r->kept);
	free(r->memo);
	price_result_init(r);
}

const char *
price_status_name(enum price_status s)
{
	static const char *const names[] = {
		"complete", "autocompleted", "incomplete", "cancelled",
		"unpriced", "open",
	};

	return names[s];
}

int
price_reserve(void **p, size_t *cap, size_t need, size_t size)
{
	size_t ncap;
	void *q;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap : 16;
	while (ncap < need)
		ncap *= 2;
	if ((q = realloc(*p, ncap * size)) == NULL)
		return -1;
	*p = q;
	*cap = ncap;
	return 0;
}

int32_t
price_service_day(const struct tariff *t, int64_t utc)
{
	int64_t local = utc + tz_offset(t->tz, utc);
	int64_t day = civil_day_of(local);

	if (local - day * 86400 < t->day_start_s)
		day--;
	return (int32_t)day;
}

/* Local calendar day and time of day of a UTC time. */
static void
local_day_tod(const struct tariff *t, int64_t utc, int32_t *day, int32_t *tod)
{
	int64_t local = utc + tz_offset(t->tz, utc);
	int64_t d = civil_day_of(local);

	*day = (int32_t)d;
	*tod = (int32_t)(local - d * 86400);
}

/* Whether a stop matches a rule's area field (SPEC §4, GTFS Fares v2). */
static int
area_matches(const struct tariff *t, uint32_t area, const uint8_t *named,
    uint32_t stop)
{
	const struct t_stop *st;
	uint32_t i;

	if (area != NONE)
		return tariff_stop_in_area(t, stop, area);
	if (t->has_priority)
		return 1;
	st = &t->stop[stop];
	st = &t->stop[st->area_stop];
	for (i = 0; i < st->nareas; i++)
		if (named[t->stop_area_list[st->areas_off + i]])
			return 0;
	return 1;
}

/* Whether rule a beats rule b: cheaper, then leg_group_id, then product. */
static int
rule_better(const struct tariff *t, const struct t_leg_rule *a,
    const struct t_leg_rule *b)
{
	int64_t pa = t->product[a->product].amount_cents;
	int64_t pb = t->product[b->product].amount_cents;
	const char *ga, *gb;
	int c;

	if (pa != pb)
		return pa < pb;
	ga = a->leg_group == NONE ? "" :
	    strtab_name(t->leg_group_ids, a->leg_group);
	gb = b->leg_group == NONE ? "" :
	    strtab_name(t->leg_group_ids, b->leg_group);
	if ((c = strcmp(ga, gb)) != 0)
		return c < 0;
	return strcmp(strtab_name(t->product_ids, a->product),
	    strtab_name(t->product_ids, b->product)) < 0;
}

/* The distance part in cents: exact band sums, rounded half up once. */
static int64_t
distance_cents(const struct tariff *t, const struct t_network *nw,
    int64_t metres)
{
	int64_t sum = 0;
	uint32_t i;

	for (i = 0; i < nw->nbands; i++) {
		const struct t_band *b = &t->band[nw->bands_off + i];
		int64_t end = i + 1 < nw->nbands ?
		    t->band[nw->bands_off + i + 1].from_m : INT64_MAX;
		int64_t in = (metres < end ? metres : end) - b->from_m;
		if (in > 0)
			sum += b->rate_1e5 * in;
	}
	/* sum is in 1e-5 EUR x metres; a cent is 1000 x 1e-5 EUR per km. */
	return (sum + 500000) / 1000000;
}

int
price_leg_fare(const struct tariff *t, uint32_t net, uint32_t from,
    uint32_t to, int64_t checkin, int64_t checkout, int64_t *fare,
    uint32_t *rule_out, int64_t *dist_out)
{
	const struct t_network *nw = &t->network[net];
	const struct t_leg_rule *best = NULL;
	int32_t in_day, in_tod, out_day, out_tod;
	uint32_t i;

	local_day_tod(t, checkin, &in_day, &in_tod);
	local_day_tod(t, checkout, &out_day, &out_tod);
	for (i = 0; i < nw->nrules; i++) {
		const struct t_leg_rule *r =
		    &t->leg_rule[t->net_rules[nw->rules_off + i]];
		if (best != NULL && t->has_priority &&
		    r->priority < best->priority)
			continue;
		if (!area_matches(t, r->from_area, t->from_area_named, from) ||
		    !area_matches(t, r->to_area, t->to_area_named, to))
			continue;
		if (r->from_tf != NONE &&
		    !tariff_timeframe_has(t, r->from_tf, in_day, in_tod))
			continue;
		if (r->to_tf != NONE &&
		    !tariff_timeframe_has(t, r->to_tf, out_day, out_tod))
			continue;
		if (best == NULL || (t->has_priority &&
		    r->priority > best->priority) || rule_better(t, r, best))
			best = r;
	}
	if (best == NULL)
		return -1;
	*fare = t->product[best->product].amount_cents;
	*rule_out = (uint32_t)(best - t->leg_rule);
	*dist_out = -1;
	if (nw->nbands > 0) {
		/* A pair with no distance cannot be priced by distance. */
		if ((*dist_out = tariff_distance_m(t, from, to)) < 0)
			return -1;
		*fare += distance_cents(t, nw, *dist_out);
	}
	return 0;
}

static struct price_leg *
leg_new(struct price_result *r, uint32_t net, int32_t day)
{
	struct price_leg *l;

	if (price_reserve((void **)&r->leg, &r->leg_cap, r->nlegs + 1,
	    sizeof *r->leg) == -1)
		return NULL;
	l = &r->leg[r->nlegs++];
	memset(l, 0, sizeof *l);
	l->network = net;
	l->from_stop = l->to_stop = NONE;
	l->checkin = l->checkout = PRICE_NO_TIME;
	l->service_day = day;
	l->rule = l->leg_group = l->transfer = NONE;
	l->distance_m = -1;
	l->cap = -1;
	return l;
}

static int64_t
incomplete_fare(const struct tariff *t, uint32_t net)
{
	uint32_t p = t->network[net].incomplete_product;

	return p == NONE ? 0 : t->product[p].amount_cents;
}

static void
leg_incomplete(const struct tariff *t, struct price_leg *l)
{
	l->status = LEG_INCOMPLETE;
	l->fare_cents = incomplete_fare(t, l->network);
}

static void
leg_set_rule(const struct tariff *t, struct price_leg *l, uint32_t rule)
{
	l->rule = rule;
	l->leg_group = t->leg_rule[rule].leg_group;
}

/* The open leg closed by a tap at stop (SPEC §4 "Closed by a tap"). */
static void
leg_closed_by_tap(const struct tariff *t, struct price_leg *l,
    const struct price_tap *tap)
{
	const struct t_network *nw = &t->network[l->network];
	int64_t fare, dist;
	uint32_t rule;

	if (tariff_same_station(t, l->from_stop, tap->stop) &&
	    tap->time - l->checkin <= nw->cancel_s) {
		l->status = LEG_CANCELLED;
		l->to_stop = tap->stop;
		l->checkout = tap->time;
		return;
	}
	if (nw->autocomplete && price_leg_fare(t, l->network, l->from_stop,
	    tap->stop, l->checkin, tap->time, &fare, &rule, &dist) == 0) {
		int64_t inc = incomplete_fare(t, l->network);
		l->status = LEG_AUTOCOMPLETED;
		l->to_stop = tap->stop;
		l->checkout = tap->time;
		l->fare_cents = fare < inc ? fare : inc;
		l->distance_m = dist;
		leg_set_rule(t, l, rule);
		return;
	}
	leg_incomplete(t, l);
}

/* A leg from its check-in to stop `to` at time `out`: complete with its
 * fare when a rule prices it, else unpriced (SPEC §4 "Leg fare"). */
static void
leg_price(const struct tariff *t, struct price_leg *l, uint32_t to,
    int64_t out)
{
	int64_t fare, dist;
	uint32_t rule;

	if (price_leg_fare(t, l->network, l->from_stop, to, l->checkin, out,
	    &fare, &rule, &dist) == 0) {
		l->status = LEG_COMPLETE;
		l->fare_cents = fare;
		l->distance_m = dist;
		leg_set_rule(t, l, rule);
	} else
		l->status = LEG_UNPRICED;
}

static void
leg_complete(const struct tariff *t, struct price_leg *l,
    const struct price_tap *tap)
{
	const struct t_network *nw = &t->network[l->network];

	l->to_stop = tap->stop;
	l->checkout = tap->time;
	if (tariff_same_station(t, l->from_stop, tap->stop) &&
	    tap->time - l->checkin <= nw->cancel_s) {
		l->status = LEG_CANCELLED;
		return;
	}
	leg_price(t, l, tap->stop, tap->time);
}

/* A no-checkout boarding: a complete leg by itself, from = to. */
static int
leg_boarding(const struct tariff *t, struct price_result *r,
    const struct price_tap *tap)
{
	struct price_leg *l = leg_new(r, tap->network,
	    price_service_day(t, tap->time));

	if (l == NULL)
		return -1;
	l->from_stop = l->to_stop = tap->stop;
	l->checkin = tap->time;
	leg_price(t, l, tap->stop, tap->time);
	return 0;
}

/* Drops double taps: same network, stop and kind within 60 s (inclusive). */
static size_t
drop_double_taps(const struct price_tap *taps, size_t n, uint32_t *kept)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		if (k > 0) {
			const struct price_tap *p = &taps[kept[k - 1]];
			if (p->network == taps[i].network &&
			    p->stop == taps[i].stop && p->kind == taps[i].kind &&
			    taps[i].time - p->time <= 60)
				continue;
		}
		kept[k++] = (uint32_t)i;
	}
	return k;
}

/* The walk of SPEC §4 "Legs"; legs come out in order of their first tap. */
static int
walk_legs(const struct tariff *t, const struct price_tap *taps, size_t n,
    int64_t now, struct price_result *r)
{
	size_t i, k, open = SIZE_MAX;

	if (price_reserve((void **)&r->kept, &r->kept_cap, n + 1,
	    sizeof *r->kept) == -1)
		return -1;
	k = drop_double_taps(taps, n, r->kept);
	for (i = 0; i < k; i++) {
		const struct price_tap *tap = &taps[r->kept[i]];
		const struct t_network *nw = &t->network[tap->network];
		struct price_leg *l;

		if (open != SIZE_MAX) {
			l = &r->leg[open];
			if (tap->time - l->checkin >
			    t->network[l->network].max_leg_s) {
				leg_incomplete(t, l);
				open = SIZE_MAX;
			}
		}
		if (!nw->checkout_required) {
			if (tap->kind == PRICE_IN && leg_boarding(t, r, tap) == -1)
				return -1;
			continue;
		}
		if (tap->kind == PRICE_IN) {
			if (open != SIZE_MAX)
				leg_closed_by_tap(t, &r->leg[open], tap);
			if ((l = leg_new(r, tap->network,
			    price_service_day(t, tap->time))) == NULL)
				return -1;
			l->from_stop = tap->stop;
			l->checkin = tap->time;
			l->status = LEG_OPEN;
			open = r->nlegs - 1;
			continue;
		}
		if (open != SIZE_MAX && r->leg[open].network == tap->network) {
			leg_complete(t, &r->leg[open], tap);
			open = SIZE_MAX;
		} else if (open != SIZE_MAX) {
			leg_closed_by_tap(t, &r->leg[open], tap);
			open = SIZE_MAX;
		} else {
			if ((l = leg_new(r, tap->network,
			    price_service_day(t, tap->time))) == NULL)
				return -1;
			l->to_stop = tap->stop;
			l->checkout = tap->time;
			leg_incomplete(t, l);
		}
	}
	if (open != SIZE_MAX) {
		struct price_leg *l = &r->leg[open];
		if (now == PRICE_END_OF_TIME ||
		    now - l->checkin > t->network[l->network].max_leg_s)
			leg_incomplete(t, l);
	}
	return 0;
}

/* State of the journey being built. */
struct journey {
	size_t		 first;		/* index of its first leg */
	size_t		 nlegs;
	size_t		*legs;		/* r->leg indexes, nlegs of them */
	int64_t		 cost;
};

/* Check-out time for durations: the check-in where there is none. */
static int64_t
leg_out(const struct price_leg *l)
{
	return l->checkout != PRICE_NO_TIME ? l->checkout : l->checkin;
}

static int
transfer_groups_match(const struct tariff *t, const struct t_transfer_rule *x,
    uint32_t from_lg, uint32_t to_lg)
{
	if (x->from_lg != NONE ? x->from_lg != from_lg :
	    t->from_lg_named[from_lg])
		return 0;
	return x->to_lg != NONE ? x->to_lg == to_lg : !t->to_lg_named[to_lg];
}

/* Consecutive transfers ending at the journey's last leg with x's fields. */
static size_t
transfer_run(const struct tariff *t, const struct price_result *r,
    const struct journey *j, const struct t_transfer_rule *x)
{
	size_t n = 1, i;

	for (i = j->nlegs - 1; i > 0; i--) {
		const struct t_transfer_rule *y =
		    &t->transfer[r->leg[j->legs[i]].transfer];
		if (y->from_lg != x->from_lg || y->to_lg != x->to_lg)
			break;
		n++;
	}
	return n;
}

/*
 * Whether leg l is within x's duration_limit, measured from leg f (SPEC
 * §4): the run's first leg, or the leg before l for duration_limit_from
 * `previous`.  A rule without a limit reaches only legs on the journey's
 * first service day (first).
 */
static int
transfer_within(const struct t_transfer_rule *x, const struct price_leg *f,
    const struct price_leg *l, const struct price_leg *first)
{
	int64_t start, end;

	if (x->duration_s < 0)
		return l->service_day == first->service_day;
	start = x->duration_type == 0 || x->duration_type == 1 ? f->checkin :
	    leg_out(f);
	end = x->duration_type == 1 || x->duration_type == 2 ? l->checkin :
	    leg_out(l);
	return end - start <= x->duration_s;
}

static int64_t
nonneg(int64_t v)
{
	return v < 0 ? 0 : v;
}

/*
 * What the journey costs if leg l joins through rule x; *first and *own
 * get the first leg's and l's contributions.
 */
static int64_t
transfer_cost(const struct tariff *t, const struct price_result *r,
    const struct journey *j, const struct t_transfer_rule *x,
    const struct price_leg *l, int64_t *first, int64_t *own)
{
	int64_t prod = x->product == NONE ? 0 :
	    t->product[x->product].amount_cents;
	const struct price_leg *f = &r->leg[j->legs[0]];

	*first = f->contribution_cents;
	if (x->transfer_type == 0)
		*own = nonneg(prod);
	else if (x->transfer_type == 1)
		*own = nonneg(prod + l->fare_cents);
	else if (j->nlegs == 1) {
		*first = nonneg(f->fare_cents < prod ? f->fare_cents : prod);
		*own = nonneg(prod - *first);
	} else
		*own = nonneg(prod);
	return j->cost - f->contribution_cents + *first + *own;
}

static int
count_key(int32_t c)
{
	return c < 0 ? INT32_MAX : c;
}

/* Tries to join leg li to the journey; returns whether it joined. */
static int
journey_join(const struct tariff *t, struct price_result *r,
    struct journey *j, size_t li)
{
	struct price_leg *l = &r->leg[li], *p = &r->leg[j->legs[j->nlegs - 1]];
	const struct t_transfer_rule *best = NULL;
	int64_t best_cost = 0, best_first = 0, best_own = 0, first, own, cost;
	size_t k, run;

	if (p->leg_group == NONE || l->leg_group == NONE)
		return 0;
	for (k = 0; k < t->ntransfers; k++) {
		const struct t_transfer_rule *x = &t->transfer[k];
		if (x->left_out ||
		    !transfer_groups_match(t, x, p->leg_group, l->leg_group))
			continue;
		run = transfer_run(t, r, j, x);
		if (x->transfer_count > 0 && run > (size_t)x->transfer_count)
			continue;
		if (!transfer_within(x, x->from_previous ? p :
		    &r->leg[j->legs[j->nlegs - run]], l, &r->leg[j->legs[0]]))
			continue;
		cost = transfer_cost(t, r, j, x, l, &first, &own);
		if (best != NULL) {
			int cx = count_key(x->transfer_count);
			int cb = count_key(best->transfer_count);
			if (cx > cb || (cx == cb && (cost > best_cost ||
			    (cost == best_cost && x->transfer_type >=
			    best->transfer_type))))
				continue;
		}
		best = x;
		best_cost = cost;
		best_first = first;
		best_own = own;
	}
	if (best == NULL)
		return 0;
	r->leg[j->legs[0]].contribution_cents = best_first;
	l->contribution_cents = best_own;
	l->transfer = (uint32_t)(best - t->transfer);
	l->journey = p->journey;
	j->legs[j->nlegs++] = li;
	j->cost = best_cost;
	return 1;
}

static int
build_journeys(const struct tariff *t, struct price_result *r)
{
	struct journey j = {0, 0, NULL, 0};
	uint32_t journeys = 0;
	size_t i;

	if ((j.legs = malloc((r->nlegs + 1) * sizeof *j.legs)) == NULL)
		return -1;
	for (i = 0; i < r->nlegs; i++) {
		struct price_leg *l = &r->leg[i];
		if (l->status == LEG_CANCELLED)
			continue;
		if (l->status != LEG_COMPLETE && l->status != LEG_AUTOCOMPLETED) {
			l->contribution_cents = l->status == LEG_INCOMPLETE ?
			    l->fare_cents : 0;
			j.nlegs = 0;
			continue;
		}
		if (j.nlegs > 0 && journey_join(t, r, &j, i))
			continue;
		l->contribution_cents = l->fare_cents;
		l->journey = ++journeys;
		j.legs[0] = i;
		j.nlegs = 1;
		j.cost = l->fare_cents;
	}
	free(j.legs);
	return 0;
}

int
price_account(const struct tariff *t, const struct price_tap *taps,
    size_t ntaps, int64_t now, struct price_result *r)
{
	r->nlegs = r->ndays = r->nshares = 0;
	if (walk_legs(t, taps, ntaps, now, r) == -1 ||
	    build_journeys(t, r) == -1)
		return -1;
	return price_caps(t, r);
}
