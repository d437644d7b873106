/*
 * One test per pricing rule of SPEC §4, each on a small tariff derived
 * from the worked "mini" example, with hand-computed cents.  Mini: RAIL
 * (EUR 1.00 + 0.20/km to 40 km, 0.10/km beyond), CITY (EUR 1.08 +
 * 0.187/km; a transfer within 35 min of the previous check-out waives the
 * boarding fare), FERRY (EUR 1.00, no check-out); caps nl_day 17.50 and
 * city_day 9.00; C-D 2.5 km, D-G 4 km, C-G 6 km, A-B 35 km, B-E 100 km.
 * So C->D is 155, D->G 183, C->G 220, C->C 108.
 */
#include "testutil.h"
#include "price.h"
#include "tariff-int.h"

#define CARD	"5555555555554444"
#define ACC	"tok:aebdbf862d02f2092f830e633351e025"
#define ROW(id, time, net, stop, kind) \
	id "," time "," CARD ",," net "," stop "," kind "\n"

static char *
price_mini(const struct tu_file *files, size_t n, const char *rows)
{
	struct tariff *t = tu_load_with(TU_MINI, files, n);
	char *out = tu_price(t, rows);

	tariff_free(t);
	return out;
}

static size_t
count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (; (hay = strstr(hay, needle)) != NULL; hay++)
		n++;
	return n;
}

/* tap_id duplicates: the least (time, card, par, network, stop, kind) counts. */
static void
test_dedup_keeps_least_tap(void **state)
{
	char *o = price_mini(NULL, 0,
	    ROW("t1", "2026-11-28T08:00:00Z", "RAIL", "B", "in")
	    ROW("t1", "2026-11-28T08:00:00Z", "RAIL", "A", "in")
	    ROW("t2", "2026-11-28T08:30:00Z", "RAIL", "B", "out"));

	(void)state;
	tu_has(o, "\"from_stop_id\":\"A\",\"to_stop_id\":\"B\"");
	tu_has(o, "\"fare_cents\":800");
	assert_int_equal(count(o, "\"network_id\""), 1);
	free(o);
}

/* A repeat of the same network, stop and kind within 60 s is dropped. */
static void
test_double_tap_within_60s(void **state)
{
	char *o = price_mini(NULL, 0,
	    ROW("t1", "2026-11-28T09:00:00Z", "CITY", "C", "in")
	    ROW("t2", "2026-11-28T09:01:00Z", "CITY", "C", "in")
	    ROW("t3", "2026-11-28T09:10:00Z", "CITY", "D", "out"));

	(void)state;
	assert_int_equal(count(o, "\"network_id\""), 1);
	tu_has(o, "\"charge_cents\":155");
	free(o);
	/* At 61 s it is a real tap: the first leg is cancelled. */
	o = price_mini(NULL, 0,
	    ROW("t1", "2026-11-28T09:00:00Z", "CITY", "C", "in")
	    ROW("t2", "2026-11-28T09:01:01Z", "CITY", "C", "in")
	    ROW("t3", "2026-11-28T09:10:00Z", "CITY", "D", "out"));
	assert_int_equal(count(o, "\"network_id\""), 2);
	tu_has(o, "\"status\":\"cancelled\",\"fare_cents\":0");
	tu_has(o, "\"charge_cents\":155");
	free(o);
}

/* Out at the check-in stop within cancel_minutes (inclusive): cancelled. */
static void
test_cancel_within_cancel_minutes(void **state)
{
	char *o = price_mini(NULL, 0,
	    ROW("t1", "2026-11-28T09:00:00Z", "CITY", "C", "in")
	    ROW("t2", "2026-11-28T09:30:00Z", "CITY", "C", "out"));

	(void)state;
	tu_has(o, "\"to_stop_id\":\"C\",\"checkin\":\"2026-11-28T09:00:00Z\","
	    "\"checkout\":\"2026-11-28T09:30:00Z\",\"status\":\"cancelled\"");
	tu_has(o, "\"charge_cents\":0");
	free(o);
	o = price_mini(NULL, 0,
	    ROW("t1", "2026-11-28T09:00:00Z", "CITY", "C", "in")
	    ROW("t2", "2026-11-28T09:30:01Z", "CITY", "C", "out"));
	tu_has(o, "\"status\":\"complete\",\"fare_cents\":108");
	free(o);
}

/* A leg left open at the end is incomplete, at the incomplete fare. */
static void
test_incomplete_at_end(void **state)
{
	char *o = price_mini(NULL, 0,
	    ROW("t1", "2026-11-28T09:00:00Z", "CITY", "C", "in"));

	(void)state;
	tu_has(o, "\"from_stop_id\":\"C\",\"to_stop_id\":null,"
	    "\"checkin\":\"2026-11-28T09:00:00Z\",\"checkout\":null,"
	    "\"status\":\"incomplete\",\"fare_cents\":400,"
	    "\"contribution_cents\":400");
	tu_has(o, "\"charge_cents\":400");
	free(o);
}

/* An out with no open leg is an incomplete orphan check-out. */
static void
test_orphan_checkout(void **state)
{
	char *o = price_mini(NULL, 0,
	    ROW("t1", "2026-11-28T09:00:00Z", "RAIL", "B", "out"));

	(void)state;
	tu_has(o, "\"from_stop_id\":null,\"to_stop_id\":\"B\",\"checkin\":null,"
	    "\"checkout\":\"2026-11-28T09:00:00Z\",\"status\":\"incomplete\","
	    "\"fare_cents\":2000");
	free(o);
}

/* No-checkout networks: an in is a leg by itself; an out is ignored. */
static void
test_no_checkout_network(void **state)
{
	char *o = price_mini(NULL, 0,
	    ROW("t1", "2026-11-28T09:00:00Z", "CITY", "C", "in")
	    ROW("t2", "2026-11-28T09:05:00Z", "FERRY", "F1", "in")
	    ROW("t3", "2026-11-28T09:07:00Z", "FERRY", "F2", "out")
	    ROW("t4", "2026-11-28T09:10:00Z", "CITY", "D", "out"));

	(void)state;
	assert_int_equal(count(o, "\"network_id\""), 2);
	/* Legs in order of their first tap: the city leg opened first. */
	tu_has(o, "\"legs\":[{\"network_id\":\"CITY\",\"from_stop_id\":\"C\","
	    "\"to_stop_id\":\"D\"");
	tu_has(o, "{\"network_id\":\"FERRY\",\"from_stop_id\":\"F1\","
	    "\"to_stop_id\":\"F1\",\"checkin\":\"2026-11-28T09:05:00Z\","
	    "\"checkout\":null,\"status\":\"complete\",\"fare_cents\":100");
	tu_has(o, "\"charge_cents\":255");
	free(o);
}

