/*
 * A rider's statement: the stored legs, charges, settlements, debts and
 * gate refusals of an account, as rows of a day that add up to the day's
 * charge (see statement.h).  Read-only: it runs on any connection, the
 * audit command's read-only one or the engine's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "explain.h"
#include "limits.h"
#include "statement.h"
#include "store.h"

/* A day's numbers from charges, payments and refusals, by statement. */
struct load {
	sqlite3		*db;
	struct statement *st;
	const char	*from, *to;
	char		*err;
	size_t		 errlen;
};

static const char *
text(sqlite3_stmt *s, int i)
{
	const unsigned char *v = sqlite3_column_text(s, i);

	return v != NULL ? (const char *)v : "";
}

static int64_t
time_or_none(sqlite3_stmt *s, int i)
{
	return sqlite3_column_type(s, i) == SQLITE_NULL ? STATEMENT_NO_TIME :
	    sqlite3_column_int64(s, i);
}

static int
sql_fail(struct load *ld, sqlite3_stmt *s)
{
	snprintf(ld->err, ld->errlen, "statement: %s",
	    sqlite3_errmsg(ld->db));
	sqlite3_finalize(s);
	return -1;
}

/* Prepares sql with the account and the day range bound as ?1 ?2 ?3. */
static sqlite3_stmt *
prepare(struct load *ld, const char *sql)
{
	sqlite3_stmt *s = NULL;

	if (sqlite3_prepare_v2(ld->db, sql, -1, &s, NULL) != SQLITE_OK) {
		sql_fail(ld, s);
		return NULL;
	}
	sqlite3_bind_text(s, 1, ld->st->account, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, ld->from != NULL ? ld->from : "", -1,
	    SQLITE_STATIC);
	sqlite3_bind_text(s, 3, ld->to != NULL ? ld->to : "9999-12-31", -1,
	    SQLITE_STATIC);
	return s;
}

static struct statement_row *
new_row(struct load *ld, struct statement_day *d, enum statement_kind kind)
{
	struct statement *st = ld->st;
	struct statement_row *r;

	if (st->nrows >= STATEMENT_ROWS_MAX) {
		snprintf(ld->err, ld->errlen, "statement: more than %d rows; "
		    "ask for fewer days", STATEMENT_ROWS_MAX);
		return NULL;
	}
	r = &st->row[st->nrows++];
	memset(r, 0, sizeof *r);
	r->kind = kind;
	r->start_utc = r->end_utc = STATEMENT_NO_TIME;
	d->nrows++;
	return r;
}

/* The account's days: charged, refused at the gate, or settled. */
static int
load_days(struct load *ld)
{
	struct statement *st = ld->st;
	sqlite3_stmt *s = prepare(ld, "SELECT service_day FROM charges "
	    "WHERE account = ?1 AND service_day BETWEEN ?2 AND ?3 UNION "
	    "SELECT service_day FROM refused WHERE account = ?1 AND "
	    "reason = 'denied-at-gate' AND service_day BETWEEN ?2 AND ?3 "
	    "UNION SELECT service_day FROM settlements WHERE account = ?1 "
	    "AND service_day BETWEEN ?2 AND ?3 ORDER BY 1");
	int rc;

	if (s == NULL)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct statement_day *d;
		if (st->ndays >= STATEMENT_DAYS_MAX) {
			snprintf(ld->err, ld->errlen, "statement: more than "
			    "%d days; ask for fewer", STATEMENT_DAYS_MAX);
			sqlite3_finalize(s);
			return -1;
		}
		d = &st->day[st->ndays++];
		memset(d, 0, sizeof *d);
		snprintf(d->service_day, sizeof d->service_day, "%s",
		    text(s, 0));
	}
	if (rc != SQLITE_DONE)
		return sql_fail(ld, s);
	sqlite3_finalize(s);
	return 0;
}

