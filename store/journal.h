/*
 * The journal: the engine's SQLite database (WAL, synchronous=FULL by
 * default) and the tables of what validators sent: taps, cards (a token
 * and the least PAR it showed) and refused taps, with their views.  It
 * owns the connection the other store modules (charges, settlement, deny,
 * ledger) add their tables to; the engine's writer thread drives it.
 */
#ifndef ONECITY_JOURNAL_H
#define ONECITY_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

/*
 * Why a tap was refused (SPEC: the R frame's reason and refused.reason
 * are the names).  REFUSAL_STORE and REFUSAL_NOT_COMMITTED are the
 * engine's own failures: the first aborts the batch, the second is never
 * sent (the validator resends).
 */
enum refusal {
	REFUSAL_NONE,			/* stored, or a stored tap resent */
	REFUSAL_BAD_FIELDS,
	REFUSAL_WRONG_DEVICE,
	REFUSAL_BAD_TIME,
	REFUSAL_BAD_PAN,
	REFUSAL_BAD_PAR,
	REFUSAL_UNKNOWN_NETWORK,
	REFUSAL_UNKNOWN_STOP,
	REFUSAL_BAD_KIND,
	REFUSAL_FUTURE,
	REFUSAL_TOO_OLD,
	REFUSAL_DENIED_AT_GATE,		/* kept: the card is back: its debt */
	REFUSAL_FLOOD,
	REFUSAL_CONFLICTING_RESEND,
	REFUSAL_STORE,
	REFUSAL_NOT_COMMITTED,
	REFUSAL_MOVED,			/* cluster: not a tap but an order to
					 * forget the card's taps (token; par
					 * is where they went): moves.h */
	REFUSAL_PAR_CONFLICT,		/* cluster: a card's lesser PAR whose
					 * shard is not its first PAR's
					 * (gateway.c, tap_account) */
	REFUSAL_MAX
};

const char	*refusal_name(enum refusal);

/* A tap (or a refusal) as the validator sent it, checked. */
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
	enum refusal	 refuse;	/* REFUSAL_NONE to store */
	char		 detail[160];
	/* What a refusal knows of the tap ("" / 0 where not known):
	 * whether time_utc parsed, the account and its service day. */
	uint8_t		 has_time;
	char		 account[80];
	char		 service_day[11];
};

struct journal;

/* Opens (creating the tables and views); cache_kib is SQLite's page cache. */
struct journal	*journal_open(const char *path, int synchronous_full,
		    int cache_kib, char *err, size_t errlen);
/* Opens an existing database read-only (audit): no schema, no writes. */
struct journal	*journal_open_ro(const char *path, char *err, size_t errlen);
void		 journal_close(struct journal *);
/* The connection, for the store modules that keep their tables in it. */
sqlite3		*journal_db(struct journal *);
int		 journal_exec(struct journal *, const char *sql);

/* Stores a tap: REFUSAL_NONE when stored or resent alike, or why not. */
enum refusal	 journal_store_tap(struct journal *, const struct jtap *);
/* The same without the count of the card's taps in the 24 hours up to
 * the tap's time (REFUSAL_FLOOD): for a card the caller knows holds fewer
 * than LIMIT_CARD_TAPS_PER_DAY taps (ISSUE 14: one query less a tap). */
enum refusal	 journal_store_tap_below_flood(struct journal *,
		    const struct jtap *);
int		 journal_store_refused(struct journal *, const struct jtap *,
		    enum refusal);
/*
 * Records the card's token and PAR (the least PAR it ever showed); a tap
 * without a PAR writes nothing (no row: the card's account is its token's,
 * ISSUE 14: one row and two index pages less for each new card).
 */
int		 journal_update_card(struct journal *, const struct jtap *);
/* The account key of a card: par:<least PAR> or tok:<token>. */
void		 journal_card_account(struct journal *, const char *token,
		    char *out, size_t len);
/*
 * The same, and whether the card has no tap stored (*fresh 1, else 0):
 * a card with neither a PAR nor a tap is an account with no history
 * (no taps, so no stored days either), which the writer prices without
 * reading anything back (ISSUE 14).  One statement, two index seeks.
 */
void		 journal_card_state(struct journal *, const char *token,
		    char *out, size_t len, int *fresh);

/* One stored tap of an account, in time order. */
struct journal_tap {
	int64_t		 time_utc;
	const char	*network_id, *stop_id;
	int		 out;		/* 1 check-out, 0 check-in */
};

/*
 * Calls fn for each tap of an account (par:... or tok:...) at or after
 * since (UTC seconds; INT64_MIN for all), in time order, through the
 * index on (token, time_utc); stops at the first fn that returns -1.
 * Returns -1 then, or on an SQLite error.
 */
int		 journal_account_taps(struct journal *, const char *account,
		    int64_t since, int (*fn)(const struct journal_tap *, void *),
		    void *arg);
/* Whether the account has a tap before `before` (UTC seconds): 1 or 0,
 * -1 on an SQLite error. */
int		 journal_account_has_taps_before(struct journal *,
		    const char *account, int64_t before);
/*
 * Gaps in each validator's sequence numbers (SPEC §6: a deleted tap leaves
 * one), over stored and refused taps: fn(device_id, gaps, numbers
 * missing, the number before the first gap) per validator with a gap of
 * at most JOURNAL_SEQ_JUMP numbers, in device order.  Numbers before a
 * validator's first tap are not gaps.  A longer skip is a validator that
 * renumbered (a replaced device; the simulator starts each day at
 * date x 10^6), not taps deleted: *jumps counts them.  0, or -1 on an
 * SQLite error.
 */
#define JOURNAL_SEQ_JUMP	100000	/* > a validator's taps in a week */
int		 journal_seq_gaps(sqlite3 *, int (*fn)(const char *device_id,
		    int64_t gaps, int64_t missing, int64_t first_after,
		    void *), void *arg, int64_t *jumps);
/* Rows inserted, updated or deleted on the connection so far. */
int64_t		 journal_changes(struct journal *);

#endif
