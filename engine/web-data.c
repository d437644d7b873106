/*
 * What the web pages show, read from the database (read-only): a service
 * day at a glance (the same numbers as the auditor views: v_taps,
 * v_refused_taps, v_legs, v_operator_revenue, v_charges, v_settlements,
 * v_debts, v_deny_list), its taps per minute, and a rider's day found by
 * its settlement reference.  Each query is bounded by the day or the
 * account-day it reads; docs/web-api.md gives the SQL each figure equals.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/x509_crl.h>

#include "diag.h"
#include "journal.h"
#include "log.h"
#include "parse.h"
#include "price.h"
#include "web-int.h"

/* Day bounds: the first UTC second of a service day, found by bisection
 * on the tariff's own rule (price_service_day), so that a day across a
 * clock change has its 23 or 25 hours. */
static int64_t
day_first_second(const struct tariff *t, int32_t service_day)
{
	int64_t lo = (int64_t)service_day * 86400 - 2 * 86400;
	int64_t hi = (int64_t)service_day * 86400 + 2 * 86400;

	/* Invariant: price_service_day(lo) < day <= price_service_day(hi). */
	while (hi - lo > 1) {
		int64_t mid = lo + (hi - lo) / 2;
		if (price_service_day(t, mid) < service_day)
			lo = mid;
		else
			hi = mid;
	}
	return hi;
}

int
web_day_bounds(const struct tariff *t, int32_t service_day,
    int64_t *start_utc, int64_t *end_utc)
{
	*start_utc = day_first_second(t, service_day);
	*end_utc = day_first_second(t, service_day + 1);
	return *end_utc - *start_utc <= WEB_MINUTES_MAX * 60 ? 0 : -1;
}

int
web_parse_day(const char *s, int32_t *days)
{
	char g[9];
	const char *why;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return -1;
	memcpy(g, s, 4);
	memcpy(g + 4, s + 5, 2);
	memcpy(g + 6, s + 8, 2);
	g[8] = '\0';
	return parse_yyyymmdd(g, days, &why);
}

static int
prep(struct web *w, sqlite3_stmt **s, const char *sql)
{
	if (sqlite3_prepare_v2(w->db, sql, -1, s, NULL) == SQLITE_OK)
		return 0;
	log_warning("web_query_failed", "error=%s",
	    LOGQ(sqlite3_errmsg(w->db)));
	*s = NULL;
	return -1;
}

static const char *
col(sqlite3_stmt *s, int i)
{
	const unsigned char *v = sqlite3_column_text(s, i);

	return v != NULL ? (const char *)v : "";
}

static void
count_set(struct web_count *c, const char *key, int64_t n, int64_t cents)
{
	snprintf(c->key, sizeof c->key, "%s", key);
	c->n = n;
	c->cents = cents;
}

/* Validators of the day: each device's last tap received, in a table
 * of open addressing that doubles as it fills (bounded by
 * WEB_DEVICES_MAX: a country's validators). */
struct dev {
	char	 id[LIMIT_ID_LEN + 1];
	int64_t	 last;
};
struct devs {
	struct dev	*d;
	size_t		 n, cap;	/* cap: 0 or a power of two */
};

static struct dev *
devs_find(struct devs *v, const char *id, size_t len)
{
	uint32_t h = 2166136261u;
	size_t i, k;

	for (k = 0; k < len; k++)
		h = (h ^ (unsigned char)id[k]) * 16777619u;
	for (i = h & (v->cap - 1);; i = (i + 1) & (v->cap - 1)) {
		struct dev *e = &v->d[i];
		if (e->id[0] == '\0') {
			memcpy(e->id, id, len);
			e->id[len] = '\0';
			e->last = INT64_MIN;
			v->n++;
			return e;
		}
		if (strncmp(e->id, id, len) == 0 && e->id[len] == '\0')
			return e;
	}
}

/* Room for one more device: 0, or -1 (out of memory, or over the bound). */
static int
devs_room(struct devs *v)
{
	struct devs g;
	size_t i;

	if (v->cap != 0 && (v->n + 1) * 2 <= v->cap)
		return 0;
	if (v->n >= WEB_DEVICES_MAX)
		return -1;
	g.cap = v->cap ? v->cap * 2 : 256;
	g.n = 0;
	if ((g.d = calloc(g.cap, sizeof *g.d)) == NULL)
		return -1;
	for (i = 0; i < v->cap; i++)
		if (v->d[i].id[0] != '\0')
			devs_find(&g, v->d[i].id, strlen(v->d[i].id))->last =
			    v->d[i].last;
	free(v->d);
	*v = g;
	return 0;
}

