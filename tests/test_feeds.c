/*
 * Feeds shaped like real, published GTFS Fares v2 feeds (SPEC §2-§4, issue
 * "Real GTFS Fares v2 feeds load and price as GTFS means them"): networks
 * in routes.txt, several agencies, another currency, rider categories with
 * a default, fare media of every type, generic nodes without coordinates,
 * a night timeframe split over two rows, unknown extra columns, no final
 * newline.  One test per item of the issue, named after it.
 */
#include <sys/stat.h>

#include "testutil.h"
#include "explain.h"
#include "limits.h"
#include "parse.h"
#include "price.h"
#include "tariff-int.h"

/* A feed like a US transit agency's: no networks.txt, no policies. */
static const struct tu_file transit[] = {
	{"agency.txt",
	    "agency_id,agency_name,agency_url,agency_timezone,agency_lang\n"
	    "MTA,Metro Transit,https://example.org,America/New_York,en\n"
	    "CB,City Bus,https://example.org,America/New_York,en\n"},
	{"routes.txt",
	    "route_id,agency_id,route_short_name,route_long_name,route_type,"
	    "network_id,route_color\n"
	    "r1,MTA,1,Red Line,1,subway,FF0000\n"
	    "r2,MTA,2,Blue Line,1,subway,0000FF\n"
	    "b10,CB,10,Crosstown,3,bus,00FF00\n"
	    "b11,CB,11,Uptown,3,bus,00FF00\n"
	    "x1,CB,X1,Airport express,3,,000000\n"},
	{"stops.txt",
	    "stop_id,stop_code,stop_name,stop_lat,stop_lon,location_type,"
	    "parent_station,wheelchair_boarding\n"
	    "CTR,,Center,40.750000,-73.990000,1,,1\n"
	    "CTR_1,101,Center northbound,40.750100,-73.990100,0,CTR,1\n"
	    "CTR_2,102,Center southbound,40.749900,-73.989900,0,CTR,1\n"
	    "CTR_N1,,Center mezzanine node,,,3,CTR,\n"
	    "CTR_B1,,Center boarding area,,,4,CTR_1,\n"
	    "UP,201,Uptown,40.800000,-73.950000,0,,1\n"
	    "DN,301,Downtown,40.700000,-74.010000,0,,1"},
	{"fare_media.txt",
	    "fare_media_id,fare_media_name,fare_media_type\n"
	    "cash,Cash,0\n"
	    "paper,Paper ticket,1\n"
	    "card,Transit card,2\n"
	    "emv,Contactless bank card,3\n"
	    "app,Mobile app,4\n"},
	{"rider_categories.txt",
	    "rider_category_id,rider_category_name,is_default_fare_category,"
	    "eligibility_url\n"
	    "ADULT,Adult,1,\n"
	    "SENIOR,Senior,0,https://example.org\n"
	    "YOUTH,Youth,,\n"},
	{"fare_products.txt",
	    "fare_product_id,fare_product_name,rider_category_id,"
	    "fare_media_id,amount,currency\n"
	    "ride,Single ride,ADULT,emv,2.90,USD\n"
	    "ride,Single ride,SENIOR,emv,1.45,USD\n"
	    "ride,Single ride,YOUTH,emv,0.00,USD\n"
	    "ride,Single ride,ADULT,cash,3.25,USD\n"
	    "ride,Single ride,ADULT,paper,3.25,USD\n"
	    "ride,Single ride,ADULT,card,2.90,USD\n"
	    "ride,Single ride,ADULT,app,2.90,USD\n"
	    "night,Night ride,ADULT,emv,2.00,USD\n"
	    "express,Express ride,ADULT,,7.00,USD\n"
	    "free_transfer,Free transfer,,emv,0.00,USD\n"},
	{"calendar.txt",
	    "service_id,monday,tuesday,wednesday,thursday,friday,saturday,"
	    "sunday,start_date,end_date\n"
	    "all,1,1,1,1,1,1,1,20260101,20271231\n"},
	{"timeframes.txt",
	    "timeframe_group_id,start_time,end_time,service_id\n"
	    "night,00:00:00,05:00:00,all\n"
	    "night,22:00:00,24:00:00,all\n"},
	{"fare_leg_rules.txt",
	    "leg_group_id,network_id,from_area_id,to_area_id,"
	    "from_timeframe_group_id,to_timeframe_group_id,fare_product_id\n"
	    "core,subway,,,,,ride\n"
	    "core,bus,,,,,ride\n"
	    "core_night,bus,,,night,,night\n"
	    "exp,,,,,,express\n"},
	{"fare_transfer_rules.txt",
	    "from_leg_group_id,to_leg_group_id,transfer_count,duration_limit,"
	    "duration_limit_type,fare_transfer_type,fare_product_id\n"
	    "core,core,2,7200,1,0,free_transfer\n"},
};
#define NTRANSIT (sizeof transit / sizeof transit[0])

/* A fresh directory with the files of base, then the overrides. */
static char *
feed_dir(const struct tu_file *base, size_t nbase, const struct tu_file *over,
    size_t nover)
{
	char tmpl[] = "/tmp/onecity-feed-XXXXXX", *dir;
	size_t i;

	dir = mkdtemp(tmpl);
	assert_non_null(dir);
	dir = strdup(dir);
	for (i = 0; i < nbase; i++)
		tu_write(dir, base[i].name, base[i].text);
	for (i = 0; i < nover; i++)
		tu_write(dir, over[i].name, over[i].text);
	return dir;
}

/* Loads a feed, returning the tariff (or NULL) and every message. */
static struct tariff *
feed_load(const struct tu_file *base, size_t nbase, const struct tu_file *over,
    size_t nover, char *msgs, size_t len)
{
	char *dir = feed_dir(base, nbase, over, nover);
	struct diag d;
	struct tariff *t;
	size_t i, o = 0;

	diag_init(&d);
	t = tariff_load(dir, &d);
	msgs[0] = '\0';
	for (i = 0; i < d.n && o < len; i++)
		o += (size_t)snprintf(msgs + o, len - o, "%s\n",
		    strstr(d.msg[i], dir) == d.msg[i] ?
		    d.msg[i] + strlen(dir) + 1 : d.msg[i]);
	diag_free(&d);
	tu_rmdir(dir);
	return t;
}

static struct tariff *
transit_with(const struct tu_file *over, size_t nover, char *msgs, size_t len)
{
	return feed_load(transit, NTRANSIT, over, nover, msgs, len);
}