/* An open leg older than max_leg_minutes at the next tap is incomplete. */
static void
test_max_leg_minutes(void **state)
{
	char *o = price_mini(NULL, 0,
	    ROW("t1", "2026-11-28T09:00:00Z", "CITY", "C", "in")
	    ROW("t2", "2026-11-28T11:00:01Z", "CITY", "D", "out"));

	(void)state;
	assert_int_equal(count(o, "\"status\":\"incomplete\""), 2);
	tu_has(o, "\"charge_cents\":800");
	free(o);
	o = price_mini(NULL, 0,
	    ROW("t1", "2026-11-28T09:00:00Z", "CITY", "C", "in")
	    ROW("t2", "2026-11-28T11:00:00Z", "CITY", "D", "out"));
	tu_has(o, "\"status\":\"complete\",\"fare_cents\":155");
	free(o);
}

/* Closed by a check-in elsewhere: autocompleted at the lower fare. */
static void
test_autocomplete(void **state)
{
	static const struct tu_file no_auto[] = {{"network_policies.txt",
	    "network_id,checkout_required,incomplete_fare_product_id,"
	    "max_leg_minutes,cancel_minutes,autocomplete\n"
	    "RAIL,1,rail_incomplete,360,30,0\nCITY,1,city_incomplete,120,30,1\n"
	    "FERRY,0,,,,0\n"}};
	static const char rows[] =
	    ROW("t1", "2026-11-29T09:00:00Z", "RAIL", "A", "in")
	    ROW("t2", "2026-11-29T09:30:00Z", "CITY", "C", "in")
	    ROW("t3", "2026-11-29T09:50:00Z", "CITY", "D", "out");
	char *o = price_mini(NULL, 0, rows);

	(void)state;
	/* A -> C is 834 m great-circle: 100 + 16.68 -> 117 cents. */
	tu_has(o, "\"from_stop_id\":\"A\",\"to_stop_id\":\"C\","
	    "\"checkin\":\"2026-11-29T09:00:00Z\",\"checkout\":"
	    "\"2026-11-29T09:30:00Z\",\"status\":\"autocompleted\","
	    "\"fare_cents\":117");
	free(o);
	o = price_mini(no_auto, 1, rows);
	tu_has(o, "\"from_stop_id\":\"A\",\"to_stop_id\":null,"
	    "\"checkin\":\"2026-11-29T09:00:00Z\",\"checkout\":null,"
	    "\"status\":\"incomplete\",\"fare_cents\":2000");
	free(o);
}

/* An autocompleted fare never exceeds the incomplete fare. */
static void
test_autocomplete_capped_by_incomplete_fare(void **state)
{
	static const struct tu_file f[] = {{"fare_products.txt",
	    "fare_product_id,fare_product_name,amount,currency\n"
	    "rail_leg,Rail,1.00,EUR\nrail_incomplete,Rail missing,10.00,EUR\n"
	    "city_boarding,City,1.08,EUR\ncity_transfer,T,-1.08,EUR\n"
	    "city_incomplete,City missing,4.00,EUR\nferry,Ferry,1.00,EUR\n"}};
	/* A -> E is 60 km: 100 + 800 + 200 = 1100 > 1000. */
	char *o = price_mini(f, 1,
	    ROW("t1", "2026-11-28T09:00:00Z", "RAIL", "A", "in")
	    ROW("t2", "2026-11-28T10:00:00Z", "CITY", "E", "in"));

	(void)state;
	tu_has(o, "\"status\":\"autocompleted\",\"fare_cents\":1000");
	free(o);
}

/* An out on another network closes the open leg and is used up. */
static void
test_out_on_other_network(void **state)
{
	char *o = price_mini(NULL, 0,
	    ROW("t1", "2026-11-28T09:00:00Z", "RAIL", "A", "in")
	    ROW("t2", "2026-11-28T09:40:00Z", "CITY", "C", "out"));

	(void)state;
	assert_int_equal(count(o, "\"network_id\""), 1);
	tu_has(o, "\"network_id\":\"RAIL\",\"from_stop_id\":\"A\","
	    "\"to_stop_id\":\"C\"");
	tu_has(o, "\"status\":\"autocompleted\",\"fare_cents\":117");
	free(o);
}

/* A leg no rule prices is unpriced: fare 0, reported, never a crash. */
static void
test_unpriced_leg(void **state)
{
	static const struct tu_file f[] = {{"fare_leg_rules.txt",
	    "leg_group_id,network_id,fare_product_id\nrail,RAIL,rail_leg\n"
	    "ferry,FERRY,ferry\n"}, {"fare_transfer_rules.txt", NULL}};
	char *o = price_mini(f, 2,
	    ROW("t1", "2026-11-28T09:00:00Z", "CITY", "C", "in")
	    ROW("t2", "2026-11-28T09:10:00Z", "CITY", "D", "out"));

	(void)state;
	tu_has(o, "\"status\":\"unpriced\",\"fare_cents\":0,"
	    "\"contribution_cents\":0");
	tu_has(o, "\"charge_cents\":0");
	free(o);
}

static const struct tu_file area_files[] = {
	{"areas.txt", "area_id,area_name\ncentre,Centre\n"},
	{"stop_areas.txt", "area_id,stop_id\ncentre,C\ncentre,D\n"},
	{"fare_products.txt", "fare_product_id,fare_product_name,amount,"
	    "currency\nrail_leg,Rail,1.00,EUR\nrail_incomplete,R,20.00,EUR\n"
	    "city_boarding,City,1.08,EUR\ncity_centre,Centre,1.00,EUR\n"
	    "city_transfer,T,-1.08,EUR\ncity_incomplete,C,4.00,EUR\n"
	    "ferry,Ferry,1.00,EUR\n"},
};