/* A leg: its fare, less the transfer discount (or plus a transfer fee). */
static void
leg_row(struct statement_row *r, sqlite3_stmt *s)
{
	int64_t contribution = sqlite3_column_int64(s, 7);

	snprintf(r->network_id, sizeof r->network_id, "%s", text(s, 0));
	snprintf(r->from_stop_id, sizeof r->from_stop_id, "%s", text(s, 1));
	snprintf(r->to_stop_id, sizeof r->to_stop_id, "%s", text(s, 2));
	r->start_utc = time_or_none(s, 3);
	r->end_utc = time_or_none(s, 4);
	snprintf(r->status, sizeof r->status, "%s", text(s, 5));
	r->fare_cents = sqlite3_column_int64(s, 6);
	/* What the leg adds to the day is its contribution (SPEC §5). */
	if (contribution <= r->fare_cents) {
		r->charge_cents = r->fare_cents;
		r->credit_cents = r->fare_cents - contribution;
	} else
		r->charge_cents = contribution;
}

static int
load_legs(struct load *ld, struct statement_day *d, int64_t *total)
{
	sqlite3_stmt *s = prepare(ld, "SELECT network_id, from_stop_id, "
	    "to_stop_id, checkin_utc, checkout_utc, status, fare_cents, "
	    "contribution_cents FROM legs WHERE account = ?1 AND "
	    "service_day = ?4 ORDER BY leg_no");
	struct statement_row *r;
	int rc;

	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 4, d->service_day, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((r = new_row(ld, d, STATEMENT_LEG)) == NULL) {
			sqlite3_finalize(s);
			return -1;
		}
		leg_row(r, s);
		*total += r->charge_cents - r->credit_cents;
		r->day_total_cents = *total;
	}
	if (rc != SQLITE_DONE)
		return sql_fail(ld, s);
	sqlite3_finalize(s);
	return 0;
}

/* The day's charge; the cap row takes what the caps took off. */
static int
load_charge(struct load *ld, struct statement_day *d, int64_t *total)
{
	sqlite3_stmt *s = prepare(ld, "SELECT charge_cents, uncapped_cents, "
	    "posted FROM charges WHERE account = ?1 AND service_day = ?4");
	struct statement_row *r;
	int rc;

	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 4, d->service_day, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		d->charge_cents = sqlite3_column_int64(s, 0);
		d->uncapped_cents = sqlite3_column_int64(s, 1);
		d->closed = sqlite3_column_int(s, 2);
	} else if (rc != SQLITE_DONE)
		return sql_fail(ld, s);
	sqlite3_finalize(s);
	if (d->charge_cents < d->uncapped_cents) {
		int64_t incomplete = 0;
		size_t i;
		/* Maximum fares are outside the caps (SPEC §4). */
		for (i = d->row_off; i < ld->st->nrows; i++)
			if (strcmp(ld->st->row[i].status, "incomplete") == 0)
				incomplete += ld->st->row[i].charge_cents;
		if ((r = new_row(ld, d, STATEMENT_CAP)) == NULL)
			return -1;
		r->fare_cents = d->uncapped_cents - incomplete;
		r->credit_cents = d->uncapped_cents - d->charge_cents;
		*total -= r->credit_cents;
		r->day_total_cents = *total;
	}
	return 0;
}

static void
add_payment(struct statement_payments *p, const char *kind,
    const char *state, int64_t cents)
{
	int64_t a = cents < 0 ? -cents : cents;

	if (strcmp(state, "pending") == 0)
		p->pending_cents += cents;
	else if (strcmp(state, "approved") == 0 && strcmp(kind, "capture") == 0)
		p->captured_cents += a;
	else if (strcmp(state, "approved") == 0 && strcmp(kind, "refund") == 0)
		p->refunded_cents += a;
	else if (strcmp(state, "approved") == 0 &&
	    strcmp(kind, "recovery") == 0)
		p->recovered_cents += a;
	else if (strcmp(state, "declined") == 0 && strcmp(kind, "capture") == 0)
		p->declined_cents += a;
}