/* Silent validators: no tap received for 15 minutes before the reference
 * time (the clock, or the last tap received for a day already over). */
static void
day_silent(struct web_day *d, const struct devs *v, int64_t last_all)
{
	int64_t ref = d->now < last_all ? d->now : last_all;
	size_t i;

	d->validators_seen = (int64_t)v->n;
	for (i = 0; i < v->cap; i++)
		if (v->d[i].id[0] != '\0' && v->d[i].last < ref - 15 * 60) {
			if (d->nsilent < WEB_SILENT_LISTED)
				count_set(&d->silent[d->nsilent++], v->d[i].id,
				    v->d[i].last, 0);
			d->validators_silent++;
		}
}

/*
 * The day's acknowledged taps in one pass over the taps_day index (tap
 * time, device, time received): the total, taps per minute into se, and
 * the validators seen and silent.
 */
static int
day_taps(struct web *w, struct web_day *d, struct web_series *se)
{
	struct devs v = {NULL, 0, 0};
	sqlite3_stmt *s;
	int64_t last_all = 0;
	int rc = 0;

	if (prep(w, &s, "SELECT time_utc, device_id, received_utc FROM taps "
	    "WHERE time_utc >= ?1 AND time_utc < ?2") == -1)
		return -1;
	sqlite3_bind_int64(s, 1, d->start_utc);
	sqlite3_bind_int64(s, 2, d->end_utc);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t m = (sqlite3_column_int64(s, 0) - d->start_utc) / 60;
		int64_t got = sqlite3_column_int64(s, 2);
		int len = sqlite3_column_bytes(s, 1);
		const char *id = (const char *)sqlite3_column_text(s, 1);
		struct dev *e;
		d->taps++;
		if (m >= 0 && (size_t)m < se->nmin)
			se->taps[m]++;
		if (got > last_all)
			last_all = got;
		if (id == NULL || len <= 0 || len > LIMIT_ID_LEN ||
		    devs_room(&v) == -1)
			continue;
		e = devs_find(&v, id, (size_t)len);
		if (got > e->last)
			e->last = got;
	}
	sqlite3_finalize(s);
	day_silent(d, &v, last_all);
	free(v.d);
	if (rc != SQLITE_DONE) {
		log_warning("web_query_failed", "day=%s error=%s", d->day,
		    LOGQ(sqlite3_errmsg(w->db)));
		return -1;
	}
	return 0;
}

/* Keyed counts: (key, n, cents) rows of a query bound to the day. */
static int
day_keyed(struct web *w, const struct web_day *d, const char *sql,
    struct web_count *out, size_t *nout, int64_t *total)
{
	sqlite3_stmt *s;

	if (prep(w, &s, sql) == -1)
		return -1;
	sqlite3_bind_int64(s, 1, d->start_utc);
	sqlite3_bind_int64(s, 2, d->end_utc);
	sqlite3_bind_text(s, 3, d->day, -1, SQLITE_STATIC);
	while (sqlite3_step(s) == SQLITE_ROW && *nout < WEB_KEYS_MAX) {
		count_set(&out[*nout], col(s, 0), sqlite3_column_int64(s, 1),
		    sqlite3_column_int64(s, 2));
		if (total != NULL)
			*total += out[*nout].n;
		(*nout)++;
	}
	sqlite3_finalize(s);
	return 0;
}

static int
day_charges(struct web *w, struct web_day *d)
{
	sqlite3_stmt *s;

	if (prep(w, &s, "SELECT count(*), coalesce(sum(charge_cents), 0), "
	    "coalesce(sum(uncapped_cents), 0), coalesce(sum(charge_cents < "
	    "uncapped_cents), 0), coalesce(sum(uncapped_cents - charge_cents), "
	    "0), coalesce(sum(closed), 0) FROM v_charges WHERE service_day = "
	    "?1") == -1)
		return -1;
	sqlite3_bind_text(s, 1, d->day, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW) {
		d->travellers = sqlite3_column_int64(s, 0);
		d->charged_cents = sqlite3_column_int64(s, 1);
		d->uncapped_cents = sqlite3_column_int64(s, 2);
		d->capped_cards = sqlite3_column_int64(s, 3);
		d->saved_cents = sqlite3_column_int64(s, 4);
		d->closed_days = sqlite3_column_int64(s, 5);
		d->open_days = d->travellers - d->closed_days;
	}
	sqlite3_finalize(s);
	return 0;
}