/* Item 1: networks from routes.txt (GTFS forbids networks.txt then). */
static void
test_networks_from_routes(void **state)
{
	char msgs[8192], *out;
	struct tariff *t = transit_with(NULL, 0, msgs, sizeof msgs);

	(void)state;
	if (t == NULL)
		fail_msg("the transit feed was rejected:\n%s", msgs);
	assert_int_equal(tariff_nnetworks(t), 2);
	assert_string_equal(tariff_network_id(t, 0), "bus");
	assert_string_equal(tariff_network_id(t, 1), "subway");
	assert_string_equal(tariff_currency(t), "USD");
	out = tu_price(t,
	    "a1,2026-11-30T14:00:00Z,4111111111111111,,subway,CTR_1,in\n"
	    "a2,2026-11-30T14:20:00Z,4111111111111111,,subway,UP,out\n"
	    "a3,2026-11-30T14:30:00Z,4111111111111111,,bus,UP,in\n");
	/* Plain GTFS networks: each tap-in a leg, the tap-out ignored; the
	 * bus within 2 hours of the subway is a free transfer. */
	tu_has(out, "\"charge_cents\":290,");
	tu_has(out, "\"network_id\":\"bus\",\"from_stop_id\":\"UP\","
	    "\"to_stop_id\":\"UP\"");
	tu_lacks(out, "incomplete");
	free(out);
	tariff_free(t);
}

/* Item 1: with neither networks.txt nor network_id, a network per agency. */
static void
test_networks_from_agencies(void **state)
{
	static const struct tu_file over[] = {
		{"routes.txt", "route_id,agency_id,route_type\nr1,MTA,1\n"},
		{"fare_leg_rules.txt",
		    "leg_group_id,network_id,fare_product_id\n"
		    "core,MTA,ride\n"
		    "core,CB,ride\n"},
	};
	static const struct tu_file noid[] = {
		{"routes.txt", NULL},
		{"agency.txt", "agency_name,agency_url,agency_timezone\n"
		    "Metro Transit,https://example.org,America/New_York\n"},
		{"fare_leg_rules.txt",
		    "leg_group_id,network_id,fare_product_id\n"
		    "core,Metro Transit,ride\n"},
	};
	static const struct tu_file twonoid[] = {
		{"routes.txt", NULL},
		{"agency.txt", "agency_name,agency_url,agency_timezone\n"
		    "Metro Transit,https://example.org,America/New_York\n"
		    "City Bus,https://example.org,America/New_York\n"},
	};
	char msgs[8192];
	struct tariff *t = transit_with(over, 2, msgs, sizeof msgs);

	(void)state;
	if (t == NULL)
		fail_msg("rejected:\n%s", msgs);
	assert_int_equal(tariff_nnetworks(t), 2);
	assert_string_equal(tariff_network_id(t, 0), "CB");
	assert_string_equal(tariff_network_name(t, 1), "Metro Transit");
	tariff_free(t);
	/* GTFS lets a one-agency feed omit agency_id: named after it. */
	t = transit_with(noid, 3, msgs, sizeof msgs);
	if (t == NULL)
		fail_msg("rejected:\n%s", msgs);
	assert_int_equal(tariff_nnetworks(t), 1);
	assert_string_equal(tariff_network_id(t, 0), "Metro Transit");
	tu_has(msgs, "agency.txt:2: warning: the feed's only agency has no "
	    "agency_id: its network is named after agency_name 'Metro "
	    "Transit'");
	tariff_free(t);
	t = transit_with(twonoid, 2, msgs, sizeof msgs);
	assert_null(t);
	tu_has(msgs, "agency.txt:2: agency_id is empty: a feed with neither "
	    "networks.txt nor network_id in routes.txt has a network per "
	    "agency_id");
}

/* Item 1: networks.txt and routes.txt network_id together: both, warned. */
static void
test_networks_txt_with_routes_network_id_warns(void **state)
{
	static const struct tu_file over[] = {
		{"networks.txt", "network_id,network_name\nsubway,Subway\n"},
	};
	char msgs[8192];
	struct tariff *t = transit_with(over, 1, msgs, sizeof msgs);

	(void)state;
	assert_non_null(t);
	assert_int_equal(tariff_nnetworks(t), 2);
	tu_has(msgs, "routes.txt:2: warning: routes.txt has network_id "
	    "although the feed has networks.txt, which GTFS forbids");
	tariff_free(t);
}

/* Item 2: generic nodes and boarding areas may lack coordinates. */
static void
test_stops_without_coordinates(void **state)
{
	static const struct tu_file dist[] = {
		{"fare_distance_rules.txt",
		    "network_id,from_distance_m,per_km_amount\nsubway,0,0.10\n"},
		{"network_policies.txt",
		    "network_id,checkout_required,incomplete_fare_product_id\n"
		    "subway,1,express\n"},
	};
	static const struct tu_file bad[] = {
		{"stops.txt", "stop_id,stop_name,stop_lat,stop_lon,"
		    "location_type\nA,A,,,0\nB,B,40.7,,\n"},
	};
	char msgs[8192], *out;
	struct tariff *t = transit_with(dist, 2, msgs, sizeof msgs);

	(void)state;
	if (t == NULL)
		fail_msg("rejected:\n%s", msgs);
	assert_int_equal(tariff_distance_m(t, tariff_stop(t, "CTR_N1", 6),
	    tariff_stop(t, "UP", 2)), -1);
	out = tu_price(t,
	    "a1,2026-11-30T14:00:00Z,4111111111111111,,subway,CTR_N1,in\n"
	    "a2,2026-11-30T14:20:00Z,4111111111111111,,subway,UP,out\n"
	    "a3,2026-11-30T15:00:00Z,4111111111111111,,subway,CTR_1,in\n"
	    "a4,2026-11-30T15:20:00Z,4111111111111111,,subway,UP,out\n");
	/* No distance, no price: unpriced, never a crash; the next leg has
	 * coordinates at both ends and is priced. */
	tu_has(out, "\"from_stop_id\":\"CTR_N1\",\"to_stop_id\":\"UP\","
	    "\"checkin\":\"2026-11-30T14:00:00Z\",\"checkout\":"
	    "\"2026-11-30T14:20:00Z\",\"status\":\"unpriced\",\"fare_cents\":0");
	tu_has(out, "\"from_stop_id\":\"CTR_1\",\"to_stop_id\":\"UP\","
	    "\"checkin\":\"2026-11-30T15:00:00Z\",\"checkout\":"
	    "\"2026-11-30T15:20:00Z\",\"status\":\"complete\"");
	free(out);
	tariff_free(t);
	assert_null(transit_with(bad, 1, msgs, sizeof msgs));
	tu_has(msgs, "stops.txt:2: stop_lat is empty: only generic nodes and "
	    "boarding areas (location_type 3 and 4) may go without "
	    "coordinates");
	tu_has(msgs, "stops.txt:3: stop_lon is empty");
}

