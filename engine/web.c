/*
 * The web side's context and routing (web.h): which path answers what,
 * the query string (percent-decoded, bounded), the language of the rider
 * page, the per-client limit on reference lookups, and the short cache
 * that keeps many refreshing dashboards from repeating the day's queries.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "diag.h"
#include "log.h"
#include "parse.h"
#include "tz.h"
#include "web-int.h"

const char *const web_headers[][2] = {
	{"X-Frame-Options", "DENY"},
	{"Referrer-Policy", "no-referrer"},
	{"Content-Security-Policy", "default-src 'none'; script-src 'self'; "
	    "style-src 'self'; img-src 'self'; connect-src 'self'; "
	    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"},
	{NULL, NULL},
};

/* A query string longer than this is refused (414): ours are short. */
#define WEB_QUERY_MAX	512

struct web *
web_open(const char *db_path, const char *crl_path, web_live_fn live,
    void *live_arg, const char *default_day, char *err, size_t errlen)
{
	struct web *w = calloc(1, sizeof *w);
	int32_t d;

	if (w == NULL || (w->clients = calloc(WEB_CLIENTS,
	    sizeof *w->clients)) == NULL) {
		snprintf(err, errlen, "web: out of memory");
		goto fail;
	}
	if (default_day != NULL && strcmp(default_day, "latest") != 0 &&
	    web_parse_day(default_day, &d) == -1) {
		snprintf(err, errlen, "web: day '%s': not YYYY-MM-DD",
		    default_day);
		goto fail;
	}
	if (sqlite3_open_v2(db_path, &w->db, SQLITE_OPEN_READONLY |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "web: %s: %s", db_path, w->db ?
		    sqlite3_errmsg(w->db) : "cannot open");
		goto fail;
	}
	sqlite3_busy_timeout(w->db, 1000);
	/* The dashboard reads a day's legs, shares and charges every few
	 * seconds: keep them in this connection's cache, and map the file
	 * rather than copy its pages. */
	sqlite3_exec(w->db, "PRAGMA cache_size = -" WEB_DB_CACHE_KIB "; PRAGMA "
	    "mmap_size = " WEB_DB_MMAP_BYTES, NULL, NULL, NULL);
	snprintf(w->db_path, sizeof w->db_path, "%s", db_path);
	if (crl_path != NULL)
		snprintf(w->crl_path, sizeof w->crl_path, "%s", crl_path);
	w->live = live;
	w->live_arg = live_arg;
	if (default_day != NULL && strcmp(default_day, "latest") == 0) {
		sqlite3_stmt *s;
		/* The latest day with charges, closed ones first. */
		if (sqlite3_prepare_v2(w->db, "SELECT coalesce((SELECT "
		    "max(service_day) FROM charges WHERE posted = 1), (SELECT "
		    "max(service_day) FROM charges))", -1, &s, NULL) !=
		    SQLITE_OK) {
			snprintf(err, errlen, "web: %s: %s", db_path,
			    sqlite3_errmsg(w->db));
			goto fail;
		}
		if (sqlite3_step(s) == SQLITE_ROW &&
		    sqlite3_column_type(s, 0) == SQLITE_TEXT)
			snprintf(w->default_day, sizeof w->default_day, "%s",
			    (const char *)sqlite3_column_text(s, 0));
		sqlite3_finalize(s);
	} else if (default_day != NULL)
		snprintf(w->default_day, sizeof w->default_day, "%s",
		    default_day);
	w->day_cache_at = INT64_MIN;
	return w;
fail:
	web_close(w);
	return NULL;
}

