/*
 * The repricing window (price-window.c, SPEC §6): which taps a change must
 * re-price from, named after each case, and the property that re-pricing
 * from the cut gives exactly the days the whole history gives, from the
 * changed day's week on.
 */
#include "testutil.h"
#include "limits.h"
#include "parse.h"
#include "price.h"
#include "rng.h"

/* 2026-11-30 is a Monday; times below are UTC (CET = UTC+1). */
#define MON	1795996800LL
#define DAY	86400LL
#define HOUR	3600LL

static struct price_tap
tap(const struct tariff *t, int64_t time, const char *net, const char *stop,
    int kind)
{
	struct price_tap p;

	p.time = time;
	p.network = tariff_network(t, net, strlen(net));
	p.stop = tariff_stop(t, stop, strlen(stop));
	p.kind = (uint8_t)kind;
	assert_true(p.network != TARIFF_NONE && p.stop != TARIFF_NONE);
	return p;
}

/* A commuter's day: the train in at 08:00 local, back at 17:30. */
static size_t
commute(const struct tariff *t, int64_t day, struct price_tap *out)
{
	out[0] = tap(t, day + 7 * HOUR, "NS", "ut", PRICE_IN);
	out[1] = tap(t, day + 7 * HOUR + 1800, "NS", "asd", PRICE_OUT);
	out[2] = tap(t, day + 16 * HOUR + 1800, "NS", "asd", PRICE_IN);
	out[3] = tap(t, day + 17 * HOUR, "NS", "ut", PRICE_OUT);
	return 4;
}

static int32_t
sday(int64_t utc)
{
	return (int32_t)(utc / DAY);
}

/* A late tap three weeks back: the cut is before that week's Monday. */
static void
test_window_late_tap_in_an_earlier_week(void **state)
{
	struct tariff *t = tu_load(TU_NL);
	struct price_tap taps[200];
	size_t n = 0, cut;
	int d, found;

	(void)state;
	for (d = 0; d < 42; d++)
		n += commute(t, MON - 21 * DAY + d * DAY, taps + n);
	/* A change on Wednesday of the first week (2026-11-18). */
	cut = price_window_cut(t, taps, n,
	    price_week_start(sday(MON - 12 * DAY)), &found);
	assert_true(found);
	assert_true(taps[cut].time == MON - 14 * DAY + 7 * HOUR);
	assert_int_equal(price_week_start(sday(MON - 12 * DAY)),
	    sday(MON - 14 * DAY));
	tariff_free(t);
}

/* A live tap today: the cut is this week's first tap, not older history. */
static void
test_window_live_tap_reads_this_week_only(void **state)
{
	struct tariff *t = tu_load(TU_NL);
	struct price_tap taps[1600];
	size_t n = 0, cut;
	int d, found;

	(void)state;
	for (d = 0; d < 365; d++)
		n += commute(t, MON - 364 * DAY + d * DAY, taps + n);
	cut = price_window_cut(t, taps, n, sday(MON), &found);
	assert_true(found);
	assert_int_equal(cut, n - 4);
	tariff_free(t);
}

/*
 * A journey crossing Sunday night into Monday's service day (the
 * 35-minute transfer): the cut moves back to the journey's first leg.
 */
static void
test_window_journey_crossing_sunday_night(void **state)
{
	struct tariff *t = tu_load(TU_NL);
	struct price_tap taps[8];
	int64_t sun = MON - DAY;
	size_t cut;
	int found;

	(void)state;
	taps[0] = tap(t, sun + 10 * HOUR, "GVB", "gvb-dam", PRICE_IN);
	taps[1] = tap(t, sun + 10 * HOUR + 900, "GVB", "gvb-spui", PRICE_OUT);
	/* 03:10-03:30 local Monday: still Sunday's service day. */
	taps[2] = tap(t, MON + 2 * HOUR + 600, "GVB", "gvb-dam", PRICE_IN);
	taps[3] = tap(t, MON + 2 * HOUR + 1800, "GVB", "gvb-rai", PRICE_OUT);
	/* 04:05 local: Monday's service day, 35 minutes after. */
	taps[4] = tap(t, MON + 3 * HOUR + 300, "GVB", "gvb-rai", PRICE_IN);
	taps[5] = tap(t, MON + 3 * HOUR + 1200, "GVB", "gvb-dam", PRICE_OUT);
	cut = price_window_cut(t, taps, 6, sday(MON), &found);
	assert_true(found);
	assert_int_equal(cut, 2);
	tariff_free(t);
}

