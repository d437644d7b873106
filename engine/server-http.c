/*
 * The engine's HTTP side: GET /healthz (is the writer committing, are we
 * accepting) and GET /metrics (metrics.c), on the event loop's thread,
 * read-only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "metrics.h"
#include "server-int.h"
#include "writer.h"

static void
healthz_cb(struct evhttp_request *req, void *arg)
{
	struct server *s = arg;
	struct evbuffer *b = evbuffer_new();
	struct writer_stats ws;
	char why[256];
	const char *bad = writer_health(s->writer, why, sizeof why);

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
	    "\"connections\":%ld,\"committed\":%llu,\"queued\":%zu%s%s%s}\n",
	    bad ? "failing" : "ok", s->accepting ? "true" : "false",
	    s->nconns, (unsigned long long)ws.committed,
	    writer_queued(s->writer), bad ? ",\"reason\":\"journal: " : "",
	    bad ? why : "", bad ? "\"" : "");
	evhttp_send_reply(req, bad ? 503 : 200, bad ? "Failing" : "OK", b);
	evbuffer_free(b);
}

/* Prometheus text exposition (metrics.c). */
static void
metrics_cb(struct evhttp_request *req, void *arg)
{
	struct server *s = arg;
	struct evbuffer *b = evbuffer_new();

	if (b == NULL) {
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	metrics_write(s, b);
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