/* Item 3: without network_policies.txt every network is plain GTFS. */
static void
test_network_policies_optional(void **state)
{
	char msgs[8192], *out;
	struct tariff *t = transit_with(NULL, 0, msgs, sizeof msgs);

	(void)state;
	assert_non_null(t);
	assert_int_equal(tariff_checkout_required(t, 0), 0);
	assert_int_equal(tariff_checkout_required(t, 1), 0);
	out = tu_price(t,
	    "a1,2026-11-30T14:00:00Z,4111111111111111,,subway,CTR_1,in\n"
	    "a2,2026-11-30T18:20:00Z,4111111111111111,,subway,UP,out\n"
	    "a3,2026-11-30T19:00:00Z,4111111111111111,,subway,DN,out\n");
	/* One leg: the tap-outs (even an orphan one) are ignored. */
	tu_has(out, "\"charge_cents\":290,");
	tu_has(out, "\"checkout\":null,\"status\":\"complete\"");
	tu_lacks(out, "\"to_stop_id\":\"DN\"");
	free(out);
	tariff_free(t);
}

/* Item 4: the default rider category's rows are the bank-card price. */
static void
test_default_rider_category_is_bank_card_price(void **state)
{
	static const struct tu_file unknown[] = {
		{"fare_products.txt",
		    "fare_product_id,amount,currency,rider_category_id\n"
		    "ride,2.90,USD,ADULT\nnight,2.00,USD,CHILD\n"
		    "express,7.00,USD,\nfree_transfer,0,USD,\n"},
	};
	char msgs[8192];
	struct tariff *t = transit_with(NULL, 0, msgs, sizeof msgs);

	(void)state;
	assert_non_null(t);
	/* ride: ADULT+emv (the default category) counts, not SENIOR's
	 * 1.45, YOUTH's 0.00 (its flag is empty: not default) nor cash. */
	assert_int_equal(t->product[strtab_find(t->product_ids, "ride", 4)]
	    .amount_cents, 290);
	assert_int_equal(t->nleg_rules - t->nleg_left_out, 4);
	tariff_free(t);
	assert_null(transit_with(unknown, 1, msgs, sizeof msgs));
	tu_has(msgs, "fare_products.txt:3: unknown rider_category_id 'CHILD'");
}

/* Item 5: never lose fares in silence. */
static void
test_never_lose_fares_in_silence(void **state)
{
	static const struct tu_file over[] = {
		{"fare_products.txt",
		    "fare_product_id,amount,currency,fare_media_id,"
		    "rider_category_id\n"
		    "ride,2.90,USD,cash,ADULT\n"
		    "ride,1.45,USD,emv,SENIOR\n"
		    "night,2.00,USD,emv,ADULT\n"
		    "express,7.00,USD,paper,\n"
		    "free_transfer,0,USD,emv,\n"},
		{"fare_leg_rules.txt",
		    "leg_group_id,network_id,from_area_id,to_area_id,"
		    "from_timeframe_group_id,to_timeframe_group_id,"
		    "fare_product_id\n"
		    "core,subway,,,,,ride\n"
		    "core,bus,,,,,free_transfer\n"
		    "core_night,bus,,,night,,night\n"},
	};
	char msgs[8192];
	struct tariff *t = transit_with(over, 2, msgs, sizeof msgs);

	(void)state;
	if (t == NULL)
		fail_msg("rejected:\n%s", msgs);
	tu_has(msgs, "fare_products.txt:1: warning: 1 row ignored for a bank "
	    "card: rider category not the default one (SENIOR)");
	tu_has(msgs, "fare_products.txt:1: warning: 2 rows ignored for a bank "
	    "card: fare medium not contactless EMV, fare_media_type 3 (cash, "
	    "paper)");
	tu_has(msgs, "fare_leg_rules.txt:2: warning: rule left out of "
	    "pricing: fare product 'ride' has no row for a contactless bank "
	    "card");
	tu_has(msgs, "routes.txt:2: warning: network 'subway' has no leg rule "
	    "for a bank card: its legs will be unpriced");
	tu_has(msgs, "fare_leg_rules.txt:3: warning: fare product "
	    "'free_transfer' is also a transfer product "
	    "(fare_transfer_rules.txt:2)");
	tu_lacks(msgs, "network 'bus' has no leg rule");
	tariff_free(t);
}

/* Item 5: a feed whose every rule is dropped loads, with warnings. */
static void
test_every_rule_dropped_loads_with_warnings(void **state)
{
	static const struct tu_file over[] = {
		{"fare_products.txt",
		    "fare_product_id,amount,currency,fare_media_id\n"
		    "ride,2.90,USD,cash\nnight,2.00,USD,cash\n"
		    "express,7.00,USD,card\nfree_transfer,0,USD,app\n"},
	};
	char msgs[8192], *out;
	struct tariff *t = transit_with(over, 1, msgs, sizeof msgs);

	(void)state;
	if (t == NULL)
		fail_msg("rejected:\n%s", msgs);
	assert_int_equal(t->nleg_left_out, 4);
	assert_int_equal(t->ntransfers_left_out, 1);
	tu_has(msgs, "fare_leg_rules.txt:5: warning: rule left out");
	tu_has(msgs, "fare_transfer_rules.txt:2: warning: rule left out");
	tu_has(msgs, "network 'bus' has no leg rule");
	tu_has(msgs, "network 'subway' has no leg rule");
	out = tu_price(t,
	    "a1,2026-11-30T14:00:00Z,4111111111111111,,subway,CTR_1,in\n");
	tu_has(out, "\"status\":\"unpriced\"");
	free(out);
	tariff_free(t);
}

/*
 * Item 6: a rule left out still names its network: the empty-field rule
 * must not swallow it (the minimal case: `complete 900` was wrong).
 */
