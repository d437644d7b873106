/*
 * The web handlers (web.h) on the engine's bounded HTTP listener
 * (http.h: GET and HEAD only, heads and bodies capped, idle timeout,
 * connection cap): a request becomes a struct web_request, the reply a
 * status, headers and body.  Used by serve (the operator port and the
 * public web port) and by `fare-engine web`.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include "http.h"
#include "web-http.h"

static void
web_http_cb(const struct http_request *rq, struct http_response *rs,
    void *arg)
{
	struct web_http *h = arg;
	const struct http_head *hd = rq->head;
	struct web_request q = {hd->method == HTTP_HEAD ? "HEAD" : "GET",
	    hd->path, hd->query[0] != '\0' ? hd->query : NULL,
	    rq->peer != NULL ? rq->peer : "",
	    http_head_get(hd, "Accept-Language")};
	struct web_reply r;
	char ra[16], timing[64];
	size_t i;

	web_handle(h->web, h->sides, *h->tariff, &q,
	    (int64_t)time(NULL) + h->clock_offset_s, &r);
	rs->status = r.status;
	rs->content_type = r.content_type;
	rs->cache_control = r.cache_control;
	for (i = 0; web_headers[i][0] != NULL; i++)
		http_response_header(rs, web_headers[i][0], web_headers[i][1]);
	if (r.retry_after_s > 0) {
		snprintf(ra, sizeof ra, "%d", r.retry_after_s);
		http_response_header(rs, "Retry-After", ra);
	}
	/* Not on the public rider port: there it would time each lookup
	 * for whoever asks (a well-formed reference against a malformed
	 * one) and show the engine's load. */
	if (h->sides & WEB_OPERATOR) {
		snprintf(timing, sizeof timing, "app;dur=%.2f, cpu;dur=%.2f",
		    r.server_ms, r.cpu_ms);
		http_response_header(rs, "Server-Timing", timing);
	}
	if (evbuffer_add(rs->body, r.body.p, r.body.len) == -1)
		rs->status = 503;
	buf_free(&r.body);
}

int
web_http_route(struct http_server *srv, struct web_http *h)
{
	/* The handlers' paths (web.c); the listener answers 404 to others. */
	static const char *const paths[] = {"/", "/trips", "/api/",
	    "/static/", "/favicon.ico"};
	size_t i;

	for (i = 0; i < sizeof paths / sizeof paths[0]; i++)
		if (http_route(srv, paths[i], web_http_cb, h) == -1)
			return -1;
	return 0;
}

struct http_server *
web_http_listen(struct event_base *base, const char *name,
    const char *hostport, struct web_http *h, char *err, size_t errlen)
{
	struct http_limits lim = http_limits_default();
	struct http_server *srv;

	if ((srv = http_listen(base, name, hostport, &lim, err,
	    errlen)) == NULL)
		return NULL;
	if (web_http_route(srv, h) == -1) {
		snprintf(err, errlen, "%s: cannot add a route", name);
		http_free(srv);
		return NULL;
	}
	return srv;
}
