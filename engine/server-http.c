/*
 * The engine's HTTP side: GET /healthz (is the writer committing, are we
 * accepting), GET /metrics (metrics.c) and the dashboard with its API
 * (web.h) on the operator port, the rider pages on the public web port;
 * on the event loop's thread, read-only, served by the bounded listener
 * of http.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include "clock.h"
#include "http.h"
#include "parse.h"
#include "tls.h"
#include "certs.h"
#include "server-int.h"
#include "gateway.h"
#include "limits.h"
#include "metrics.h"
#include "writer.h"

/*
 * The CRL's state for /healthz: a warning CRL_WARN_DAYS before its
 * nextUpdate, a failure once it has passed (every handshake is refused
 * then).  Writes into why; returns 1 failing, 0 a warning, -1 fine.
 */
static int
health_crl(struct server *s, char *why, size_t len, char *next, size_t nlen)
{
	int64_t nu = tls_ctx_crl_next_update(s->tls), now = (int64_t)time(NULL);

	next[0] = '\0';
	if (nu == 0)
		return -1;
	civil_format_utc(nu, next);
	(void)nlen;
	if (nu <= now) {
		snprintf(why, len, "CRL expired at %s: every validator is "
		    "refused; run fare-engine certs crl DIR and send SIGHUP",
		    next);
		return 1;
	}
	if (nu - now < CRL_WARN_DAYS * 86400LL) {
		snprintf(why, len, "CRL expires at %s (in %lld h): run "
		    "fare-engine certs crl DIR and send SIGHUP", next,
		    (long long)(nu - now) / 3600);
		return 0;
	}
	return -1;
}

static void
healthz_cb(const struct http_request *req, struct http_response *r, void *arg)
{
	struct server *s = arg;
	struct evbuffer *b = r->body;
	struct writer_stats ws;
	char why[256], crl[256], next[32];
	const char *bad = writer_health(s->writer, why, sizeof why);
	int crl_state = health_crl(s, crl, sizeof crl, next, sizeof next);

	(void)req;
	r->content_type = "application/json";
	if (bad != NULL) {	/* SQLite's words: no quotes, but be sure */
		char *p;
		for (p = why; *p; p++)
			if (*p == '"' || *p == '\\' || (unsigned char)*p < 32)
				*p = ' ';
		memmove(why + 9, why, strnlen(why, sizeof why - 10) + 1);
		memcpy(why, "journal: ", 9);
		why[sizeof why - 1] = '\0';
	} else if (s->gw != NULL && gateway_health(s->gw, crl, sizeof crl) !=
	    NULL) {
		/* Gateway mode: JetStream not acknowledging. */
		char *p;
		for (p = crl; *p; p++)
			if (*p == '"' || *p == '\\' || (unsigned char)*p < 32)
				*p = ' ';
		bad = why;
		snprintf(why, sizeof why, "jetstream: %.200s", crl);
	} else if (crl_state == 1) {
		bad = why;
		snprintf(why, sizeof why, "%s", crl);
	} else if (s->accept_failed_us != 0 && clock_mono_us() -
	    s->accept_failed_us < HEALTH_ACCEPT_FAILED_US) {
		bad = why;
		snprintf(why, sizeof why, "%s", "validators cannot connect: "
		    "accept() failed (out of file descriptors?)");
	}
	writer_get_stats(s->writer, &ws);
	evbuffer_add_printf(b, "{\"status\":\"%s\",\"accepting\":%s,"
	    "\"connections\":%ld,\"committed\":%llu,\"queued\":%zu",
	    bad ? "failing" : "ok", s->accepting ? "true" : "false",
	    s->nconns, (unsigned long long)ws.committed,
	    writer_queued(s->writer) + (s->gw != NULL ?
	    gateway_queued(s->gw) : 0));
	if (next[0] != '\0')
		evbuffer_add_printf(b, ",\"crl_next_update\":\"%s\"", next);
	if (bad != NULL)
		evbuffer_add_printf(b, ",\"reason\":\"%s\"", why);
	if (crl_state == 0)
		evbuffer_add_printf(b, ",\"warning\":\"%s\"", crl);
	evbuffer_add_printf(b, "}\n");
	r->status = bad ? 503 : 200;
}

/* Prometheus text exposition (metrics.c). */
static void
metrics_cb(const struct http_request *req, struct http_response *r, void *arg)
{
	(void)req;
	r->content_type = "text/plain; version=0.0.4; charset=utf-8";
	metrics_write(arg, r->body);
}

/* What only the running engine knows, for the dashboard. */
static void
server_web_live_cb(void *arg, struct web_live *l)
{
	struct server *s = arg;
	struct writer_stats ws;

	writer_get_stats(s->writer, &ws);
	l->accepting = s->accepting;
	l->connections = s->nconns;
	l->queued = writer_queued(s->writer);
	l->batches = ws.batches;
	l->commit_ms_avg = ws.batches ? (double)ws.commit_us / 1e3 /
	    (double)ws.batches : 0;
	l->commit_ms_max = (double)ws.commit_us_max / 1e3;
}

int
server_http_start(struct server *s, char *err, size_t errlen)
{
	struct http_limits lim = http_limits_default();
	char crl[512];

	if ((s->http = http_listen(s->base, "http", s->cfg->http, &lim, err,
	    errlen)) == NULL)
		return -1;
	if (http_route(s->http, "/healthz", healthz_cb, s) == -1 ||
	    http_route(s->http, "/metrics", metrics_cb, s) == -1) {
		snprintf(err, errlen, "http: cannot add a route");
		return -1;
	}
	/* The dashboard and its API on the operator port; the rider pages
	 * on the public one (web.h). */
	certs_path(crl, sizeof crl, s->cfg->certs, "crl.pem");
	if ((s->web = web_open(s->cfg->db, crl, server_web_live_cb, s, NULL,
	    err, errlen)) == NULL)
		return -1;
	s->web_op = (struct web_http){s->web, WEB_OPERATOR, &s->tariff,
	    s->cfg->clock_offset_s};
	if (web_http_route(s->http, &s->web_op) == -1) {
		snprintf(err, errlen, "http: cannot add a route");
		return -1;
	}
	if (s->cfg->web != NULL) {
		s->web_pub = (struct web_http){s->web, WEB_RIDER, &s->tariff,
		    s->cfg->clock_offset_s};
		if ((s->web_http = web_http_listen(s->base, "web",
		    s->cfg->web, &s->web_pub, err, errlen)) == NULL)
			return -1;
	}
	return 0;
}

void
server_http_stop(struct server *s)
{
	http_free(s->http);
	http_free(s->web_http);
	web_close(s->web);
	s->http = s->web_http = NULL;
	s->web = NULL;
}