static void
test_left_out_rule_still_names_network(void **state)
{
	static const struct tu_file over[] = {
		{"fare_products.txt",
		    "fare_product_id,amount,currency,fare_media_id\n"
		    "P_cash,2.00,USD,cash\nP_emv,9.00,USD,emv\n"},
		{"fare_leg_rules.txt",
		    "leg_group_id,network_id,fare_product_id\n"
		    "g1,subway,P_cash\ng2,,P_emv\n"},
		{"fare_transfer_rules.txt", NULL},
	};
	char msgs[8192], *out;
	struct tariff *t = transit_with(over, 3, msgs, sizeof msgs);

	(void)state;
	if (t == NULL)
		fail_msg("rejected:\n%s", msgs);
	out = tu_price(t,
	    "a1,2026-11-30T14:00:00Z,4111111111111111,,subway,CTR_1,in\n"
	    "a2,2026-11-30T15:00:00Z,4111111111111111,,bus,UP,in\n");
	tu_has(out, "\"network_id\":\"subway\",\"from_stop_id\":\"CTR_1\","
	    "\"to_stop_id\":\"CTR_1\",\"checkin\":\"2026-11-30T14:00:00Z\","
	    "\"checkout\":null,\"status\":\"unpriced\"");
	tu_has(out, "\"network_id\":\"bus\",\"from_stop_id\":\"UP\","
	    "\"to_stop_id\":\"UP\",\"checkin\":\"2026-11-30T15:00:00Z\","
	    "\"checkout\":null,\"status\":\"complete\",\"fare_cents\":900");
	free(out);
	tariff_free(t);
}

/* Item 6: the same with from_area_id. */
static void
test_left_out_rule_still_names_area(void **state)
{
	static const struct tu_file over[] = {
		{"areas.txt", "area_id\nmid\n"},
		{"stop_areas.txt", "area_id,stop_id\nmid,CTR\n"},
		{"fare_products.txt",
		    "fare_product_id,amount,currency,fare_media_id\n"
		    "P_cash,2.00,USD,cash\nP_emv,9.00,USD,emv\n"},
		{"fare_leg_rules.txt",
		    "leg_group_id,network_id,from_area_id,fare_product_id\n"
		    "g1,subway,mid,P_cash\ng2,subway,,P_emv\n"},
		{"fare_transfer_rules.txt", NULL},
	};
	char msgs[8192], *out;
	struct tariff *t = transit_with(over, 5, msgs, sizeof msgs);

	(void)state;
	if (t == NULL)
		fail_msg("rejected:\n%s", msgs);
	/* CTR_1 takes its parent CTR's area `mid`, named by the left-out
	 * rule: the empty from_area_id rule does not match it. */
	out = tu_price(t,
	    "a1,2026-11-30T14:00:00Z,4111111111111111,,subway,CTR_1,in\n"
	    "a2,2026-11-30T15:00:00Z,4111111111111111,,subway,UP,in\n");
	tu_has(out, "\"from_stop_id\":\"CTR_1\",\"to_stop_id\":\"CTR_1\","
	    "\"checkin\":\"2026-11-30T14:00:00Z\",\"checkout\":null,"
	    "\"status\":\"unpriced\"");
	tu_has(out, "\"from_stop_id\":\"UP\",\"to_stop_id\":\"UP\","
	    "\"checkin\":\"2026-11-30T15:00:00Z\",\"checkout\":null,"
	    "\"status\":\"complete\",\"fare_cents\":900");
	free(out);
	tariff_free(t);
}

/* Item 7: a 30-day pass transfer (GTFS: any positive duration_limit). */
static void
test_duration_limit_beyond_a_day(void **state)
{
	static const struct tu_file month[] = {
		{"fare_transfer_rules.txt",
		    "from_leg_group_id,to_leg_group_id,transfer_count,"
		    "duration_limit,duration_limit_type,fare_transfer_type,"
		    "fare_product_id\n"
		    "core,core,-1,2592000,1,0,free_transfer\n"},
	};
	static const struct tu_file over[] = {
		{"fare_transfer_rules.txt",
		    "from_leg_group_id,to_leg_group_id,transfer_count,"
		    "duration_limit,duration_limit_type,fare_transfer_type,"
		    "fare_product_id\n"
		    "core,core,-1,2147483648,1,0,free_transfer\n"},
	};
	char msgs[8192], *out;
	struct tariff *t = transit_with(month, 1, msgs, sizeof msgs);

	(void)state;
	if (t == NULL)
		fail_msg("rejected:\n%s", msgs);
	out = tu_price(t,
	    "a1,2026-11-02T14:00:00Z,4111111111111111,,subway,CTR_1,in\n"
	    "a2,2026-11-20T14:00:00Z,4111111111111111,,subway,UP,in\n"
	    "a3,2026-12-02T14:00:01Z,4111111111111111,,subway,UP,in\n");
	tu_has(out, "\"service_day\":\"2026-11-20\",\"charge_cents\":0,");
	tu_has(out, "\"service_day\":\"2026-12-02\",\"charge_cents\":290,");
	free(out);
	tariff_free(t);
	assert_null(transit_with(over, 1, msgs, sizeof msgs));
	tu_has(msgs, "fare_transfer_rules.txt:2: duration_limit '2147483648'");
}

/* The gtfs example's tram, as three rides 20 minutes apart. */
static const struct tu_file ovpay[] = {
	{"network_policies.txt",
	    "network_id,checkout_required,incomplete_fare_product_id\n"
	    "subway,1,express\n"},
	{"fare_transfer_rules.txt",
	    "from_leg_group_id,to_leg_group_id,transfer_count,duration_limit,"
	    "duration_limit_type,fare_transfer_type,fare_product_id,"
	    "duration_limit_from\n"
	    "core,core,-1,2100,2,0,free_transfer,previous\n"},
};

/* Item 8: OVpay's 35 minutes from the previous check-out. */
static void
test_duration_limit_from_previous(void **state)
{
	static const struct tu_file first[] = {
		{"fare_transfer_rules.txt",
		    "from_leg_group_id,to_leg_group_id,transfer_count,"
		    "duration_limit,duration_limit_type,fare_transfer_type,"
		    "fare_product_id,duration_limit_from\n"
		    "core,core,-1,2100,2,0,free_transfer,first\n"},
	};
	static const struct tu_file bad[] = {
		{"fare_transfer_rules.txt",
		    "from_leg_group_id,to_leg_group_id,transfer_count,"
		    "duration_limit,duration_limit_type,fare_transfer_type,"
		    "fare_product_id,duration_limit_from\n"
		    "core,core,-1,2100,2,0,free_transfer,last\n"},
	};
	static const char taps[] =
	    "a1,2026-11-30T14:00:00Z,4111111111111111,,subway,CTR_1,in\n"
	    "a2,2026-11-30T14:10:00Z,4111111111111111,,subway,UP,out\n"
	    "a3,2026-11-30T14:30:00Z,4111111111111111,,subway,UP,in\n"
	    "a4,2026-11-30T14:40:00Z,4111111111111111,,subway,DN,out\n"
	    "a5,2026-11-30T15:00:00Z,4111111111111111,,subway,DN,in\n"
	    "a6,2026-11-30T15:10:00Z,4111111111111111,,subway,UP,out\n";
	char msgs[8192], *out;
	struct tariff *t = transit_with(ovpay, 2, msgs, sizeof msgs);

	(void)state;
	if (t == NULL)
		fail_msg("rejected:\n%s", msgs);
	out = tu_price(t, taps);
	tu_has(out, "\"charge_cents\":290,");
	free(out);
	tariff_free(t);
	/* GTFS's default: the third ride is 60 minutes after the first
	 * check-out, so it pays again. */
	t = transit_with(first, 1, msgs, sizeof msgs);
	assert_non_null(t);
	out = tu_price(t, taps);
	tu_has(out, "\"charge_cents\":580,");
	free(out);
	tariff_free(t);
	assert_null(transit_with(bad, 1, msgs, sizeof msgs));
	tu_has(msgs, "fare_transfer_rules.txt:2: duration_limit_from 'last' "
	    "must be 'first' or 'previous'");
}

