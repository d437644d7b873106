/*
 * Ledger entries are rows of `ledger`, never updated or deleted (triggers
 * refuse it).  Each entry's hash is SHA-256 over the previous entry's hash
 * and its own fields, so removing, altering or reordering any entry breaks
 * the chain.  Ledger accounts, each entry tagged with its rider account
 * and service day:
 *   rider:<account>     what the rider owes (pricing debits it; a capture
 *                       or a decline credits it);
 *   revenue:<network>   what the operator has earned (pricing credits it);
 *   clearing:acquirer   money collected through the acquirer (captures,
 *                       recoveries; refunds are negative);
 *   debt:<account>      a declined charge the rider still owes.
 * Pricing posts at day close (SPEC §6) with reason "close", a later change
 * of a closed day with "adjustment", a closed day no longer charged with
 * "reversal" ("pricing": databases from before posting at close);
 * settlement with "capture", "refund", "decline", "recovery" or
 * "debt-adjust".
 */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/sha256.h>

#include "explain.h"
#include "ledger.h"
#include "limits.h"
#include "parse.h"
#include "tariff-version.h"

struct ledger {
	sqlite3		*db;
	sqlite3_stmt	*posted, *last, *ins;
};

static const char ledger_schema[] =
"CREATE TABLE IF NOT EXISTS ledger (entry_id INTEGER PRIMARY KEY,"
"  txn_id INTEGER NOT NULL, posted_utc INTEGER NOT NULL,"
"  ledger_account TEXT NOT NULL, amount_cents INTEGER NOT NULL,"
"  service_day TEXT NOT NULL, rider_account TEXT NOT NULL,"
"  reason TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);"
"CREATE INDEX IF NOT EXISTS ledger_rider ON ledger(rider_account,"
"  service_day);"
"CREATE TRIGGER IF NOT EXISTS ledger_no_update BEFORE UPDATE ON ledger"
"  BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;"
"CREATE TRIGGER IF NOT EXISTS ledger_no_delete BEFORE DELETE ON ledger"
"  BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;"
"CREATE VIEW IF NOT EXISTS v_ledger AS SELECT entry_id, txn_id,"
"  strftime('%Y-%m-%dT%H:%M:%SZ', posted_utc, 'unixepoch') AS posted_utc,"
"  ledger_account, amount_cents, service_day, reason, hash FROM ledger;";

