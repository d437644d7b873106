/*
 * The writer: the one thread that writes the engine's database (store/),
 * with its queue, group commit and health.  The event loop hands taps
 * over with writer_submit() and gets results back through a callback on
 * its own thread, each after its batch has committed; each batch also
 * reprices the accounts it touched (fare/) and posts to the ledger.
 */
#ifndef ONECITY_WRITER_H
#define ONECITY_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "journal.h"
#include "tariff.h"
#include "tariff-version.h"

struct writer;

struct jresult {
	uint64_t	 conn_id, seq;
	enum refusal	 refused;	/* REFUSAL_NONE: acknowledged */
	int64_t		 leg_fare_cents, day_charge_cents, day_cap_cents;
};

typedef void	(*writer_done_fn)(const struct jresult *, size_t n, void *arg);

struct writer_opts {
	const char	*path;
	int		 synchronous_full;	/* 1: FULL, 0: NORMAL */
	int64_t		 clock_offset_s;	/* engine clock = now + this */
	int64_t		 debt_tap_gap_s;	/* a tap retries a debt at most
						 * this often */
	int64_t		 close_grace_s;		/* a service day closes this
						 * long after its end */
	size_t		 account_cache;		/* accounts kept in memory
						 * (ACCOUNT_CACHE_ACCOUNTS at
						 * most; 0: none) */
	/* Signed checkpoints at every day close (SPEC §6), appended to
	 * checkpoint_file; NULL: none.  The writer owns the key after
	 * writer_open succeeds. */
	struct checkpoint_key *ledger_key;
	const char	*checkpoint_file;
};

/*
 * Opens the database (creating the schema and views), records the tariff
 * version (its files, read when the tariff was loaded), starts the
 * thread.  The writer owns the tariff and the files after it succeeds.
 */
struct writer	*writer_open(const struct writer_opts *, struct tariff *,
		    struct tariff_files *, struct event_base *,
		    writer_done_fn, void *arg, char *err, size_t errlen);
/* Stops the writer after it has committed everything queued. */
void		 writer_close(struct writer *);
/* Queues a tap; -1 when the queue is full (apply back-pressure). */
int		 writer_submit(struct writer *, const struct jtap *);
size_t		 writer_queued(struct writer *);
/*
 * Swaps the tariff (SIGHUP) and its files (a new version is recorded
 * before anything is priced with it); the old ones are freed by the
 * writer.
 */
void		 writer_set_tariff(struct writer *, struct tariff *,
		    struct tariff_files *);
/* Health: NULL when fine, else why the writer is failing. */
const char	*writer_health(struct writer *, char *buf, size_t len);
/* Batches, their commit latency and where their time went. */
struct writer_stats {
	uint64_t	 committed;			/* taps */
	uint64_t	 batches, commit_us, commit_us_max;
	uint64_t	 store_us, price_us, sync_us;	/* the three phases */
	uint64_t	 rows_written;	/* rows inserted, updated, deleted */
	uint64_t	 wal_pages;	/* pages tap batches' commits wrote */
	uint64_t	 taps_read;	/* stored taps read back to reprice */
	/* The account cache: lookups it served and those read from SQLite,
	 * accounts evicted, and what it holds now. */
	uint64_t	 cache_hits, cache_misses, cache_evictions;
	uint64_t	 cache_accounts, cache_taps;
};
void		 writer_get_stats(struct writer *, struct writer_stats *);
/*
 * The validators whose taps the writer committed since the last call (the
 * metrics thread's feed, engine/metrics.c): fn(device_id, its latest
 * received_utc) for each, then forgotten.  Returns 1 when more validators
 * tapped meanwhile than the writer keeps (WRITER_SEEN_DEVICES): some were
 * not passed on and the caller reads them from the database; else 0.
 */
int		 writer_take_seen(struct writer *, void (*fn)(const char *id,
		    size_t len, int64_t received_utc, void *arg), void *arg);
/* The engine clock. */
int64_t		 writer_now(const struct writer *);
/* The service day (YYYY-MM-DD) of a UTC time, under the current tariff. */
void		 writer_service_day(struct writer *, int64_t utc, char out[11]);

#endif
