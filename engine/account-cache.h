/*
 * The writer's account cache (SPEC §6): for each active account, its
 * taps from some time on and its stored days (digest, posted) from some
 * day on, exactly as the database holds them, so that a batch reprices
 * most accounts without reading anything back from SQLite.  Bounded in
 * accounts and in taps (limits.h); the least recently used account goes
 * first.  Only the writer thread uses it; it holds no SQLite and no clock.
 */
#ifndef ONECITY_ACCOUNT_CACHE_H
#define ONECITY_ACCOUNT_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "price.h"
#include "tap.h"

/* One stored day of an account: what the charges table holds for it. */
struct acache_day {
	int32_t		 day;		/* service day, days since 1970 */
	uint8_t		 has_digest, posted;
	int64_t		 digest;
};

struct acache_entry {
	/*
	 * Every tap of the account at or after since is in taps (UTC
	 * seconds; INT64_MIN: the whole history), in the loader's order
	 * (time, then tap id; a tie in time is never cached).
	 */
	int64_t			 since;
	struct price_tap	*taps;
	size_t			 ntaps, taps_cap;
	/* Every stored day from days_from on is in days, in day order
	 * (INT32_MIN: all of them). */
	int32_t			 days_from;
	struct acache_day	*days;
	size_t			 ndays, days_cap;
	/* The cache's own: the account, its hash chain, its LRU place. */
	char			 account[ACCOUNT_TEXT_MAX];
	struct acache_entry	*hnext, *prev, *next;
};

struct acache;

/* A cache of at most max_accounts accounts and max_taps taps in all
 * (either may be 0: nothing is cached). */
struct acache	*acache_new(size_t max_accounts, size_t max_taps);
void		 acache_free(struct acache *);
/* Forgets everything (a failed transaction, a tariff swap). */
void		 acache_clear(struct acache *);
void		 acache_drop(struct acache *, const char *account);
/* The account's entry, now the most recently used, or NULL. */
struct acache_entry *acache_get(struct acache *, const char *account);
/* The account's entry without touching its place, or NULL. */
struct acache_entry *acache_peek(struct acache *, const char *account);
/*
 * A fresh entry for the account (its old one emptied), holding taps[0..n)
 * from since and no days yet (days_from INT32_MAX); NULL when the cache
 * holds nothing or n is over its share (the account is then not cached).
 * Evicts the least recently used accounts to stay within the bounds.
 */
struct acache_entry *acache_put(struct acache *, const char *account,
		    int64_t since, const struct price_tap *taps, size_t n);
/*
 * Adds a tap just stored for the account: 0, or -1 when the entry was
 * dropped (a tie in time, whose order only the tap ids say, or no memory).
 */
int		 acache_add_tap(struct acache *, struct acache_entry *,
		    const struct price_tap *);
/* Sets the entry's stored days from days_from on to days[0..n): 0, -1
 * when the entry was dropped (no memory). */
int		 acache_set_days(struct acache *, struct acache_entry *,
		    int32_t days_from, const struct acache_day *days, size_t n);
/* The stored day in the entry, or NULL. */
struct acache_day *acache_find_day(struct acache_entry *, int32_t day);
/* Drops taps before keep_since and days before keep_day (both only ever
 * move forward). */
void		 acache_trim(struct acache *, struct acache_entry *,
		    int64_t keep_since, int32_t keep_day);
/* Accounts and taps held, and lookups that hit and missed. */
struct acache_stats {
	uint64_t	 accounts, taps, hits, misses, evictions;
};
void		 acache_get_stats(const struct acache *, struct acache_stats *);
/* Counts a lookup: hit 1 when the entry served it, 0 when the database
 * had to. */
void		 acache_count(struct acache *, int hit);

#endif
