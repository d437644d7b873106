/*
 * The legs, charges and shares tables.  A row of charges is the current
 * price of one account-day; whether it is settled is settlement's to say
 * (v_charges.settled, store/settlement.c), not a column here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "charges.h"
#include "parse.h"
#include "price-int.h"
#include "store.h"

struct charges {
	sqlite3		*db;
	sqlite3_stmt	*del_legs, *del_charges, *del_shares;
	sqlite3_stmt	*ins_leg, *ins_charge, *ins_share;
	sqlite3_stmt	*sel_open, *sel_unposted, *sel_shares, *set_posted;
	sqlite3_stmt	*sel_stored;
	sqlite3_stmt	*rep_leg, *del_legs_after, *del_day_shares;
};

static const char schema[] =
"CREATE TABLE IF NOT EXISTS legs (account TEXT NOT NULL,"
"  service_day TEXT NOT NULL, leg_no INTEGER NOT NULL, network_id TEXT,"
"  from_stop_id TEXT, to_stop_id TEXT, checkin_utc INTEGER,"
"  checkout_utc INTEGER, status TEXT NOT NULL, fare_cents INTEGER NOT NULL,"
"  contribution_cents INTEGER NOT NULL,"
"  PRIMARY KEY (account, service_day, leg_no)) WITHOUT ROWID;"
"CREATE TABLE IF NOT EXISTS charges (account TEXT NOT NULL,"
"  service_day TEXT NOT NULL, charge_cents INTEGER NOT NULL,"
"  uncapped_cents INTEGER NOT NULL, open_legs INTEGER NOT NULL,"
"  posted INTEGER NOT NULL DEFAULT 0, digest_hi INTEGER, digest_lo INTEGER,"
"  tariff_version INTEGER,"
"  PRIMARY KEY (account, service_day)) WITHOUT ROWID;"
"CREATE TABLE IF NOT EXISTS shares (account TEXT NOT NULL,"
"  service_day TEXT NOT NULL, network_id TEXT NOT NULL,"
"  cents INTEGER NOT NULL,"
"  PRIMARY KEY (account, service_day, network_id)) WITHOUT ROWID;"
"CREATE VIEW IF NOT EXISTS v_legs AS SELECT account, service_day, leg_no,"
"  network_id, from_stop_id, to_stop_id,"
"  strftime('%Y-%m-%dT%H:%M:%SZ', checkin_utc, 'unixepoch') AS checkin_utc,"
"  strftime('%Y-%m-%dT%H:%M:%SZ', checkout_utc, 'unixepoch')"
"    AS checkout_utc,"
"  status, fare_cents, contribution_cents FROM legs;"
"CREATE INDEX IF NOT EXISTS charges_unposted ON charges(service_day)"
"  WHERE posted = 0;"
/* The legs still open, by check-in: the few the expiry pass looks at. */
"CREATE INDEX IF NOT EXISTS legs_open ON legs(checkin_utc)"
"  WHERE status = 'open';"
"CREATE VIEW IF NOT EXISTS v_operator_revenue AS SELECT network_id,"
"  service_day, SUM(cents) AS revenue_cents FROM shares"
"  GROUP BY network_id, service_day;";

static int
prep(struct charges *c, sqlite3_stmt **st, const char *sql)
{
	return store_prep(c->db, st, sql);
}

/*
 * A database from before posting at day close: its charges were posted
 * as they were priced, so the column they lack is 1 for them.
 */
static int
add_posted_column(struct charges *c, char *err, size_t errlen)
{
	sqlite3_stmt *s;
	int has = 0;

	if (sqlite3_prepare_v2(c->db, "SELECT 1 FROM pragma_table_info("
	    "'charges') WHERE name = 'posted'", -1, &s, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "charges: %s", sqlite3_errmsg(c->db));
		return -1;
	}
	has = sqlite3_step(s) == SQLITE_ROW;
	sqlite3_finalize(s);
	if (has)
		return 0;
	if (sqlite3_exec(c->db, "ALTER TABLE charges ADD COLUMN posted "
	    "INTEGER NOT NULL DEFAULT 1; ALTER TABLE charges ADD COLUMN "
	    "digest_hi INTEGER; ALTER TABLE charges ADD COLUMN digest_lo "
	    "INTEGER; CREATE INDEX IF NOT EXISTS "
	    "charges_unposted ON charges(service_day) WHERE posted = 0",
	    NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "charges: adding 'posted': %s",
		    sqlite3_errmsg(c->db));
		return -1;
	}
	return 0;
}

