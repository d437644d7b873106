/*
 * The engine's HTTP side: GET /healthz (is the writer committing, are we
 * accepting) and GET /metrics (Prometheus text of the counters), on the
 * event loop's thread, read-only, served by the bounded listener of
 * http.c.
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
#include "server-int.h"
#include "gateway.h"
#include "limits.h"
#include "settle.h"
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

/* The settlement thread's counters. */
static void
metrics_settle(struct evbuffer *b, struct settle *settle)
{
	struct settle_stats st;

	settle_get_stats(settle, &st);
	evbuffer_add_printf(b,
	    "# HELP onecity_settlements_total Acquirer outcomes.\n"
	    "# TYPE onecity_settlements_total counter\n"
	    "onecity_settlements_total{outcome=\"approved\"} %llu\n"
	    "onecity_settlements_total{outcome=\"declined\"} %llu\n"
	    "onecity_settlements_total{outcome=\"recovered\"} %llu\n"
	    "onecity_settlements_total{outcome=\"unanswered\"} %llu\n"
	    "# TYPE onecity_settled_cents_total counter\n"
	    "onecity_settled_cents_total{kind=\"captured\"} %lld\n"
	    "onecity_settled_cents_total{kind=\"refunded\"} %lld\n"
	    "# TYPE onecity_acquirer_up gauge\n"
	    "onecity_acquirer_up %d\n",
	    (unsigned long long)st.approved, (unsigned long long)st.declined,
	    (unsigned long long)st.recovered, (unsigned long long)st.failures,
	    (long long)st.captured_cents, (long long)st.refunded_cents,
	    st.acquirer_ok);
}

/* The HTTP listener's own counters. */
static void
metrics_http(struct evbuffer *b, const struct http_server *h)
{
	struct http_stats st;

	http_get_stats(h, &st);
	evbuffer_add_printf(b,
	    "# HELP onecity_http_connections Open HTTP connections.\n"
	    "# TYPE onecity_http_connections gauge\n"
	    "onecity_http_connections %ld\n"
	    "# HELP onecity_http_refused_total Requests the HTTP listener "
	    "refused itself (method, size, malformed, unknown path).\n"
	    "# TYPE onecity_http_refused_total counter\n"
	    "onecity_http_refused_total %llu\n"
	    "# HELP onecity_http_closed_total HTTP connections closed by "
	    "the listener: timed out, or evicted at the connection cap.\n"
	    "# TYPE onecity_http_closed_total counter\n"
	    "onecity_http_closed_total{why=\"timeout\"} %llu\n"
	    "onecity_http_closed_total{why=\"evicted\"} %llu\n",
	    st.connections, (unsigned long long)st.refused,
	    (unsigned long long)st.timeouts, (unsigned long long)st.evicted);
}

