/*
 * Property tests over the Netherlands sample tariff: seeded random tap
 * sets (reproducible: ONECITY_SEED), at least 10,000 a run.  For each:
 * shuffling and duplicating the input changes nothing, byte for byte;
 * every charge is >= 0 and <= the uncapped fares; a day's capped part is
 * <= the cost of every subset of day caps; operator shares add up to the
 * charge; and without caps the charge equals uncapped_cents.
 */
#include "testutil.h"
#include "limits.h"
#include "parse.h"
#include "price.h"
#include "rng.h"
#include "tariff-int.h"

struct rng {
	uint64_t	 s;
};

static uint64_t
rnd(struct rng *r)
{
	return rng_next(&r->s);
}

static unsigned
below(struct rng *r, unsigned n)
{
	return (unsigned)(rnd(r) % n);
}

struct gtap {
	char	 id[24], time[32], pan[24], par[32], net[24], stop[48], kind[4];
};

static const char *const pans[] = {
	"4111111111111111", "4012888888881881", "5555555555554444",
	"5105105105105100", "4000056655665556", "378282246310005",
	"6011111111111117", "3530111333300000",
};
static const char *const pars[] = {
	"V001ONECITYEXAMPLE00000000001", "V002ONECITYEXAMPLE00000000002",
	"V003ONECITYEXAMPLE00000000003",
};

static void
format_time(int64_t t, char *out, size_t len, struct rng *r)
{
	char base[21];

	civil_format_utc(t, base);
	/* Sometimes an offset instead of Z: the same instant. */
	if (below(r, 4) == 0) {
		int64_t l = t + 3600;
		civil_format_utc(l, base);
		base[19] = '\0';
		snprintf(out, len, "%s+01:00", base);
	} else
		snprintf(out, len, "%s", base);
}

/* A random but plausible set of taps for 1-3 accounts. */
static size_t
gen_taps(const struct tariff *t, struct rng *r, struct gtap *out, size_t max)
{
	static const int64_t days[] = {
		1795996800,	/* 2026-11-30, a Monday */
		1796342400,	/* 2026-12-04 */
		1774742400,	/* 2026-03-29, spring forward */
		1792886400,	/* 2026-10-25, fall back */
	};
	uint32_t ns = tariff_nstops(t), nn = tariff_nnetworks(t);
	unsigned ncards = 1 + below(r, 3), c;
	size_t n = 0;

	for (c = 0; c < ncards && n < max; c++) {
		const char *pan = pans[below(r, 8)];
		const char *par = below(r, 3) == 0 ? pars[below(r, 3)] : "";
		int64_t now = days[below(r, 4)] + (int64_t)below(r, 86400);
		unsigned k, ntaps = 1 + below(r, 24);
		uint32_t net = below(r, nn);
		for (k = 0; k < ntaps && n < max; k++) {
			struct gtap *g = &out[n++];
			if (below(r, 3) == 0)
				net = below(r, nn);
			snprintf(g->id, sizeof g->id, "c%u-%u", c, k);
			format_time(now, g->time, sizeof g->time, r);
			snprintf(g->pan, sizeof g->pan, "%s", pan);
			snprintf(g->par, sizeof g->par, "%s",
			    below(r, 5) == 0 ? "" : par);
			snprintf(g->net, sizeof g->net, "%s",
			    tariff_network_id(t, net));
			snprintf(g->stop, sizeof g->stop, "%s",
			    tariff_stop_id(t, below(r, ns)));
			snprintf(g->kind, sizeof g->kind, "%s",
			    (k % 2 == 0) != (below(r, 8) == 0) ? "in" : "out");
			/* Gaps from a double tap to a day and a half. */
			now += below(r, 4) == 0 ? below(r, 90) :
			    60 + below(r, below(r, 10) == 0 ? 130000 : 5400);
		}
	}
	return n;
}

struct check_ctx {
	const struct tariff	*t;
	struct buf		 out;
	int			 no_caps;
	unsigned		 days;
};