/* Item 8: a rule without duration_limit stays within one service day. */
static void
test_transfer_without_limit_same_service_day(void **state)
{
	static const struct tu_file over[] = {
		{"fare_transfer_rules.txt",
		    "from_leg_group_id,to_leg_group_id,transfer_count,"
		    "fare_transfer_type,fare_product_id\n"
		    "core,core,-1,0,free_transfer\n"},
	};
	char msgs[8192], *out;
	struct tariff *t = transit_with(over, 1, msgs, sizeof msgs);

	(void)state;
	if (t == NULL)
		fail_msg("rejected:\n%s", msgs);
	/* New York: 23:00 and 00:30 local are two calendar days but one
	 * service day (it starts at 04:00); the next morning is not. */
	out = tu_price(t,
	    "a1,2026-12-01T04:00:00Z,4111111111111111,,subway,CTR_1,in\n"
	    "a2,2026-12-01T05:30:00Z,4111111111111111,,subway,UP,in\n"
	    "a3,2026-12-01T14:00:00Z,4111111111111111,,bus,DN,in\n"
	    "a4,2026-12-21T14:00:00Z,4111111111111111,,bus,DN,in\n");
	tu_has(out, "\"service_day\":\"2026-11-30\",\"charge_cents\":290,");
	tu_has(out, "\"service_day\":\"2026-12-01\",\"charge_cents\":290,");
	tu_has(out, "\"service_day\":\"2026-12-21\",\"charge_cents\":290,");
	free(out);
	tariff_free(t);
}

/* Item 9: cancelled at the same station, not only the same stop. */
static void
test_cancel_at_same_station(void **state)
{
	char msgs[8192], *out;
	struct tariff *t = transit_with(ovpay, 2, msgs, sizeof msgs);

	(void)state;
	if (t == NULL)
		fail_msg("rejected:\n%s", msgs);
	assert_true(tariff_same_station(t, tariff_stop(t, "CTR_1", 5),
	    tariff_stop(t, "CTR_2", 5)));
	assert_true(tariff_same_station(t, tariff_stop(t, "CTR", 3),
	    tariff_stop(t, "CTR_2", 5)));
	assert_false(tariff_same_station(t, tariff_stop(t, "UP", 2),
	    tariff_stop(t, "CTR_2", 5)));
	out = tu_price(t,
	    /* a check-out on the other platform of the same station */
	    "a1,2026-11-30T14:00:00Z,4111111111111111,,subway,CTR_1,in\n"
	    "a2,2026-11-30T14:05:00Z,4111111111111111,,subway,CTR_2,out\n"
	    /* a check-in closed by a check-in at the station itself */
	    "a3,2026-11-30T15:00:00Z,4111111111111111,,subway,CTR_2,in\n"
	    "a4,2026-11-30T15:02:00Z,4111111111111111,,subway,CTR,in\n"
	    /* another station: not cancelled */
	    "a5,2026-11-30T16:00:00Z,4111111111111111,,subway,UP,in\n"
	    "a6,2026-11-30T16:05:00Z,4111111111111111,,subway,CTR_2,out\n");
	tu_has(out, "\"from_stop_id\":\"CTR_1\",\"to_stop_id\":\"CTR_2\","
	    "\"checkin\":\"2026-11-30T14:00:00Z\",\"checkout\":"
	    "\"2026-11-30T14:05:00Z\",\"status\":\"cancelled\"");
	tu_has(out, "\"from_stop_id\":\"CTR_2\",\"to_stop_id\":\"CTR\","
	    "\"checkin\":\"2026-11-30T15:00:00Z\",\"checkout\":"
	    "\"2026-11-30T15:02:00Z\",\"status\":\"cancelled\"");
	tu_has(out, "\"from_stop_id\":\"CTR\",\"to_stop_id\":\"UP\","
	    "\"checkin\":\"2026-11-30T15:02:00Z\",\"checkout\":"
	    "\"2026-11-30T16:00:00Z\",\"status\":\"autocompleted\"");
	tu_has(out, "\"from_stop_id\":\"UP\",\"to_stop_id\":\"CTR_2\","
	    "\"checkin\":\"2026-11-30T16:00:00Z\",\"checkout\":"
	    "\"2026-11-30T16:05:00Z\",\"status\":\"complete\"");
	free(out);
	tariff_free(t);
}