/* Without rule_priority an empty area matches only stops in no named area. */
static void
test_areas_without_priority(void **state)
{
	struct tu_file f[4] = {area_files[0], area_files[1], area_files[2],
	    {"fare_leg_rules.txt", "leg_group_id,network_id,from_area_id,"
	    "to_area_id,fare_product_id\nrail,RAIL,,,rail_leg\n"
	    "city,CITY,centre,centre,city_centre\ncity,CITY,,,city_boarding\n"
	    "ferry,FERRY,,,ferry\n"}};
	char *o = price_mini(f, 4,
	    ROW("t1", "2026-11-28T09:00:00Z", "CITY", "C", "in")
	    ROW("t2", "2026-11-28T09:10:00Z", "CITY", "D", "out")
	    ROW("t3", "2026-11-28T11:00:00Z", "CITY", "D", "in")
	    ROW("t4", "2026-11-28T11:10:00Z", "CITY", "G", "out")
	    ROW("t5", "2026-11-28T13:00:00Z", "CITY", "G", "in")
	    ROW("t6", "2026-11-28T13:40:00Z", "CITY", "G", "out"));

	(void)state;
	/* C->D in the centre: 100 + 46.75 -> 147. */
	tu_has(o, "\"to_stop_id\":\"D\",\"checkin\":\"2026-11-28T09:00:00Z\","
	    "\"checkout\":\"2026-11-28T09:10:00Z\",\"status\":\"complete\","
	    "\"fare_cents\":147");
	/* D->G: D's area is named, G is not in it: no rule matches. */
	tu_has(o, "\"status\":\"unpriced\"");
	/* G->G outside every area: the empty rule, 108. */
	tu_has(o, "\"from_stop_id\":\"G\",\"to_stop_id\":\"G\",\"checkin\":"
	    "\"2026-11-28T13:00:00Z\",\"checkout\":\"2026-11-28T13:40:00Z\","
	    "\"status\":\"complete\",\"fare_cents\":108");
	free(o);
}

/* With rule_priority, empty matches all and only the top priority counts. */
static void
test_rule_priority(void **state)
{
	struct tu_file f[4] = {area_files[0], area_files[1], area_files[2],
	    {"fare_leg_rules.txt", "leg_group_id,network_id,from_area_id,"
	    "to_area_id,fare_product_id,rule_priority\nrail,RAIL,,,rail_leg,\n"
	    "city,CITY,centre,centre,city_boarding,1\n"
	    "city,CITY,,,city_centre,\nferry,FERRY,,,ferry,\n"}};
	char *o = price_mini(f, 4,
	    ROW("t1", "2026-11-28T09:00:00Z", "CITY", "C", "in")
	    ROW("t2", "2026-11-28T09:10:00Z", "CITY", "D", "out")
	    ROW("t3", "2026-11-28T11:00:00Z", "CITY", "D", "in")
	    ROW("t4", "2026-11-28T11:10:00Z", "CITY", "G", "out"));

	(void)state;
	/* C->D: the priority-1 rule wins though city_centre is cheaper. */
	tu_has(o, "\"checkout\":\"2026-11-28T09:10:00Z\",\"status\":"
	    "\"complete\",\"fare_cents\":155");
	/* D->G: only the priority-0 rule: 100 + 74.8 -> 175. */
	tu_has(o, "\"checkout\":\"2026-11-28T11:10:00Z\",\"status\":"
	    "\"complete\",\"fare_cents\":175");
	free(o);
}

/* Of the rules that count, the cheapest product wins. */
static void
test_cheapest_rule_wins(void **state)
{
	struct tu_file f[2] = {area_files[2], {"fare_leg_rules.txt",
	    "leg_group_id,network_id,fare_product_id\nrail,RAIL,rail_leg\n"
	    "city,CITY,city_boarding\ncity,CITY,city_centre\nferry,FERRY,ferry\n"}};
	char *o = price_mini(f, 2,
	    ROW("t1", "2026-11-28T09:00:00Z", "CITY", "C", "in")
	    ROW("t2", "2026-11-28T09:10:00Z", "CITY", "D", "out"));

	(void)state;
	tu_has(o, "\"fare_cents\":147");
	free(o);
}

/* Equal products: the smallest leg_group_id wins (and sets transfers). */
static void
test_leg_group_tie(void **state)
{
	static const struct tu_file f[] = {
		{"fare_leg_rules.txt", "leg_group_id,network_id,fare_product_id\n"
		    "rail,RAIL,rail_leg\nb_city,CITY,city_boarding\n"
		    "a_city,CITY,city_boarding\nferry,FERRY,ferry\n"},
		{"fare_transfer_rules.txt", "from_leg_group_id,to_leg_group_id,"
		    "transfer_count,duration_limit,duration_limit_type,"
		    "fare_transfer_type,fare_product_id\n"
		    "b_city,b_city,-1,2100,2,1,city_transfer\n"},
	};
	char *o = price_mini(f, 2,
	    ROW("t1", "2026-11-28T09:00:00Z", "CITY", "C", "in")
	    ROW("t2", "2026-11-28T09:10:00Z", "CITY", "D", "out")
	    ROW("t3", "2026-11-28T09:20:00Z", "CITY", "D", "in")
	    ROW("t4", "2026-11-28T09:40:00Z", "CITY", "G", "out"));

	(void)state;
	/* a_city has no transfer rule, so no discount: 155 + 183. */
	tu_has(o, "\"charge_cents\":338");
	free(o);
}

