/*
 * The web side of the engine: the rider page (/trips), the operator
 * dashboard (/) and the JSON API under /api/v1/ (docs/web-api.md), as
 * handlers: a request's method, path and query in; a status, content
 * type, caching header and body out.  The listener that carries them is
 * not here (serve's HTTP listeners, or `fare-engine web`).  Everything is
 * read-only: one SQLite connection opened read-only, queries over the
 * auditor views and the tables behind them.  Single-threaded: call from
 * one thread (the event loop's).
 */
#ifndef ONECITY_WEB_H
#define ONECITY_WEB_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "tariff.h"

/* Which pages a listener serves (bits). */
enum web_side {
	WEB_RIDER = 1,		/* /trips, /api/v1/trips: public */
	WEB_OPERATOR = 2,	/* /, /api/v1/day, /api/v1/series: private */
};

/* What only a running engine knows; web_open()'s live callback fills it. */
struct web_live {
	int		 accepting;
	long		 connections;		/* validators connected now */
	size_t		 queued;		/* taps waiting for the writer */
	uint64_t	 batches;		/* commits so far */
	double		 commit_ms_avg, commit_ms_max;
};
typedef void	(*web_live_fn)(void *arg, struct web_live *);

struct web_request {
	const char	*method;	/* "GET" or "HEAD" (the listener refuses
					 * others) */
	const char	*path;		/* without the query */
	const char	*query;		/* raw, NULL for none */
	const char	*client;	/* peer address: the rate limit's key */
	const char	*accept_language;	/* header, or NULL */
};

struct web_reply {
	int		 status;		/* HTTP status code */
	const char	*content_type;
	const char	*cache_control;
	int		 retry_after_s;		/* 0: no Retry-After header */
	double		 server_ms;		/* time spent answering */
	double		 cpu_ms;		/* of it, on the CPU */
	struct buf	 body;			/* caller frees with buf_free */
};

/*
 * Headers every answer carries, besides its own and the listener's
 * (X-Content-Type-Options: nosniff); NULL-terminated pairs: no framing,
 * no scripts or styles but ours, and no Referer (a rider's reference is
 * in the address).
 */
extern const char *const web_headers[][2];

struct web;

/*
 * Opens the database at db_path read-only.  crl_path (or NULL) is the CRL
 * whose days to expiry the dashboard shows; live (or NULL: `fare-engine
 * web` over a database) gives the running engine's figures.  default_day
 * ("YYYY-MM-DD" or NULL) is the dashboard's day when a request names
 * none; NULL: the service day of the clock.  NULL with err on failure.
 */
struct web	*web_open(const char *db_path, const char *crl_path,
		    web_live_fn live, void *live_arg, const char *default_day,
		    char *err, size_t errlen);
void		 web_close(struct web *);

/*
 * Answers one request for the pages of `sides` (bits of enum web_side),
 * priced and named with tariff t (stop names, networks, time zone) at
 * the engine's clock now (UTC seconds).  Always fills r (404 for paths
 * outside sides).
 */
void		 web_handle(struct web *, unsigned sides,
		    const struct tariff *t, const struct web_request *,
		    int64_t now, struct web_reply *r);

/* A strict "YYYY-MM-DD" into days since the epoch: 0, or -1. */
int		 web_parse_day(const char *s, int32_t *days);

#endif