static int
load_payments(struct load *ld, struct statement_day *d)
{
	sqlite3_stmt *s = prepare(ld, "SELECT kind, state, amount_cents FROM "
	    "settlements WHERE account = ?1 AND service_day = ?4 UNION ALL "
	    "SELECT 'debt', 'owed', coalesce(sum(amount_cents), 0) FROM debts "
	    "WHERE account = ?1 AND service_day = ?4 AND state != "
	    "'recovered'");
	int rc;

	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 4, d->service_day, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (strcmp(text(s, 0), "debt") == 0)
			d->pay.owed_cents = sqlite3_column_int64(s, 2);
		else
			add_payment(&d->pay, text(s, 0), text(s, 1),
			    sqlite3_column_int64(s, 2));
	}
	if (rc != SQLITE_DONE)
		return sql_fail(ld, s);
	sqlite3_finalize(s);
	return 0;
}

/* Taps the gate refused from its deny list: no journey, no charge. */
static int
load_refused(struct load *ld, struct statement_day *d, int64_t total)
{
	sqlite3_stmt *s = prepare(ld, "SELECT time_utc, network_id, stop_id "
	    "FROM refused WHERE account = ?1 AND service_day = ?4 AND "
	    "reason = 'denied-at-gate' ORDER BY time_utc, id");
	struct statement_row *r;
	int rc;

	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 4, d->service_day, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((r = new_row(ld, d, STATEMENT_REFUSED)) == NULL) {
			sqlite3_finalize(s);
			return -1;
		}
		r->start_utc = time_or_none(s, 0);
		snprintf(r->network_id, sizeof r->network_id, "%s",
		    text(s, 1));
		snprintf(r->from_stop_id, sizeof r->from_stop_id, "%s",
		    text(s, 2));
		snprintf(r->status, sizeof r->status, "refused");
		r->day_total_cents = total;
		d->refused_at_gate++;
	}
	if (rc != SQLITE_DONE)
		return sql_fail(ld, s);
	sqlite3_finalize(s);
	return 0;
}

int
statement_load(sqlite3 *db, const char *account, const char *from_day,
    const char *to_day, struct statement *st, char *err, size_t errlen)
{
	struct load ld = {db, st, from_day, to_day, err, errlen};
	size_t k;

	memset(st, 0, sizeof *st);
	snprintf(st->account, sizeof st->account, "%s", account);
	st->day = calloc(STATEMENT_DAYS_MAX, sizeof *st->day);
	st->row = calloc(STATEMENT_ROWS_MAX, sizeof *st->row);
	if (st->day == NULL || st->row == NULL) {
		snprintf(err, errlen, "statement: out of memory");
		goto fail;
	}
	if (load_days(&ld) == -1)
		goto fail;
	for (k = 0; k < st->ndays; k++) {
		struct statement_day *d = &st->day[k];
		int64_t total = 0;
		d->row_off = st->nrows;
		if (load_legs(&ld, d, &total) == -1 ||
		    load_charge(&ld, d, &total) == -1 ||
		    load_payments(&ld, d) == -1 ||
		    load_refused(&ld, d, total) == -1)
			goto fail;
	}
	return 0;
fail:
	statement_free(st);
	return -1;
}

void
statement_free(struct statement *st)
{
	free(st->day);
	free(st->row);
	st->day = NULL;
	st->row = NULL;
	st->ndays = st->nrows = 0;
}

/* A stop's name from the tariff, else its id. */
static const char *
stop_text(const struct tariff *t, const char *id)
{
	uint32_t s;

	if (t == NULL || *id == '\0' ||
	    (s = tariff_stop(t, id, strlen(id))) == TARIFF_NONE)
		return id;
	return tariff_stop_name(t, s);
}

