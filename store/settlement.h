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
 * The card of an account in debt tapped again: its debt is due for a
 * recovery attempt now, at most once per gap_s.
 */
int		 settlement_debt_due(struct settlement *, const char *account,
		    int64_t now, int64_t gap_s);

#endif