static void
check_day(struct check_ctx *c, const struct price_result *r,
    const struct price_day *d)
{
	const struct tariff *t = c->t;
	int64_t sum = 0, uncapped = 0, priced[LIMIT_NETWORKS];
	uint64_t nets = 0;
	uint32_t i, s, dc = 0;

	memset(priced, 0, sizeof priced);
	assert_true(d->charge_cents >= 0);
	assert_true(d->charge_cents <= d->uncapped_cents);
	for (i = 0; i < d->nshares; i++)
		sum += r->share[d->shares_off + i].cents;
	assert_int_equal(sum, d->charge_cents);
	for (i = 0; i < d->nlegs; i++) {
		const struct price_leg *l = &r->leg[d->legs_off + i];
		assert_true(l->contribution_cents >= 0);
		uncapped += l->contribution_cents;
		if (l->status == LEG_COMPLETE || l->status == LEG_AUTOCOMPLETED) {
			priced[l->network] += l->contribution_cents;
			nets |= (uint64_t)1 << l->network;
		}
	}
	assert_int_equal(uncapped, d->uncapped_cents);
	if (c->no_caps)
		assert_int_equal(d->charge_cents, d->uncapped_cents);
	for (i = 0; i < t->ncaps; i++)
		if (t->cap[i].period == T_PERIOD_DAY)
			dc |= 1u << i;
	/* The capped part is no more than any subset of day caps costs. */
	s = 0;
	do {
		int64_t cost = 0;
		uint64_t cov = 0, m;
		for (i = 0; i < t->ncaps; i++)
			if (s >> i & 1) {
				cost += t->cap[i].amount_cents;
				cov |= t->cap[i].networks;
			}
		for (m = nets & ~cov; m != 0; m &= m - 1)
			cost += priced[__builtin_ctzll(m)];
		assert_true(d->charge_cents - d->incomplete_cents <= cost);
		s = (s - dc) & dc;
	} while (s != 0);
	c->days++;
}

static int
check_emit(void *arg, const char *account, const struct price_result *r,
    const struct price_day *d)
{
	struct check_ctx *c = arg;

	check_day(c, r, d);
	price_json_day(c->t, account, r, d, &c->out);
	return 0;
}

static char *
run(const struct tariff *t, struct tap_tokenizer *tk, const struct gtap *g,
    const size_t *order, size_t n, int no_caps, unsigned *days)
{
	struct check_ctx c = {t, {0, 0, 0, 0}, no_caps, 0};
	struct tapset *s = tapset_new(t, tk);
	const char *why;
	size_t i;

	for (i = 0; i < n; i++) {
		const struct gtap *x = &g[order[i]];
		if (tapset_add(s, x->id, x->time, x->pan, x->par, x->net,
		    x->stop, x->kind, &why) != 0)
			fail_msg("generated tap %s rejected: %s", x->id, why);
	}
	assert_int_equal(tapset_price(s, check_emit, &c), 0);
	buf_addc(&c.out, '\0');
	tapset_free(s);
	if (days != NULL)
		*days += c.days;
	return c.out.p;
}

/*
 * order[0..n) (the identity) shuffled, with some rows sent twice: the
 * arrival orders the properties must not notice.  Returns the length.
 */
static size_t
shuffle_with_repeats(struct rng *r, size_t *order, size_t n)
{
	size_t m = n, i;

	for (i = 0; i < n; i++)
		if (below(r, 4) == 0)
			order[m++] = i;
	for (i = m; i > 1; i--) {
		size_t j = below(r, (unsigned)i), x = order[i - 1];
		order[i - 1] = order[j];
		order[j] = x;
	}
	return m;
}