/*
 * A database from before tariff versions were kept: its days name none
 * (NULL: audit verify cannot reprice them and says so).
 */
static int
add_version_column(struct charges *c, char *err, size_t errlen)
{
	sqlite3_stmt *s;
	int has;

	if (sqlite3_prepare_v2(c->db, "SELECT 1 FROM pragma_table_info("
	    "'charges') WHERE name = 'tariff_version'", -1, &s, NULL) !=
	    SQLITE_OK) {
		snprintf(err, errlen, "charges: %s", sqlite3_errmsg(c->db));
		return -1;
	}
	has = sqlite3_step(s) == SQLITE_ROW;
	sqlite3_finalize(s);
	if (has)
		return 0;
	return store_schema(c->db, "ALTER TABLE charges ADD COLUMN "
	    "tariff_version INTEGER", "charges: adding 'tariff_version'", err,
	    errlen);
}

struct charges *
charges_open(sqlite3 *db, char *err, size_t errlen)
{
	struct charges *c = calloc(1, sizeof *c);

	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->db = db;
	if (store_schema(db, schema, "charges", err, errlen) == -1 ||
	    add_posted_column(c, err, errlen) == -1 ||
	    add_version_column(c, err, errlen) == -1) {
		charges_close(c);
		return NULL;
	}
	if (prep(c, &c->del_legs, "DELETE FROM legs WHERE account = ? AND "
	    "service_day BETWEEN ? AND ?") ||
	    prep(c, &c->del_charges, "DELETE FROM charges WHERE account = ? "
	    "AND service_day BETWEEN ? AND ?") ||
	    prep(c, &c->del_shares, "DELETE FROM shares WHERE account = ? AND "
	    "service_day BETWEEN ? AND ?") ||
	    prep(c, &c->ins_leg, "INSERT INTO legs VALUES "
	    "(?,?,?,?,?,?,?,?,?,?,?)") ||
	    prep(c, &c->rep_leg, "INSERT OR REPLACE INTO legs VALUES "
	    "(?,?,?,?,?,?,?,?,?,?,?)") ||
	    prep(c, &c->del_legs_after, "DELETE FROM legs WHERE account = ? "
	    "AND service_day = ? AND leg_no > ?") ||
	    prep(c, &c->del_day_shares, "DELETE FROM shares WHERE account = ? "
	    "AND service_day = ?") ||
	    prep(c, &c->ins_charge, "INSERT INTO charges (account, "
	    "service_day, charge_cents, uncapped_cents, open_legs, posted, "
	    "digest_hi, digest_lo, tariff_version) VALUES (?,?,?,?,?,?,?,?,"
	    "nullif(?, 0)) ON CONFLICT DO UPDATE SET "
	    "charge_cents = excluded.charge_cents, uncapped_cents = "
	    "excluded.uncapped_cents, open_legs = excluded.open_legs, "
	    "posted = excluded.posted, digest_hi = excluded.digest_hi, "
	    "digest_lo = excluded.digest_lo, tariff_version = "
	    "excluded.tariff_version") ||
	    prep(c, &c->sel_stored, "SELECT service_day, digest_hi, digest_lo, "
	    "posted FROM "
	    "charges WHERE account = ? AND service_day BETWEEN ? AND ?") ||
	    prep(c, &c->sel_unposted, "SELECT account, service_day, "
	    "charge_cents FROM charges WHERE posted = 0 AND service_day <= ? "
	    "ORDER BY service_day LIMIT ?") ||
	    prep(c, &c->sel_shares, "SELECT network_id, cents FROM shares "
	    "WHERE account = ? AND service_day = ?") ||
	    prep(c, &c->set_posted, "UPDATE charges SET posted = 1 WHERE "
	    "account = ? AND service_day = ?") ||
	    prep(c, &c->ins_share, "INSERT INTO shares VALUES (?,?,?,?)") ||
	    prep(c, &c->sel_open, "SELECT account || ' ' || min(service_day) "
	    "FROM legs WHERE status = 'open' AND checkin_utc < ?1 "
	    "AND account > ?3 GROUP BY account ORDER BY account LIMIT ?2")) {
		snprintf(err, errlen, "charges: %s", sqlite3_errmsg(db));
		charges_close(c);
		return NULL;
	}
	return c;
}

