/*
 * The pages: the rider's day (/trips, English and Dutch, server-rendered
 * HTML that needs no JavaScript), the lookup form and its "not found",
 * and the operator dashboard (/; server-rendered with an inline SVG
 * chart, then refreshed every 5 s by dashboard.js from /api/v1/).  The
 * stylesheet and the script are ours, served from /static/ (no CDN: the
 * pages work offline).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "explain.h"
#include "parse.h"
#include "tz.h"
#include "web-int.h"


void
web_add_html(struct buf *b, const char *s)
{
	for (; *s; s++)
		switch (*s) {
		case '<': buf_addlit(b, "&lt;"); break;
		case '>': buf_addlit(b, "&gt;"); break;
		case '&': buf_addlit(b, "&amp;"); break;
		case '"': buf_addlit(b, "&quot;"); break;
		case '\'': buf_addlit(b, "&#39;"); break;
		default: buf_addc(b, *s);
		}
}

void
web_money(const struct tariff *t, int64_t cents, char out[32])
{
	explain_money(t, cents, out);
}

/* tmpl with each "%s" replaced by the next of a, b, c in turn (the
 * words are data, not printf formats). */
static void
fill(char *out, size_t len, const char *tmpl, const char *a, const char *b,
    const char *c)
{
	const char *arg[3] = {a, b, c};
	size_t n = 0, k = 0;

	while (*tmpl != '\0' && n + 1 < len) {
		if (tmpl[0] == '%' && tmpl[1] == 's' && k < 3) {
			const char *v = arg[k++] != NULL ? arg[k - 1] : "";
			while (*v != '\0' && n + 1 < len)
				out[n++] = *v++;
			tmpl += 2;
		} else
			out[n++] = *tmpl++;
	}
	out[n] = '\0';
}

/* The words of the rider page, English and Dutch. */
struct words {
	const char *lang, *other, *other_name, *title, *intro, *label, *button,
	    *not_found, *too_many, *day, *time, *journey, *op, *fare,
	    *charged, *notes, *transfer, *incomplete, *no_checkin, *autocompleted,
	    *cancelled, *open, *unpriced, *advice, *capped, *uncapped,
	    *total, *paid, *declined, *owed, *recovered, *refunded,
	    *refund_pending, *pending, *unsettled, *gates, *again, *to,
	    *capname, *and, *days[7], *months[12];
};

static const struct words en = {
	"en", "nl", "Nederlands", "Your journeys",
	"Type the reference from your bank statement to see that day's "
	"journeys and what you paid.",
	"Reference on your bank statement", "Show my day",
	"Not found. Check the reference on your bank statement and try again.",
	"Too many lookups from your connection. Please try again in a minute.",
	"Your travel on %s", "Time", "Journey", "Operator", "Fare", "Charged",
	"Notes", "transfer discount %s",
	"no check-out: the maximum fare %s was charged",
	"no check-in: the maximum fare %s was charged",
	"no check-out: completed at your next check-in",
	"checked out where you checked in: no charge", "still travelling",
	"no fare applies",
	"Next time, tap the same card or phone on a reader when you enter and "
	"when you leave the station or vehicle: a journey without a check-in "
	"or a check-out costs the maximum fare.",
	"A cap applied: your journeys came to %s, you pay %s. The cap saved "
	"you %s.",
	"No cap was reached: you pay the fares of your journeys.",
	"Charged for the day", "Paid: %s taken from your card on %s.",
	"Declined: your bank declined %s on %s.",
	"You owe %s. Your card is refused at the gates until it is paid; tap "
	"it on any reader to try again.",
	"Recovered: %s taken from your card on %s.", "Refunded: %s on %s.",
	"A refund of %s is on its way.", "A payment of %s is being made.",
	"Not charged yet: the day is still open, and it is charged once it "
	"closes.",
	"Your card is refused at the gates until your debt is paid.",
	"Look up another day", "to", "The cap that applied: %s.", " and ",
	{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
	    "Sunday"},
	{"January", "February", "March", "April", "May", "June", "July",
	    "August", "September", "October", "November", "December"},
};