/* The properties hold for every seeded random tap set. */
static void
test_properties(void **state)
{
	const char *seed_env = getenv("ONECITY_SEED");
	const char *iters_env = getenv("ONECITY_PROP_SETS");
	struct rng r = {seed_env ? strtoull(seed_env, NULL, 10) : 20261128};
	unsigned sets = iters_env ? (unsigned)atoi(iters_env) : 10000, k;
	struct tariff *t = tu_load(TU_NL);
	struct tu_file nocap[] = {{"fare_caps.txt", NULL}};
	struct tariff *tn = tu_load_with(TU_NL, nocap, 1);
	struct tap_tokenizer *tk = tap_tokenizer_new(
	    (const unsigned char *)TAP_DEV_TOKEN_KEY, strlen(TAP_DEV_TOKEN_KEY));
	struct gtap g[160];
	size_t order[320], i, n;
	unsigned days = 0, nodays = 0;

	(void)state;
	print_message("property seed %llu, %u tap sets\n",
	    (unsigned long long)r.s, sets);
	for (k = 0; k < sets; k++) {
		char *a, *b, *c;
		size_t m;
		n = gen_taps(t, &r, g, 80);
		for (i = 0; i < n; i++)
			order[i] = i;
		a = run(t, tk, g, order, n, 0, &days);
		m = shuffle_with_repeats(&r, order, n);
		b = run(t, tk, g, order, m, 0, NULL);
		if (strcmp(a, b) != 0)
			fail_msg("set %u: shuffling changed the output:\n%s\n"
			    "--- vs ---\n%s", k, a, b);
		c = run(tn, tk, g, order, m, 1, &nodays);
		free(a);
		free(b);
		free(c);
	}
	print_message("checked %u account-days (%u without caps)\n", days,
	    nodays);
	assert_true(days > sets);
	tap_tokenizer_free(tk);
	tariff_free(t);
	tariff_free(tn);
}

/*
 * A random tariff shaped like the real feeds of SPEC §2: networks from
 * networks.txt, routes.txt or agency.txt; stations with platforms and a
 * generic node without coordinates; rider categories with a default; fare
 * media of every type; rules left out for want of a bank-card row; some
 * networks without a policy row; transfers measured from the first or the
 * previous leg, with or without a limit, up to 30 days; sometimes distance
 * bands and caps.  Every generated feed must load.
 */