void
charges_close(struct charges *c)
{
	if (c == NULL)
		return;
	sqlite3_finalize(c->del_legs);
	sqlite3_finalize(c->del_charges);
	sqlite3_finalize(c->del_shares);
	sqlite3_finalize(c->ins_leg);
	sqlite3_finalize(c->ins_charge);
	sqlite3_finalize(c->ins_share);
	sqlite3_finalize(c->sel_open);
	sqlite3_finalize(c->sel_unposted);
	sqlite3_finalize(c->sel_shares);
	sqlite3_finalize(c->set_posted);
	sqlite3_finalize(c->sel_stored);
	sqlite3_finalize(c->rep_leg);
	sqlite3_finalize(c->del_legs_after);
	sqlite3_finalize(c->del_day_shares);
	free(c);
}

static void
bind_time(sqlite3_stmt *s, int col, int64_t t)
{
	if (t == PRICE_NO_TIME)
		sqlite3_bind_null(s, col);
	else
		sqlite3_bind_int64(s, col, t);
}

static void
bind_stop(const struct tariff *t, sqlite3_stmt *s, int col, uint32_t stop)
{
	if (stop == TARIFF_NONE)
		sqlite3_bind_null(s, col);
	else
		sqlite3_bind_text(s, col, tariff_stop_id(t, stop), -1,
		    SQLITE_STATIC);
}

static int
write_leg(struct charges *c, const struct tariff *t, const char *account,
    const char *day, uint32_t leg_no, const struct price_leg *l, int stored)
{
	sqlite3_stmt *s = stored ? c->rep_leg : c->ins_leg;

	sqlite3_bind_text(s, 1, account, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, day, 10, SQLITE_TRANSIENT);
	sqlite3_bind_int(s, 3, (int)leg_no);
	sqlite3_bind_text(s, 4, tariff_network_id(t, l->network), -1,
	    SQLITE_STATIC);
	bind_stop(t, s, 5, l->from_stop);
	bind_stop(t, s, 6, l->to_stop);
	bind_time(s, 7, l->checkin);
	bind_time(s, 8, l->checkout);
	sqlite3_bind_text(s, 9, price_status_name(l->status), -1,
	    SQLITE_STATIC);
	sqlite3_bind_int64(s, 10, l->fare_cents);
	sqlite3_bind_int64(s, 11, l->contribution_cents);
	return store_step_done(s);
}

int
charges_write_day(struct charges *c, const struct tariff *t,
    const char *account, const struct price_result *r,
    const struct price_day *d, int posted, int64_t digest,
    int64_t tariff_version, int stored)
{
	char day[11];
	uint32_t i, open = 0;
	int rc = 0;

	civil_format_day(d->service_day, day);
	if (stored) {
		sqlite3_stmt *s = c->del_legs_after;
		sqlite3_bind_text(s, 1, account, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, day, 10, SQLITE_TRANSIENT);
		sqlite3_bind_int64(s, 3, (int64_t)d->nlegs);
		rc = store_step_done(s);
		s = c->del_day_shares;
		sqlite3_bind_text(s, 1, account, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, day, 10, SQLITE_TRANSIENT);
		rc |= store_step_done(s);
	}
	for (i = 0; i < d->nlegs && rc == 0; i++) {
		const struct price_leg *l = &r->leg[d->legs_off + i];
		open += l->status == LEG_OPEN;
		rc = write_leg(c, t, account, day, i + 1, l, stored);
	}
	for (i = 0; i < d->nshares && rc == 0; i++) {
		const struct price_share *sh = &r->share[d->shares_off + i];
		sqlite3_stmt *s = c->ins_share;
		sqlite3_bind_text(s, 1, account, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, day, 10, SQLITE_TRANSIENT);
		sqlite3_bind_text(s, 3, tariff_network_id(t, sh->network), -1,
		    SQLITE_STATIC);
		sqlite3_bind_int64(s, 4, sh->cents);
		rc = store_step_done(s);
	}
	if (rc == 0) {
		sqlite3_stmt *s = c->ins_charge;
		sqlite3_bind_text(s, 1, account, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, day, 10, SQLITE_TRANSIENT);
		sqlite3_bind_int64(s, 3, d->charge_cents);
		sqlite3_bind_int64(s, 4, d->uncapped_cents);
		sqlite3_bind_int(s, 5, (int)open);
		sqlite3_bind_int(s, 6, posted != 0);
		/* Two 31-bit halves: no column holds a run of 12 to 19
		 * digits that a PAN scan would flag (SPEC §3). */
		sqlite3_bind_int64(s, 7, digest >> 31 & 0x7fffffff);
		sqlite3_bind_int64(s, 8, digest & 0x7fffffff);
		sqlite3_bind_int64(s, 9, tariff_version);
		rc = store_step_done(s);
	}
	return rc;
}