static const struct words nl = {
	"nl", "en", "English", "Uw reizen",
	"Typ de referentie van uw bankafschrift om de reizen van die dag en "
	"wat u betaalde te zien.",
	"Referentie op uw bankafschrift", "Toon mijn dag",
	"Niet gevonden. Controleer de referentie op uw bankafschrift en probeer "
	"het opnieuw.",
	"Te veel zoekopdrachten vanaf uw verbinding. Probeer het over een "
	"minuut opnieuw.",
	"Uw reizen op %s", "Tijd", "Reis", "Vervoerder", "Tarief", "Berekend",
	"Opmerkingen", "overstapkorting %s",
	"niet uitgecheckt: het maximumtarief %s is berekend",
	"niet ingecheckt: het maximumtarief %s is berekend",
	"niet uitgecheckt: afgerond bij uw volgende incheck",
	"uitgecheckt waar u incheckte: geen kosten", "nog onderweg",
	"geen tarief van toepassing",
	"Houd de volgende keer dezelfde kaart of telefoon bij een kaartlezer "
	"als u het station of voertuig binnengaat en als u het verlaat: een "
	"reis zonder inchecken of uitchecken kost het maximumtarief.",
	"Er gold een plafond: uw reizen kostten %s, u betaalt %s. Het plafond "
	"bespaarde u %s.",
	"Geen plafond bereikt: u betaalt de tarieven van uw reizen.",
	"Berekend voor de dag", "Betaald: %s van uw kaart afgeschreven op %s.",
	"Geweigerd: uw bank weigerde %s op %s.",
	"U bent %s verschuldigd. Uw kaart wordt bij de poortjes geweigerd tot "
	"het betaald is; houd hem bij een kaartlezer om het opnieuw te "
	"proberen.",
	"Alsnog betaald: %s van uw kaart afgeschreven op %s.",
	"Terugbetaald: %s op %s.", "Een terugbetaling van %s is onderweg.",
	"Een betaling van %s wordt verwerkt.",
	"Nog niet berekend: de dag is nog open en wordt berekend zodra hij "
	"sluit.",
	"Uw kaart wordt bij de poortjes geweigerd tot uw schuld betaald is.",
	"Een andere dag opzoeken", "naar", "Toegepast plafond: %s.", " en ",
	{"maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag",
	    "zondag"},
	{"januari", "februari", "maart", "april", "mei", "juni", "juli",
	    "augustus", "september", "oktober", "november", "december"},
};

static const struct words *
words(const char *lang)
{
	return strcmp(lang, "nl") == 0 ? &nl : &en;
}

static void
page_head(struct buf *b, const char *lang, const char *title)
{
	buf_printf(b, "<!doctype html>\n<html lang=\"%s\"><head><meta charset="
	    "\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, "
	    "initial-scale=1\"><title>", lang);
	web_add_html(b, title);
	buf_addlit(b, " · OneCity</title><link rel=\"stylesheet\" href=\""
	    "/static/onecity.css\"></head><body>");
}

static void
form(struct buf *b, const struct words *w, const char *ref)
{
	buf_printf(b, "<form method=\"get\" action=\"/trips\"><input type=\"hidden\" "
	    "name=\"lang\" value=\"%s\"><label for=\"ref\">%s</label> "
	    "<input id=\"ref\" name=\"ref\" autocomplete=\"off\" spellcheck="
	    "\"false\" maxlength=\"%d\" required value=\"", w->lang, w->label,
	    WEB_REF_MAX);
	web_add_html(b, ref);
	buf_printf(b, "\"> <button type=\"submit\">%s</button></form>", w->button);
}

/* The header, with the other language's link (keeping a reference
 * already shown: it holds only letters, digits and '-'). */
static void
rider_top(struct buf *b, const struct words *w, const char *ref)
{
	page_head(b, w->lang, w->title);
	buf_printf(b, "<header><p class=\"brand\">OneCity</p><nav><a id=\"lang\" "
	    "href=\"/trips?lang=%s%s%s\" hreflang=\"%s\" lang=\"%s\">%s</a>"
	    "</nav></header><main><h1>%s</h1>", w->other, ref[0] ? "&amp;ref="
	    : "", ref, w->other, w->other, w->other_name, w->title);
}

void
web_html_form(const char *lang, int status, struct buf *b)
{
	const struct words *w = words(lang);

	rider_top(b, w, "");
	if (status == 404)
		buf_printf(b, "<p class=\"notice\" role=\"alert\" id=\"not-found\">"
		    "%s</p>", w->not_found);
	else if (status == 429)
		buf_printf(b, "<p class=\"notice\" role=\"alert\" id=\"too-many\">"
		    "%s</p>", w->too_many);
	buf_printf(b, "<p>%s</p>", w->intro);
	form(b, w, "");
	buf_addlit(b, "</main></body></html>\n");
}

