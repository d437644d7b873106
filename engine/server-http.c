/*
 * The engine's HTTP side: GET /healthz (is the writer committing, are we
 * accepting) and GET /metrics (Prometheus text of the counters), on the
 * event loop's thread, read-only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "server-int.h"
#include "gateway.h"
#include "settle.h"
#include "writer.h"

static void
healthz_cb(struct evhttp_request *req, void *arg)
{
	struct server *s = arg;
	struct evbuffer *b = evbuffer_new();
	struct writer_stats ws;
	char why[256];
	const char *bad = writer_health(s->writer, why, sizeof why);
	const char *what = "journal";

	/* Gateway mode: JetStream not acknowledging is what matters. */
	if (bad == NULL && s->gw != NULL &&
	    (bad = gateway_health(s->gw, why, sizeof why)) != NULL)
		what = "jetstream";

	if (b == NULL) {
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/json");
	if (bad != NULL) {	/* SQLite's words: no quotes, but be sure */
		char *p;
		for (p = why; *p; p++)
			if (*p == '"' || *p == '\\' || (unsigned char)*p < 32)
				*p = ' ';
	}
	writer_get_stats(s->writer, &ws);
	evbuffer_add_printf(b, "{\"status\":\"%s\",\"accepting\":%s,"
	    "\"connections\":%ld,\"committed\":%llu,\"queued\":%zu%s%s%s%s%s}\n",
	    bad ? "failing" : "ok", s->accepting ? "true" : "false",
	    s->nconns, (unsigned long long)ws.committed,
	    writer_queued(s->writer) + (s->gw != NULL ?
	    gateway_queued(s->gw) : 0), bad ? ",\"reason\":\"" : "",
	    bad ? what : "", bad ? ": " : "", bad ? why : "", bad ? "\"" :
	    "");
	evhttp_send_reply(req, bad ? 503 : 200, bad ? "Failing" : "OK", b);
	evbuffer_free(b);
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

/* Prometheus text exposition of the engine's counters. */
static void
metrics_cb(struct evhttp_request *req, void *arg)
{
	struct server *s = arg;
	struct evbuffer *b = evbuffer_new();
	struct writer_stats ws;

	if (b == NULL) {
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	writer_get_stats(s->writer, &ws);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain; version=0.0.4");
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
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

int
server_http_start(struct server *s, char *err, size_t errlen)
{
	const char *http = s->cfg->http, *colon = strrchr(http, ':');
	char host[128];

	if (colon == NULL || (size_t)(colon - http) >= sizeof host) {
		snprintf(err, errlen, "--http %s: not HOST:PORT", http);
		return -1;
	}
	memcpy(host, http, (size_t)(colon - http));
	host[colon - http] = '\0';
	if ((s->http = evhttp_new(s->base)) == NULL ||
	    evhttp_bind_socket(s->http, host, (uint16_t)atoi(colon + 1)) !=
	    0) {
		snprintf(err, errlen, "cannot serve HTTP on %s", http);
		return -1;
	}
	evhttp_set_cb(s->http, "/healthz", healthz_cb, s);
	evhttp_set_cb(s->http, "/metrics", metrics_cb, s);
	return 0;
}
