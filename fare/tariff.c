/*
 * Read-only queries on a loaded tariff: ids, areas, calendars, timeframes
 * and distances.  Pure functions of the tables; the pricing code calls
 * them for every leg.
 */
#include <math.h>
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "parse.h"
#include "tariff-int.h"

void
tariff_free(struct tariff *t)
{
	uint32_t i;

	if (t == NULL)
		return;
	for (i = 0; t->network != NULL && i < t->nnetworks; i++)
		free(t->network[i].name);
	for (i = 0; i < t->ncaps; i++) {
		free(t->cap[i].id);
		free(t->cap[i].name);
	}
	free(t->dir);
	free(t->tz_name);
	tz_free(t->tz);
	strtab_free(t->stop_ids);
	strtab_free(t->stop_names);
	strtab_free(t->network_ids);
	strtab_free(t->area_ids);
	strtab_free(t->product_ids);
	strtab_free(t->service_ids);
	strtab_free(t->tf_ids);
	strtab_free(t->leg_group_ids);
	free(t->stop);
	free(t->stop_area_list);
	free(t->network);
	free(t->band);
	free(t->product);
	free(t->service);
	free(t->exception);
	free(t->tf_off);
	free(t->tf_count);
	free(t->tf_row);
	free(t->leg_rule);
	free(t->net_rules);
	free(t->from_area_named);
	free(t->to_area_named);
	free(t->transfer);
	free(t->from_lg_named);
	free(t->to_lg_named);
	free(t->dist);
	free(t->json);
	free(t->json_off);
	free(t->subset_mask);
	free(t->subset_amount);
	free(t);
}

void
tariff_summary(const struct tariff *t, char *buf, size_t len)
{
	uint32_t k, day = 0, week = 0;

	for (k = 0; k < t->ncaps; k++)
		t->cap[k].period == T_PERIOD_DAY ? day++ : week++;
	snprintf(buf, len, "%s: %u stops, %u networks, %zu leg rules, "
	    "%zu transfer rules, %u caps (%u day, %u week), %zu stop "
	    "distances; timezone %s, service day starts %02d:%02d:%02d, "
	    "currency %s", t->dir, strtab_count(t->stop_ids), t->nnetworks,
	    t->nleg_rules - t->nleg_left_out,
	    t->ntransfers - t->ntransfers_left_out, t->ncaps, day, week,
	    t->ndist,
	    t->tz_name, t->day_start_s / 3600, t->day_start_s / 60 % 60,
	    t->day_start_s % 60, t->currency[0] ? t->currency : "none");
}

uint32_t
tariff_stop(const struct tariff *t, const char *id, size_t len)
{
	return strtab_find(t->stop_ids, id, len);
}

uint32_t
tariff_network(const struct tariff *t, const char *id, size_t len)
{
	return strtab_find(t->network_ids, id, len);
}

const char *
tariff_stop_id(const struct tariff *t, uint32_t s)
{
	return strtab_name(t->stop_ids, s);
}

const char *
tariff_stop_name(const struct tariff *t, uint32_t s)
{
	return strtab_name(t->stop_names, t->stop[s].name);
}

const char *
tariff_currency(const struct tariff *t)
{
	return t->currency;
}

const char *
tariff_network_id(const struct tariff *t, uint32_t n)
{
	return strtab_name(t->network_ids, n);
}

const char *
tariff_network_name(const struct tariff *t, uint32_t n)
{
	return t->network[n].name;
}

int
tariff_build_json(struct tariff *t)
{
	uint32_t ns = strtab_count(t->stop_ids), i;
	struct buf b = {NULL, 0, 0, 0};

	t->json_off = malloc(((size_t)ns + t->nnetworks + 1) *
	    sizeof *t->json_off);
	if (t->json_off == NULL)
		return -1;
	for (i = 0; i < ns + t->nnetworks; i++) {
		t->json_off[i] = (uint32_t)b.len;
		buf_add_json_str(&b, i < ns ? strtab_name(t->stop_ids, i) :
		    strtab_name(t->network_ids, i - ns));
	}
	t->json_off[i] = (uint32_t)b.len;
	if (b.oom || b.len > UINT32_MAX) {
		buf_free(&b);
		return -1;
	}
	t->json = b.p;
	return 0;
}

const char *
tariff_stop_json(const struct tariff *t, uint32_t s, size_t *len)
{
	*len = t->json_off[s + 1] - t->json_off[s];
	return t->json + t->json_off[s];
}