/* Without a clean gap in what was read, the caller must read further. */
static void
test_window_needs_more_history(void **state)
{
	struct tariff *t = tu_load(TU_NL);
	struct price_tap taps[4];
	int found;

	(void)state;
	taps[0] = tap(t, MON - 2 * HOUR, "GVB", "gvb-dam", PRICE_IN);
	/* 04:10 local Monday: five hours, under NS's 6-hour open leg. */
	taps[1] = tap(t, MON + 3 * HOUR + 600, "GVB", "gvb-spui", PRICE_IN);
	assert_int_equal(price_window_cut(t, taps, 2, sday(MON), &found), 0);
	assert_false(found);
	tariff_free(t);
}

/* No tap in the window: nothing before reaches it (the end is a cut). */
static void
test_window_no_taps_from_the_day(void **state)
{
	struct tariff *t = tu_load(TU_NL);
	struct price_tap taps[4];
	int found;

	(void)state;
	commute(t, MON - 7 * DAY, taps);
	assert_int_equal(price_window_cut(t, taps, 4, sday(MON), &found), 4);
	assert_true(found);
	tariff_free(t);
}

/* A 30-day transfer (GTFS allows it) makes the link as long. */
static void
test_window_long_transfer_reaches_far(void **state)
{
	static const struct tu_file month[] = {
		{"fare_transfer_rules.txt",
		    "from_leg_group_id,to_leg_group_id,transfer_count,"
		    "duration_limit,duration_limit_type,fare_transfer_type,"
		    "fare_product_id\n"
		    "local,local,-1,2592000,1,1,local_transfer\n"},
	};
	struct tariff *t = tu_load_with(TU_NL, month, 1);
	struct price_tap taps[200];
	size_t n = 0, cut;
	int d, found;

	(void)state;
	assert_int_equal(price_link_s(t), 2592000);
	for (d = 0; d < 40; d++)
		n += commute(t, MON - 39 * DAY + d * DAY, taps + n);
	cut = price_window_cut(t, taps, n, sday(MON), &found);
	assert_false(found);
	assert_int_equal(cut, 0);
	tariff_free(t);
}

/*
 * A random history of 20 to 519 taps over the sample tariff from `now`:
 * rides, transfers, double taps and nights off.  Returns how many.
 */
static size_t
gen_history(const struct tariff *t, uint64_t *s, int64_t now,
    struct price_tap *taps)
{
	uint32_t ns = tariff_nstops(t), nn = tariff_nnetworks(t);
	size_t n = 0, want = 20 + rng_next(s) % 500;

	while (n < want) {
		struct price_tap *p = &taps[n++];
		uint64_t r = rng_next(s);
		p->time = now;
		p->network = (uint32_t)(r % nn);
		p->stop = (uint32_t)((r >> 8) % ns);
		p->kind = (uint8_t)((r >> 20) % 2);
		r >>= 24;
		now += r % 8 == 0 ? (int64_t)(r >> 3) % 90 :
		    r % 8 == 1 ? 8 * HOUR + (int64_t)(r >> 3) % (2 * DAY) :
		    60 + (int64_t)(r >> 3) % 3000;
	}
	return n;
}

/* Renders days >= from of r as JSON lines. */
static char *
days_json(const struct tariff *t, const struct price_result *r, int32_t from)
{
	struct buf b = {0, 0, 0, 0};
	size_t d;

	for (d = 0; d < r->ndays; d++)
		if (r->day[d].service_day >= from)
			price_json_day(t, "tok:x", r, &r->day[d], &b);
	buf_addc(&b, '\0');
	return b.p;
}

/*
 * The property: for random histories of several weeks over the sample
 * tariff and a random changed day, pricing from the cut gives the days
 * of that day's week on byte for byte as pricing the whole history.
 */
