/*
 * The service's internals, shared by server.c (validators, signals) and
 * server-http.c (/healthz, /metrics), as SQLite pairs btree.h with
 * btreeInt.h.  Nothing outside engine/server*.c and engine/metrics.c
 * (the /metrics exposition) includes it.
 */
#ifndef ONECITY_SERVER_INT_H
#define ONECITY_SERVER_INT_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/listener.h>

#include <sqlite3.h>

#include "journal.h"
#include "server.h"
#include "web-http.h"

struct terminal {
	struct server		*srv;
	struct tls_conn		*conn;
	uint32_t		 slot, gen;
	char			 device_id[65];
	unsigned		 inflight;
	int			 paused;
	struct event		*deadline;	/* handshake must finish by it */
	int			 extensions;	/* of the deadline, peer spoke */
};

struct server {
	const struct server_config *cfg;
	struct event_base	*base;
	struct tariff		*tariff;	/* this thread's copy */
	struct tap_tokenizer	*tk;
	struct tls_ctx		*tls;
	struct evconnlistener	*listener;
	struct event		*listener_retry;
	struct http_server	*http;		/* /healthz, /metrics, dashboard */
	struct http_server	*web_http;	/* the riders' port */
	struct web		*web;		/* the pages, both ports */
	struct web_http		 web_op, web_pub;
	struct writer		*writer;
	struct gateway		*gw;		/* gateway mode: taps go to
						 * JetStream, not writer */
	struct settle		*settle;
	struct terminal		**slot;
	uint32_t		*gen;
	long			 nslots, nconns;
	long			 max_conns;	/* max_connections, or less
						 * to fit RLIMIT_NOFILE */
	int			 accepting;
	uint64_t		 accept_failed_us; /* last EMFILE (clock.h) */
	int			 queue_full;
	struct event		*sig[4];
	struct event		*tick;		/* housekeeping, each second */
	struct event		*drain;		/* shutting down: wait for acks */
	int			 draining, drain_turns;
	sqlite3			*ro;		/* read-only: the deny list */
	int64_t			 deny_last;	/* last deny_log id pushed */
	int64_t			 crl_warned_s;	/* last CRL warning logged */
	/* Counters for /metrics. */
	uint64_t		 n_taps, n_acked, n_refused, n_broken;
	uint64_t		 n_accepted_conns, n_closed_conns;
	uint64_t		 n_refused_by[REFUSAL_MAX];
	struct metrics		*metrics;	/* NULL without --http */
	int32_t			 metrics_day;	/* the day it was last told */
	int64_t			 metrics_start, metrics_end;
};

/* Serves /healthz, /metrics and the dashboard on cfg->http, and the
 * rider pages on cfg->web; -1 with err on failure. */
int	server_http_start(struct server *, char *err, size_t errlen);
void	server_http_stop(struct server *);

#endif