static void
gen_feed(struct rng *r, const char *dir)
{
	static const char *const tzs[] = {"Europe/Amsterdam", "America/New_York"};
	static const char *const lims[] = {"", "600", "2100", "5400", "86400",
	    "2592000"};
	char path[512], lg[4][8];
	unsigned nnet = 1 + below(r, 4), n, i, mode = below(r, 3);
	unsigned priority = below(r, 3) == 0, used = 0;
	FILE *f;

#define OPEN(name) do {							\
	snprintf(path, sizeof path, "%s/%s", dir, name);		\
	f = fopen(path, "w");						\
	assert_non_null(f);						\
} while (0)
	OPEN("agency.txt");
	fprintf(f, "agency_id,agency_name,agency_timezone,agency_url\n");
	i = below(r, 2);
	for (n = 0; n < nnet; n++)
		fprintf(f, "N%u,Agency %u,%s,https://example.org\n", n, n,
		    tzs[i]);
	fclose(f);
	if (mode == 0) {
		OPEN("networks.txt");
		fprintf(f, "network_id,network_name\n");
		for (n = 0; n < nnet; n++)
			fprintf(f, "N%u,Network %u\n", n, n);
		fclose(f);
	} else if (mode == 1) {
		OPEN("routes.txt");
		fprintf(f, "route_id,agency_id,route_type,network_id\n");
		for (n = 0; n < nnet * 2; n++)
			fprintf(f, "r%u,N%u,3,N%u\n", n, n / 2, n / 2);
		fclose(f);
	}
	OPEN("stops.txt");
	fprintf(f, "stop_id,stop_name,stop_lat,stop_lon,location_type,"
	    "parent_station\n");
	fprintf(f, "S,Station,52.37,4.90,1,\nS1,Platform 1,52.3701,4.9001,0,S\n"
	    "S2,Platform 2,52.3699,4.8999,0,S\nSN,Concourse,,,3,S\n");
	for (i = 0; i < 8; i++)
		fprintf(f, "P%u,Stop %u,%.6f,%.6f,,\n", i, i,
		    52.30 + below(r, 20000) / 100000.0,
		    4.80 + below(r, 30000) / 100000.0);
	fclose(f);
	OPEN("fare_media.txt");
	fprintf(f, "fare_media_id,fare_media_type\ncash,0\npaper,1\ncard,2\n"
	    "emv,3\napp,4\n");
	fclose(f);
	OPEN("fare_products.txt");
	fprintf(f, "fare_product_id,amount,currency,fare_media_id,"
	    "rider_category_id\n");
	for (i = 0; i < 4; i++) {
		/* The bank-card row, unless the product is cash-only. */
		if (i == 0 || below(r, 5) != 0)
			fprintf(f, "leg%u,%u.%02u,EUR,%s,%s\n", i, below(r, 5),
			    below(r, 100), below(r, 2) ? "emv" : "",
			    below(r, 2) ? "adult" : "");
		fprintf(f, "leg%u,9.99,EUR,cash,\n", i);
		fprintf(f, "leg%u,0.50,EUR,emv,senior\n", i);
	}
	fprintf(f, "xfer_free,0,EUR,,\nxfer_waive,-1.50,EUR,emv,\n"
	    "xfer_ab,3.00,EUR,,\nincomplete,4.00,EUR,,\n");
	fclose(f);
	if (below(r, 2)) {
		OPEN("rider_categories.txt");
		fprintf(f, "rider_category_id,is_default_fare_category\n"
		    "adult,1\nsenior,0\n");
		fclose(f);
	}
	OPEN("fare_leg_rules.txt");
	fprintf(f, "leg_group_id,network_id,from_area_id,to_area_id,"
	    "fare_product_id%s\n", priority ? ",rule_priority" : "");
	for (i = 0; i < 4; i++)
		snprintf(lg[i], sizeof lg[i], "g%u", below(r, 3));
	for (n = 0; n < nnet; n++) {
		if (below(r, 6) == 0)
			continue;
		fprintf(f, "%s,N%u,,,leg%u%s\n", lg[n % 4], n, below(r, 4),
		    priority ? ",1" : "");
		used |= 1u << (lg[n % 4][1] - '0');
		if (below(r, 3) == 0) {
			fprintf(f, "%s,N%u,,,leg%u%s\n", lg[(n + 1) % 4], n,
			    below(r, 4), priority ? ",0" : "");
			used |= 1u << (lg[(n + 1) % 4][1] - '0');
		}
	}
	if (below(r, 2)) {
		fprintf(f, "g3,,,,leg%u%s\n", below(r, 4), priority ? ",0" : "");
		used |= 1u << 3;
	}
	fclose(f);
	OPEN("fare_transfer_rules.txt");
	fprintf(f, "from_leg_group_id,to_leg_group_id,transfer_count,"
	    "duration_limit,duration_limit_type,fare_transfer_type,"
	    "fare_product_id,duration_limit_from\n");
	for (i = used != 0 ? below(r, 4) : 0; i > 0; i--) {
		static const char *const prods[] = {"", "xfer_free",
		    "xfer_waive", "xfer_ab", "leg3"};
		unsigned a, b;
		while (!(used >> (a = below(r, 4)) & 1))
			;
		while (!(used >> (b = below(r, 4)) & 1))
			;
		const char *lim = lims[below(r, 6)];
		fprintf(f, "g%u,g%u,%s,%s,%s,%u,%s,%s\n", a, b,
		    a == b ? (below(r, 2) ? "-1" : "2") : "", lim,
		    *lim ? (below(r, 2) ? "1" : "2") : "", below(r, 3),
		    prods[below(r, 5)], below(r, 2) ? "previous" :
		    below(r, 2) ? "first" : "");
	}
	fclose(f);
	OPEN("network_policies.txt");
	fprintf(f, "network_id,checkout_required,incomplete_fare_product_id,"
	    "max_leg_minutes,cancel_minutes,autocomplete\n");
	for (n = 0; n < nnet; n++)
		if (below(r, 3) != 0)
			fprintf(f, "N%u,%u,incomplete,%u,%u,%u\n", n,
			    below(r, 4) != 0, 30 + below(r, 300),
			    below(r, 40), below(r, 2));
	fclose(f);
	if (below(r, 2)) {
		OPEN("fare_distance_rules.txt");
		fprintf(f, "network_id,from_distance_m,per_km_amount\n"
		    "N0,0,0.15\nN0,3000,0.10\n");
		fclose(f);
	}
	if (below(r, 2)) {
		OPEN("fare_caps.txt");
		fprintf(f, "cap_id,amount,currency,period,network_id\n"
		    "day,%u.00,EUR,day,\nweek,%u.00,EUR,week,\n",
		    3 + below(r, 8), 10 + below(r, 30));
		fclose(f);
	}