static void
test_window_equals_whole_history(void **state)
{
	const char *seed_env = getenv("ONECITY_SEED");
	uint64_t s = seed_env ? strtoull(seed_env, NULL, 10) : 20261201;
	struct tariff *t = tu_load(TU_NL);
	struct price_result full, part;
	struct price_tap taps[600];
	unsigned k, cuts = 0;

	(void)state;
	price_result_init(&full);
	price_result_init(&part);
	for (k = 0; k < 3000; k++) {
		int64_t now = MON - 28 * DAY + (int64_t)(rng_next(&s) % DAY);
		size_t n = 0, cut;
		int32_t from, w;
		int found;
		char *a, *b;
		n = gen_history(t, &s, now, taps);
		from = price_service_day(t, taps[rng_next(&s) % n].time) +
		    (int32_t)(rng_next(&s) % 3);
		w = price_week_start(from);
		cut = price_window_cut(t, taps, n, w, &found);
		if (!found)
			cut = 0;
		cuts += cut > 0;
		assert_int_equal(price_account(t, taps, n, PRICE_END_OF_TIME,
		    &full), 0);
		a = days_json(t, &full, w);
		assert_int_equal(price_account(t, taps + cut, n - cut,
		    PRICE_END_OF_TIME, &part), 0);
		b = days_json(t, &part, w);
		if (strcmp(a, b) != 0)
			fail_msg("history %u, cut %zu of %zu, from %d: the window "
			    "differs:\n%s\n--- vs ---\n%s", k, cut, n, (int)w, a,
			    b);
		free(a);
		free(b);
	}
	print_message("window: 3000 histories, %u repriced from a later cut\n",
	    cuts);
	assert_true(cuts > 600);
	price_result_free(&full);
	price_result_free(&part);
	tariff_free(t);
}

/* Days of r in [from, to] (or outside it: out = 1) as JSON lines. */
static char *
range_json(const struct tariff *t, const struct price_result *r,
    int32_t from, int32_t to, int out)
{
	struct buf b = {0, 0, 0, 0};
	size_t d;

	for (d = 0; d < r->ndays; d++) {
		int32_t sd = r->day[d].service_day;
		if ((sd >= from && sd <= to) == !out)
			price_json_day(t, "tok:x", r, &r->day[d], &b);
	}
	buf_addc(&b, '\0');
	return b.p;
}

/*
 * The whole window: taps added within [from_day, to_day] of a history
 * change nothing outside [Monday of from_day's week, last_day]
 * (price_window_end), and inside it pricing from the cut to the end index
 * gives what pricing the whole history gives.
 */
static void
test_window_changes_stay_inside(void **state)
{
	uint64_t s = 20261202;
	struct tariff *t = tu_load(TU_NL);
	struct price_result old, full, part;
	struct price_tap taps[600], base[600];
	unsigned k, bounded = 0;

	(void)state;
	price_result_init(&old);
	price_result_init(&full);
	price_result_init(&part);
	for (k = 0; k < 3000; k++) {
		int64_t now = MON - 42 * DAY + (int64_t)(rng_next(&s) % DAY);
		size_t n = 0, nb = 0, i, cut, end;
		int32_t from = INT32_MAX, to = INT32_MIN, w, last;
		int64_t lo, hi;
		int found;
		char *a, *b;
		n = gen_history(t, &s, now, taps);
		/* The change: the taps of a random stretch of up to 9 days
		 * arrive late (the old state lacks them). */
		lo = taps[rng_next(&s) % n].time;
		hi = lo + (int64_t)(rng_next(&s) % (9 * DAY));
		for (i = 0; i < n; i++) {
			if (taps[i].time >= lo && taps[i].time <= hi &&
			    rng_next(&s) % 2 == 0) {
				int32_t d = price_service_day(t, taps[i].time);
				from = d < from ? d : from;
				to = d > to ? d : to;
			} else
				base[nb++] = taps[i];
		}
		if (from == INT32_MAX)
			continue;
		cut = price_window_start(t, taps, n, from, &w, &found);
		if (!found) {
			cut = 0;
			w = INT32_MIN;
		}
		end = price_window_end(t, taps + cut, n - cut, to, &last);
		bounded += last != INT32_MAX;
		assert_int_equal(price_account(t, base, nb, PRICE_END_OF_TIME,
		    &old), 0);
		assert_int_equal(price_account(t, taps, n, PRICE_END_OF_TIME,
		    &full), 0);
		assert_int_equal(price_account(t, taps + cut, end,
		    PRICE_END_OF_TIME, &part), 0);
		a = range_json(t, &full, w, last, 1);
		b = range_json(t, &old, w, last, 1);
		if (strcmp(a, b) != 0)
			fail_msg("history %u: a day outside [%d, %d] changed:\n"
			    "%s\n--- vs ---\n%s", k, (int)w, (int)last, a, b);
		free(a);
		free(b);
		a = range_json(t, &full, w, last, 0);
		b = range_json(t, &part, w, last, 0);
		if (strcmp(a, b) != 0)
			fail_msg("history %u: the window [%d, %d] differs:\n"
			    "%s\n--- vs ---\n%s", k, (int)w, (int)last, a, b);
		free(a);
		free(b);
	}
	print_message("window: %u changes ended before the history did\n",
	    bounded);
	assert_true(bounded > 500);
	price_result_free(&old);
	price_result_free(&full);
	price_result_free(&part);
	tariff_free(t);
}