const char *
tariff_network_json(const struct tariff *t, uint32_t n, size_t *len)
{
	uint32_t i = strtab_count(t->stop_ids) + n;

	*len = t->json_off[i + 1] - t->json_off[i];
	return t->json + t->json_off[i];
}

uint32_t
tariff_nstops(const struct tariff *t)
{
	return strtab_count(t->stop_ids);
}

uint32_t
tariff_nnetworks(const struct tariff *t)
{
	return t->nnetworks;
}

int64_t
tariff_min_max_leg_s(const struct tariff *t)
{
	int64_t m = INT64_MAX;
	uint32_t i;

	for (i = 0; i < t->nnetworks; i++)
		if (t->network[i].max_leg_s < m)
			m = t->network[i].max_leg_s;
	return m == INT64_MAX ? 0 : m;
}

uint32_t
tariff_ncaps(const struct tariff *t)
{
	return t->ncaps;
}

const char *
tariff_cap_name(const struct tariff *t, uint32_t k)
{
	assert(k < t->ncaps);
	return t->cap[k].name != NULL && t->cap[k].name[0] != '\0' ?
	    t->cap[k].name : t->cap[k].id;
}

int
tariff_checkout_required(const struct tariff *t, uint32_t n)
{
	return t->network[n].checkout_required;
}

const char *
tariff_timezone(const struct tariff *t)
{
	return t->tz_name;
}

int64_t
tariff_haversine_m(double lat1, double lon1, double lat2, double lon2)
{
	const double r = 6371008.8, rad = M_PI / 180.0;
	double p1 = lat1 * rad, p2 = lat2 * rad;
	double dp = (lat2 - lat1) * rad, dl = (lon2 - lon1) * rad;
	double sp = sin(dp / 2), sl = sin(dl / 2);
	double h = sp * sp + cos(p1) * cos(p2) * sl * sl;
	double d = 2 * r * asin(sqrt(h));

	return (int64_t)floor(d + 0.5);
}

int64_t
tariff_distance_m(const struct tariff *t, uint32_t a, uint32_t b)
{
	if (t->ndist_slots > 0) {
		uint32_t lo = a < b ? a : b, hi = a < b ? b : a;
		uint64_t key = ((uint64_t)lo << 32 | hi) + 1;
		size_t mask = t->ndist_slots - 1;
		size_t i = (size_t)(strtab_hash((const char *)&key,
		    sizeof key) & mask);
		for (; t->dist[i].key != 0; i = (i + 1) & mask)
			if (t->dist[i].key == key)
				return t->dist[i].metres;
	}
	if (a == b)
		return 0;
	if (!t->stop[a].has_coords || !t->stop[b].has_coords)
		return -1;
	return tariff_haversine_m(t->stop[a].lat, t->stop[a].lon,
	    t->stop[b].lat, t->stop[b].lon);
}

int
tariff_same_station(const struct tariff *t, uint32_t a, uint32_t b)
{
	return t->stop[a].station == t->stop[b].station;
}

int
tariff_stop_in_area(const struct tariff *t, uint32_t s, uint32_t area)
{
	const struct t_stop *st = &t->stop[s];
	uint32_t i;

	st = &t->stop[st->area_stop];
	for (i = 0; i < st->nareas; i++)
		if (t->stop_area_list[st->areas_off + i] == area)
			return 1;
	return 0;
}

int
tariff_service_runs(const struct tariff *t, uint32_t sv, int32_t day)
{
	const struct t_service *s = &t->service[sv];
	size_t lo = 0, hi = t->nexceptions;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct t_exception *e = &t->exception[mid];
		if (e->service < sv || (e->service == sv && e->day < day))
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < t->nexceptions && t->exception[lo].service == sv &&
	    t->exception[lo].day == day)
		return t->exception[lo].added;
	if (!s->has_calendar || day < s->start_day || day > s->end_day)
		return 0;
	return s->weekdays >> civil_weekday(day) & 1;
}

int
tariff_timeframe_has(const struct tariff *t, uint32_t tf, int32_t day,
    int32_t tod)
{
	uint32_t i;

	for (i = 0; i < t->tf_count[tf]; i++) {
		const struct t_tf_row *r = &t->tf_row[t->tf_off[tf] + i];
		if (tod >= r->start_s && tod < r->end_s &&
		    tariff_service_runs(t, r->service, day))
			return 1;
	}
	return 0;
}