#undef OPEN
}

/* The properties hold over random feeds of real shapes too. */
static void
test_properties_generated_feeds(void **state)
{
	const char *seed_env = getenv("ONECITY_SEED");
	struct rng r = {seed_env ? strtoull(seed_env, NULL, 10) : 20261130};
	struct tap_tokenizer *tk = tap_tokenizer_new(
	    (const unsigned char *)TAP_DEV_TOKEN_KEY, strlen(TAP_DEV_TOKEN_KEY));
	struct gtap g[160];
	size_t order[320], i, n;
	unsigned feeds = 60, sets = 60, k, s, days = 0;

	(void)state;
	for (k = 0; k < feeds; k++) {
		char tmpl[] = "/tmp/onecity-genfeed-XXXXXX";
		char *dir = strdup(mkdtemp(tmpl));
		struct tariff *t;
		gen_feed(&r, dir);
		t = tu_load(dir);
		for (s = 0; s < sets; s++) {
			char *a, *b;
			size_t m;
			n = gen_taps(t, &r, g, 60);
			for (i = 0; i < n; i++)
				order[i] = i;
			a = run(t, tk, g, order, n, t->ncaps == 0, &days);
			m = shuffle_with_repeats(&r, order, n);
			b = run(t, tk, g, order, m, t->ncaps == 0, NULL);
			if (strcmp(a, b) != 0)
				fail_msg("feed %u (%s) set %u: shuffling changed "
				    "the output:\n%s\n--- vs ---\n%s", k, dir, s,
				    a, b);
			free(a);
			free(b);
		}
		tariff_free(t);
		tu_rmdir(dir);
	}
	print_message("generated feeds: %u feeds, %u account-days\n", feeds,
	    days);
	assert_true(days > feeds * sets);
	tap_tokenizer_free(tk);
}

/* A caught mistake: dropping duplicates must not depend on arrival order. */
static void
test_conflicting_duplicates_order_free(void **state)
{
	struct tariff *t = tu_load(TU_NL);
	char *a, *b;

	(void)state;
	a = tu_price(t,
	    "d1,2026-11-30T08:00:00Z,4111111111111111,,GVB,gvb-dam,in\n"
	    "d1,2026-11-30T08:00:00Z,4111111111111111,,GVB,gvb-spui,in\n"
	    "d2,2026-11-30T08:20:00Z,4111111111111111,,GVB,gvb-rai,out\n");
	b = tu_price(t,
	    "d2,2026-11-30T08:20:00Z,4111111111111111,,GVB,gvb-rai,out\n"
	    "d1,2026-11-30T08:00:00Z,4111111111111111,,GVB,gvb-spui,in\n"
	    "d1,2026-11-30T08:00:00Z,4111111111111111,,GVB,gvb-dam,in\n");
	assert_string_equal(a, b);
	tu_has(a, "\"from_stop_id\":\"gvb-dam\"");
	free(a);
	free(b);
	tariff_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conflicting_duplicates_order_free),
		cmocka_unit_test(test_properties),
		cmocka_unit_test(test_properties_generated_feeds),
	};

	return cmocka_run_group_tests_name("properties", tests, NULL, NULL);
}