/* Timeframes: local time, weekday calendar, start <= t < end, exceptions. */
static void
test_timeframes(void **state)
{
	struct tariff *t = tu_load("tests/tariffs-bad/base");
	char *o = tu_price(t,
	    /* Monday 07:30 local: rush, 150 + 700. */
	    ROW("m1", "2026-11-30T06:30:00Z", "RAIL", "A", "in")
	    ROW("m2", "2026-11-30T07:00:00Z", "RAIL", "B", "out")
	    /* Monday 09:30 local: the end is exclusive. */
	    ROW("m3", "2026-11-30T08:30:00Z", "RAIL", "B", "in")
	    ROW("m4", "2026-11-30T09:00:00Z", "RAIL", "A", "out")
	    /* Friday 25 December: removed by calendar_dates. */
	    ROW("x1", "2026-12-25T06:30:00Z", "RAIL", "A", "in")
	    ROW("x2", "2026-12-25T07:00:00Z", "RAIL", "B", "out")
	    /* Saturday: no weekday service. */
	    ROW("s1", "2026-12-05T06:30:00Z", "RAIL", "A", "in")
	    ROW("s2", "2026-12-05T07:00:00Z", "RAIL", "B", "out"));

	(void)state;
	tu_has(o, "\"checkout\":\"2026-11-30T07:00:00Z\",\"status\":"
	    "\"complete\",\"fare_cents\":850");
	tu_has(o, "\"checkout\":\"2026-11-30T09:00:00Z\",\"status\":"
	    "\"complete\",\"fare_cents\":800");
	tu_has(o, "\"checkout\":\"2026-12-25T07:00:00Z\",\"status\":"
	    "\"complete\",\"fare_cents\":800");
	tu_has(o, "\"checkout\":\"2026-12-05T07:00:00Z\",\"status\":"
	    "\"complete\",\"fare_cents\":800");
	free(o);
	/* After the spring change, 07:00 CEST is 05:00 UTC: in the rush. */
	o = tu_price(t, ROW("d1", "2026-03-30T05:00:00Z", "RAIL", "A", "in")
	    ROW("d2", "2026-03-30T05:30:00Z", "RAIL", "B", "out"));
	tu_has(o, "\"fare_cents\":850");
	free(o);
	tariff_free(t);
}

/* Distance bands: exact sums, rounded half up once at the end. */
static void
test_distance_rounding(void **state)
{
	static const struct tu_file f[] = {
		{"fare_distance_rules.txt", "network_id,from_distance_m,"
		    "per_km_amount\nRAIL,0,0.20\nRAIL,40000,0.10\nCITY,0,0.1\n"},
		{"stop_distances.txt", "from_stop_id,to_stop_id,distance_m\n"
		    "A,B,35000\nB,E,100000\nC,D,50\nD,G,49\n"},
	};
	char *o = price_mini(f, 2,
	    ROW("t1", "2026-11-28T09:00:00Z", "CITY", "C", "in")
	    ROW("t2", "2026-11-28T09:10:00Z", "CITY", "D", "out")
	    ROW("t3", "2026-11-28T11:00:00Z", "CITY", "D", "in")
	    ROW("t4", "2026-11-28T11:10:00Z", "CITY", "G", "out")
	    ROW("t5", "2026-11-28T13:00:00Z", "RAIL", "B", "in")
	    ROW("t6", "2026-11-28T13:40:00Z", "RAIL", "E", "out"));

	(void)state;
	/* 50 m x 0.1 EUR/km = 0.5 cent -> 1; 49 m -> 0.49 -> 0. */
	tu_has(o, "\"checkout\":\"2026-11-28T09:10:00Z\",\"status\":"
	    "\"complete\",\"fare_cents\":109");
	tu_has(o, "\"checkout\":\"2026-11-28T11:10:00Z\",\"status\":"
	    "\"complete\",\"fare_cents\":108");
	/* 100 km over two bands: 100 + 40 x 20 + 60 x 10 = 1500. */
	tu_has(o, "\"fare_cents\":1500");
	free(o);
}

static char *
price_transfer(const char *rule, const char *rows)
{
	char text[512];
	struct tu_file f[2] = {{"fare_transfer_rules.txt", text},
	    {"fare_products.txt", "fare_product_id,fare_product_name,amount,"
	    "currency\nrail_leg,Rail,1.00,EUR\nrail_incomplete,R,20.00,EUR\n"
	    "city_boarding,City,1.08,EUR\ncity_transfer,T,-1.08,EUR\n"
	    "city_half,Half,0.50,EUR\ncity_ab,AB,2.00,EUR\n"
	    "city_big,Big,-5.00,EUR\n"
	    "city_incomplete,C,4.00,EUR\nferry,Ferry,1.00,EUR\n"}};

	snprintf(text, sizeof text, "from_leg_group_id,to_leg_group_id,"
	    "transfer_count,duration_limit,duration_limit_type,"
	    "fare_transfer_type,fare_product_id\n%s", rule);
	return price_mini(f, 2, rows);
}

#define LEG1 ROW("a1", "2026-11-28T09:00:00Z", "CITY", "C", "in") \
	ROW("a2", "2026-11-28T09:10:00Z", "CITY", "D", "out")

/* duration_limit_type 2 (check-out to check-in), inclusive. */
static void
test_transfer_duration_type2(void **state)
{
	char *o = price_transfer("city,city,-1,2100,2,1,city_transfer\n", LEG1
	    ROW("b1", "2026-11-28T09:45:00Z", "CITY", "D", "in")
	    ROW("b2", "2026-11-28T09:55:00Z", "CITY", "G", "out"));

	(void)state;
	tu_has(o, "\"charge_cents\":230");	/* 155 + (183 - 108) */
	free(o);
	o = price_transfer("city,city,-1,2100,2,1,city_transfer\n", LEG1
	    ROW("b1", "2026-11-28T09:45:01Z", "CITY", "D", "in")
	    ROW("b2", "2026-11-28T09:55:00Z", "CITY", "G", "out"));
	tu_has(o, "\"charge_cents\":338");
	free(o);
}