/* Settlement of the day, in the order of struct web_day's settle[]. */
static int
day_settlement(struct web *w, struct web_day *d)
{
	static const char *const names[6] = {"captured", "declined",
	    "recovered", "refunded", "refunds_pending", "debts_open"};
	sqlite3_stmt *s;
	size_t i;

	for (i = 0; i < 6; i++)
		count_set(&d->settle[i], names[i], 0, 0);
	if (prep(w, &s, "SELECT kind, state, count(*), sum(amount_cents) FROM "
	    "v_settlements WHERE service_day = ?1 GROUP BY kind, state") == -1)
		return -1;
	sqlite3_bind_text(s, 1, d->day, -1, SQLITE_STATIC);
	while (sqlite3_step(s) == SQLITE_ROW) {
		const char *k = col(s, 0), *st = col(s, 1);
		int slot = -1;
		if (strcmp(k, "capture") == 0 && strcmp(st, "approved") == 0)
			slot = 0;
		else if (strcmp(k, "capture") == 0 && strcmp(st, "declined") == 0)
			slot = 1;
		else if (strcmp(k, "recovery") == 0 && strcmp(st, "approved") == 0)
			slot = 2;
		else if (strcmp(k, "refund") == 0 && strcmp(st, "approved") == 0)
			slot = 3;
		else if (strcmp(k, "refund") == 0 && strcmp(st, "pending") == 0)
			slot = 4;
		if (slot >= 0) {
			d->settle[slot].n += sqlite3_column_int64(s, 2);
			d->settle[slot].cents += sqlite3_column_int64(s, 3);
		}
	}
	sqlite3_finalize(s);
	if (prep(w, &s, "SELECT count(*), coalesce(sum(amount_cents), 0) FROM "
	    "v_debts WHERE service_day = ?1 AND state = 'open'") == -1)
		return -1;
	sqlite3_bind_text(s, 1, d->day, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW) {
		d->settle[5].n = sqlite3_column_int64(s, 0);
		d->settle[5].cents = sqlite3_column_int64(s, 1);
	}
	sqlite3_finalize(s);
	if (prep(w, &s, "SELECT count(*) FROM v_deny_list") == -1)
		return -1;
	if (sqlite3_step(s) == SQLITE_ROW)
		d->deny_entries = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return 0;
}

/* The CRL's nextUpdate, read each time (the file is a few hundred bytes
 * and `certs revoke` rewrites it under a running engine). */
static void
day_crl(struct web *w, struct web_day *d)
{
	mbedtls_x509_crl crl;
	const mbedtls_x509_time *u;

	if (w->crl_path[0] == '\0')
		return;
	mbedtls_x509_crl_init(&crl);
	if (mbedtls_x509_crl_parse_file(&crl, w->crl_path) == 0) {
		u = &crl.next_update;
		d->crl_next_update_utc = (int64_t)civil_to_days(u->year,
		    (unsigned)u->mon, (unsigned)u->day) * 86400 +
		    u->hour * 3600 + u->min * 60 + u->sec;
		d->has_crl = 1;
	}
	mbedtls_x509_crl_free(&crl);
}

int
web_day_load(struct web *w, const struct tariff *t, const char *day,
    int64_t now, struct web_day *d, struct web_series *se)
{
	memset(d, 0, sizeof *d);
	memset(se, 0, sizeof *se);
	snprintf(d->day, sizeof d->day, "%s", day);
	d->now = now;
	if (web_parse_day(day, &d->service_day) == -1 ||
	    web_day_bounds(t, d->service_day, &d->start_utc, &d->end_utc) == -1)
		return -1;
	snprintf(se->day, sizeof se->day, "%s", day);
	se->start_utc = d->start_utc;
	se->nmin = (size_t)(d->end_utc - d->start_utc) / 60;
	if (day_taps(w, d, se) == -1 ||
	    day_keyed(w, d, "SELECT reason, count(*), 0 FROM refused WHERE "
	    "received_utc >= ?1 AND received_utc < ?2 AND ?3 IS NOT NULL "
	    "GROUP BY reason ORDER BY 2 DESC, 1", d->refused_by,
	    &d->nrefused_by, &d->refused) == -1 ||
	    day_keyed(w, d, "SELECT status, count(*), sum(fare_cents) FROM "
	    "v_legs WHERE service_day = ?3 AND ?1 IS NOT NULL AND ?2 IS NOT "
	    "NULL GROUP BY status ORDER BY 2 DESC, 1", d->status, &d->nstatus,
	    NULL) == -1 ||
	    day_keyed(w, d, "SELECT network_id, 0, revenue_cents FROM "
	    "v_operator_revenue WHERE service_day = ?3 AND ?1 IS NOT NULL AND "
	    "?2 IS NOT NULL ORDER BY revenue_cents DESC, network_id",
	    d->revenue, &d->nrevenue, NULL) == -1 ||
	    day_charges(w, d) == -1 || day_settlement(w, d) == -1)
		return -1;
	for (size_t i = 0; i < d->nrevenue; i++)
		d->revenue_cents += d->revenue[i].cents;
	day_crl(w, d);
	if (w->live != NULL) {
		w->live(w->live_arg, &d->live);
		d->has_live = 1;
	}
	return 0;
}