/* "Saturday 28 November 2026" from "2026-11-28", in w's words. */
static void
long_day(const struct words *w, const char *day, char *out, size_t len)
{
	int32_t d;
	int y;
	unsigned m, dd;

	if (web_parse_day(day, &d) == -1) {
		snprintf(out, len, "%s", day);
		return;
	}
	civil_from_days(d, &y, &m, &dd);
	snprintf(out, len, "%s %u %s %d", w->days[civil_weekday(d)], dd,
	    w->months[m - 1], y);
}

static void
stop_name(const struct tariff *t, const char *id, struct buf *b)
{
	uint32_t s = id[0] != '\0' ? tariff_stop(t, id, strlen(id)) :
	    TARIFF_NONE;

	web_add_html(b, s != TARIFF_NONE ? tariff_stop_name(t, s) :
	    id[0] != '\0' ? id : "?");
}

static void
trip_note(const struct tariff *t, const struct words *w,
    const struct web_trip_leg *l, struct buf *b)
{
	char m[32], note[256];

	note[0] = '\0';
	web_money(t, l->fare_cents - l->contribution_cents, m);
	if (strcmp(l->status, "incomplete") == 0) {
		web_money(t, l->fare_cents, m);
		/* A check-out with no check-in before it (SPEC §5) */
		fill(note, sizeof note, l->from[0] == '\0' ? w->no_checkin :
		    w->incomplete, m, NULL, NULL);
	} else if (strcmp(l->status, "autocompleted") == 0)
		snprintf(note, sizeof note, "%s", w->autocompleted);
	else if (strcmp(l->status, "cancelled") == 0)
		snprintf(note, sizeof note, "%s", w->cancelled);
	else if (strcmp(l->status, "open") == 0)
		snprintf(note, sizeof note, "%s", w->open);
	else if (strcmp(l->status, "unpriced") == 0)
		snprintf(note, sizeof note, "%s", w->unpriced);
	if (l->contribution_cents < l->fare_cents &&
	    strcmp(l->status, "incomplete") != 0 &&
	    strcmp(l->status, "cancelled") != 0) {
		size_t n = strlen(note);
		char disc[96];
		fill(disc, sizeof disc, w->transfer, m, NULL, NULL);
		snprintf(note + n, sizeof note - n, "%s%s", n ? "; " : "",
		    disc);
	}
	web_add_html(b, note);
}

static void
trip_legs(const struct tariff *t, const struct words *w,
    const struct web_trip *tr, struct buf *b)
{
	int32_t day;
	size_t i;

	if (web_parse_day(tr->day, &day) == -1)
		day = 0;	/* a stored day is valid: then every time dated */
	/* Local times, the zone named (issue 17). */
	buf_printf(b, "<table id=\"journeys\"><thead><tr><th scope=\"col\">%s "
	    "(", w->time);
	web_add_html(b, tariff_timezone(t));
	buf_printf(b, ")</th><th scope=\"col\">%s</th><th scope=\"col\">%s</th>"
	    "<th scope=\"col\" class=\"num\">%s</th><th scope=\"col\" "
	    "class=\"num\">%s</th><th scope=\"col\">%s</th></tr></thead>"
	    "<tbody>", w->journey, w->op, w->fare, w->charged, w->notes);
	for (i = 0; i < tr->nlegs; i++) {
		const struct web_trip_leg *l = &tr->leg[i];
		uint32_t n = tariff_network(t, l->network, strlen(l->network));
		char a[EXPLAIN_TIME_MAX], c[EXPLAIN_TIME_MAX], f[32], ch[32];
		/* "08:01", dated past midnight or across a clock change. */
		explain_day_time(t, l->checkin, day, a);
		explain_day_time(t, l->checkout, day, c);
		web_money(t, l->fare_cents, f);
		web_money(t, l->contribution_cents, ch);
		buf_printf(b, "<tr class=\"leg %s\"><td>%s%s%s</td><td>", l->status,
		    a, c[0] ? "–" : "", c);
		stop_name(t, l->from, b);
		buf_printf(b, " %s ", w->to);
		stop_name(t, l->to, b);
		buf_addlit(b, "</td><td>");
		web_add_html(b, n != TARIFF_NONE ? tariff_network_name(t, n) :
		    l->network);
		buf_printf(b, "</td><td class=\"num\">%s</td><td class=\"num\">%s</td>"
		    "<td>", f, ch);
		trip_note(t, w, l, b);
		buf_addlit(b, "</td></tr>");
	}
	buf_addlit(b, "</tbody></table>");
}