/* duration_limit_types 0, 1 and 3 measure from the right ends. */
static void
test_transfer_duration_types_013(void **state)
{
	char *o;

	(void)state;
	/* 0: first check-in 09:00 to joining check-out 10:00 = 3600. */
	o = price_transfer("city,city,-1,3600,0,1,city_transfer\n", LEG1
	    ROW("b1", "2026-11-28T09:20:00Z", "CITY", "D", "in")
	    ROW("b2", "2026-11-28T10:00:00Z", "CITY", "G", "out"));
	tu_has(o, "\"charge_cents\":230");
	free(o);
	o = price_transfer("city,city,-1,3599,0,1,city_transfer\n", LEG1
	    ROW("b1", "2026-11-28T09:20:00Z", "CITY", "D", "in")
	    ROW("b2", "2026-11-28T10:00:00Z", "CITY", "G", "out"));
	tu_has(o, "\"charge_cents\":338");
	free(o);
	/* 1: check-in to check-in = 1200. */
	o = price_transfer("city,city,-1,1200,1,1,city_transfer\n", LEG1
	    ROW("b1", "2026-11-28T09:20:00Z", "CITY", "D", "in")
	    ROW("b2", "2026-11-28T10:00:00Z", "CITY", "G", "out"));
	tu_has(o, "\"charge_cents\":230");
	free(o);
	o = price_transfer("city,city,-1,1199,1,1,city_transfer\n", LEG1
	    ROW("b1", "2026-11-28T09:20:00Z", "CITY", "D", "in")
	    ROW("b2", "2026-11-28T10:00:00Z", "CITY", "G", "out"));
	tu_has(o, "\"charge_cents\":338");
	free(o);
	/* 3: check-out 09:10 to check-out 09:40 = 1800. */
	o = price_transfer("city,city,-1,1800,3,1,city_transfer\n", LEG1
	    ROW("b1", "2026-11-28T09:20:00Z", "CITY", "D", "in")
	    ROW("b2", "2026-11-28T09:40:00Z", "CITY", "G", "out"));
	tu_has(o, "\"charge_cents\":230");
	free(o);
	o = price_transfer("city,city,-1,1799,3,1,city_transfer\n", LEG1
	    ROW("b1", "2026-11-28T09:20:00Z", "CITY", "D", "in")
	    ROW("b2", "2026-11-28T09:40:00Z", "CITY", "G", "out"));
	tu_has(o, "\"charge_cents\":338");
	free(o);
}

#define LEG3 ROW("b1", "2026-11-28T09:20:00Z", "CITY", "D", "in") \
	ROW("b2", "2026-11-28T09:30:00Z", "CITY", "G", "out") \
	ROW("c1", "2026-11-28T09:40:00Z", "CITY", "G", "in") \
	ROW("c2", "2026-11-28T09:50:00Z", "CITY", "C", "out")

/* transfer_count bounds the run of consecutive transfers by one rule. */
static void
test_transfer_count(void **state)
{
	char *o;

	(void)state;
	/* Limit 1: the third leg starts a new journey: 155 + 75 + 220. */
	o = price_transfer("city,city,1,,,1,city_transfer\n", LEG1 LEG3);
	tu_has(o, "\"charge_cents\":450");
	free(o);
	/* Limit 2: both join: 155 + 75 + 112. */
	o = price_transfer("city,city,2,,,1,city_transfer\n", LEG1 LEG3);
	tu_has(o, "\"charge_cents\":342");
	free(o);
	/* The smallest count at or above the run is used: 2 over -1. */
	o = price_transfer("city,city,-1,,,0,city_half\n"
	    "city,city,2,,,1,city_transfer\n", LEG1 LEG3);
	tu_has(o, "\"charge_cents\":342");
	free(o);
}

/* The duration of a run is measured from the run's first leg. */
static void
test_transfer_run_duration(void **state)
{
	/* Type 2 limit 1800 from leg 1's check-out 09:10: leg 3 at 09:40 is
	 * 1800 in, but at 09:40:01 it is out of the run's window. */
	char *o = price_transfer("city,city,-1,1800,2,1,city_transfer\n", LEG1
	    ROW("b1", "2026-11-28T09:20:00Z", "CITY", "D", "in")
	    ROW("b2", "2026-11-28T09:30:00Z", "CITY", "G", "out")
	    ROW("c1", "2026-11-28T09:40:01Z", "CITY", "G", "in")
	    ROW("c2", "2026-11-28T09:50:00Z", "CITY", "C", "out"));

	(void)state;
	tu_has(o, "\"charge_cents\":450");
	free(o);
}

/* fare_transfer_type 0 (A + AB): the joining leg costs the product. */
static void
test_transfer_type0(void **state)
{
	char *o = price_transfer("city,city,-1,2100,2,0,city_half\n", LEG1
	    ROW("b1", "2026-11-28T09:20:00Z", "CITY", "D", "in")
	    ROW("b2", "2026-11-28T09:40:00Z", "CITY", "G", "out"));

	(void)state;
	tu_has(o, "\"fare_cents\":183,\"contribution_cents\":50");
	tu_has(o, "\"charge_cents\":205");
	free(o);
}

/* fare_transfer_type 2 (AB): the journey costs AB; later transfers the product. */
static void
test_transfer_type2(void **state)
{
	char *o = price_transfer("city,city,-1,,,2,city_ab\n", LEG1 LEG3);

	(void)state;
	/* First leg min(155, 200) = 155, second 200 - 155 = 45, third 200. */
	tu_has(o, "\"fare_cents\":155,\"contribution_cents\":155");
	tu_has(o, "\"fare_cents\":183,\"contribution_cents\":45");
	tu_has(o, "\"fare_cents\":220,\"contribution_cents\":200");
	tu_has(o, "\"charge_cents\":400");
	free(o);
}

/* A contribution is never below 0. */
static void
test_transfer_never_negative(void **state)
{
	char *o = price_transfer("city,city,-1,2100,2,1,city_big\n", LEG1
	    ROW("b1", "2026-11-28T09:20:00Z", "CITY", "D", "in")
	    ROW("b2", "2026-11-28T09:40:00Z", "CITY", "G", "out"));

	(void)state;
	tu_has(o, "\"fare_cents\":183,\"contribution_cents\":0");
	tu_has(o, "\"charge_cents\":155");
	free(o);
}

/* Several matching rules: the lowest journey cost wins. */
static void
test_transfer_lowest_cost_wins(void **state)
{
	char *o = price_transfer("city,city,-1,2100,2,1,city_transfer\n"
	    "city,city,-1,2100,2,0,city_half\n", LEG1
	    ROW("b1", "2026-11-28T09:20:00Z", "CITY", "D", "in")
	    ROW("b2", "2026-11-28T09:40:00Z", "CITY", "G", "out"));

	(void)state;
	tu_has(o, "\"contribution_cents\":50");
	free(o);
}

