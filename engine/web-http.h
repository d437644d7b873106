/* The web handlers on the bounded HTTP listener (web-http.c, http.h). */
#ifndef ONECITY_WEB_HTTP_H
#define ONECITY_WEB_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "web.h"

struct event_base;
struct http_server;

/* What a listener answers with: the handlers, which pages, the tariff
 * (through a pointer: serve replaces it on SIGHUP) and the engine
 * clock's offset from the system clock. */
struct web_http {
	struct web		*web;
	unsigned		 sides;
	struct tariff *const	*tariff;
	int64_t			 clock_offset_s;
};

/* Routes the handlers' paths (/, /trips, /api/, /static/, /favicon.ico)
 * to them: 0, or -1 when the listener's route table is full. */
int	web_http_route(struct http_server *, struct web_http *);
/* A new listener (http_listen's limits) on HOST:PORT serving h alone;
 * name prefixes its log lines.  NULL with err. */
struct http_server *web_http_listen(struct event_base *, const char *name,
	    const char *hostport, struct web_http *, char *err,
	    size_t errlen);

#endif
