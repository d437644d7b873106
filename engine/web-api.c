/*
 * The JSON of /api/v1/ (docs/web-api.md): a day's summary, its taps per
 * minute, a rider's day.  Money is integer cents, times UTC
 * "YYYY-MM-DDTHH:MM:SSZ", as in the auditor views; names of stops and
 * operators come from the tariff beside their ids.
 */
#include <stdio.h>
#include <string.h>

#include "explain.h"
#include "parse.h"
#include "web-int.h"

static void
key_str(struct buf *b, const char *key, const char *v)
{
	buf_add_json_str(b, key);
	buf_addc(b, ':');
	buf_add_json_str(b, v);
}

static void
key_i64(struct buf *b, const char *key, int64_t v)
{
	buf_add_json_str(b, key);
	buf_addc(b, ':');
	buf_add_i64(b, v);
}

static void
key_time(struct buf *b, const char *key, int64_t utc)
{
	char t[21];

	buf_add_json_str(b, key);
	buf_addc(b, ':');
	if (utc == INT64_MIN) {
		buf_addlit(b, "null");
		return;
	}
	civil_format_utc(utc, t);
	buf_add_json_str(b, t);
}

/* {"key": {"n": N, "cents": C}, ...} or without cents. */
static void
counts(struct buf *b, const char *key, const struct web_count *c, size_t n,
    int with_n, int with_cents)
{
	size_t i;

	buf_add_json_str(b, key);
	buf_addlit(b, ":{");
	for (i = 0; i < n; i++) {
		if (i > 0)
			buf_addc(b, ',');
		buf_add_json_str(b, c[i].key);
		buf_addc(b, ':');
		if (with_n && !with_cents)
			buf_add_i64(b, c[i].n);
		else if (!with_n)
			buf_add_i64(b, c[i].cents);
		else {
			buf_addc(b, '{');
			key_i64(b, with_n == 2 ? "legs" : "n", c[i].n);
			buf_addc(b, ',');
			key_i64(b, with_n == 2 ? "fares_cents" : "cents",
			    c[i].cents);
			buf_addc(b, '}');
		}
	}
	buf_addc(b, '}');
}

static void
api_validators(const struct web_day *d, struct buf *b)
{
	size_t i;

	buf_addlit(b, ",\"validators\":{");
	key_i64(b, "seen", d->validators_seen);
	buf_addc(b, ',');
	key_i64(b, "silent_15min", d->validators_silent);
	buf_addlit(b, ",\"silent\":[");
	for (i = 0; i < d->nsilent; i++) {
		buf_adds(b, i > 0 ? ",{" : "{");
		key_str(b, "device_id", d->silent[i].key);
		buf_addc(b, ',');
		key_time(b, "last_utc", d->silent[i].n);
		buf_addc(b, '}');
	}
	buf_addlit(b, "],\"connected\":");
	if (d->has_live)
		buf_add_i64(b, d->live.connections);
	else
		buf_addlit(b, "null");
	buf_addc(b, '}');
}

static void
api_engine(const struct web_day *d, struct buf *b)
{
	char t[64];

	buf_addlit(b, ",\"writer\":");
	if (d->has_live) {
		buf_addc(b, '{');
		key_i64(b, "queued", (int64_t)d->live.queued);
		buf_addc(b, ',');
		key_i64(b, "commits", (int64_t)d->live.batches);
		snprintf(t, sizeof t, ",\"commit_ms_avg\":%.3f,"
		    "\"commit_ms_max\":%.3f,\"accepting\":%s}",
		    d->live.commit_ms_avg, d->live.commit_ms_max,
		    d->live.accepting ? "true" : "false");
		buf_adds(b, t);
	} else
		buf_addlit(b, "null");
	buf_addc(b, ',');
	key_i64(b, "deny_list", d->deny_entries);
	buf_addlit(b, ",\"crl\":");
	if (d->has_crl) {
		buf_addc(b, '{');
		key_time(b, "next_update_utc", d->crl_next_update_utc);
		buf_addc(b, ',');
		/* Whole days left, rounded down (negative: expired). */
		key_i64(b, "days_to_expiry", (d->crl_next_update_utc - d->now -
		    (d->crl_next_update_utc < d->now ? 86399 : 0)) / 86400);
		buf_addc(b, '}');
	} else
		buf_addlit(b, "null");
}

