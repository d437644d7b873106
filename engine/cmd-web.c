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
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <event2/http.h>

#include "cmd.h"
#include "diag.h"
#include "parse.h"
#include "tariff.h"
#include "web-http.h"

static int
web_usage(FILE *f, int rc)
{
	fprintf(f, "usage: fare-engine web --db DB --tariff DIR --listen "
	    "HOST:PORT [--day YYYY-MM-DD]\n"
	    "                       [--crl FILE] [--clock RFC3339]\n"
	    "  the rider page (/trips) and the operator dashboard (/), "
	    "read-only\n");
	return rc;
}

static void
web_stop_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	logmsg("web: signal %d: stopping", (int)sig);
	event_base_loopexit(arg, NULL);
}

struct web_args {
	const char	*db, *tariff, *listen, *day, *crl;
	int64_t		 clock_offset_s;
};

/* 0, or the exit status of bad usage. */
static int
web_args(int argc, char **argv, struct web_args *a)
{
	static const struct option opts[] = {
		{"db", required_argument, NULL, 'd'},
		{"tariff", required_argument, NULL, 't'},
		{"listen", required_argument, NULL, 'l'},
		{"day", required_argument, NULL, 'D'},
		{"crl", required_argument, NULL, 'c'},
		{"clock", required_argument, NULL, 'k'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *why;
	int64_t t;
	int32_t d;
	int c;

	memset(a, 0, sizeof *a);
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1)
		switch (c) {
		case 'd': a->db = optarg; break;
		case 't': a->tariff = optarg; break;
		case 'l': a->listen = optarg; break;
		case 'c': a->crl = optarg; break;
		case 'D':
			if (web_parse_day(optarg, &d) == -1) {
				fprintf(stderr, "fare-engine web: --day %s: not "
				    "a date YYYY-MM-DD\n", optarg);
				return 2;
			}
			a->day = optarg;
			break;
		case 'k':
			if (parse_rfc3339(optarg, &t, &why) == -1) {
				fprintf(stderr, "fare-engine web: --clock: %s\n",
				    why);
				return 2;
			}
			a->clock_offset_s = t - (int64_t)time(NULL);
			break;
		case 'h': return web_usage(stdout, 0) - 1;
		default: return web_usage(stderr, 2);
		}
	if (optind != argc || a->db == NULL || a->tariff == NULL ||
	    a->listen == NULL) {
		fprintf(stderr, "fare-engine web: needs --db, --tariff and "
		    "--listen, and no operands\n");
		return web_usage(stderr, 2);
	}
	return 0;
}

static int
web_serve(const struct web_args *a, struct tariff *t)
{
	struct web_http h = {NULL, WEB_RIDER | WEB_OPERATOR, &t,
	    a->clock_offset_s};
	struct event_base *base = event_base_new();
	struct event *sig[2] = {NULL, NULL};
	struct evhttp *http = NULL;
	char err[512];
	int rc = 1, i;

	if (base == NULL ||
	    (h.web = web_open(a->db, a->crl, NULL, NULL, a->day != NULL ?
	    a->day : "latest", err, sizeof err)) == NULL ||
	    (http = web_http_listen(base, a->listen, &h, err,
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
	logmsg("web: serving http://%s/ (dashboard) and http://%s/trips "
	    "(riders), read-only over %s", a->listen, a->listen, a->db);
	event_base_dispatch(base);
	rc = 0;
out:
	for (i = 0; i < 2; i++)
		if (sig[i] != NULL)
			event_free(sig[i]);
	if (http != NULL)
		evhttp_free(http);
	web_close(h.web);
	if (base != NULL)
		event_base_free(base);
	return rc;
}

int
cmd_web(int argc, char **argv)
{
	struct web_args a;
	struct tariff *t;
	struct diag d;
	int rc;

	if ((rc = web_args(argc, argv, &a)) != 0)
		return rc < 0 ? 0 : rc;
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