/* Prometheus text exposition of the engine's counters. */
static void
metrics_cb(const struct http_request *req, struct http_response *r, void *arg)
{
	struct server *s = arg;
	struct evbuffer *b = r->body;
	struct writer_stats ws;

	(void)req;
	writer_get_stats(s->writer, &ws);
	r->content_type = "text/plain; version=0.0.4";
	evbuffer_add_printf(b,
	    "# HELP onecity_commit_seconds Batch commit time (store+fsync).\n"
	    "# TYPE onecity_commit_seconds summary\n"
	    "onecity_commit_seconds_count %llu\n"
	    "onecity_commit_seconds_sum %.6f\n"
	    "# TYPE onecity_commit_seconds_max gauge\n"
	    "onecity_commit_seconds_max %.6f\n",
	    (unsigned long long)ws.batches, (double)ws.commit_us / 1e6,
	    (double)ws.commit_us_max / 1e6);
	if (s->settle != NULL)
		metrics_settle(b, s->settle);
	evbuffer_add_printf(b,
	    "# HELP onecity_batch_seconds Batch time by phase: storing the "
	    "taps, pricing and posting their accounts, and the COMMIT.\n"
	    "# TYPE onecity_batch_seconds counter\n"
	    "onecity_batch_seconds{phase=\"store\"} %.6f\n"
	    "onecity_batch_seconds{phase=\"price\"} %.6f\n"
	    "onecity_batch_seconds{phase=\"commit\"} %.6f\n"
	    "# HELP onecity_rows_written_total Database rows the writer "
	    "inserted, updated or deleted (taps, results, ledger).\n"
	    "# TYPE onecity_rows_written_total counter\n"
	    "onecity_rows_written_total %llu\n"
	    "# HELP onecity_taps_read_total Stored taps read back to "
	    "reprice accounts (SPEC 6: only their open window).\n"
	    "# TYPE onecity_taps_read_total counter\n"
	    "onecity_taps_read_total %llu\n",
	    (double)ws.store_us / 1e6, (double)ws.price_us / 1e6,
	    (double)ws.sync_us / 1e6, (unsigned long long)ws.rows_written,
	    (unsigned long long)ws.taps_read);
	evbuffer_add_printf(b,
	    "# HELP onecity_account_cache_total The writer's account cache: "
	    "repricing reads it served, those read from SQLite, evictions.\n"
	    "# TYPE onecity_account_cache_total counter\n"
	    "onecity_account_cache_total{outcome=\"hit\"} %llu\n"
	    "onecity_account_cache_total{outcome=\"miss\"} %llu\n"
	    "onecity_account_cache_total{outcome=\"evicted\"} %llu\n"
	    "# TYPE onecity_account_cache_accounts gauge\n"
	    "onecity_account_cache_accounts %llu\n"
	    "# TYPE onecity_account_cache_taps gauge\n"
	    "onecity_account_cache_taps %llu\n",
	    (unsigned long long)ws.cache_hits,
	    (unsigned long long)ws.cache_misses,
	    (unsigned long long)ws.cache_evictions,
	    (unsigned long long)ws.cache_accounts,
	    (unsigned long long)ws.cache_taps);
	evbuffer_add_printf(b,
	    "# HELP onecity_taps_received_total Tap frames received.\n"
	    "# TYPE onecity_taps_received_total counter\n"
	    "onecity_taps_received_total %llu\n"
	    "# TYPE onecity_taps_acked_total counter\n"
	    "onecity_taps_acked_total %llu\n"
	    "# TYPE onecity_taps_refused_total counter\n"
	    "onecity_taps_refused_total %llu\n"
	    "# TYPE onecity_frames_broken_total counter\n"
	    "onecity_frames_broken_total %llu\n"
	    "# TYPE onecity_taps_committed_total counter\n"
	    "onecity_taps_committed_total %llu\n"
	    "# TYPE onecity_connections gauge\n"
	    "onecity_connections %ld\n"
	    "# TYPE onecity_connections_accepted_total counter\n"
	    "onecity_connections_accepted_total %llu\n"
	    "# TYPE onecity_journal_queue gauge\n"
	    "onecity_journal_queue %zu\n",
	    (unsigned long long)s->n_taps, (unsigned long long)s->n_acked,
	    (unsigned long long)s->n_refused, (unsigned long long)s->n_broken,
	    (unsigned long long)ws.committed, s->nconns,
	    (unsigned long long)s->n_accepted_conns,
	    writer_queued(s->writer));
	metrics_http(b, s->http);
}

int
server_http_start(struct server *s, char *err, size_t errlen)
{
	struct http_limits lim = http_limits_default();

	if ((s->http = http_listen(s->base, "http", s->cfg->http, &lim, err,
	    errlen)) == NULL)
		return -1;
	if (http_route(s->http, "/healthz", healthz_cb, s) == -1 ||
	    http_route(s->http, "/metrics", metrics_cb, s) == -1) {
		snprintf(err, errlen, "http: cannot add a route");
		return -1;
	}
	return 0;
}