/* Item 10: ids are valid UTF-8, and messages never carry raw bytes. */
static void
test_ids_valid_utf8(void **state)
{
	static const struct {
		const char	*stop_id, *why;
	} cases[] = {
		{"A\xc0\xaf", "stop_id is not valid UTF-8 text: an overlong "
		    "form at byte 2"},
		{"A\xe0\x80\xaf", "an overlong form at byte 2"},
		{"A\xed\xa0\x80", "a surrogate (U+D800 to U+DFFF) at byte 2"},
		{"A\xf4\x90\x80\x80", "a code point above U+10FFFF at byte 2"},
		{"A\xf8\x88\x80\x80\x80", "an invalid byte (0xF5 to 0xFF)"},
		{"A\x80", "a stray continuation byte at byte 2"},
		{"A\xe2\x82", "a truncated sequence at byte 2"},
		{"A\tB", "stop_id has a control character (U+0009) at byte 2: "
		    "GTFS forbids tabs and line breaks in fields"},
	};
	struct tu_file over[1] = {{"stops.txt", NULL}};
	char text[512], msgs[8192];
	size_t i, k;
	struct tariff *t;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(text, sizeof text, "stop_id,stop_name,stop_lat,"
		    "stop_lon\nUP,Up,40.8,-73.95\nDN,Down,40.7,-74.0\n"
		    "%s,Bad,40.75,-73.99\n", cases[i].stop_id);
		over[0].text = text;
		t = transit_with(over, 1, msgs, sizeof msgs);
		if (t != NULL)
			fail_msg("stop_id case %zu loaded", i);
		tu_has(msgs, "stops.txt:4: ");
		tu_has(msgs, cases[i].why);
		for (k = 0; msgs[k] != '\0'; k++)
			if (((unsigned char)msgs[k] < 0x20 && msgs[k] != '\n') ||
			    (unsigned char)msgs[k] >= 0x80)
				fail_msg("case %zu: a raw byte 0x%02x in: %s",
				    i, (unsigned char)msgs[k], msgs);
	}
	/* Valid multi-byte ids load and print as raw UTF-8. */
	over[0].text = "stop_id,stop_name,stop_lat,stop_lon\n"
	    "UP,Up,40.8,-73.95\nDN,Down,40.7,-74.0\n"
	    "Ł\xc3\xb3" "d\xc5\xba-\xf0\x9f\x9a\x87,\xc5\x81\xc3\xb3"
	    "d\xc5\xba,40.75,-73.99\n";
	t = transit_with(over, 1, msgs, sizeof msgs);
	if (t == NULL)
		fail_msg("rejected:\n%s", msgs);
	tariff_free(t);
}

/* Item 10: the text fields of a tap file, the same. */
static void
test_tap_text_valid_utf8(void **state)
{
	char msgs[8192];
	struct tariff *t = transit_with(NULL, 0, msgs, sizeof msgs);
	struct tap_tokenizer *tk = tap_tokenizer_new(
	    (const unsigned char *)TAP_DEV_TOKEN_KEY, strlen(TAP_DEV_TOKEN_KEY));
	struct tapset *s = tapset_new(t, tk);
	const char *why;

	(void)state;
	assert_int_equal(tapset_add(s, "a\xc0\xaf", "2026-11-30T14:00:00Z",
	    "4111111111111111", "", "subway", "UP", "in", &why), -1);
	assert_string_equal(why, "tap_id is not valid UTF-8 text: an overlong "
	    "form at byte 2");
	assert_int_equal(tapset_add(s, "a1", "2026-11-30T14:00:00Z",
	    "4111111111111111", "", "sub\xed\xa0\x80", "UP", "in", &why), -1);
	assert_string_equal(why, "network_id is not valid UTF-8 text: a "
	    "surrogate (U+D800 to U+DFFF) at byte 4");
	assert_int_equal(tapset_add(s, "a\n1", "2026-11-30T14:00:00Z",
	    "4111111111111111", "", "subway", "UP", "in", &why), -1);
	assert_string_equal(why, "tap_id has a control character (U+000A) at "
	    "byte 2");
	assert_int_equal(tapset_add(s, "a1", "2026-11-30T14:00:00Z",
	    "4111111111111111", "", "subway", "UP", "in", &why), 0);
	tapset_free(s);
	tap_tokenizer_free(tk);
	tariff_free(t);
}

/* Item 10: "mixed currencies" on the odd line out only. */
static void
test_mixed_currencies_on_odd_line_out(void **state)
{
	static const struct tu_file over[] = {
		{"fare_products.txt",
		    "fare_product_id,amount,currency\n"
		    "ride,2.90,CAD\nnight,2.00,USD\nexpress,7.00,USD\n"
		    "free_transfer,0,USD\n"},
	};
	char msgs[8192];

	(void)state;
	assert_null(transit_with(over, 1, msgs, sizeof msgs));
	tu_has(msgs, "fare_products.txt:2: mixed currencies: CAD here, USD at ");
	tu_has(msgs, "fare_products.txt:3\n");
	tu_lacks(msgs, "fare_products.txt:3: mixed");
	tu_lacks(msgs, "fare_products.txt:4: mixed");
	tu_lacks(msgs, "fare_products.txt:5: mixed");
}

/* Item 11: every problem is counted, within LIMIT_DIAGNOSTICS listed. */
static void
test_every_problem_counted(void **state)
{
	struct diag d;
	char *text;
	size_t len, i;
	FILE *f;

	(void)state;
	diag_init(&d);
	for (i = 0; i < LIMIT_DIAGNOSTICS + 731; i++)
		diag_error(&d, "stops.txt", i + 2, "bad row");
	diag_warn(&d, "stops.txt", 1, "a warning");
	f = open_memstream(&text, &len);
	diag_print(&d, f);
	fclose(f);
	tu_has(text, "... and 732 more problems not listed (1731 errors and 1 "
	    "warnings in all; at most 1000 are listed)\n");
	free(text);
	diag_free(&d);
}

/* Shapes: CRLF, a BOM, quoted fields and unknown files load the same. */
static void
test_real_feed_shapes_load(void **state)
{
	static const struct tu_file over[] = {
		{"agency.txt",
		    "\xef\xbb\xbf" "agency_id,agency_name,agency_url,"
		    "agency_timezone\r\n"
		    "MTA,\"Metro Transit, Inc.\",https://example.org,"
		    "America/New_York\r\n"
		    "CB,City Bus,https://example.org,America/New_York\r\n"},
		{"shapes.txt", "shape_id,shape_pt_lat\ns1,40.7\n"},
		{"fare_leg_join_rules.txt", NULL},
	};
	char msgs[8192], *out;
	struct tariff *t = transit_with(over, 3, msgs, sizeof msgs);

	(void)state;
	if (t == NULL)
		fail_msg("rejected:\n%s", msgs);
	/* The night timeframe is split over two rows: 23:30 and 01:30
	 * local both match it. */
	out = tu_price(t,
	    "a1,2026-12-01T04:30:00Z,4111111111111111,,bus,UP,in\n"
	    "a2,2026-12-01T06:30:00Z,4111111111111111,,bus,UP,in\n"
	    "a3,2026-12-01T15:00:00Z,4111111111111111,,bus,UP,in\n");
	tu_has(out, "\"checkin\":\"2026-12-01T04:30:00Z\",\"checkout\":null,"
	    "\"status\":\"complete\",\"fare_cents\":200");
	tu_has(out, "\"checkin\":\"2026-12-01T06:30:00Z\",\"checkout\":null,"
	    "\"status\":\"complete\",\"fare_cents\":200");
	tu_has(out, "\"checkin\":\"2026-12-01T15:00:00Z\",\"checkout\":null,"
	    "\"status\":\"complete\",\"fare_cents\":290");
	free(out);
	tariff_free(t);
}

