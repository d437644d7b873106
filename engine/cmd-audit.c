/*
 * fare-engine audit: what auditors and riders ask of the database.
 *
 *   audit verify, keygen, checkpoint, reconcile
 *                          the proofs of the ledger: cmd-audit-ledger.c.
 *   audit card ...         the card's statement (cmd-audit-card.c).
 *   audit operators DB... --day D
 *                          revenue per network and its share of the cap
 *                          discounts (per shard and in total when given
 *                          several databases or a directory of them).
 *   audit explain DB ACCOUNT DAY --tariff DIR
 *                          the day in plain words, then its settlement
 *                          and ledger transactions.
 *
 * All open the database read-only, so they run beside the engine.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "buf.h"
#include "cmd.h"
#include "journal.h"
#include "diag.h"
#include "explain.h"
#include "ledger.h"
#include "opt.h"
#include "parse.h"
#include "price.h"
#include "price-int.h"
#include "shards.h"
#include "store.h"
#include "tap.h"
#include "tariff-version.h"
#include "tariff.h"

/* The tariff's currency as the database keeps it (set where it opens). */
static char audit_currency[4] = "EUR";

/* Read-only, with the tariff's currency noted for money(). */
static sqlite3 *
open_ro(const char *path)
{
	sqlite3 *db = store_open_ro(path);

	if (db != NULL)
		(void)tariff_version_currency(db, audit_currency);
	return db;
}

static const char *
col(sqlite3_stmt *s, int i)
{
	const unsigned char *v = sqlite3_column_text(s, i);

	return v != NULL ? (const char *)v : "";
}

/* Money as a person reads it, in the tariff's currency. */
static void
money(int64_t cents, char buf[32])
{
	money_text(audit_currency, cents, buf);
}

/* What riders were charged for a service day, in all. */
static int64_t
day_charges(sqlite3 *db, const char *day)
{
	sqlite3_stmt *s;
	int64_t charges = 0;

	if (sqlite3_prepare_v2(db, "SELECT coalesce(sum(charge_cents), 0) FROM "
	    "charges WHERE service_day = ?", -1, &s, NULL) == SQLITE_OK) {
		sqlite3_bind_text(s, 1, day, -1, SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_ROW)
			charges = sqlite3_column_int64(s, 0);
		sqlite3_finalize(s);
	}
	return charges;
}

/* The total line, and whether the riders' charges equal the revenue. */
static void
operators_total(const char *day, int64_t tf, int64_t tr, int64_t charges)
{
	char a[32], b[32], c[32], d[32];

	money(tf, a);
	money(tr, b);
	money(tf - tr, c);
	money(charges, d);
	printf("%-12s %7s %16s %14s %16s %8.1f%%\n", "total", "", a, b, c,
	    tf - tr > 0 ? 100.0 : 0.0);
	printf("riders charged %s on %s; operators' revenue %s: %s\n", d, day,
	    b, charges == tr ? "equal" : "NOT EQUAL");
}

/*
 * The operators' table of one database (or the shards' union) for day,
 * titled with what (NULL: no title line but the day's): 0 if the riders'
 * charges equal the operators' revenue, 1 if not, -1 on an SQLite error;
 * *legs: the legs counted.
 */
