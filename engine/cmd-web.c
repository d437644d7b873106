/*
 * fare-engine web --db DB --tariff DIR --listen HOST:PORT [--day D]
 *                 [--crl FILE] [--clock RFC3339]
 *
 * The rider page and the operator dashboard, read-only over an existing
 * database (after `make demo`, anyone can browse the demo's day): the
 * same handlers as serve's listeners (web.c), on one port, until SIGTERM
 * or SIGINT.  The dashboard's day is --day, else the latest day with
 * charges (closed days first).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "cmd.h"
#include "diag.h"
#include "http.h"
#include "log.h"
#include "opt.h"
#include "tariff.h"
#include "web-http.h"

static void
web_stop_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	log_notice("stopping", "signal=%d", (int)sig);
	event_base_loopexit(arg, NULL);
}

struct web_args {
	const char	*db, *tariff, *listen, *day, *crl;
	int64_t		 clock_offset_s;
};

static int
web_serve(const struct web_args *a, struct tariff *t)
{
	struct web_http h = {NULL, WEB_RIDER | WEB_OPERATOR, &t,
	    a->clock_offset_s};
	struct event_base *base = event_base_new();
	struct event *sig[2] = {NULL, NULL};
	struct http_server *http = NULL;
	char err[512];
	int rc = 1, i;

	if (base == NULL ||
	    (h.web = web_open(a->db, a->crl, NULL, NULL, a->day != NULL ?
	    a->day : "latest", err, sizeof err)) == NULL ||
	    (http = web_http_listen(base, "web", a->listen, &h, err,
	    sizeof err)) == NULL) {
		fprintf(stderr, "fare-engine web: %s\n", base == NULL ?
		    "cannot start libevent" : err);
		goto out;
	}
	sig[0] = evsignal_new(base, SIGTERM, web_stop_cb, base);
	sig[1] = evsignal_new(base, SIGINT, web_stop_cb, base);
	for (i = 0; i < 2; i++)
		if (sig[i] != NULL)
			event_add(sig[i], NULL);
	log_notice("web_serving", "listen=%s db=%s read_only=1",
	    LOGQ(a->listen), LOGQ(a->db));
	event_base_dispatch(base);
	rc = 0;
out:
	for (i = 0; i < 2; i++)
		if (sig[i] != NULL)
			event_free(sig[i]);
	http_free(http);
	web_close(h.web);
	if (base != NULL)
		event_base_free(base);
	return rc;
}

int
cmd_web(int argc, char **argv)
{
	static const struct opt_cmd cmd = {"fare-engine web", "", 0, 0,
	    "The rider page (/trips) and the operator dashboard (/) with their "
	    "JSON API\n(/api/v1/, docs/web-api.md) on one port, read-only over "
	    "an existing database,\nuntil SIGTERM.  The dashboard's day is "
	    "--day, else the latest day with charges."};
	struct web_args a = {NULL, NULL, NULL, NULL, NULL, 0};
	int64_t clock = INT64_MIN;
	struct tariff *t;
	struct diag d;
	int first, rc;
	const struct opt o[] = {
		{.name = "db", .kind = OPT_STR, .dst = &a.db, .arg = "DB",
		    .help = "the engine's database (opened read-only)",
		    .flags = OPT_REQUIRED},
		{.name = "tariff", .kind = OPT_STR, .dst = &a.tariff,
		    .arg = "DIR", .help = "the tariff (stop names, time zone)",
		    .flags = OPT_REQUIRED},
		{.name = "listen", .kind = OPT_STR, .dst = &a.listen,
		    .arg = "HOST:PORT", .help = "where to serve HTTP",
		    .flags = OPT_REQUIRED},
		{.name = "day", .kind = OPT_DAY, .dst = &a.day,
		    .arg = "YYYY-MM-DD", .help = "the dashboard's day"},
		{.name = "crl", .kind = OPT_STR, .dst = &a.crl, .arg = "FILE",
		    .help = "the CRL whose expiry the dashboard shows"},
		{.name = "clock", .kind = OPT_TIME, .dst = &clock,
		    .arg = "RFC3339", .help = "the clock (tests and demos)"},
		{.name = NULL},
	};

	if ((rc = opt_parse(&cmd, o, argc, argv, &first)) != OPT_RUN)
		return rc;
	if (clock != INT64_MIN)
		a.clock_offset_s = clock - (int64_t)time(NULL);
	signal(SIGPIPE, SIG_IGN);
	diag_init(&d);
	t = tariff_load(a.tariff, &d);
	diag_print(&d, stderr);
	diag_free(&d);
	if (t == NULL)
		return 1;
	rc = web_serve(&a, t);
	tariff_free(t);
	return rc;
}
