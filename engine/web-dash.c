/*
 * The operator dashboard (/): one service day at a glance, rendered on
 * the server (numbers, tables and the taps-per-minute chart as inline
 * SVG), then kept fresh by /static/dashboard.js from /api/v1/day and
 * /api/v1/series every 5 s.  Every figure carries data-k, its path in
 * the day's JSON, so that the script (and the browser test) find it; the
 * script formats values as this file does (data-f: int, money, ms).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "explain.h"
#include "parse.h"
#include "tz.h"
#include "web-int.h"

/* The chart's height in SVG units (its width is the day's minutes). */
#define CHART_H		100


/* <td> or <dd> holding one figure of the JSON.  The key may hold an id
 * from the tariff feed or the database (a network_id, a reason): it is
 * escaped like any text. */
static void
fig_int(struct buf *b, const char *tag, const char *k, int64_t v)
{
	buf_printf(b, "<%s data-k=\"", tag);
	web_add_html(b, k);
	buf_printf(b, "\" data-f=\"int\" class=\"num\">%lld</%s>", (long long)v,
	    tag);
}

static void
fig_money(const struct tariff *t, struct buf *b, const char *tag,
    const char *k, int64_t v)
{
	char m[32];

	web_money(t, v, m);
	buf_printf(b, "<%s data-k=\"", tag);
	web_add_html(b, k);
	buf_printf(b, "\" data-f=\"money\" class=\"num\">%s</%s>", m, tag);
}

static void
section(struct buf *b, const char *id, const char *title)
{
	buf_printf(b, "<section id=\"%s\" aria-labelledby=\"%s-h\"><h2 id=\"%s-h\">"
	    "%s</h2>", id, id, id, title);
}

static void
local_hm(const struct tz *z, int64_t utc, char out[8])
{
	int64_t l = utc + (z != NULL ? tz_offset(z, utc) : 0);

	l = ((l % 86400) + 86400) % 86400;
	snprintf(out, 8, "%02d:%02d", (int)(l / 3600), (int)(l / 60 % 60));
}

/* The SVG path of taps per minute: an area from the baseline. */
static void
chart_path(const struct web_series *se, uint32_t max, struct buf *b)
{
	size_t i;

	buf_printf(b, "M0,%d", CHART_H);
	for (i = 0; i < se->nmin; i++)
		buf_printf(b, "V%uH%zu", CHART_H - (unsigned)((uint64_t)se->taps[i] *
		    CHART_H / (max ? max : 1)), i + 1);
	buf_printf(b, "V%dZ", CHART_H);
}

static void
dash_chart(const struct tz *z, const struct web_series *se, struct buf *b)
{
	uint32_t max = 0;
	size_t i, peak = 0;
	char hm[8];

	for (i = 0; i < se->nmin; i++)
		if (se->taps[i] > max)
			max = se->taps[i], peak = i;
	local_hm(z, se->start_utc + (int64_t)peak * 60, hm);
	section(b, "chart", "Taps per minute");
	buf_printf(b, "<p>Peak <span id=\"peak\" data-f=\"int\">%u</span> taps a "
	    "minute at <span id=\"peak-at\">%s</span> (local time).</p>", max,
	    hm);
	buf_printf(b, "<svg id=\"chart-svg\" role=\"img\" aria-labelledby=\"chart-h\" "
	    "viewBox=\"0 0 %zu %d\" preserveAspectRatio=\"none\" width=\"100%%\""
	    " height=\"160\"><path id=\"chart-line\" d=\"", se->nmin, CHART_H);
	chart_path(se, max, b);
	buf_addlit(b, "\"/></svg><div class=\"axis\" aria-hidden=\"true\">");
	for (i = 0; i <= se->nmin; i += 180) {
		local_hm(z, se->start_utc + (int64_t)i * 60, hm);
		buf_printf(b, "<span>%s</span>", hm);
	}
	buf_addlit(b, "</div></section>");
}

static void
dash_taps(const struct web_day *d, struct buf *b)
{
	size_t i;

	section(b, "taps", "Taps");
	buf_addlit(b, "<dl><dt>Acknowledged</dt>");
	fig_int(b, "dd", "taps.acknowledged", d->taps);
	buf_addlit(b, "<dt>Refused</dt>");
	fig_int(b, "dd", "taps.refused", d->refused);
	buf_addlit(b, "</dl><table><caption>Refused by reason</caption><thead>"
	    "<tr><th scope=\"col\">reason</th><th scope=\"col\" class=\"num\">"
	    "taps</th></tr></thead><tbody id=\"refused\">");
	for (i = 0; i < d->nrefused_by; i++) {
		char k[LIMIT_ID_LEN + 40];
		buf_addlit(b, "<tr><th scope=\"row\">");
		web_add_html(b, d->refused_by[i].key);
		snprintf(k, sizeof k, "taps.refused_by_reason.%s",
		    d->refused_by[i].key);
		buf_addlit(b, "</th>");
		fig_int(b, "td", k, d->refused_by[i].n);
		buf_addlit(b, "</tr>");
	}
	buf_addlit(b, "</tbody></table></section>");
}

