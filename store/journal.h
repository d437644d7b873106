/*
 * The journal: the engine's SQLite database (WAL, synchronous=FULL by
 * default), its writer thread with group commit, and live pricing of the
 * accounts each batch touches.  The event loop hands taps over with
 * journal_submit() and gets results back through a callback on its own
 * thread, each after its batch has committed.
 */
#ifndef ONECITY_JOURNAL_H
#define ONECITY_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "tariff.h"

struct journal;

/* A tap (or a refusal) for the writer. */
struct jtap {
	uint64_t	 conn_id, seq;
	char		 tap_id[140];
	char		 device_id[65];
	int64_t		 time_utc, received_utc;
	char		 token[33];
	char		 par[30];
	char		 network_id[129];	/* text: tariffs may be swapped */
	char		 stop_id[129];
	uint8_t		 kind;
	const char	*refuse;	/* reason code, or NULL to store */
	char		 detail[160];
};

struct jresult {
	uint64_t	 conn_id, seq;
	const char	*refused;	/* NULL: acknowledged */
	int64_t		 leg_fare_cents, day_charge_cents;
};

typedef void	(*journal_done_fn)(const struct jresult *, size_t n, void *arg);

struct journal_opts {
	const char	*path;
	int		 synchronous_full;	/* 1: FULL, 0: NORMAL */
	int64_t		 clock_offset_s;	/* engine clock = now + this */
	int64_t		 debt_tap_gap_s;	/* a tap retries a debt at most
						 * this often */
};

/* Opens (creating the schema and views) and starts the writer thread. */
struct journal	*journal_open(const struct journal_opts *, struct tariff *,
		    struct event_base *, journal_done_fn, void *arg,
		    char *err, size_t errlen);
/* Stops the writer after it has committed everything queued. */
void		 journal_close(struct journal *);
/* Queues a tap; -1 when the queue is full (apply back-pressure). */
int		 journal_submit(struct journal *, const struct jtap *);
size_t		 journal_queued(struct journal *);
/* Swaps the tariff (SIGHUP); the old one is freed by the writer. */
void		 journal_set_tariff(struct journal *, struct tariff *);
/* Health: NULL when fine, else why the writer is failing. */
const char	*journal_health(struct journal *, char *buf, size_t len);
uint64_t	 journal_committed(struct journal *);
/* Commit latency: batches, total and worst microseconds. */
void		 journal_commit_stats(struct journal *, uint64_t *batches,
		    uint64_t *total_us, uint64_t *max_us);
/* Where batch time went: storing taps, pricing and posting, COMMIT. */
void		 journal_batch_split(struct journal *, uint64_t *store_us,
		    uint64_t *price_us, uint64_t *sync_us);
/* The engine clock. */
int64_t		 journal_now(const struct journal *);
/* The service day (YYYY-MM-DD) of a UTC time, under the current tariff. */
void		 journal_service_day(struct journal *, int64_t utc,
		    char out[11]);

#endif