/* Review: a boarding area is at its platform's station, takes its areas. */
static void
test_boarding_area_at_its_platforms_station(void **state)
{
	static const struct tu_file over[] = {
		{"areas.txt", "area_id\nZ1\n"},
		{"stop_areas.txt", "area_id,stop_id\nZ1,CTR\n"},
		{"fare_leg_rules.txt",
		    "leg_group_id,network_id,from_area_id,to_area_id,"
		    "fare_product_id\n"
		    "core,subway,Z1,Z1,ride\n"},
		{"fare_transfer_rules.txt", NULL},
		{"network_policies.txt",
		    "network_id,checkout_required,incomplete_fare_product_id\n"
		    "subway,1,express\n"},
	};
	char msgs[8192], *out;
	struct tariff *t = transit_with(over, 5, msgs, sizeof msgs);

	(void)state;
	if (t == NULL)
		fail_msg("rejected:\n%s", msgs);
	assert_true(tariff_same_station(t, tariff_stop(t, "CTR_B1", 6),
	    tariff_stop(t, "CTR_2", 5)));
	assert_true(tariff_stop_in_area(t, tariff_stop(t, "CTR_B1", 6),
	    strtab_find(t->area_ids, "Z1", 2)));
	out = tu_price(t,
	    "a1,2026-11-30T14:00:00Z,4111111111111111,,subway,CTR_B1,in\n"
	    "a2,2026-11-30T14:04:00Z,4111111111111111,,subway,CTR_2,out\n");
	tu_has(out, "\"status\":\"cancelled\"");
	free(out);
	tariff_free(t);
}

/* Review: a parent_station cycle is an error, not a hang. */
static void
test_parent_station_cycle_rejected(void **state)
{
	static const struct tu_file over[] = {
		{"stops.txt", "stop_id,stop_name,stop_lat,stop_lon,"
		    "location_type,parent_station\n"
		    "UP,Up,40.8,-73.95,,\nA,A,40.7,-74.0,1,B\n"
		    "B,B,40.7,-74.0,1,A\n"},
	};
	char msgs[8192];

	(void)state;
	assert_null(transit_with(over, 1, msgs, sizeof msgs));
	tu_has(msgs, "stops.txt:3: parent_station of 'A' leads to a cycle");
}

/*
 * Review: a feed with over a thousand left-out rules still shows which
 * networks lost every fare (the per-rule warnings are counted, not all
 * listed).
 */
static void
test_network_warnings_survive_many_left_out_rules(void **state)
{
	struct tu_file over[3] = {
		{"fare_products.txt",
		    "fare_product_id,amount,currency,rider_category_id\n"
		    "ride,2.90,USD,SENIOR\nfree_transfer,0,USD,\n"},
		{"fare_leg_rules.txt", NULL},
		{"fare_transfer_rules.txt", NULL},
	};
	char *rules = malloc(1200 * 32 + 64), msgs[65536];
	size_t o = 0;
	struct tariff *t;
	int i;

	(void)state;
	o += (size_t)sprintf(rules, "leg_group_id,network_id,fare_product_id\n");
	for (i = 0; i < 1200; i++)
		o += (size_t)sprintf(rules + o, "g%d,subway,ride\n", i);
	over[1].text = rules;
	t = transit_with(over, 3, msgs, sizeof msgs);
	if (t == NULL)
		fail_msg("rejected:\n%s", msgs + (strlen(msgs) > 3000 ? strlen(msgs) - 3000 : 0));
	tu_has(msgs, "fare_leg_rules.txt:21: warning: rule left out");
	tu_lacks(msgs, "fare_leg_rules.txt:22: warning: rule left out");
	tu_has(msgs, "fare_leg_rules.txt:1: warning: 1200 rules left out of "
	    "pricing in all");
	tu_has(msgs, "network 'subway' has no leg rule for a bank card");
	tu_has(msgs, "network 'bus' has no leg rule for a bank card");
	tariff_free(t);
	free(rules);
}

/* Review: the 65th network is named at its own line. */
static void
test_network_limit_names_the_line(void **state)
{
	struct tu_file over[2] = {{"routes.txt", NULL},
	    {"fare_leg_rules.txt", "leg_group_id,network_id,fare_product_id\n"
	    "core,,ride\n"}};
	char *routes = malloc(70 * 40), msgs[8192];
	size_t o = 0;
	int i;

	(void)state;
	o += (size_t)sprintf(routes, "route_id,network_id\n");
	for (i = 1; i <= 64; i++)
		o += (size_t)sprintf(routes + o, "r%d,M%d\n", i, i);
	sprintf(routes + o, "r65,A0\n");
	over[0].text = routes;
	assert_null(transit_with(over, 2, msgs, sizeof msgs));
	tu_has(msgs, "routes.txt:66: more than 64 networks: over the limit");
	free(routes);
}

/* Review: a zonal feed without check-out is told why it prices low. */
static void
test_zonal_rules_without_checkout_warn(void **state)
{
	static const struct tu_file over[] = {
		{"areas.txt", "area_id\nA\nC\n"},
		{"stop_areas.txt", "area_id,stop_id\nA,CTR\nC,UP\n"},
		{"fare_leg_rules.txt",
		    "leg_group_id,network_id,from_area_id,to_area_id,"
		    "fare_product_id\n"
		    "core,subway,A,A,ride\ncore,subway,A,C,express\n"},
	};
	char msgs[8192];
	struct tariff *t = transit_with(over, 3, msgs, sizeof msgs);

	(void)state;
	assert_non_null(t);
	tu_has(msgs, "fare_leg_rules.txt:3: warning: network 'subway' has no "
	    "check-out (no network_policies.txt row), so its legs start and "
	    "end at the boarding stop: this rule to area 'C'");
	tu_lacks(msgs, "fare_leg_rules.txt:2: warning: network");
	tariff_free(t);
}

/* Review: no "empty area field" warning where no rule names an area. */
static void
test_no_area_warning_without_named_areas(void **state)
{
	static const struct tu_file over[] = {
		{"areas.txt", "area_id\nA\n"},
		{"stop_areas.txt", "area_id,stop_id\nA,CTR\n"},
	};
	char msgs[8192];
	struct tariff *t = transit_with(over, 2, msgs, sizeof msgs);

	(void)state;
	assert_non_null(t);
	tu_lacks(msgs, "empty area field");
	tariff_free(t);
}