/* Cancelled legs are skipped by journeys; incomplete legs break them. */
static void
test_journey_skips_cancelled_breaks_incomplete(void **state)
{
	char *o = price_transfer("city,city,-1,2100,2,1,city_transfer\n", LEG1
	    ROW("x1", "2026-11-28T09:12:00Z", "CITY", "D", "in")
	    ROW("x2", "2026-11-28T09:14:00Z", "CITY", "D", "out")
	    ROW("b1", "2026-11-28T09:20:00Z", "CITY", "D", "in")
	    ROW("b2", "2026-11-28T09:40:00Z", "CITY", "G", "out"));

	(void)state;
	tu_has(o, "\"charge_cents\":230");
	free(o);
	o = price_transfer("city,city,-1,2100,2,1,city_transfer\n", LEG1
	    ROW("x1", "2026-11-28T09:12:00Z", "CITY", "G", "out")
	    ROW("b1", "2026-11-28T09:20:00Z", "CITY", "D", "in")
	    ROW("b2", "2026-11-28T09:40:00Z", "CITY", "G", "out"));
	tu_has(o, "\"charge_cents\":738");	/* 155 + 400 + 183 */
	free(o);
}

/* Journeys ignore service-day boundaries: the transfer holds at 04:00. */
static void
test_journey_across_service_days(void **state)
{
	char *o = price_mini(NULL, 0,
	    ROW("a1", "2026-11-30T02:30:00Z", "CITY", "C", "in")
	    ROW("a2", "2026-11-30T02:40:00Z", "CITY", "D", "out")
	    ROW("b1", "2026-11-30T03:00:00Z", "CITY", "D", "in")
	    ROW("b2", "2026-11-30T03:10:00Z", "CITY", "G", "out"));

	(void)state;
	tu_has(o, "\"service_day\":\"2026-11-29\",\"charge_cents\":155");
	tu_has(o, "\"service_day\":\"2026-11-30\",\"charge_cents\":75");
	free(o);
}

static char *
price_caps(const char *caps, const char *rows)
{
	struct tu_file f[1] = {{"fare_caps.txt", caps}};

	return price_mini(f, 1, rows);
}

#define CITY5 \
	ROW("v1", "2026-11-28T10:30:00Z", "CITY", "C", "in") \
	ROW("v2", "2026-11-28T10:40:00Z", "CITY", "G", "out") \
	ROW("v3", "2026-11-28T11:30:00Z", "CITY", "G", "in") \
	ROW("v4", "2026-11-28T11:45:00Z", "CITY", "C", "out") \
	ROW("v5", "2026-11-28T12:30:00Z", "CITY", "C", "in") \
	ROW("v6", "2026-11-28T12:40:00Z", "CITY", "G", "out") \
	ROW("v7", "2026-11-28T13:30:00Z", "CITY", "G", "in") \
	ROW("v8", "2026-11-28T13:45:00Z", "CITY", "D", "out") \
	ROW("v9", "2026-11-28T14:30:00Z", "CITY", "D", "in") \
	ROW("v10", "2026-11-28T14:40:00Z", "CITY", "C", "out")
#define FERRY2 \
	ROW("f1", "2026-11-28T16:00:00Z", "FERRY", "F1", "in") \
	ROW("f2", "2026-11-28T17:00:00Z", "FERRY", "F2", "in")

/* The cheapest subset of caps wins; the rider never pays above it. */
static void
test_caps_best_subset(void **state)
{
	char *o = price_mini(NULL, 0, CITY5 FERRY2);

	(void)state;
	/* CITY 998 + FERRY 200: city_day 900 + 200 = 1100 < 1750 < 1198. */
	tu_has(o, "\"charge_cents\":1100,\"uncapped_cents\":1198,"
	    "\"operators\":{\"CITY\":900,\"FERRY\":200}");
	free(o);
}

/* Cost ties: fewer caps first, then the smallest list of cap_ids. */
static void
test_caps_tie_rules(void **state)
{
	char *o;

	(void)state;
	/* {a_city} 300 + 200, {b_all} 500, {a_city, c_ferry} 500: a_city. */
	o = price_caps("cap_id,cap_name,amount,currency,period,network_id\n"
	    "a_city,A,3.00,EUR,day,CITY\nb_all,B,5.00,EUR,day,\n"
	    "c_ferry,C,2.00,EUR,day,FERRY\n", CITY5 FERRY2);
	tu_has(o, "\"charge_cents\":500,\"uncapped_cents\":1198,"
	    "\"operators\":{\"CITY\":300,\"FERRY\":200}");
	free(o);
	/* Renamed so the all-network cap sorts first: it wins the tie and
	 * 500 is shared 998:200 -> 416.53 / 83.47 -> CITY 417, FERRY 83. */
	o = price_caps("cap_id,cap_name,amount,currency,period,network_id\n"
	    "b_city,A,3.00,EUR,day,CITY\na_all,B,5.00,EUR,day,\n"
	    "c_ferry,C,2.00,EUR,day,FERRY\n", CITY5 FERRY2);
	tu_has(o, "\"charge_cents\":500,\"uncapped_cents\":1198,"
	    "\"operators\":{\"CITY\":417,\"FERRY\":83}");
	free(o);
}

/* Sixteen caps (ten of them weekly) work: 2^16 subsets, exact minimum. */
static void
test_caps_sixteen(void **state)
{
	char caps[4096] = "cap_id,cap_name,amount,currency,period,network_id\n";
	int i;
	char *o;

	(void)state;
	for (i = 0; i < 10; i++)
		snprintf(caps + strlen(caps), sizeof caps - strlen(caps),
		    "w%02d,Week %d,%d.00,EUR,week,\n", i, i, 30 + i);
	for (i = 0; i < 6; i++)
		snprintf(caps + strlen(caps), sizeof caps - strlen(caps),
		    "d%02d,Day %d,%d.00,EUR,day,CITY\n", i, i, 8 + i);
	o = price_caps(caps, CITY5 FERRY2);
	/* d00 (8.00 on CITY) + FERRY 200 = 1000, below every week cap. */
	tu_has(o, "\"charge_cents\":1000,\"uncapped_cents\":1198,"
	    "\"operators\":{\"CITY\":800,\"FERRY\":200}");
	free(o);
}