/*
 * Found in review: the window's last week ends on a Sunday whose last leg
 * checks out after 04:00 Monday; pricing must run on to the next clean cut
 * or that leg loses its check-out (2000 instead of 972 on 2026-11-15).
 */
static void
test_window_end_keeps_sunday_legs_whole(void **state)
{
	static const struct {
		const char	*time, *stop;
		int		 kind;
	} rows[] = {
		{"2026-11-05T08:00:00Z", "asd", PRICE_IN},	/* the late tap */
		{"2026-11-05T08:40:00Z", "ut", PRICE_OUT},
		{"2026-11-08T20:00:00Z", "asd", PRICE_IN},
		{"2026-11-08T20:40:00Z", "ut", PRICE_OUT},
		{"2026-11-09T01:30:00Z", "ut", PRICE_IN},
		{"2026-11-09T02:10:00Z", "asd", PRICE_OUT},
		{"2026-11-09T06:00:00Z", "asd", PRICE_IN},
		{"2026-11-09T06:40:00Z", "ut", PRICE_OUT},
		{"2026-11-10T08:00:00Z", "ut", PRICE_IN},
		{"2026-11-10T08:40:00Z", "asd", PRICE_OUT},
		{"2026-11-16T02:50:00Z", "asd", PRICE_IN},
		{"2026-11-16T03:10:00Z", "ut", PRICE_OUT},
	};
	struct tariff *t = tu_load(TU_NL);
	struct price_tap taps[16];
	struct price_result full, part;
	size_t n = sizeof rows / sizeof rows[0], i, cut, end;
	int32_t w, last;
	int found;
	const char *why;
	char *a, *b;

	(void)state;
	price_result_init(&full);
	price_result_init(&part);
	for (i = 0; i < n; i++) {
		int64_t utc;
		assert_int_equal(parse_rfc3339(rows[i].time, &utc, &why), 0);
		taps[i] = tap(t, utc, "NS", rows[i].stop, rows[i].kind);
	}
	cut = price_window_start(t, taps, n,
	    price_service_day(t, taps[0].time), &w, &found);
	if (!found) {
		cut = 0;
		w = INT32_MIN;
	}
	end = price_window_end(t, taps + cut, n - cut,
	    price_service_day(t, taps[0].time), &last);
	assert_int_equal(price_account(t, taps, n, PRICE_END_OF_TIME, &full),
	    0);
	assert_int_equal(price_account(t, taps + cut, end, PRICE_END_OF_TIME,
	    &part), 0);
	a = range_json(t, &full, w, last, 0);
	b = range_json(t, &part, w, last, 0);
	assert_string_equal(a, b);
	tu_has(a, "\"service_day\":\"2026-11-15\",\"charge_cents\":972,");
	free(a);
	free(b);
	price_result_free(&full);
	price_result_free(&part);
	tariff_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_window_late_tap_in_an_earlier_week),
		cmocka_unit_test(test_window_live_tap_reads_this_week_only),
		cmocka_unit_test(test_window_journey_crossing_sunday_night),
		cmocka_unit_test(test_window_needs_more_history),
		cmocka_unit_test(test_window_no_taps_from_the_day),
		cmocka_unit_test(test_window_long_transfer_reaches_far),
		cmocka_unit_test(test_window_equals_whole_history),
		cmocka_unit_test(test_window_changes_stay_inside),
		cmocka_unit_test(test_window_end_keeps_sunday_legs_whole),
	};

	return cmocka_run_group_tests_name("repricing window", tests, NULL,
	    NULL);
}