/* Review: an empty optional file is read as absent, with a warning. */
static void
test_empty_optional_file_read_as_absent(void **state)
{
	static const struct tu_file over[] = {
		{"calendar_dates.txt", ""},
		{"fare_transfer_rules.txt", ""},
	};
	char msgs[8192];
	struct tariff *t = transit_with(over, 2, msgs, sizeof msgs);

	(void)state;
	if (t == NULL)
		fail_msg("rejected:\n%s", msgs);
	tu_has(msgs, "fare_transfer_rules.txt:1: warning: empty file: no "
	    "header; read as absent");
	tariff_free(t);
}

/* Review: rows a bank card ignores do not count for the currency. */
static void
test_ignored_rows_do_not_mix_currencies(void **state)
{
	static const struct tu_file over[] = {
		{"fare_products.txt",
		    "fare_product_id,amount,currency,rider_category_id\n"
		    "ride,2.90,USD,\nride,3.90,CAD,SENIOR\nnight,2.00,USD,\n"
		    "express,7.00,USD,\nfree_transfer,0,USD,\n"},
	};
	char msgs[8192];
	struct tariff *t = transit_with(over, 1, msgs, sizeof msgs);

	(void)state;
	if (t == NULL)
		fail_msg("rejected:\n%s", msgs);
	assert_string_equal(tariff_currency(t), "USD");
	tariff_free(t);
}

/* Issue 13 "one tap check": each problem, its name, and the first wins. */
static void
test_one_tap_check_reasons(void **state)
{
	static const struct {
		const char	*f[7];
		enum tap_problem want;
		const char	*name;
	} cases[] = {
		{{"a", "2026-11-30T14:00:00Z", "4111111111111111", "",
		    "subway", "UP", "in"}, TAP_OK, "ok"},
		{{"a", "2026-11-30T14:00:00Z", "4111111111111111", "",
		    "sub\x01", "UP", "in"}, TAP_BAD_TEXT, "bad-text"},
		{{"a", "2026-11-30 14:00", "4111111111111111", "",
		    "subway", "UP", "in"}, TAP_BAD_TIME, "bad-time"},
		{{"a", "2026-11-30T14:00:00Z", "4111111111111112", "",
		    "subway", "UP", "in"}, TAP_BAD_PAN, "bad-pan"},
		{{"a", "2026-11-30T14:00:00Z", "4111111111111111", "PAR",
		    "subway", "UP", "in"}, TAP_BAD_PAR, "bad-par"},
		{{"a", "2026-11-30T14:00:00Z", "4111111111111111", "",
		    "tram", "UP", "in"}, TAP_UNKNOWN_NETWORK,
		    "unknown-network"},
		{{"a", "2026-11-30T14:00:00Z", "4111111111111111", "",
		    "subway", "NOWHERE", "in"}, TAP_UNKNOWN_STOP,
		    "unknown-stop"},
		{{"a", "2026-11-30T14:00:00Z", "4111111111111111", "",
		    "subway", "UP", "IN"}, TAP_BAD_KIND, "bad-kind"},
		/* Several problems: the first in field order is named. */
		{{"a", "never", "1234", "", "tram", "NOWHERE", "up"},
		    TAP_BAD_TIME, "bad-time"},
	};
	char msgs[8192], why[160];
	struct tariff *t = transit_with(NULL, 0, msgs, sizeof msgs);
	struct tap_fields tf;
	size_t i, k, n[7];

	(void)state;
	assert_non_null(t);
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		enum tap_problem p;
		for (k = 0; k < 7; k++)
			n[k] = strlen(cases[i].f[k]);
		p = tap_check_fields(t, cases[i].f, n, &tf, why, sizeof why);
		if (p != cases[i].want)
			fail_msg("case %zu: %s (%s), expected %s", i,
			    tap_problem_name[p], why, cases[i].name);
		assert_string_equal(tap_problem_name[p], cases[i].name);
		/* A reason never quotes the card number. */
		assert_null(strstr(why, "411111111111111"));
	}
	tariff_free(t);
}

/* Review: money in a feed of another currency says which (not "€"),
 * its ISO 4217 code first as "EUR 12.34" would be (issue 17). */
static void
test_explain_money_in_the_feed_currency(void **state)
{
	char msgs[8192], a[32], b[32];
	struct tariff *t = transit_with(NULL, 0, msgs, sizeof msgs);
	struct tariff *e = tu_load(TU_MINI);

	(void)state;
	assert_non_null(t);
	explain_money(t, 290, a);
	assert_string_equal(a, "USD 2.90");
	explain_money(t, -108, a);
	assert_string_equal(a, "-USD 1.08");
	explain_money(e, 1750, b);
	assert_string_equal(b, "€17.50");
	tariff_free(t);
	tariff_free(e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_networks_from_routes),
		cmocka_unit_test(test_networks_from_agencies),
		cmocka_unit_test(test_networks_txt_with_routes_network_id_warns),
		cmocka_unit_test(test_stops_without_coordinates),
		cmocka_unit_test(test_network_policies_optional),
		cmocka_unit_test(test_default_rider_category_is_bank_card_price),
		cmocka_unit_test(test_never_lose_fares_in_silence),
		cmocka_unit_test(test_every_rule_dropped_loads_with_warnings),
		cmocka_unit_test(test_left_out_rule_still_names_network),
		cmocka_unit_test(test_left_out_rule_still_names_area),
		cmocka_unit_test(test_duration_limit_beyond_a_day),
		cmocka_unit_test(test_duration_limit_from_previous),
		cmocka_unit_test(test_transfer_without_limit_same_service_day),
		cmocka_unit_test(test_cancel_at_same_station),
		cmocka_unit_test(test_ids_valid_utf8),
		cmocka_unit_test(test_tap_text_valid_utf8),
		cmocka_unit_test(test_one_tap_check_reasons),
		cmocka_unit_test(test_explain_money_in_the_feed_currency),
		cmocka_unit_test(test_mixed_currencies_on_odd_line_out),
		cmocka_unit_test(test_every_problem_counted),
		cmocka_unit_test(test_real_feed_shapes_load),
		cmocka_unit_test(test_boarding_area_at_its_platforms_station),
		cmocka_unit_test(test_parent_station_cycle_rejected),
		cmocka_unit_test(test_network_warnings_survive_many_left_out_rules),
		cmocka_unit_test(test_network_limit_names_the_line),
		cmocka_unit_test(test_zonal_rules_without_checkout_warn),
		cmocka_unit_test(test_no_area_warning_without_named_areas),
		cmocka_unit_test(test_empty_optional_file_read_as_absent),
		cmocka_unit_test(test_ignored_rows_do_not_mix_currencies),
	};

	return cmocka_run_group_tests_name("real feed shapes", tests, NULL,
	    NULL);
}