static int
operators_report(sqlite3 *db, const char *day, const char *what,
    int64_t *legs)
{
	int64_t tf = 0, tr = 0, charges;
	sqlite3_stmt *s;

	*legs = 0;
	/* Fares before caps are the legs' contributions (after transfer
	 * discounts); revenue is the apportioned share after caps. */
	if (sqlite3_prepare_v2(db, "WITH f AS (SELECT network_id, count(*) AS "
	    "legs, sum(contribution_cents) AS fares FROM legs WHERE "
	    "service_day = ?1 AND network_id IS NOT NULL GROUP BY network_id), "
	    "r AS (SELECT network_id, sum(revenue_cents) AS revenue_cents FROM "
	    "v_operator_revenue WHERE service_day = ?1 GROUP BY network_id) "
	    "SELECT f.network_id, f.legs, f.fares, coalesce(r.revenue_cents, "
	    "0) FROM f LEFT JOIN r USING (network_id) ORDER BY 4 DESC, 1", -1,
	    &s, NULL) != SQLITE_OK) {
		fprintf(stderr, "fare-engine: %s\n", sqlite3_errmsg(db));
		return -1;
	}
	sqlite3_bind_text(s, 1, day, -1, SQLITE_STATIC);
	printf("Operator revenue on %s%s%s\n%-12s %7s %14s %12s %14s %9s\n",
	    day, what != NULL ? ": " : "", what != NULL ? what : "",
	    "network", "legs", "fares_no_caps", "revenue", "cap_discount",
	    "of_caps");
	/* Two passes: the totals first, for each network's share. */
	while (sqlite3_step(s) == SQLITE_ROW) {
		tf += sqlite3_column_int64(s, 2);
		tr += sqlite3_column_int64(s, 3);
	}
	sqlite3_reset(s);
	while (sqlite3_step(s) == SQLITE_ROW) {
		int64_t f = sqlite3_column_int64(s, 2);
		int64_t r = sqlite3_column_int64(s, 3);
		char a[32], b[32], c[32];
		money(f, a);
		money(r, b);
		money(f - r, c);
		printf("%-12s %7lld %16s %14s %16s %8.1f%%\n", col(s, 0),
		    sqlite3_column_int64(s, 1), a, b, c, tf - tr > 0 ?
		    100.0 * (double)(f - r) / (double)(tf - tr) : 0.0);
		*legs += sqlite3_column_int64(s, 1);
	}
	sqlite3_finalize(s);
	charges = day_charges(db, day);
	operators_total(day, tf, tr, charges);
	return charges == tr ? 0 : 1;
}

int
cmd_audit_operators(int argc, char **argv)
{
	static const struct opt_cmd cmd = {"fare-engine audit operators",
	    "DB...", 1, SHARDS_AUDIT_MAX, "Each network's legs, fares before "
	    "caps, revenue and share of the day's cap\ndiscounts; checks that "
	    "the operators' revenue equals what riders were charged\n(exit 1 "
	    "if not).  Several databases (or a directory of *.db) are a "
	    "cluster's\nshards: a table for each, then one for all of them "
	    "together."};
	static const char *const names[] = {"legs", "v_operator_revenue",
	    "charges"};
	const char *day = NULL;
	struct shard_paths sp;
	char err[512], what[64];
	int64_t legs = 0, l;
	sqlite3 *db;
	int first, rc, i, bad = 0;
	const struct opt o[] = {
		{.name = "day", .kind = OPT_DAY, .dst = &day,
		    .arg = "YYYY-MM-DD", .help = "the service day",
		    .flags = OPT_REQUIRED},
		{.name = NULL},
	};

	if ((rc = opt_parse(&cmd, o, argc, argv, &first)) != OPT_RUN)
		return rc;
	if (shard_paths(argv + first, argc - first, &sp, err, sizeof err) ==
	    -1) {
		fprintf(stderr, "fare-engine: audit operators: %s\n", err);
		return 1;
	}
	for (i = 0; i < sp.n; i++) {
		if ((db = open_ro(sp.path[i])) == NULL) {
			shard_paths_free(&sp);
			return 1;
		}
		if (sp.n > 1)
			snprintf(what, sizeof what, "shard %d (%.40s)", i,
			    sp.path[i]);
		rc = operators_report(db, day, sp.n > 1 ? what : NULL, &l);
		sqlite3_close(db);
		if (rc == -1) {
			shard_paths_free(&sp);
			return 1;
		}
		bad += rc;
		legs += l;
		if (sp.n > 1)
			printf("\n");
	}
	if (sp.n > 1) {
		if ((db = shards_union(&sp, names, 3, err, sizeof err)) ==
		    NULL) {
			fprintf(stderr, "fare-engine: audit operators: %s\n",
			    err);
			shard_paths_free(&sp);
			return 1;
		}
		snprintf(what, sizeof what, "all %d shards", sp.n);
		rc = operators_report(db, day, what, &l);
		sqlite3_close(db);
		bad += rc != 0;
	}
	shard_paths_free(&sp);
	if (legs == 0)
		fprintf(stderr, "fare-engine: no legs on %s\n", day);
	return bad > 0 ? 1 : 0;
}

/* The account's taps, as the engine prices them; -1 if unreadable. */
/* Collects an account's stored taps for pricing (journal_account_taps). */
struct explain_taps {
	const struct tariff	*t;
	struct price_tap	*pt;
	size_t			 n, cap;
};

