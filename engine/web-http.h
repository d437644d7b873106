/* The web handlers on an HTTP listener (web-http.c). */
#ifndef ONECITY_WEB_HTTP_H
#define ONECITY_WEB_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "web.h"

struct event_base;
struct evhttp;

/* A request head's bytes (request line and headers), and seconds a
 * connection may stay idle or half-sent. */
#define WEB_HTTP_HEAD_MAX	8192
#define WEB_HTTP_TIMEOUT_S	10

/* What a listener answers with: the handlers, which pages, the tariff
 * (through a pointer: serve replaces it on SIGHUP) and the engine
 * clock's offset from the system clock. */
struct web_http {
	struct web		*web;
	unsigned		 sides;
	struct tariff *const	*tariff;
	int64_t			 clock_offset_s;
};

/* Routes every path that no other callback takes to the handlers. */
void	web_http_attach(struct evhttp *, struct web_http *);
/* A new listener on HOST:PORT serving h; NULL with err. */
struct evhttp *web_http_listen(struct event_base *, const char *hostport,
	    struct web_http *, char *err, size_t errlen);

#endif