/* Largest remainder: equal remainders go to the lower network_id. */
static void
test_apportion_tie_to_lower_network(void **state)
{
	struct tu_file f[2] = {{"fare_caps.txt", "cap_id,cap_name,amount,"
	    "currency,period,network_id\nx,X,1.01,EUR,day,\n"},
	    {"fare_products.txt", "fare_product_id,fare_product_name,amount,"
	    "currency\nrail_leg,Rail,1.00,EUR\nrail_incomplete,R,20.00,EUR\n"
	    "city_boarding,City,1.00,EUR\ncity_transfer,T,-1.08,EUR\n"
	    "city_incomplete,C,4.00,EUR\nferry,Ferry,1.00,EUR\n"}};
	char *o = price_mini(f, 2,
	    ROW("t1", "2026-11-28T09:00:00Z", "CITY", "C", "in")
	    ROW("t2", "2026-11-28T09:40:00Z", "CITY", "C", "out")
	    ROW("t3", "2026-11-28T10:00:00Z", "FERRY", "F1", "in"));

	(void)state;
	tu_has(o, "\"charge_cents\":101,\"uncapped_cents\":200,"
	    "\"operators\":{\"CITY\":51,\"FERRY\":50}");
	free(o);
}

/* Without caps the charge is exactly the uncapped sum. */
static void
test_no_caps_charge_is_uncapped(void **state)
{
	struct tu_file f[1] = {{"fare_caps.txt", NULL}};
	char *o = price_mini(f, 1, CITY5 FERRY2);

	(void)state;
	tu_has(o, "\"charge_cents\":1198,\"uncapped_cents\":1198");
	free(o);
}

/* Incomplete fares are outside every cap and go to their own network. */
static void
test_incomplete_outside_caps(void **state)
{
	char *o = price_mini(NULL, 0, CITY5
	    ROW("i1", "2026-11-28T18:00:00Z", "RAIL", "A", "in"));

	(void)state;
	tu_has(o, "\"charge_cents\":2900,\"uncapped_cents\":2998,"
	    "\"operators\":{\"CITY\":900,\"RAIL\":2000}");
	free(o);
}

/* Service days start at 04:00 local, across both 2026 clock changes. */
static void
test_service_day_dst(void **state)
{
	char *o = price_mini(NULL, 0,
	    /* 2026-03-29 01:30Z is 03:30 CEST: still Saturday's day. */
	    ROW("s1", "2026-03-29T01:30:00Z", "FERRY", "F1", "in")
	    /* 02:00Z is 04:00 CEST: Sunday. */
	    ROW("s2", "2026-03-29T02:00:00Z", "FERRY", "F1", "in")
	    /* 2026-10-25 00:30Z is 02:30 CEST (first pass): Saturday. */
	    ROW("o1", "2026-10-25T00:30:00Z", "FERRY", "F2", "in")
	    /* 02:59:59Z is 03:59:59 CET: still Saturday. */
	    ROW("o2", "2026-10-25T02:59:59Z", "FERRY", "F1", "in")
	    /* 03:00Z is 04:00 CET: Sunday. */
	    ROW("o3", "2026-10-25T03:00:00Z", "FERRY", "F2", "in"));

	(void)state;
	tu_has(o, "\"service_day\":\"2026-03-28\",\"charge_cents\":100");
	tu_has(o, "\"service_day\":\"2026-03-29\",\"charge_cents\":100");
	tu_has(o, "\"service_day\":\"2026-10-24\",\"charge_cents\":200");
	tu_has(o, "\"service_day\":\"2026-10-25\",\"charge_cents\":100");
	free(o);
}

/* Cards sharing a PAR are one account; the least PAR names it. */
static void
test_par_accounts(void **state)
{
	struct tariff *t = tu_load(TU_MINI);
	char *o = tu_price(t,
	    "p1,2026-11-28T09:00:00Z,4111111111111111,,FERRY,F1,in\n"
	    "p2,2026-11-28T10:00:00Z,4111111111111111,"
	    "V002ONECITYEXAMPLE00000000002,FERRY,F1,in\n"
	    "p3,2026-11-28T11:00:00Z,4012888888881881,"
	    "V002ONECITYEXAMPLE00000000002,FERRY,F1,in\n"
	    "p4,2026-11-28T12:00:00Z,4012888888881881,"
	    "V001ONECITYEXAMPLE00000000001,FERRY,F1,in\n"
	    "q1,2026-11-28T12:00:00Z,5105105105105100,,FERRY,F1,in\n");

	(void)state;
	/* Card 4111 carries only V002; card 4012 carries V001 and V002. */
	tu_has(o, "{\"account\":\"par:V001ONECITYEXAMPLE00000000001\","
	    "\"service_day\":\"2026-11-28\",\"charge_cents\":200");
	tu_has(o, "{\"account\":\"par:V002ONECITYEXAMPLE00000000002\","
	    "\"service_day\":\"2026-11-28\",\"charge_cents\":200");
	/* Accounts in byte order: par: before tok:. */
	assert_true(strstr(o, "par:V001") < strstr(o, "par:V002"));
	assert_true(strstr(o, "par:V002") < strstr(o, "tok:67da"));
	free(o);
	tariff_free(t);
}

/* Strings are escaped exactly as SPEC §5 says. */
static void
test_json_escaping(void **state)
{
	static const struct tu_file f[] = {{"stops.txt",
	    "stop_id,stop_name,stop_lat,stop_lon\nA,A,52.378901,4.900272\n"
	    "B,B,52.089444,5.110278\nE,E,51.92442,4.46984\nC,C,52.37308,4.89253\n"
	    "D,D,52.358,4.881\nG,G,52.34,4.87\n\"F\"\"1\\\\é\",F,52.384,4.902\n"
	    "F2,F2,52.38,4.901\n"}};
	struct tariff *t = tu_load_with(TU_MINI, f, 1);
	char *o = tu_price(t, "e1,2026-11-28T09:00:00Z," CARD ",,FERRY,"
	    "F\"1\\\\é,in\n");

	(void)state;
	tu_has(o, "\"from_stop_id\":\"F\\\"1\\\\\\\\é\"");
	free(o);
	tariff_free(t);
}