void
web_close(struct web *w)
{
	if (w == NULL)
		return;
	sqlite3_close(w->db);
	tz_free(w->tz);
	free(w->clients);
	free(w);
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/*
 * The value of key in a query string, percent-decoded into out (len):
 * 1 found, 0 absent, -1 malformed or too long.
 */
static int
query_get(const char *q, const char *key, char *out, size_t len)
{
	size_t klen = strlen(key);

	while (q != NULL && *q != '\0') {
		const char *end = strchr(q, '&'), *v;
		size_t n = 0;
		if (end == NULL)
			end = q + strlen(q);
		if ((size_t)(end - q) > klen && strncmp(q, key, klen) == 0 &&
		    q[klen] == '=') {
			for (v = q + klen + 1; v < end; v++) {
				int c = (unsigned char)*v;
				if (c == '+')
					c = ' ';
				else if (c == '%') {
					int h = v + 2 < end ? hexval(v[1]) : -1;
					int l = h >= 0 ? hexval(v[2]) : -1;
					if (l < 0)
						return -1;
					c = h * 16 + l;
					v += 2;
				}
				if (n + 1 >= len || c == 0)
					return -1;
				out[n++] = (char)c;
			}
			out[n] = '\0';
			return 1;
		}
		q = *end == '&' ? end + 1 : end;
	}
	return 0;
}

/*
 * A reference as a rider types it from a bank statement (SPEC §6;
 * store/settlement.c writes "OC" and then Crockford's base32 in upper
 * case): spaces and '-' anywhere dropped, letters upper-cased, and after
 * the two-letter prefix the letters that alphabet reads as digits (O as
 * 0, I and L as 1).  Then letters and digits only: anything else cannot
 * be one, and is "not found".
 */
static int
ref_clean(char *ref)
{
	size_t i, j = 0;

	for (i = 0; ref[i] != '\0'; i++) {
		int c = (unsigned char)ref[i];
		if (isspace(c) || c == '-')
			continue;
		if (!isalnum(c))
			return -1;
		c = toupper(c);
		if (j >= 2 && c == 'O')
			c = '0';
		else if (j >= 2 && (c == 'I' || c == 'L'))
			c = '1';
		ref[j++] = (char)c;
	}
	ref[j] = '\0';
	return j > 0 ? 0 : -1;
}

/*
 * Counts a lookup of client at now: 0 allowed, -1 over the limit.  Fixed
 * minute windows in a table of WEB_CLIENTS, probed in a run of 8 slots;
 * a new client takes the least recently seen of them.
 */
static int
rate_check(struct web *w, const char *client, int64_t now)
{
	uint32_t h = 2166136261u;
	struct web_client *c = NULL, *old = NULL;
	const char *p;
	size_t i;

	for (p = client; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	for (i = 0; i < 8; i++) {
		struct web_client *x = &w->clients[(h + i) % WEB_CLIENTS];
		if (strcmp(x->addr, client) == 0) {
			c = x;
			break;
		}
		if (old == NULL || x->seen < old->seen)
			old = x;
	}
	if (c == NULL) {
		c = old;
		snprintf(c->addr, sizeof c->addr, "%s", client);
		c->minute = INT64_MIN;
	}
	c->seen = ++w->tick;
	if (c->minute != now / 60) {
		c->minute = now / 60;
		c->lookups = 0;
	}
	return ++c->lookups <= WEB_LOOKUPS_PER_MIN ? 0 : -1;
}

/* The tariff's time zone for local times (reloaded when a new tariff
 * names another one); NULL if it cannot be read (times then show UTC). */
static const struct tz *
web_tz(struct web *w, const struct tariff *t)
{
	const char *name = tariff_timezone(t);
	char err[256];

	if (w->tz != NULL && strcmp(w->tz_name, name) == 0)
		return w->tz;
	tz_free(w->tz);
	snprintf(w->tz_name, sizeof w->tz_name, "%s", name);
	if ((w->tz = tz_load(name, err, sizeof err)) == NULL)
		log_warning("web_timezone", "error=%s", LOGQ(err));
	return w->tz;
}

static void
reply(struct web_reply *r, int status, const char *type, const char *cache)
{
	r->status = status;
	r->content_type = type;
	r->cache_control = cache;
}

#define TYPE_HTML	"text/html; charset=utf-8"
#define TYPE_JSON	"application/json"
/* Pages and answers hold a day's live figures or a rider's day: never
 * stored by a browser or a proxy. */
#define NO_STORE	"no-store"

static void
json_error(struct web_reply *r, int status, const char *msg)
{
	reply(r, status, TYPE_JSON, NO_STORE);
	buf_addlit(&r->body, "{\"error\":");
	buf_add_json_str(&r->body, msg);
	buf_addlit(&r->body, "}\n");
}

static const char *
pick_lang(const struct web_request *q)
{
	char lang[8];

	if (query_get(q->query, "lang", lang, sizeof lang) == 1)
		return strcmp(lang, "nl") == 0 ? "nl" : "en";
	if (q->accept_language != NULL &&
	    strncasecmp(q->accept_language, "nl", 2) == 0)
		return "nl";
	return "en";
}

/* /trips and /api/v1/trips: a rider's day by reference. */
static void
web_trips(struct web *w, const struct tariff *t, const struct web_request *q,
    int json, int64_t now, struct web_reply *r)
{
	char ref[WEB_REF_MAX + 1];
	const char *lang = pick_lang(q);
	struct web_trip *tr;
	int got = query_get(q->query, "ref", ref, sizeof ref), found, ok;

	if (got == 0 && !json) {	/* the form */
		reply(r, 200, TYPE_HTML, NO_STORE);
		web_html_form(lang, 200, &r->body);
		return;
	}
	if (rate_check(w, q->client != NULL ? q->client : "", now) == -1) {
		r->retry_after_s = 60;
		if (json)
			json_error(r, 429, "too many lookups: try again in a "
			    "minute");
		else {
			reply(r, 429, TYPE_HTML, NO_STORE);
			web_html_form(lang, 429, &r->body);
		}
		return;
	}
	if ((tr = malloc(sizeof *tr)) == NULL) {
		json_error(r, 503, "out of memory");
		return;
	}
	/* A malformed reference is looked up too (it cannot match: stored
	 * ones are letters and digits), so that it takes the time of a
	 * well-formed unknown one. */
	ok = got == 1 && ref_clean(ref) == 0;
	if (got != 1)
		snprintf(ref, sizeof ref, "%s", "-");
	found = web_trip_load(w, t, ref, now, tr);
	if (!ok && found == 1)
		found = 0;
	if (found == -1)
		json_error(r, 503, "the database cannot answer now");
	else if (found == 0 && json)
		json_error(r, 404, "not found");
	else if (found == 0) {
		reply(r, 404, TYPE_HTML, NO_STORE);
		web_html_form(lang, 404, &r->body);
	} else if (json) {
		reply(r, 200, TYPE_JSON, NO_STORE);
		web_api_trip(t, tr, &r->body);
	} else {
		reply(r, 200, TYPE_HTML, NO_STORE);
		web_html_trip(t, web_tz(w, t), lang, ref, tr, &r->body);
	}
	free(tr);
}

/* The day a dashboard request names (?day=), or the default; -1 bad. */
static int
request_day(struct web *w, const struct tariff *t,
    const struct web_request *q, int64_t now, char day[11])
{
	char v[16];
	int32_t d;

	switch (query_get(q->query, "day", v, sizeof v)) {
	case 0:
		web_default_day(w, t, now, day);
		return 0;
	case 1:
		if (web_parse_day(v, &d) == 0) {
			memcpy(day, v, 11);
			return 0;
		}
	}
	return -1;
}

/* The day's summary and series, computed at most once per WEB_CACHE_S
 * (and again after a tariff reload); NULL when the database cannot
 * answer. */
static const struct web_day *
cached_day(struct web *w, const struct tariff *t, const char *day,
    int64_t now)
{
	if (w->cache_tariff != t || strcmp(w->day_cache.day, day) != 0 ||
	    now - w->day_cache_at >= WEB_CACHE_S || now < w->day_cache_at) {
		if (web_day_load(w, t, day, now, &w->day_cache,
		    &w->series_cache) == -1) {
			w->day_cache_at = INT64_MIN;
			w->day_cache.day[0] = '\0';
			return NULL;
		}
		w->day_cache_at = now;
		w->cache_tariff = t;
	}
	return &w->day_cache;
}

/* /, /api/v1/day, /api/v1/series. */
static void
web_operator(struct web *w, const struct tariff *t,
    const struct web_request *q, int what, int64_t now, struct web_reply *r)
{
	const struct web_series *se = &w->series_cache;
	const struct web_day *d;
	char day[11];

	if (request_day(w, t, q, now, day) == -1) {
		json_error(r, 400, "day: not a date YYYY-MM-DD");
		return;
	}
	if ((d = cached_day(w, t, day, now)) == NULL) {
		json_error(r, 503, "the database cannot answer now");
		return;
	}
	if (what == 0) {
		reply(r, 200, TYPE_JSON, NO_STORE);
		web_api_day(t, d, &r->body);
	} else if (what == 1) {
		reply(r, 200, TYPE_JSON, NO_STORE);
		web_api_series(se, &r->body);
	} else {
		reply(r, 200, TYPE_HTML, NO_STORE);
		web_html_dashboard(t, web_tz(w, t), d, se, &r->body);
	}
}

static double
ms_since(clockid_t clock, const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(clock, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 +
	    (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

void
web_handle(struct web *w, unsigned sides, const struct tariff *t,
    const struct web_request *q, int64_t now, struct web_reply *r)
{
	const char *p = q->path;
	struct timespec t0, c0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
	memset(r, 0, sizeof *r);
	if (q->query != NULL && strlen(q->query) > WEB_QUERY_MAX)
		json_error(r, 414, "query too long");
	else if ((sides & WEB_RIDER) && strcmp(p, "/trips") == 0)
		web_trips(w, t, q, 0, now, r);
	else if ((sides & WEB_RIDER) && strcmp(p, "/api/v1/trips") == 0)
		web_trips(w, t, q, 1, now, r);
	else if ((sides & WEB_OPERATOR) && strcmp(p, "/") == 0)
		web_operator(w, t, q, 2, now, r);
	else if ((sides & WEB_OPERATOR) && strcmp(p, "/api/v1/day") == 0)
		web_operator(w, t, q, 0, now, r);
	else if ((sides & WEB_OPERATOR) && strcmp(p, "/api/v1/series") == 0)
		web_operator(w, t, q, 1, now, r);
	else if (strcmp(p, "/static/onecity.css") == 0) {
		/* Versioned by the build: an hour in any cache is fine. */
		reply(r, 200, "text/css; charset=utf-8", "public, max-age=3600");
		buf_adds(&r->body, web_css);
	} else if ((sides & WEB_OPERATOR) &&
	    strcmp(p, "/static/dashboard.js") == 0) {
		reply(r, 200, "text/javascript; charset=utf-8",
		    "public, max-age=3600");
		buf_adds(&r->body, web_js);
	} else if (strcmp(p, "/favicon.ico") == 0)
		/* No icon: say so once and let browsers remember it. */
		reply(r, 204, "image/x-icon", "public, max-age=86400");
	else
		json_error(r, 404, "not found");
	if (r->body.oom) {
		buf_free(&r->body);
		memset(r, 0, sizeof *r);
		json_error(r, 503, "out of memory");
	}
	r->server_ms = ms_since(CLOCK_MONOTONIC, &t0);
	r->cpu_ms = ms_since(CLOCK_THREAD_CPUTIME_ID, &c0);
}
