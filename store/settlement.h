/*
 * Settlement's tables (SPEC §6): settlements (every request to the
 * acquirer with its idempotency key, kind, state and result) and debts
 * (declined charges and their recovery), with v_settlements, v_debts and
 * v_charges (whose `settled` column says whether an account-day's charge
 * was collected).  Kinds and states are enums; the names are what the
 * tables and views hold.
 */
#ifndef ONECITY_SETTLEMENT_H
#define ONECITY_SETTLEMENT_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

enum settle_kind {
	SETTLE_CAPTURE,
	SETTLE_REFUND,
	SETTLE_RECOVERY,
	SETTLE_KIND_MAX
};

enum settle_state {
	SETTLE_PENDING,
	SETTLE_APPROVED,
	SETTLE_DECLINED,
	SETTLE_DEBT_ADJUSTED,
	SETTLE_STATE_MAX
};

enum debt_state {
	DEBT_OPEN,
	DEBT_RECOVERED,
	DEBT_EXHAUSTED,
	DEBT_STATE_MAX
};

const char	*settle_kind_name(enum settle_kind);
const char	*settle_state_name(enum settle_state);
const char	*debt_state_name(enum debt_state);
/* The kind of a name read back from the table; -1 if unknown. */
int		 settle_kind_parse(const char *);

/* Creates settlement's tables and views in db. */
int		 settlement_schema(sqlite3 *db, char *err, size_t errlen);

/* What the writer thread asks of the debts, on its own connection. */
struct settlement;
struct settlement *settlement_open(sqlite3 *db, char *err, size_t errlen);
void		 settlement_close(struct settlement *);
/* Whether any debt is open at all (most batches have none to look at). */
int		 settlement_any_debt(struct settlement *);
/*
 * The card token of an account in debt tapped again: its debt is due for
 * a recovery attempt now, at most once per gap_s, but only when that card
 * was the account's before the debt opened (the engine had a tap of it
 * by then): a validator cannot burn a debtor's retries with fresh cards
 * showing the debtor's PAR (issue 16).
 */
int		 settlement_debt_due(struct settlement *, const char *account,
		    const char *token, int64_t now, int64_t gap_s);

/*
 * Every request's idempotency key and reference (SPEC §6: the reference
 * is what the rider sees on the bank statement; unguessable, never the
 * account or the PAN) are HMAC-SHA256 under a server secret of
 * SETTLE_SECRET_LEN bytes (the engine derives it from its token key, see
 * engine/server.c) over the account, the service day and the request's
 * number n (1, 2, ... per account-day), each with its own label:
 *   key        32 lowercase hex digits (128 bits);
 *   reference  "OC" and 16 digits of Crockford's base32 (80 bits).
 * Without the secret neither can be guessed or tied to an account.
 */
#define SETTLE_SECRET_LEN	32
#define SETTLE_KEY_LEN		32
#define SETTLE_REFERENCE_PREFIX	"OC"
#define SETTLE_REFERENCE_LEN	18
/* Fills key and reference for request n of an account-day; 0 or -1. */
int		 settlement_derive(const unsigned char secret[SETTLE_SECRET_LEN],
		    const char *account, const char *day, int64_t n,
		    char key[SETTLE_KEY_LEN + 1],
		    char reference[SETTLE_REFERENCE_LEN + 1]);

/*
 * A request to the acquirer: its row of settlements, and the answer until
 * it is recorded.  reference is empty for requests of databases from
 * before references.
 */
struct settle_req {
	int64_t		 id, debt_id, amount;
	int		 outcome;	/* 1 approved, 0 declined, -1 none */
	char		 result[64];
	char		 key[200];
	char		 reference[SETTLE_REFERENCE_LEN + 1];
	char		 account[64];
	char		 day[11];
	enum settle_kind kind;
};

/* What a settlement pass asks for. */
enum settle_fetch {
	SETTLE_FETCH_PENDING,	/* sent before, not answered: resend */
	SETTLE_FETCH_DEBTS,	/* open debts due at num */
	SETTLE_FETCH_DAYS,	/* closed days (before text) not asked for */
	SETTLE_FETCH_MAX
};

/*
 * The settlement thread's statements, on its own connection and inside
 * its transactions; each logs SQLite's words when it fails.
 */
/* Up to max requests of a kind (calloc'd; NULL on failure). */
struct settle_req *settlement_fetch(sqlite3 *, enum settle_fetch,
		    const char *text, int64_t num, size_t max, size_t *n);
/*
 * Inserts r in state st with a fresh idempotency key and reference derived
 * with secret; fills key, reference and id.
 */
int		 settlement_add(sqlite3 *,
		    const unsigned char secret[SETTLE_SECRET_LEN],
		    struct settle_req *r, enum settle_state st,
		    const char *result, int64_t now);
/* One more attempt at a request that stays as it is. */
int		 settlement_attempted(sqlite3 *, int64_t id);
/* Pending to approved or declined: 1 now, 0 if decided before, -1. */
int		 settlement_decide(sqlite3 *, int64_t id, int approved,
		    const char *result, int64_t now);

int		 debt_open(sqlite3 *, const struct settle_req *, int64_t now,
		    int64_t next_retry);
int		 debt_recovered(sqlite3 *, int64_t id, int64_t now);
/* When a debt opened and how often it was retried (now, 0 if unknown). */
void		 debt_history(sqlite3 *, int64_t id, int64_t now,
		    int64_t *opened, int *retries);
/* Another failed retry: the next at next_retry, or exhausted if < 0. */
int		 debt_retried(sqlite3 *, int64_t id, int64_t now,
		    int64_t next_retry);
/* The first unrecovered debt of an account-day: 1 found, 0 none. */
int		 debt_owed(sqlite3 *, const char *account, const char *day,
		    int64_t *id, int64_t *owed_cents);
/* Lowers a debt by cents; recovered when nothing is left. */
int		 debt_reduce(sqlite3 *, int64_t id, int64_t cents);
/* How many debts of the account are not recovered. */
int64_t		 debt_unrecovered(sqlite3 *, const char *account);

#endif
