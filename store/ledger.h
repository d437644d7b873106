/*
 * The ledger (SPEC §6): balanced, append-only, hash-chained double entry
 * in the engine's database.  Live pricing posts the difference between an
 * account-day's new charge and shares and what was posted before, so the
 * postings for an account-day always equal its current charge, and each
 * operator's revenue its share.
 */
#ifndef ONECITY_LEDGER_H
#define ONECITY_LEDGER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <sqlite3.h>

/* The reasons of the entries that post charges and shares (SQL list). */
#define LEDGER_PRICING_REASONS \
	"'pricing', 'reversal', 'close', 'adjustment'"

struct ledger;

/* Creates the tables, triggers and v_ledger; prepares statements. */
struct ledger	*ledger_open(sqlite3 *, char *err, size_t errlen);
void		 ledger_close(struct ledger *);

struct ledger_share {
	const char	*network_id;
	int64_t		 cents;
};

/*
 * Posts what changed for one account-day (inside the caller's
 * transaction): 0 when nothing changed or the posting is written.
 */
int		 ledger_post_day(struct ledger *, const char *account,
		    const char *service_day, int64_t charge_cents,
		    const struct ledger_share *, size_t nshares,
		    int64_t now, const char *reason);

/*
 * Moves cents from one ledger account to another as one balanced
 * transaction (inside the caller's transaction): debit +cents, credit
 * -cents.  Settlement uses it.
 */
int		 ledger_move(struct ledger *, const char *debit,
		    const char *credit, int64_t cents, const char *day,
		    const char *rider, int64_t now, const char *reason);

/*
 * The chain's rule: SHA-256, as 64 lowercase hex digits, over
 * "<prev>|<entry_id>|<txn_id>|<posted_utc>|<ledger_account>|<amount_cents>|
 * <service_day>|<rider_account>|<reason>" (one line, no spaces added;
 * integers in decimal), prev being the previous entry's hash or "genesis"
 * for entry 1.  Public so that anyone can recompute the chain: the chain
 * proves order and integrity only together with signed checkpoints.
 */
void		 ledger_entry_hash(const char *prev, int64_t id, int64_t txn,
		    int64_t posted, const char *acct, int64_t amount,
		    const char *day, const char *rider, const char *reason,
		    char out[65]);

/*
 * Checks a database: every transaction sums to 0, the hash chain is
 * intact, entries are numbered without gaps, postings equal charges
 * and shares, and money collected and owed equals the settlements and
 * debts.  Prints each problem to out; returns how many.
 */
size_t		 ledger_verify(sqlite3 *, FILE *out);

#endif