/* The account-day a reference names: 1, 0 none, -1 no answer. */
static int
trip_find(struct web *w, const char *ref, char *account, size_t alen,
    char day[11])
{
	sqlite3_stmt *s;
	int found = 0;

	/* A database without references (before SPEC §6's) has nothing
	 * to find: not found, as for any wrong reference. */
	if (prep(w, &s, "SELECT account, service_day FROM v_settlements WHERE "
	    "reference = ?1 ORDER BY id LIMIT 1") == -1)
		return 0;
	sqlite3_bind_text(s, 1, ref, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW) {
		snprintf(account, alen, "%s", col(s, 0));
		snprintf(day, 11, "%s", col(s, 1));
		found = 1;
	}
	sqlite3_finalize(s);
	return found;
}

static int
trip_legs(struct web *w, const char *account, struct web_trip *tr)
{
	sqlite3_stmt *s;

	if (prep(w, &s, "SELECT coalesce(network_id, ''), coalesce("
	    "from_stop_id, ''), coalesce(to_stop_id, ''), coalesce(checkin_utc, "
	    "-9223372036854775807 - 1), coalesce(checkout_utc, "
	    "-9223372036854775807 - 1), status, fare_cents, contribution_cents "
	    "FROM legs WHERE account = ?1 AND service_day = ?2 ORDER BY "
	    "leg_no") == -1)
		return -1;
	sqlite3_bind_text(s, 1, account, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, tr->day, -1, SQLITE_STATIC);
	while (sqlite3_step(s) == SQLITE_ROW && tr->nlegs < WEB_TRIP_LEGS_MAX) {
		struct web_trip_leg *l = &tr->leg[tr->nlegs++];
		snprintf(l->network, sizeof l->network, "%s", col(s, 0));
		snprintf(l->from, sizeof l->from, "%s", col(s, 1));
		snprintf(l->to, sizeof l->to, "%s", col(s, 2));
		l->checkin = sqlite3_column_int64(s, 3);
		l->checkout = sqlite3_column_int64(s, 4);
		snprintf(l->status, sizeof l->status, "%s", col(s, 5));
		l->fare_cents = sqlite3_column_int64(s, 6);
		l->contribution_cents = sqlite3_column_int64(s, 7);
	}
	sqlite3_finalize(s);
	return 0;
}

static int
trip_money(struct web *w, const char *account, struct web_trip *tr)
{
	sqlite3_stmt *s;

	if (prep(w, &s, "SELECT charge_cents, uncapped_cents, posted FROM "
	    "charges WHERE account = ?1 AND service_day = ?2") == -1)
		return -1;
	sqlite3_bind_text(s, 1, account, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, tr->day, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW) {
		tr->charge_cents = sqlite3_column_int64(s, 0);
		tr->uncapped_cents = sqlite3_column_int64(s, 1);
		tr->closed = sqlite3_column_int(s, 2);
	}
	sqlite3_finalize(s);
	if (prep(w, &s, "SELECT kind, state, amount_cents, coalesce("
	    "decided_utc, created_utc) FROM settlements WHERE account = ?1 AND "
	    "service_day = ?2 ORDER BY id") == -1)
		return -1;
	sqlite3_bind_text(s, 1, account, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, tr->day, -1, SQLITE_STATIC);
	while (sqlite3_step(s) == SQLITE_ROW &&
	    tr->nsettle < WEB_TRIP_SETTLE_MAX) {
		struct web_trip_settle *x = &tr->settle[tr->nsettle++];
		snprintf(x->kind, sizeof x->kind, "%s", col(s, 0));
		snprintf(x->state, sizeof x->state, "%s", col(s, 1));
		x->amount_cents = sqlite3_column_int64(s, 2);
		x->at_utc = sqlite3_column_int64(s, 3);
	}
	sqlite3_finalize(s);
	if (prep(w, &s, "SELECT coalesce(sum(amount_cents), 0), (SELECT "
	    "count(*) FROM deny WHERE account = ?1) FROM debts WHERE account = "
	    "?1 AND service_day = ?2 AND state = 'open'") == -1)
		return -1;
	sqlite3_bind_text(s, 1, account, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, tr->day, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW) {
		tr->debt_open_cents = sqlite3_column_int64(s, 0);
		tr->denied = sqlite3_column_int(s, 1) > 0;
	}
	sqlite3_finalize(s);
	return 0;
}