static int
explain_tap_cb(const struct journal_tap *jt, void *arg)
{
	struct explain_taps *e = arg;
	struct price_tap *p;

	if (price_reserve((void **)&e->pt, &e->cap, e->n + 1,
	    sizeof *e->pt) == -1)
		return -1;
	p = &e->pt[e->n];
	p->time = jt->time_utc;
	p->network = tariff_network(e->t, jt->network_id,
	    strlen(jt->network_id));
	p->stop = tariff_stop(e->t, jt->stop_id, strlen(jt->stop_id));
	p->kind = (uint8_t)jt->out;
	/* A stop gone from a reloaded tariff cannot count (as the writer). */
	if (p->network != TARIFF_NONE && p->stop != TARIFF_NONE)
		e->n++;
	return 0;
}

/*
 * The account's taps as the engine prices them: the store's one loader,
 * and none for a card token that has since joined a PAR account (its taps
 * are that account's now).
 */
static int
explain_taps(const char *path, const struct tariff *t, const char *account,
    struct explain_taps *e)
{
	char err[256], now[ACCOUNT_TEXT_MAX];
	struct account_key key;
	struct journal *j;
	int rc = 0;

	e->t = t;
	if (account_parse(&key, account) == -1) {
		fprintf(stderr, "fare-engine: '%s' is not an account "
		    "(par:<PAR> or tok:<token>)\n", account);
		return -1;
	}
	if ((j = journal_open_ro(path, err, sizeof err)) == NULL) {
		fprintf(stderr, "fare-engine: %s\n", err);
		return -1;
	}
	if (key.kind == ACCOUNT_TOKEN)
		journal_card_account(j, key.id, now, sizeof now);
	if (key.kind == ACCOUNT_PAR || strcmp(now, account) == 0)
		rc = journal_account_taps(j, account, INT64_MIN,
		    explain_tap_cb, e);
	journal_close(j);
	return rc;
}

/* The explanation of the day, checked against the stored charge. */
static int
explain_priced_day(sqlite3 *db, const struct tariff *t, const char *account,
    const char *day, const struct price_result *pr, struct buf *out)
{
	sqlite3_stmt *s;
	int64_t stored = -1;
	int found = 0;
	size_t k;

	for (k = 0; k < pr->ndays; k++) {
		char dd[11];
		civil_format_day(pr->day[k].service_day, dd);
		if (strcmp(dd, day) != 0)
			continue;
		explain_day(t, account, pr, &pr->day[k], out);
		fwrite(out->p, 1, out->len, stdout);
		found = 1;
		if (sqlite3_prepare_v2(db, "SELECT charge_cents FROM charges "
		    "WHERE account = ? AND service_day = ?", -1, &s, NULL) ==
		    SQLITE_OK) {
			sqlite3_bind_text(s, 1, account, -1, SQLITE_STATIC);
			sqlite3_bind_text(s, 2, day, -1, SQLITE_STATIC);
			if (sqlite3_step(s) == SQLITE_ROW)
				stored = sqlite3_column_int64(s, 0);
			sqlite3_finalize(s);
		}
		if (stored == pr->day[k].charge_cents)
			printf("The engine's stored charge is the same.\n");
		else {
			char m[MONEY_TEXT_MAX];
			explain_money(t, stored, m);
			printf("WARNING: the engine's stored charge is %s "
			    "(repriced since?).\n", stored < 0 ? "none" : m);
		}
	}
	return found;
}