void
web_api_day(const struct tariff *t, const struct web_day *d, struct buf *b)
{
	size_t i;

	buf_addc(b, '{');
	key_str(b, "day", d->day);
	buf_addc(b, ',');
	key_str(b, "timezone", tariff_timezone(t));
	buf_addc(b, ',');
	key_str(b, "currency", tariff_currency(t));
	buf_addc(b, ',');
	key_time(b, "start_utc", d->start_utc);
	buf_addc(b, ',');
	key_time(b, "end_utc", d->end_utc);
	buf_addc(b, ',');
	key_time(b, "generated_utc", d->now);
	buf_addc(b, ',');
	{
		/* The same moment as a person reads it (the dashboard). */
		char local[EXPLAIN_TIME_MAX];
		explain_local_time(t, d->now, 1, local);
		key_str(b, "generated_local", local);
	}
	buf_addlit(b, ",\"taps\":{");
	key_i64(b, "acknowledged", d->taps);
	buf_addc(b, ',');
	key_i64(b, "refused", d->refused);
	buf_addc(b, ',');
	counts(b, "refused_by_reason", d->refused_by, d->nrefused_by, 1, 0);
	buf_addlit(b, "},");
	counts(b, "journeys_by_status", d->status, d->nstatus, 2, 1);
	buf_addc(b, ',');
	counts(b, "revenue_cents", d->revenue, d->nrevenue, 0, 1);
	buf_addlit(b, ",\"operators\":{");
	for (i = 0; i < d->nrevenue; i++) {
		uint32_t n = tariff_network(t, d->revenue[i].key,
		    strlen(d->revenue[i].key));
		if (i > 0)
			buf_addc(b, ',');
		key_str(b, d->revenue[i].key, n != TARIFF_NONE ?
		    tariff_network_name(t, n) : d->revenue[i].key);
	}
	buf_addlit(b, "},\"charges\":{");
	key_i64(b, "travellers", d->travellers);
	buf_addc(b, ',');
	key_i64(b, "charged_cents", d->charged_cents);
	buf_addc(b, ',');
	key_i64(b, "revenue_cents", d->revenue_cents);
	buf_addc(b, ',');
	key_i64(b, "uncapped_cents", d->uncapped_cents);
	buf_addc(b, ',');
	key_i64(b, "capped_cards", d->capped_cards);
	buf_addc(b, ',');
	key_i64(b, "caps_saved_cents", d->saved_cents);
	buf_addc(b, ',');
	key_i64(b, "open_account_days", d->open_days);
	buf_addc(b, ',');
	key_i64(b, "closed_account_days", d->closed_days);
	buf_addlit(b, "},");
	counts(b, "settlement", d->settle, 6, 1, 1);
	api_validators(d, b);
	api_engine(d, b);
	buf_addlit(b, "}\n");
}

void
web_api_series(const struct web_series *se, struct buf *b)
{
	size_t i;

	buf_addc(b, '{');
	key_str(b, "day", se->day);
	buf_addc(b, ',');
	key_time(b, "start_utc", se->start_utc);
	buf_addc(b, ',');
	key_i64(b, "minutes", (int64_t)se->nmin);
	buf_addlit(b, ",\"taps_per_minute\":[");
	for (i = 0; i < se->nmin; i++) {
		if (i > 0)
			buf_addc(b, ',');
		buf_add_i64(b, se->taps[i]);
	}
	buf_addlit(b, "]}\n");
}

static void
api_stop(const struct tariff *t, struct buf *b, const char *key,
    const char *id)
{
	uint32_t s = id[0] != '\0' ? tariff_stop(t, id, strlen(id)) :
	    TARIFF_NONE;
	char k[32];

	buf_add_json_str(b, key);
	buf_addc(b, ':');
	if (id[0] == '\0')
		buf_addlit(b, "null");
	else
		buf_add_json_str(b, id);
	snprintf(k, sizeof k, ",\"%s_name\":", key);
	buf_adds(b, k);
	if (s != TARIFF_NONE)
		buf_add_json_str(b, tariff_stop_name(t, s));
	else
		buf_addlit(b, "null");
}

void
web_api_trip(const struct tariff *t, const struct web_trip *tr, struct buf *b)
{
	size_t i;

	buf_addc(b, '{');
	key_str(b, "service_day", tr->day);
	buf_addc(b, ',');
	key_str(b, "currency", tariff_currency(t));
	buf_addc(b, ',');
	key_i64(b, "charge_cents", tr->charge_cents);
	buf_addc(b, ',');
	key_i64(b, "uncapped_cents", tr->uncapped_cents);
	buf_addlit(b, ",\"closed\":");
	buf_adds(b, tr->closed ? "true" : "false");
	buf_addlit(b, ",\"legs\":[");
	for (i = 0; i < tr->nlegs; i++) {
		const struct web_trip_leg *l = &tr->leg[i];
		uint32_t n = tariff_network(t, l->network, strlen(l->network));
		buf_adds(b, i > 0 ? ",{" : "{");
		key_str(b, "network_id", l->network);
		buf_addc(b, ',');
		key_str(b, "operator", n != TARIFF_NONE ?
		    tariff_network_name(t, n) : l->network);
		buf_addc(b, ',');
		api_stop(t, b, "from_stop", l->from);
		buf_addc(b, ',');
		api_stop(t, b, "to_stop", l->to);
		buf_addc(b, ',');
		key_time(b, "checkin_utc", l->checkin);
		buf_addc(b, ',');
		key_time(b, "checkout_utc", l->checkout);
		buf_addc(b, ',');
		key_str(b, "status", l->status);
		buf_addc(b, ',');
		key_i64(b, "fare_cents", l->fare_cents);
		buf_addc(b, ',');
		key_i64(b, "contribution_cents", l->contribution_cents);
		buf_addc(b, '}');
	}
	buf_addlit(b, "],\"settlement\":[");
	for (i = 0; i < tr->nsettle; i++) {
		const struct web_trip_settle *x = &tr->settle[i];
		buf_adds(b, i > 0 ? ",{" : "{");
		key_str(b, "kind", x->kind);
		buf_addc(b, ',');
		key_str(b, "state", x->state);
		buf_addc(b, ',');
		key_i64(b, "amount_cents", x->amount_cents);
		buf_addc(b, ',');
		key_time(b, "at_utc", x->at_utc);
		buf_addc(b, '}');
	}
	buf_addlit(b, "],\"caps\":[");
	for (i = 0; i < tr->ncaps; i++) {
		if (i > 0)
			buf_addc(b, ',');
		buf_add_json_str(b, tr->cap[i]);
	}
	buf_addlit(b, "],");
	key_i64(b, "debt_open_cents", tr->debt_open_cents);
	buf_addlit(b, ",\"refused_at_gates\":");
	buf_adds(b, tr->denied ? "true" : "false");
	buf_addlit(b, "}\n");
}