/* "28 November 2026" of a UTC time in local time. */
static void
short_day(const struct tz *z, const struct words *w, int64_t utc, char *out,
    size_t len)
{
	int64_t l = utc + (z != NULL ? tz_offset(z, utc) : 0);
	int y;
	unsigned m, d;

	civil_from_days(civil_day_of(l), &y, &m, &d);
	snprintf(out, len, "%u %s %d", d, w->months[m - 1], y);
}

static void
trip_payment(const struct tariff *t, const struct tz *z,
    const struct words *w, const struct web_trip *tr, struct buf *b)
{
	char m[32], when[48], line[512];
	size_t i;

	buf_addlit(b, "<ul id=\"payment\">");
	if (tr->nsettle == 0)
		buf_printf(b, "<li>%s</li>", w->unsettled);
	for (i = 0; i < tr->nsettle; i++) {
		const struct web_trip_settle *x = &tr->settle[i];
		const char *fmt = NULL;
		web_money(t, x->amount_cents, m);
		short_day(z, w, x->at_utc, when, sizeof when);
		if (strcmp(x->state, "pending") == 0)
			fmt = strcmp(x->kind, "refund") == 0 ?
			    w->refund_pending : w->pending;
		else if (strcmp(x->state, "approved") == 0)
			fmt = strcmp(x->kind, "refund") == 0 ? w->refunded :
			    strcmp(x->kind, "recovery") == 0 ? w->recovered :
			    w->paid;
		else if (strcmp(x->state, "declined") == 0)
			fmt = w->declined;
		if (fmt == NULL)
			continue;
		fill(line, sizeof line, fmt, m, when, NULL);
		buf_printf(b, "<li class=\"%s %s\">", x->kind, x->state);
		web_add_html(b, line);
		buf_addlit(b, "</li>");
	}
	if (tr->debt_open_cents > 0) {
		web_money(t, tr->debt_open_cents, m);
		fill(line, sizeof line, w->owed, m, NULL, NULL);
		buf_addlit(b, "<li class=\"owed\">");
		web_add_html(b, line);
		buf_addlit(b, "</li>");
	} else if (tr->denied)
		buf_printf(b, "<li class=\"owed\">%s</li>", w->gates);
	buf_addlit(b, "</ul>");
}

void
web_html_trip(const struct tariff *t, const struct tz *z, const char *lang,
    const char *ref, const struct web_trip *tr, struct buf *b)
{
	const struct words *w = words(lang);
	char day[96], h[160], a[32], c[32], s[32], line[512];
	size_t i;
	int incomplete = 0;

	rider_top(b, w, ref);
	long_day(w, tr->day, day, sizeof day);
	fill(h, sizeof h, w->day, day, NULL, NULL);
	buf_addlit(b, "<h2 id=\"day\">");
	web_add_html(b, h);
	buf_addlit(b, "</h2>");
	trip_legs(t, w, tr, b);
	for (i = 0; i < tr->nlegs; i++)
		incomplete |= strcmp(tr->leg[i].status, "incomplete") == 0;
	if (incomplete)
		buf_printf(b, "<p class=\"advice\" id=\"advice\">%s</p>", w->advice);
	web_money(t, tr->uncapped_cents, a);
	web_money(t, tr->charge_cents, c);
	web_money(t, tr->uncapped_cents - tr->charge_cents, s);
	if (tr->charge_cents < tr->uncapped_cents)
		fill(line, sizeof line, w->capped, a, c, s);
	else
		snprintf(line, sizeof line, "%s", w->uncapped);
	buf_addlit(b, "<p id=\"cap\">");
	web_add_html(b, line);
	if (tr->ncaps > 0) {
		char names[512] = "";
		for (i = 0; i < tr->ncaps; i++) {
			size_t n = strlen(names);
			snprintf(names + n, sizeof names - n, "%s%s",
			    i > 0 ? w->and : "", tr->cap[i]);
		}
		fill(line, sizeof line, w->capname, names, NULL, NULL);
		buf_addlit(b, " <span id=\"cap-names\">");
		web_add_html(b, line);
		buf_addlit(b, "</span>");
	}
	buf_printf(b, "</p><p class=\"total\">%s: <strong id=\"charged\">%s</strong>"
	    "</p>", w->total, c);
	trip_payment(t, z, w, tr, b);
	buf_printf(b, "<h2>%s</h2>", w->again);
	form(b, w, ref);
	buf_addlit(b, "</main></body></html>\n");
}
