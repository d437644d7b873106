/*
 * A rider's statement (TfL's journey history is the model): for each
 * service day of an account, a row per leg with its fare and any transfer
 * discount, a cap row with the cap's discount, and the day's payments and
 * taps refused at the gate, as numbers that add up: the charges less the
 * credits of a day's rows are exactly the day's charge (v_charges).  Read
 * from the tables (legs, charges, settlements, debts, refused); the words
 * and local times come from the tariff when one is given.  Used by `audit
 * card` and the rider's web page.
 */
#ifndef ONECITY_STATEMENT_H
#define ONECITY_STATEMENT_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "tariff.h"

#define STATEMENT_NO_TIME	INT64_MIN

enum statement_kind {
	STATEMENT_LEG,		/* a leg: its fare, less a transfer discount */
	STATEMENT_CAP,		/* the cap's discount on the day */
	STATEMENT_REFUSED,	/* a tap refused at the gate (deny list) */
	STATEMENT_KIND_MAX
};

/* One row.  charge_cents - credit_cents is what it adds to the day. */
struct statement_row {
	enum statement_kind kind;
	int64_t		 start_utc, end_utc;	/* STATEMENT_NO_TIME: none */
	char		 network_id[129];	/* "" for a cap row */
	char		 from_stop_id[129], to_stop_id[129];	/* "": none */
	char		 status[16];	/* SPEC §5's leg status, or "open" */
	int64_t		 fare_cents;	/* the leg's fare before transfers;
					 * a cap row: the fares it capped */
	int64_t		 charge_cents, credit_cents;	/* both >= 0 */
	int64_t		 day_total_cents;	/* the day's total after it */
};

/* Money of an account-day with the acquirer (cents, >= 0 each). */
struct statement_payments {
	int64_t		 captured_cents;	/* approved captures */
	int64_t		 declined_cents;	/* declined captures */
	int64_t		 owed_cents;	/* debts not recovered */
	int64_t		 recovered_cents;	/* approved debt recoveries */
	int64_t		 refunded_cents;	/* approved refunds */
	int64_t		 pending_cents;	/* asked, not yet answered */
};

struct statement_day {
	char		 service_day[11];	/* YYYY-MM-DD */
	int64_t		 charge_cents, uncapped_cents;
	int		 closed;	/* posted: late taps only adjust it */
	struct statement_payments pay;
	size_t		 refused_at_gate;
	size_t		 row_off, nrows;	/* into statement.row */
};

struct statement {
	char		 account[80];
	struct statement_day *day;
	size_t		 ndays;
	struct statement_row *row;
	size_t		 nrows;
};

/*
 * Loads the statement of account (par:... or tok:...) for the service days
 * from_day through to_day ("YYYY-MM-DD"; NULL for no bound), days in
 * order, rows in the order of their legs, the cap row after them, the
 * refused taps last.  At most STATEMENT_DAYS_MAX days and
 * STATEMENT_ROWS_MAX rows (the oldest are kept; err says so).  0, or -1
 * with err set (SQLite, memory, limits); st is empty on -1.
 */
int	statement_load(sqlite3 *, const char *account, const char *from_day,
	    const char *to_day, struct statement *st, char *err,
	    size_t errlen);
void	statement_free(struct statement *);

/*
 * What a person reads for a row: "NS: Amsterdam Centraal to Utrecht
 * Centraal" with the tariff's stop names (ids where t is NULL or lacks
 * them), "Cap reached: ...", "GVB: refused at the gate at Dam".
 */
void	statement_journey(const struct tariff *, const struct statement_row *,
	    char *buf, size_t len);
/* The row's note in plain words ("transfer discount", "no check-out:
 * maximum fare", ...); "" when there is nothing to say. */
void	statement_note(const struct tariff *, const struct statement_row *,
	    char *buf, size_t len);
/* The day's payment status in plain words ("captured €21.50", "declined
 * €9.00, owed", "nothing to pay", "not settled yet"). */
void	statement_payment_text(const struct tariff *,
	    const struct statement_day *, char *buf, size_t len);

#endif
