/*
 * /metrics: the engine's metrics in Prometheus's text format (version
 * 0.0.4), every family with HELP and TYPE, counters ending in _total, units
 * in the names.  Counters of the threads are read when scraped; what needs
 * the database (taps and revenue per network of the current service day,
 * validators last seen, the settlement backlog, refunds pending for more
 * than a day) is gathered by a thread of its own on a read-only connection
 * every refresh_s seconds, so that a scrape never waits on SQLite.
 */
#ifndef ONECITY_METRICS_H
#define ONECITY_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>

struct metrics;
struct server;

struct writer;

/*
 * Starts the refresh thread on db (read-only), fed by w with the
 * validators of what it commits (NULL: each refresh scans the taps);
 * NULL with err.
 */
struct metrics *metrics_start(
    const char *db, struct writer *w, int refresh_s, char *err, size_t errlen);
/* Stops the thread (bounded by one refresh) and closes its connection. */
void metrics_stop(struct metrics *);
/* The current service day (days since the epoch) and its UTC bounds
 * [start_utc, end_utc), from the event loop's tick. */
void metrics_set_day(struct metrics *, int32_t day, int64_t start_utc,
    int64_t end_utc, int64_t now);
/* The whole exposition of s into b. */
void metrics_write(struct server *s, struct evbuffer *b);

#endif