/* Collects an account's stored taps for repricing (journal_account_taps),
 * as audit explain does. */
struct trip_taps {
	const struct tariff	*t;
	struct price_tap	*pt;
	size_t			 n;
};

static int
trip_tap_cb(const struct journal_tap *jt, void *arg)
{
	struct trip_taps *c = arg;
	struct price_tap *p;

	if (c->n == WEB_TRIP_TAPS_MAX)
		return -1;
	p = &c->pt[c->n];
	p->time = jt->time_utc;
	p->network = tariff_network(c->t, jt->network_id,
	    strlen(jt->network_id));
	p->stop = tariff_stop(c->t, jt->stop_id, strlen(jt->stop_id));
	p->kind = (uint8_t)jt->out;
	if (p->network != TARIFF_NONE && p->stop != TARIFF_NONE)
		c->n++;
	return 0;
}

/*
 * The caps of the rider's day: its service week repriced from the stored
 * taps (from WEB_TRIP_LOOKBACK_S before the week), named only when that
 * gives the stored charge (a tariff changed since, or history reaching
 * further back, leaves them unnamed rather than wrong).
 */
static void
trip_caps(struct web *w, const struct tariff *t, const char *account,
    int64_t now, struct web_trip *tr)
{
	struct trip_taps c = {t, NULL, 0};
	struct price_result pr;
	struct journal *j;
	int64_t since, end;
	int32_t sd;
	char err[256];
	size_t k;
	uint32_t i, bits;

	if (tr->charge_cents >= tr->uncapped_cents ||
	    web_parse_day(tr->day, &sd) == -1 ||
	    web_day_bounds(t, price_week_start(sd), &since, &end) == -1 ||
	    (c.pt = malloc(WEB_TRIP_TAPS_MAX * sizeof *c.pt)) == NULL)
		return;
	price_result_init(&pr);
	if ((j = journal_open_ro(w->db_path, err, sizeof err)) == NULL)
		log_warning("web_query_failed", "error=%s", LOGQ(err));
	else if (journal_account_taps(j, account, since - WEB_TRIP_LOOKBACK_S,
	    trip_tap_cb, &c) == 0 &&
	    price_account(t, c.pt, c.n, now, &pr) == 0)
		for (k = 0; k < pr.ndays; k++) {
			const struct price_day *d = &pr.day[k];
			if (d->service_day != sd ||
			    d->charge_cents != tr->charge_cents)
				continue;
			bits = d->day_caps | d->week_caps;
			for (i = 0; i < tariff_ncaps(t) && i < 32; i++)
				if ((bits >> i & 1) &&
				    tr->ncaps < WEB_TRIP_CAPS_MAX)
					tr->cap[tr->ncaps++] =
					    tariff_cap_name(t, i);
		}
	journal_close(j);
	price_result_free(&pr);
	free(c.pt);
}

int
web_trip_load(struct web *w, const struct tariff *t, const char *ref,
    int64_t now, struct web_trip *tr)
{
	char account[LIMIT_ID_LEN + 1];
	int r;

	memset(tr, 0, sizeof *tr);
	if ((r = trip_find(w, ref, account, sizeof account, tr->day)) != 1)
		return r;
	if (trip_legs(w, account, tr) == -1 || trip_money(w, account, tr) == -1)
		return -1;
	trip_caps(w, t, account, now, tr);
	return 1;
}

void
web_default_day(struct web *w, const struct tariff *t, int64_t now,
    char day[11])
{
	if (w->default_day[0] != '\0')
		memcpy(day, w->default_day, 11);
	else
		civil_format_day(price_service_day(t, now), day);
}