/* In the engine, an open leg younger than max_leg_minutes is "open", 0. */
static void
test_open_leg_in_engine(void **state)
{
	struct tariff *t = tu_load(TU_MINI);
	struct price_result r;
	struct price_tap tap = {1795856400, tariff_network(t, "CITY", 4),
	    tariff_stop(t, "C", 1), PRICE_IN};

	(void)state;
	price_result_init(&r);
	assert_int_equal(price_account(t, &tap, 1, tap.time + 7200, &r), 0);
	assert_int_equal(r.nlegs, 1);
	assert_int_equal(r.leg[0].status, LEG_OPEN);
	assert_int_equal(r.leg[0].fare_cents, 0);
	assert_int_equal(r.day[0].charge_cents, 0);
	assert_int_equal(price_account(t, &tap, 1, tap.time + 7201, &r), 0);
	assert_int_equal(r.leg[0].status, LEG_INCOMPLETE);
	assert_int_equal(r.day[0].charge_cents, 400);
	price_result_free(&r);
	tariff_free(t);
}

/* Each tap field is checked, with a reason. */
static void
test_tap_validation(void **state)
{
	struct tariff *t = tu_load(TU_MINI);
	struct tap_tokenizer *tk = tap_tokenizer_new(
	    (const unsigned char *)TAP_DEV_TOKEN_KEY, strlen(TAP_DEV_TOKEN_KEY));
	struct tapset *s = tapset_new(t, tk);
	const char *why;

	(void)state;
#define BAD(id, tm, pan, par, net, stop, kind, reason) do {		\
	assert_int_equal(tapset_add(s, id, tm, pan, par, net, stop, kind,\
	    &why), -1);							\
	assert_string_equal(why, reason);				\
} while (0)
	BAD("x", "2026-11-28T09:00:00Z", "4111111111111112", "", "CITY", "C",
	    "in", "card number fails the Luhn check");
	BAD("x", "2026-11-28T09:00:00Z", "41111111111", "", "CITY", "C", "in",
	    "card number must be 12 to 19 digits");
	BAD("x", "2026-11-28T09:00:00Z", "4111111111111111", "SHORTPAR",
	    "CITY", "C", "in", "PAR must be 29 letters and digits");
	BAD("x", "2026-11-28T09:00:00Z", "4111111111111111", "", "CITY", "C",
	    "IN", "kind must be 'in' or 'out'");
	BAD("x", "2026-11-28T09:00:00Z", "4111111111111111", "", "CITY", "Z",
	    "in", "unknown stop_id");
	BAD("", "2026-11-28T09:00:00Z", "4111111111111111", "", "CITY", "C",
	    "in", "tap_id is empty");
	BAD("x", "28/11/2026 09:00", "4111111111111111", "", "CITY", "C", "in",
	    "not an RFC 3339 time (YYYY-MM-DDTHH:MM:SS and Z or an offset)");
	assert_int_equal(tapset_add(s, "ok", "2026-11-28T09:00:00+01:00",
	    "378282246310005", "", "CITY", "C", "in", &why), 0);
	tapset_free(s);
	tap_tokenizer_free(tk);
	tariff_free(t);
}

/* Tokens are HMAC-SHA256(key, PAN), 16 bytes in lowercase hex. */
static void
test_token(void **state)
{
	struct tap_tokenizer *tk = tap_tokenizer_new(
	    (const unsigned char *)TAP_DEV_TOKEN_KEY, strlen(TAP_DEV_TOKEN_KEY));
	char hex[TAP_TOKEN_HEX + 1];

	(void)state;
	assert_int_equal(tap_token(tk, "5105105105105100", 16, hex), 0);
	assert_string_equal(hex, "67da5f2440cd91a5ebf8e26f1142bdaa");
	assert_int_equal(tap_token(tk, "5555555555554444", 16, hex), 0);
	assert_string_equal(hex, "aebdbf862d02f2092f830e633351e025");
	tap_tokenizer_free(tk);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dedup_keeps_least_tap),
		cmocka_unit_test(test_double_tap_within_60s),
		cmocka_unit_test(test_cancel_within_cancel_minutes),
		cmocka_unit_test(test_incomplete_at_end),
		cmocka_unit_test(test_orphan_checkout),
		cmocka_unit_test(test_no_checkout_network),
		cmocka_unit_test(test_max_leg_minutes),
		cmocka_unit_test(test_autocomplete),
		cmocka_unit_test(test_autocomplete_capped_by_incomplete_fare),
		cmocka_unit_test(test_out_on_other_network),
		cmocka_unit_test(test_unpriced_leg),
		cmocka_unit_test(test_areas_without_priority),
		cmocka_unit_test(test_rule_priority),
		cmocka_unit_test(test_cheapest_rule_wins),
		cmocka_unit_test(test_leg_group_tie),
		cmocka_unit_test(test_timeframes),
		cmocka_unit_test(test_distance_rounding),
		cmocka_unit_test(test_transfer_duration_type2),
		cmocka_unit_test(test_transfer_duration_types_013),
		cmocka_unit_test(test_transfer_count),
		cmocka_unit_test(test_transfer_run_duration),
		cmocka_unit_test(test_transfer_type0),
		cmocka_unit_test(test_transfer_type2),
		cmocka_unit_test(test_transfer_never_negative),
		cmocka_unit_test(test_transfer_lowest_cost_wins),
		cmocka_unit_test(test_journey_skips_cancelled_breaks_incomplete),
		cmocka_unit_test(test_journey_across_service_days),
		cmocka_unit_test(test_caps_best_subset),
		cmocka_unit_test(test_caps_tie_rules),
		cmocka_unit_test(test_caps_sixteen),
		cmocka_unit_test(test_apportion_tie_to_lower_network),
		cmocka_unit_test(test_no_caps_charge_is_uncapped),
		cmocka_unit_test(test_incomplete_outside_caps),
		cmocka_unit_test(test_service_day_dst),
		cmocka_unit_test(test_par_accounts),
		cmocka_unit_test(test_json_escaping),
		cmocka_unit_test(test_open_leg_in_engine),
		cmocka_unit_test(test_tap_validation),
		cmocka_unit_test(test_token),
	};

	return cmocka_run_group_tests_name("price", tests, NULL, NULL);
}