struct ledger *
ledger_open(sqlite3 *db, char *err, size_t errlen)
{
	struct ledger *l = calloc(1, sizeof *l);

	if (l == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	l->db = db;
	if (sqlite3_exec(db, ledger_schema, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT ledger_account, sum(amount_cents) "
	    "FROM ledger WHERE rider_account = ? AND service_day = ? AND "
	    "reason IN (" LEDGER_PRICING_REASONS ") GROUP BY ledger_account", -1, &l->posted, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT entry_id, txn_id, hash FROM ledger "
	    "ORDER BY entry_id DESC LIMIT 1", -1, &l->last, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO ledger VALUES "
	    "(?,?,?,?,?,?,?,?,?,?)", -1, &l->ins, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "ledger: %s", sqlite3_errmsg(db));
		ledger_close(l);
		return NULL;
	}
	return l;
}

void
ledger_close(struct ledger *l)
{
	if (l == NULL)
		return;
	sqlite3_finalize(l->posted);
	sqlite3_finalize(l->last);
	sqlite3_finalize(l->ins);
	free(l);
}

void
ledger_entry_hash(const char *prev, int64_t id, int64_t txn, int64_t posted,
    const char *acct, int64_t amount, const char *day, const char *rider,
    const char *reason, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char h[32];
	char buf[1024];
	int n, i;

	n = snprintf(buf, sizeof buf, "%s|%lld|%lld|%lld|%s|%lld|%s|%s|%s",
	    prev, (long long)id, (long long)txn, (long long)posted, acct,
	    (long long)amount, day, rider, reason);
	mbedtls_sha256_ret((const unsigned char *)buf,
	    (size_t)(n < (int)sizeof buf ? n : (int)sizeof buf - 1), h, 0);
	for (i = 0; i < 32; i++) {
		out[2 * i] = hex[h[i] >> 4];
		out[2 * i + 1] = hex[h[i] & 15];
	}
	out[64] = '\0';
}

struct posting {
	char		 acct[160];
	int64_t		 amount;
};

/* Appends one balanced transaction. */
static int
append_txn(struct ledger *l, const struct posting *p, size_t n,
    const char *day, const char *rider, int64_t now, const char *reason)
{
	char prev[65] = "genesis", hash[65];
	int64_t id = 0, txn = 0, sum = 0;
	size_t i;
	int rc = 0;

	for (i = 0; i < n; i++)
		sum += p[i].amount;
	/* A programmer error if it does not balance: never commit it. */
	assert(sum == 0);
	if (sqlite3_step(l->last) == SQLITE_ROW) {
		id = sqlite3_column_int64(l->last, 0);
		txn = sqlite3_column_int64(l->last, 1);
		snprintf(prev, sizeof prev, "%s",
		    (const char *)sqlite3_column_text(l->last, 2));
	}
	sqlite3_reset(l->last);
	txn++;
	for (i = 0; i < n && rc == 0; i++) {
		sqlite3_stmt *s = l->ins;
		id++;
		ledger_entry_hash(prev, id, txn, now, p[i].acct, p[i].amount, day,
		    rider, reason, hash);
		sqlite3_bind_int64(s, 1, id);
		sqlite3_bind_int64(s, 2, txn);
		sqlite3_bind_int64(s, 3, now);
		sqlite3_bind_text(s, 4, p[i].acct, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 5, p[i].amount);
		sqlite3_bind_text(s, 6, day, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 7, rider, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 8, reason, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 9, prev, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(s, 10, hash, -1, SQLITE_TRANSIENT);
		rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -1;
		sqlite3_reset(s);
		memcpy(prev, hash, sizeof prev);
	}
	return rc;
}

int
ledger_post_day(struct ledger *l, const char *account, const char *day,
    int64_t charge, const struct ledger_share *sh, size_t nsh, int64_t now,
    const char *reason)
{
	struct posting p[LIMIT_NETWORKS + 1], old[LIMIT_NETWORKS + 1];
	size_t n = 0, nold = 0, i, k;
	char rider[160];
	int64_t old_charge = 0;

	snprintf(rider, sizeof rider, "rider:%s", account);
	sqlite3_bind_text(l->posted, 1, account, -1, SQLITE_STATIC);
	sqlite3_bind_text(l->posted, 2, day, -1, SQLITE_STATIC);
	while (sqlite3_step(l->posted) == SQLITE_ROW && nold <= LIMIT_NETWORKS) {
		const char *a = (const char *)sqlite3_column_text(l->posted, 0);
		if (strcmp(a, rider) == 0)
			old_charge = sqlite3_column_int64(l->posted, 1);
		else {
			snprintf(old[nold].acct, sizeof old[nold].acct, "%s", a);
			old[nold++].amount = sqlite3_column_int64(l->posted, 1);
		}
	}
	sqlite3_reset(l->posted);
	/* The rider owes the charge; operators are credited their shares. */
	if (charge != old_charge) {
		snprintf(p[n].acct, sizeof p[n].acct, "%s", rider);
		p[n++].amount = charge - old_charge;
	}
	for (i = 0; i < nsh; i++) {
		int64_t before = 0;
		char acct[160];
		snprintf(acct, sizeof acct, "revenue:%s", sh[i].network_id);
		for (k = 0; k < nold; k++)
			if (strcmp(old[k].acct, acct) == 0) {
				before = old[k].amount;
				old[k].acct[0] = '\0';
			}
		if (-sh[i].cents != before) {
			snprintf(p[n].acct, sizeof p[n].acct, "%s", acct);
			p[n++].amount = -sh[i].cents - before;
		}
	}
	for (k = 0; k < nold; k++)	/* networks whose share went to 0 */
		if (old[k].acct[0] != '\0' && old[k].amount != 0 &&
		    n < LIMIT_NETWORKS + 1) {
			p[n] = old[k];
			p[n++].amount = -old[k].amount;
		}
	if (n == 0)
		return 0;
	return append_txn(l, p, n, day, account, now, reason);
}

int
ledger_move(struct ledger *l, const char *debit, const char *credit,
    int64_t cents, const char *day, const char *rider, int64_t now,
    const char *reason)
{
	struct posting p[2];

	if (cents == 0)
		return 0;
	snprintf(p[0].acct, sizeof p[0].acct, "%s", debit);
	p[0].amount = cents;
	snprintf(p[1].acct, sizeof p[1].acct, "%s", credit);
	p[1].amount = -cents;
	return append_txn(l, p, 2, day, rider, now, reason);
}

static size_t
problem(FILE *out, size_t *count, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static size_t
problem(FILE *out, size_t *count, const char *fmt, ...)
{
	va_list ap;

	if (*count < 100) {
		va_start(ap, fmt);
		vfprintf(out, fmt, ap);
		va_end(ap);
		fputc('\n', out);
	}
	return ++*count;
}

/*
 * The chain, entry by entry: numbered without gaps, each hash intact.
 * -1 when there is no ledger to check.
 */
static int
verify_chain(sqlite3 *db, FILE *out, size_t *bad)
{
	sqlite3_stmt *s;
	char prev[65] = "genesis", hash[65];
	int64_t expect_id = 1;

	if (sqlite3_prepare_v2(db, "SELECT entry_id, txn_id, posted_utc, "
	    "ledger_account, amount_cents, service_day, rider_account, reason, "
	    "prev_hash, hash FROM ledger ORDER BY entry_id", -1, &s, NULL) !=
	    SQLITE_OK) {
		problem(out, bad, "no ledger: %s", sqlite3_errmsg(db));
		return -1;
	}
	while (sqlite3_step(s) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(s, 0);
		const char *stored = (const char *)sqlite3_column_text(s, 9);
		if (id != expect_id)
			problem(out, bad, "entry %lld: expected entry %lld "
			    "(an entry was removed or reordered)",
			    (long long)id, (long long)expect_id);
		if (strcmp((const char *)sqlite3_column_text(s, 8), prev) != 0)
			problem(out, bad, "entry %lld: prev_hash does not match "
			    "the previous entry", (long long)id);
		ledger_entry_hash(prev, id, sqlite3_column_int64(s, 1),
		    sqlite3_column_int64(s, 2),
		    (const char *)sqlite3_column_text(s, 3),
		    sqlite3_column_int64(s, 4),
		    (const char *)sqlite3_column_text(s, 5),
		    (const char *)sqlite3_column_text(s, 6),
		    (const char *)sqlite3_column_text(s, 7), hash);
		if (strcmp(hash, stored) != 0)
			problem(out, bad, "entry %lld: hash mismatch (the entry "
			    "was altered)", (long long)id);
		snprintf(prev, sizeof prev, "%s", stored);
		expect_id = id + 1;
	}
	sqlite3_finalize(s);
	return 0;
}

/* Two columns of a row that must be equal, and how to say they are not. */
struct pair_check {
	int		 col;		/* and col + 1 */
	const char	*prefix, *what, *but, *tail;
};

/*
 * Runs sql (columns: two names, then the pairs) and reports each row
 * whose pair differs as "<prefix><name> <name>: <what> A <but> B<tail>".
 */
static void
verify_pairs(sqlite3 *db, FILE *out, size_t *bad, const char *sql,
    const struct pair_check *c, size_t n, const char *cur)
{
	sqlite3_stmt *s;
	size_t k;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return;
	while (sqlite3_step(s) == SQLITE_ROW)
		for (k = 0; k < n; k++) {
			char a[MONEY_TEXT_MAX], b[MONEY_TEXT_MAX];
			if (sqlite3_column_int64(s, c[k].col) ==
			    sqlite3_column_int64(s, c[k].col + 1))
				continue;
			money_text(cur, sqlite3_column_int64(s, c[k].col), a);
			money_text(cur, sqlite3_column_int64(s, c[k].col + 1),
			    b);
			problem(out, bad, "%s%s %s: %s %s %s %s%s", c[k].prefix,
			    sqlite3_column_text(s, 0), sqlite3_column_text(s, 1),
			    c[k].what, a, c[k].but, b, c[k].tail);
		}
	sqlite3_finalize(s);
}

static const struct pair_check charge_check[] = {
	{2, "", "charge", "but postings", ""},
};
static const struct pair_check share_check[] = {
	{2, "revenue:", "share", "but postings", ""},
};
static const struct pair_check money_check[] = {
	{2, "", "collected", "in the ledger but", " approved in settlements"},
	{4, "", "debt", "in the ledger but", " open in debts"},
};

size_t
ledger_verify(sqlite3 *db, FILE *out)
{
	sqlite3_stmt *s;
	size_t bad = 0;
	char cur[4];

	(void)tariff_version_currency(db, cur);	/* money in its words */
	if (verify_chain(db, out, &bad) == -1)
		return bad;
	/* Every transaction balances. */
	if (sqlite3_prepare_v2(db, "SELECT txn_id, sum(amount_cents) FROM ledger "
	    "GROUP BY txn_id HAVING sum(amount_cents) != 0", -1, &s, NULL) ==
	    SQLITE_OK) {
		while (sqlite3_step(s) == SQLITE_ROW) {
			char m[MONEY_TEXT_MAX];
			money_text(cur, sqlite3_column_int64(s, 1), m);
			problem(out, &bad, "transaction %lld does not balance "
			    "(sums to %s)", sqlite3_column_int64(s, 0), m);
		}
		sqlite3_finalize(s);
	}
	/* Postings equal charges, and operators' revenue their shares. */
	/* Closed (posted) days: postings equal charges; open days are
	 * provisional and posted nothing yet (SPEC §6). */
	verify_pairs(db, out, &bad, "SELECT c.account, c.service_day, "
	    "CASE WHEN c.posted THEN c.charge_cents ELSE 0 END, "
	    "coalesce((SELECT sum(amount_cents) FROM ledger l "
	    "WHERE l.rider_account = c.account AND l.service_day = "
	    "c.service_day AND l.ledger_account = 'rider:' || c.account AND "
	    "l.reason IN (" LEDGER_PRICING_REASONS ")), 0) FROM charges c",
	    charge_check, 1, cur);
	verify_pairs(db, out, &bad, "SELECT s.network_id, s.service_day, "
	    "sum(CASE WHEN c.posted THEN s.cents ELSE 0 END), "
	    "coalesce((SELECT -sum(amount_cents) FROM ledger l "
	    "WHERE l.ledger_account = 'revenue:' || s.network_id AND "
	    "l.service_day = s.service_day), 0) FROM shares s JOIN charges c "
	    "USING (account, service_day) GROUP BY s.network_id, "
	    "s.service_day", share_check, 1, cur);
	/* Money collected equals the approved settlements, debts the open
	 * ones, account-day by account-day. */
	verify_pairs(db, out, &bad, "WITH c AS (SELECT rider_account AS a, "
	    "service_day AS d, sum(CASE WHEN ledger_account = "
	    "'clearing:acquirer' THEN amount_cents ELSE 0 END) AS got, "
	    "sum(CASE WHEN ledger_account = 'debt:' || rider_account THEN "
	    "amount_cents ELSE 0 END) AS owed FROM ledger WHERE reason NOT IN "
	    "(" LEDGER_PRICING_REASONS ") GROUP BY 1, 2), s AS (SELECT account AS "
	    "a, service_day AS d, sum(CASE WHEN state = 'approved' THEN "
	    "amount_cents ELSE 0 END) AS got FROM settlements GROUP BY 1, 2), "
	    "o AS (SELECT account AS a, service_day AS d, sum(amount_cents) "
	    "AS owed FROM debts WHERE state != 'recovered' GROUP BY 1, 2) "
	    "SELECT k.a, k.d, coalesce(c.got, 0), coalesce(s.got, 0), "
	    "coalesce(c.owed, 0), coalesce(o.owed, 0) FROM (SELECT a, d FROM "
	    "c UNION SELECT a, d FROM s UNION SELECT a, d FROM o) k LEFT JOIN "
	    "c USING (a, d) LEFT JOIN s USING (a, d) LEFT JOIN o USING (a, d)",
	    money_check, 2, cur);
	return bad;
}