void
statement_journey(const struct tariff *t, const struct statement_row *r,
    char *buf, size_t len)
{
	const char *from = stop_text(t, r->from_stop_id);
	const char *to = stop_text(t, r->to_stop_id);
	const char *net = r->network_id;	/* "NS", "GVB": short, known */

	if (r->kind == STATEMENT_CAP)
		snprintf(buf, len, "Cap reached: fares above it are not "
		    "charged");
	else if (r->kind == STATEMENT_REFUSED)
		snprintf(buf, len, "%s: refused at the gate at %s", net,
		    *from ? from : "an unknown stop");
	else if (*r->from_stop_id == '\0')
		snprintf(buf, len, "%s: no check-in, out at %s", net, to);
	else if (*r->to_stop_id == '\0')
		snprintf(buf, len, "%s: %s, no check-out", net, from);
	else if (strcmp(r->from_stop_id, r->to_stop_id) == 0 &&
	    r->end_utc == STATEMENT_NO_TIME)
		snprintf(buf, len, "%s: boarded at %s", net, from);
	else
		snprintf(buf, len, "%s: %s to %s", net, from, to);
}

void
statement_note(const struct tariff *t, const struct statement_row *r,
    char *buf, size_t len)
{
	const char *cur = t != NULL ? tariff_currency(t) : "EUR";
	char a[MONEY_TEXT_MAX], b[MONEY_TEXT_MAX];
	const char *s = r->status;

	*buf = '\0';
	if (r->kind == STATEMENT_CAP) {
		money_text(cur, r->fare_cents, a);
		money_text(cur, r->fare_cents - r->credit_cents, b);
		snprintf(buf, len, "fares %s capped at %s%s", a, b,
		    r->day_total_cents > r->fare_cents - r->credit_cents ?
		    " (maximum fares come on top)" : "");
	} else if (r->kind == STATEMENT_REFUSED)
		snprintf(buf, len, "card on the deny list (payment owed): no "
		    "journey, no charge");
	else if (strcmp(s, "incomplete") == 0)
		snprintf(buf, len, "%s: maximum fare", *r->from_stop_id ?
		    "no check-out" : "no check-in");
	else if (strcmp(s, "autocompleted") == 0)
		snprintf(buf, len, "no check-out: completed at the next "
		    "check-in");
	else if (strcmp(s, "cancelled") == 0)
		snprintf(buf, len, "checked out where checked in: no charge");
	else if (strcmp(s, "open") == 0)
		snprintf(buf, len, "still travelling: priced at check-out");
	else if (strcmp(s, "unpriced") == 0)
		snprintf(buf, len, "no fare rule for this journey: no charge");
	else if (r->credit_cents > 0)
		snprintf(buf, len, "transfer discount");
	else if (r->charge_cents > r->fare_cents) {
		money_text(cur, r->charge_cents - r->fare_cents, a);
		snprintf(buf, len, "includes a transfer fee of %s", a);
	}
}

void
statement_payment_text(const struct tariff *t, const struct statement_day *d,
    char *buf, size_t len)
{
	const char *cur = t != NULL ? tariff_currency(t) : "EUR";
	const struct statement_payments *p = &d->pay;
	char m[MONEY_TEXT_MAX];
	size_t o = 0;

	*buf = '\0';
#define SAY(cents, what) do { if ((cents) != 0 && o < len) {		\
		money_text(cur, (cents), m);					\
		o += (size_t)snprintf(buf + o, len - o, "%s%s %s",		\
		    o ? ", " : "", (what), m); } } while (0)
	SAY(p->captured_cents, "captured");
	SAY(p->declined_cents, "declined");
	SAY(p->owed_cents, "owed");
	SAY(p->recovered_cents, "recovered");
	SAY(p->refunded_cents, "refunded");
	SAY(p->pending_cents, "asked, no answer yet:");
#undef SAY
	if (o > 0)
		return;
	if (d->charge_cents == 0)
		snprintf(buf, len, "nothing to pay");
	else if (!d->closed)
		snprintf(buf, len, "not settled yet: the day is still open");
	else
		snprintf(buf, len, "not settled yet");
}