static void
explain_settlement(sqlite3 *db, const struct tariff *t, const char *account,
    const char *day)
{
	sqlite3_stmt *s;
	int m = 0;

	printf("\nSettlement (times in %s):\n", tariff_timezone(t));
	if (sqlite3_prepare_v2(db, "SELECT idem_key, kind, amount_cents, "
	    "state, coalesce(result, ''), coalesce(decided_utc, created_utc), "
	    "coalesce(reference, '-') FROM settlements WHERE account = ? AND "
	    "service_day = ? ORDER BY id", -1, &s, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_text(s, 1, account, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, day, -1, SQLITE_STATIC);
	while (sqlite3_step(s) == SQLITE_ROW) {
		char a[32], when[EXPLAIN_TIME_MAX];
		explain_money(t, sqlite3_column_int64(s, 2), a);
		explain_local_time(t, sqlite3_column_int64(s, 5), 1, when);
		printf("  %s %s %s: %s %s (reference %s, key %s)\n", when,
		    col(s, 1), a, col(s, 3), col(s, 4), col(s, 6), col(s, 0));
		m++;
	}
	sqlite3_finalize(s);
	if (m == 0)
		printf("  not settled yet (the day closes, plus the grace "
		    "period, first)\n");
}

static void
explain_ledger(sqlite3 *db, const struct tariff *t, const char *account,
    const char *day)
{
	sqlite3_stmt *s;
	int64_t last = -1, owed = 0;
	char a[32], when[EXPLAIN_TIME_MAX];

	printf("\nLedger transactions (times in %s):\n", tariff_timezone(t));
	if (sqlite3_prepare_v2(db, "SELECT txn_id, posted_utc, reason, "
	    "ledger_account, "
	    "amount_cents FROM ledger WHERE rider_account = ? AND "
	    "service_day = ? ORDER BY entry_id", -1, &s, NULL) != SQLITE_OK) {
		fprintf(stderr, "fare-engine: %s\n", sqlite3_errmsg(db));
		return;
	}
	sqlite3_bind_text(s, 1, account, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, day, -1, SQLITE_STATIC);
	while (sqlite3_step(s) == SQLITE_ROW) {
		explain_local_time(t, sqlite3_column_int64(s, 1), 1, when);
		if (sqlite3_column_int64(s, 0) != last)
			printf("  txn %lld at %s (%s):\n",
			    sqlite3_column_int64(s, 0), when, col(s, 2));
		last = sqlite3_column_int64(s, 0);
		explain_money(t, sqlite3_column_int64(s, 4), a);
		printf("    %-50s %12s\n", col(s, 3), a);
		if (strncmp(col(s, 3), "rider:", 6) == 0 ||
		    strncmp(col(s, 3), "debt:", 5) == 0)
			owed += sqlite3_column_int64(s, 4);
	}
	sqlite3_finalize(s);
	explain_money(t, owed, a);
	printf("  The rider still owes %s for this day.\n", a);
}

int
cmd_audit_explain(int argc, char **argv)
{
	static const struct opt_cmd cmd = {"fare-engine audit explain",
	    "DB ACCOUNT YYYY-MM-DD", 3, 3, "Reprices ACCOUNT (par:<PAR> or "
	    "tok:<token>) from its stored taps and explains\nthe service day "
	    "as price --explain does, says whether the stored charge is the\n"
	    "same, then lists its settlement requests and ledger "
	    "transactions."};
	const char *path, *account, *day, *dir = NULL, *why;
	struct explain_taps et = {NULL, NULL, 0, 0};
	int64_t now = (int64_t)time(NULL);
	struct account_key key;
	struct price_result pr;
	struct tariff *t = NULL;
	struct diag d;
	struct buf out;
	sqlite3 *db = NULL;
	int32_t days;
	int rc = 1, first;
	/* The engine's clock where it ran with one (open legs are priced
	 * against it), as `serve --clock` takes it. */
	const struct opt o[] = {
		{.name = "tariff", .kind = OPT_STR, .dst = &dir, .arg = "DIR",
		    .help = "the tariff the engine priced with",
		    .flags = OPT_REQUIRED},
		{.name = "clock", .kind = OPT_TIME, .dst = &now,
		    .arg = "RFC3339", .help = "price open legs against this "
		    "clock (default now)"},
		{.name = NULL},
	};

	if ((rc = opt_parse(&cmd, o, argc, argv, &first)) != OPT_RUN)
		return rc;
	rc = 1;
	path = argv[first];
	account = argv[first + 1];
	day = argv[first + 2];
	if (account_parse(&key, account) == -1)
		return opt_fail(&cmd, "'%s': an account is par:<PAR> or "
		    "tok:<token>", account);
	if (parse_day(day, &days, &why) == -1)
		return opt_fail(&cmd, "'%s': %s", day, why);
	diag_init(&d);
	t = tariff_load(dir, &d);
	diag_print(&d, stderr);
	diag_free(&d);
	if (t == NULL || (db = open_ro(path)) == NULL) {
		tariff_free(t);
		return 1;
	}
	price_result_init(&pr);
	memset(&out, 0, sizeof out);
	if (explain_taps(path, t, account, &et) == -1)
		goto out;
	if (price_account(t, et.pt, et.n, now, &pr) == -1) {
		fprintf(stderr, "fare-engine: cannot price %s\n", account);
		goto out;
	}
	if (!explain_priced_day(db, t, account, day, &pr, &out)) {
		fprintf(stderr, "fare-engine: %s has no journeys on %s\n",
		    account, day);
		goto out;
	}
	explain_settlement(db, t, account, day);
	explain_ledger(db, t, account, day);
	rc = 0;
out:
	free(et.pt);
	free(out.p);
	price_result_free(&pr);
	sqlite3_close(db);
	tariff_free(t);
	return rc;
}