static void
dash_journeys(const struct tariff *t, const struct web_day *d, struct buf *b)
{
	size_t i;

	section(b, "journeys", "Journeys by status");
	buf_addlit(b, "<table><thead><tr><th scope=\"col\">status</th><th "
	    "scope=\"col\" class=\"num\">legs</th><th scope=\"col\" class="
	    "\"num\">fares</th></tr></thead><tbody id=\"statuses\">");
	for (i = 0; i < d->nstatus; i++) {
		char k[LIMIT_ID_LEN + 40];
		buf_addlit(b, "<tr><th scope=\"row\">");
		web_add_html(b, d->status[i].key);
		buf_addlit(b, "</th>");
		snprintf(k, sizeof k, "journeys_by_status.%s.legs",
		    d->status[i].key);
		fig_int(b, "td", k, d->status[i].n);
		snprintf(k, sizeof k, "journeys_by_status.%s.fares_cents",
		    d->status[i].key);
		fig_money(t, b, "td", k, d->status[i].cents);
		buf_addlit(b, "</tr>");
	}
	buf_addlit(b, "</tbody></table></section>");
}

static void
dash_revenue(const struct tariff *t, const struct web_day *d, struct buf *b)
{
	size_t i;
	int64_t max = 1;

	for (i = 0; i < d->nrevenue; i++)
		if (d->revenue[i].cents > max)
			max = d->revenue[i].cents;
	section(b, "revenue", "Revenue per operator");
	buf_addlit(b, "<table><thead><tr><th scope=\"col\">operator</th><th "
	    "scope=\"col\" class=\"num\">revenue</th><th scope=\"col\"><span "
	    "class=\"sr\">share</span></th></tr></thead><tbody id=\"operators\">");
	for (i = 0; i < d->nrevenue; i++) {
		uint32_t n = tariff_network(t, d->revenue[i].key,
		    strlen(d->revenue[i].key));
		char k[LIMIT_ID_LEN + 40];
		buf_addlit(b, "<tr><th scope=\"row\"><abbr title=\"");
		web_add_html(b, n != TARIFF_NONE ? tariff_network_name(t, n) :
		    d->revenue[i].key);
		buf_addlit(b, "\">");
		web_add_html(b, d->revenue[i].key);
		snprintf(k, sizeof k, "revenue_cents.%s", d->revenue[i].key);
		buf_addlit(b, "</abbr></th>");
		fig_money(t, b, "td", k, d->revenue[i].cents);
		buf_printf(b, "<td><svg class=\"bar\" viewBox=\"0 0 100 10\" "
		    "preserveAspectRatio=\"none\" aria-hidden=\"true\"><rect "
		    "width=\"%lld\" height=\"10\"/></svg></td></tr>",
		    (long long)(d->revenue[i].cents > 0 ?
		    d->revenue[i].cents * 100 / max : 0));
	}
	buf_addlit(b, "</tbody><tfoot><tr><th scope=\"row\">all operators</th>");
	fig_money(t, b, "td", "charges.revenue_cents", d->revenue_cents);
	buf_addlit(b, "<td></td></tr></tfoot></table></section>");
}

static void
dash_caps(const struct tariff *t, const struct web_day *d, struct buf *b)
{
	section(b, "caps", "Riders and caps");
	buf_addlit(b, "<dl><dt>Travellers charged</dt>");
	fig_int(b, "dd", "charges.travellers", d->travellers);
	buf_addlit(b, "<dt>Charged</dt>");
	fig_money(t, b, "dd", "charges.charged_cents", d->charged_cents);
	buf_addlit(b, "<dt>Without caps</dt>");
	fig_money(t, b, "dd", "charges.uncapped_cents", d->uncapped_cents);
	buf_addlit(b, "<dt>Cards capped</dt>");
	fig_int(b, "dd", "charges.capped_cards", d->capped_cards);
	buf_addlit(b, "<dt>Caps saved riders</dt>");
	fig_money(t, b, "dd", "charges.caps_saved_cents", d->saved_cents);
	buf_addlit(b, "<dt>Account-days open / closed</dt><dd class=\"num\">"
	    "<span data-k=\"charges.open_account_days\" data-f=\"int\">");
	buf_printf(b, "%lld</span> / <span data-k=\"charges.closed_account_days\" "
	    "data-f=\"int\">%lld</span></dd></dl></section>",
	    (long long)d->open_days, (long long)d->closed_days);
}

static void
dash_validators(const struct web_day *d, struct buf *b)
{
	size_t i;

	section(b, "validators", "Validators");
	buf_addlit(b, "<dl><dt>Seen today</dt>");
	fig_int(b, "dd", "validators.seen", d->validators_seen);
	buf_addlit(b, "<dt>Connected now</dt>");
	if (d->has_live)
		fig_int(b, "dd", "validators.connected", d->live.connections);
	else
		buf_addlit(b, "<dd data-k=\"validators.connected\">not live "
		    "(read-only)</dd>");
	buf_addlit(b, "<dt>Not heard from for 15 minutes</dt>");
	fig_int(b, "dd", "validators.silent_15min", d->validators_silent);
	buf_addlit(b, "</dl><ul id=\"silent\">");
	for (i = 0; i < d->nsilent; i++) {
		char t[21];
		civil_format_utc(d->silent[i].n, t);
		buf_addlit(b, "<li>");
		web_add_html(b, d->silent[i].key);
		buf_printf(b, ", last tap received %s</li>", t);
	}
	buf_addlit(b, "</ul></section>");
}

