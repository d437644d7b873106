/*
 * The web handlers (web.h) on an HTTP listener: a request becomes a
 * struct web_request, the reply a status, headers and body.  Used by
 * serve (the operator port and the public web port) and by `fare-engine
 * web`.  GET and HEAD only, small heads, no bodies, an idle timeout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "web-http.h"

static void
web_http_cb(struct evhttp_request *req, void *arg)
{
	struct web_http *h = arg;
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	struct web_request q = {"GET", "/", NULL, "", NULL};
	struct web_reply r;
	struct evbuffer *b;
	char *peer = NULL, ra[16], timing[64];
	ev_uint16_t port;
	size_t i;

	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_GET:
		break;
	case EVHTTP_REQ_HEAD:
		q.method = "HEAD";
		break;
	default:	/* read-only: GET and HEAD alone (RFC 9110 15.5.6) */
		evhttp_add_header(out, "Allow", "GET, HEAD");
		evhttp_send_error(req, 405, "Method Not Allowed");
		return;
	}
	if (u != NULL && evhttp_uri_get_path(u) != NULL &&
	    *evhttp_uri_get_path(u) != '\0')
		q.path = evhttp_uri_get_path(u);
	q.query = u != NULL ? evhttp_uri_get_query(u) : NULL;
	if (conn != NULL)
		evhttp_connection_get_peer(conn, &peer, &port);
	q.client = peer != NULL ? peer : "";
	q.accept_language = evhttp_find_header(
	    evhttp_request_get_input_headers(req), "Accept-Language");
	web_handle(h->web, h->sides, *h->tariff, &q,
	    (int64_t)time(NULL) + h->clock_offset_s, &r);
	for (i = 0; web_headers[i][0] != NULL; i++)
		evhttp_add_header(out, web_headers[i][0], web_headers[i][1]);
	evhttp_add_header(out, "Content-Type", r.content_type);
	evhttp_add_header(out, "Cache-Control", r.cache_control);
	if (r.retry_after_s > 0) {
		snprintf(ra, sizeof ra, "%d", r.retry_after_s);
		evhttp_add_header(out, "Retry-After", ra);
	}
	snprintf(timing, sizeof timing, "app;dur=%.2f, cpu;dur=%.2f",
	    r.server_ms, r.cpu_ms);
	evhttp_add_header(out, "Server-Timing", timing);
	if ((b = evbuffer_new()) == NULL) {
		buf_free(&r.body);
		evhttp_send_error(req, 503, "out of memory");
		return;
	}
	evbuffer_add(b, r.body.p, r.body.len);
	buf_free(&r.body);
	evhttp_send_reply(req, r.status, NULL, b);
	evbuffer_free(b);
}

void
web_http_attach(struct evhttp *http, struct web_http *h)
{
	/* Every method reaches the callback, which answers 405 to all but
	 * GET and HEAD (libevent itself would answer 501). */
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
	    EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT |
	    EVHTTP_REQ_PATCH);
	evhttp_set_max_headers_size(http, WEB_HTTP_HEAD_MAX);
	evhttp_set_max_body_size(http, 0);
	evhttp_set_timeout(http, WEB_HTTP_TIMEOUT_S);
	evhttp_set_gencb(http, web_http_cb, h);
}

struct evhttp *
web_http_listen(struct event_base *base, const char *hostport,
    struct web_http *h, char *err, size_t errlen)
{
	const char *colon = strrchr(hostport, ':');
	struct evhttp *http;
	char host[128];
	long port;
	char *end;

	if (colon == NULL || (size_t)(colon - hostport) >= sizeof host ||
	    (port = strtol(colon + 1, &end, 10)) < 1 || port > 65535 ||
	    *end != '\0') {
		snprintf(err, errlen, "%s: not HOST:PORT", hostport);
		return NULL;
	}
	memcpy(host, hostport, (size_t)(colon - hostport));
	host[colon - hostport] = '\0';
	if ((http = evhttp_new(base)) == NULL ||
	    evhttp_bind_socket(http, host, (uint16_t)port) != 0) {
		snprintf(err, errlen, "cannot serve HTTP on %s", hostport);
		if (http != NULL)
			evhttp_free(http);
		return NULL;
	}
	web_http_attach(http, h);
	return http;
}