int
charges_clear(struct charges *c, const char *account, const char *from_day,
    const char *to_day)
{
	sqlite3_stmt *del[3] = {c->del_legs, c->del_charges, c->del_shares};
	int i;

	for (i = 0; i < 3; i++) {
		sqlite3_bind_text(del[i], 1, account, -1, SQLITE_STATIC);
		sqlite3_bind_text(del[i], 2, from_day, -1, SQLITE_STATIC);
		sqlite3_bind_text(del[i], 3, to_day, -1, SQLITE_STATIC);
	}
	return store_step_done(c->del_legs) | store_step_done(c->del_charges) |
	    store_step_done(c->del_shares);
}

/* Adds the first column of each row of s (bound by the caller) to tab. */
static int
collect(sqlite3_stmt *s, struct strtab *tab, int len)
{
	int rc = 0;

	while (sqlite3_step(s) == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(s, 0);
		if (strtab_intern(tab, v, len < 0 ? strlen(v) : (size_t)len,
		    NULL) == STRTAB_NONE) {
			rc = -1;
			break;
		}
	}
	sqlite3_reset(s);
	return rc;
}

int
charges_open_accounts(struct charges *c, int64_t checkin_before,
    const char *after, struct strtab *accounts, int max)
{
	sqlite3_bind_int64(c->sel_open, 1, checkin_before);
	sqlite3_bind_int(c->sel_open, 2, max);
	sqlite3_bind_text(c->sel_open, 3, after, -1, SQLITE_STATIC);
	return collect(c->sel_open, accounts, -1);
}

int
charges_unposted(struct charges *c, const char *last_day, int max,
    int (*fn)(const char *account, const char *day, int64_t charge_cents,
    void *), void *arg)
{
	sqlite3_stmt *s = c->sel_unposted;
	int rc = 0, n = 0;

	sqlite3_bind_text(s, 1, last_day, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, max);
	while (rc == 0 && sqlite3_step(s) == SQLITE_ROW) {
		rc = fn((const char *)sqlite3_column_text(s, 0),
		    (const char *)sqlite3_column_text(s, 1),
		    sqlite3_column_int64(s, 2), arg);
		n++;
	}
	sqlite3_reset(s);
	return rc == 0 ? n : -1;
}

int
charges_day_shares(struct charges *c, const char *account, const char *day,
    char ids[][128], int64_t *cents, size_t max)
{
	sqlite3_stmt *s = c->sel_shares;
	size_t n = 0;

	sqlite3_bind_text(s, 1, account, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, day, -1, SQLITE_STATIC);
	while (n < max && sqlite3_step(s) == SQLITE_ROW) {
		snprintf(ids[n], 128, "%s", sqlite3_column_text(s, 0));
		cents[n++] = sqlite3_column_int64(s, 1);
	}
	sqlite3_reset(s);
	return (int)n;
}

int
charges_set_posted(struct charges *c, const char *account, const char *day)
{
	sqlite3_bind_text(c->set_posted, 1, account, -1, SQLITE_STATIC);
	sqlite3_bind_text(c->set_posted, 2, day, -1, SQLITE_STATIC);
	return store_step_done(c->set_posted);
}

int
charges_stored_days(struct charges *c, const char *account,
    const char *from_day, const char *to_day, int (*fn)(const char *day,
    int64_t digest, int has_digest, int posted, void *), void *arg)
{
	sqlite3_stmt *s = c->sel_stored;
	int rc = 0;

	sqlite3_bind_text(s, 1, account, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, from_day, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, to_day, -1, SQLITE_STATIC);
	while (rc == 0 && sqlite3_step(s) == SQLITE_ROW)
		rc = fn((const char *)sqlite3_column_text(s, 0),
		    sqlite3_column_int64(s, 1) << 31 |
		    sqlite3_column_int64(s, 2),
		    sqlite3_column_type(s, 1) != SQLITE_NULL &&
		    sqlite3_column_type(s, 2) != SQLITE_NULL,
		    sqlite3_column_int(s, 3), arg);
	sqlite3_reset(s);
	return rc;
}