static void
dash_engine(const struct web_day *d, struct buf *b)
{
	section(b, "engine", "Writer, deny list, CRL");
	buf_addlit(b, "<dl><dt>Writer queue</dt>");
	if (d->has_live) {
		fig_int(b, "dd", "writer.queued", (int64_t)d->live.queued);
		buf_printf(b, "<dt>Commit latency (mean / max)</dt><dd class=\"num\">"
		    "<span data-k=\"writer.commit_ms_avg\" data-f=\"ms\">%.1f ms"
		    "</span> / <span data-k=\"writer.commit_ms_max\" data-f="
		    "\"ms\">%.1f ms</span></dd>", d->live.commit_ms_avg,
		    d->live.commit_ms_max);
	} else
		buf_addlit(b, "<dd data-k=\"writer.queued\">not live "
		    "(read-only)</dd>");
	buf_addlit(b, "<dt>Deny list</dt>");
	fig_int(b, "dd", "deny_list", d->deny_entries);
	buf_addlit(b, "<dt>CRL expires in (days)</dt>");
	if (d->has_crl)
		fig_int(b, "dd", "crl.days_to_expiry",
		    (d->crl_next_update_utc - d->now -
		    (d->crl_next_update_utc < d->now ? 86399 : 0)) / 86400);
	else
		buf_addlit(b, "<dd data-k=\"crl.days_to_expiry\">no CRL "
		    "given</dd>");
	buf_addlit(b, "</dl></section>");
}

static void
dash_settlement(const struct tariff *t, const struct web_day *d,
    struct buf *b)
{
	static const char *const label[6] = {"captured", "declined",
	    "recovered", "refunded", "refunds pending", "debts open"};
	size_t i;

	section(b, "settlement", "Settlement of the day");
	buf_addlit(b, "<table><thead><tr><th scope=\"col\"></th><th scope="
	    "\"col\" class=\"num\">n</th><th scope=\"col\" class=\"num\">"
	    "amount</th></tr></thead><tbody>");
	for (i = 0; i < 6; i++) {
		char k[64];
		buf_printf(b, "<tr><th scope=\"row\">%s</th>", label[i]);
		snprintf(k, sizeof k, "settlement.%s.n", d->settle[i].key);
		fig_int(b, "td", k, d->settle[i].n);
		snprintf(k, sizeof k, "settlement.%s.cents", d->settle[i].key);
		fig_money(t, b, "td", k, d->settle[i].cents);
		buf_addlit(b, "</tr>");
	}
	buf_addlit(b, "</tbody></table></section>");
}

void
web_html_dashboard(const struct tariff *t, const struct tz *z,
    const struct web_day *d, const struct web_series *se, struct buf *b)
{
	char prev[11], next[11], gen[EXPLAIN_TIME_MAX];

	civil_format_day(d->service_day - 1, prev);
	civil_format_day(d->service_day + 1, next);
	/* Local, with its UTC offset: a person reads it (issue 17). */
	explain_local_time(t, d->now, 1, gen);
	buf_addlit(b, "<!doctype html>\n<html lang=\"en\"><head><meta charset="
	    "\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, "
	    "initial-scale=1\"><title>Operations · OneCity</title><link rel="
	    "\"stylesheet\" href=\"/static/onecity.css\"><script src=\"/static/"
	    "dashboard.js\" defer></script></head><body class=\"dash\">");
	buf_printf(b, "<header><p class=\"brand\">OneCity</p><nav><a href=\"/?day=%s\""
	    ">← %s</a> <a href=\"/?day=%s\">%s →</a></nav></header><main "
	    "id=\"dashboard\" data-day=\"%s\" data-currency=\"%s\" "
	    "data-refreshes=\"0\"><h1>Service day <span id=\"day\">%s</span>"
	    "</h1><p class=\"meta\">Time zone ", prev, prev, next, next, d->day,
	    tariff_currency(t), d->day);
	web_add_html(b, tariff_timezone(t));
	buf_printf(b, "; figures as of <time id=\"generated\" data-k=\"generated_local"
	    "\">%s</time>%s</p><div class=\"grid\">", gen, d->has_live ?
	    "; refreshed every 5 s" : "; read-only over the database, "
	    "refreshed every 5 s");
	dash_chart(z, se, b);
	dash_taps(d, b);
	dash_journeys(t, d, b);
	dash_revenue(t, d, b);
	dash_caps(t, d, b);
	dash_settlement(t, d, b);
	dash_validators(d, b);
	dash_engine(d, b);
	buf_addlit(b, "</div></main></body></html>\n");
}
