/*
 * fare-engine audit: what auditors and riders ask of the database.
 *
 *   audit verify, keygen, checkpoint, reconcile
 *                          the proofs of the ledger: cmd-audit-ledger.c.
 *   audit card DB (--pan PAN | --par PAR | --token T) [--csv]
 *                          [--token-key-file F]
 *                          the journey history, one row per journey.
 *   audit operators DB --day D
 *                          revenue per network and its share of the cap
 *                          discounts.
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
#include "tap.h"
#include "tariff.h"

static sqlite3 *
open_ro(const char *path)
{
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		fprintf(stderr, "fare-engine: %s: %s\n", path,
		    db ? sqlite3_errmsg(db) : "cannot open");
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 5000);
	return db;
}

static const char *
col(sqlite3_stmt *s, int i)
{
	const unsigned char *v = sqlite3_column_text(s, i);

	return v != NULL ? (const char *)v : "";
}

/* The account a card, PAR or token is billed under now. */
static int
find_account(sqlite3 *db, const char *pan, const char *par,
    const char *token, const char *keyfile, char *out, size_t len)
{
	char tok[TAP_TOKEN_HEX + 1], err[256];
	sqlite3_stmt *s;

	struct account_key key;

	if (par != NULL) {
		if (account_from(&key, ACCOUNT_PAR, par) == -1) {
			fprintf(stderr, "fare-engine: --par: not 29 letters "
			    "and digits\n");
			return -1;
		}
		account_format(&key, out, len);
		return 0;
	}
	if (pan != NULL) {
		struct tap_tokenizer *tk;
		const char *why;
		if (tap_check_pan(pan, &why) == -1) {
			fprintf(stderr, "fare-engine: --pan: %s\n", why);
			return -1;
		}
		tk = keyfile != NULL ? tap_tokenizer_from_file(keyfile, err,
		    sizeof err) : tap_tokenizer_new((const unsigned char *)
		    TAP_DEV_TOKEN_KEY, strlen(TAP_DEV_TOKEN_KEY));
		if (tk == NULL || tap_token(tk, pan, strlen(pan), tok) == -1) {
			fprintf(stderr, "fare-engine: cannot tokenize the "
			    "card: %s\n", tk == NULL ? err : "bad PAN");
			tap_tokenizer_free(tk);
			return -1;
		}
		tap_tokenizer_free(tk);
		token = tok;
	}
	if (account_parse(&key, token) == -1 &&
	    account_from(&key, ACCOUNT_TOKEN, token) == -1) {
		fprintf(stderr, "fare-engine: --token: not a card token (32 "
		    "lowercase hex, optionally after tok:)\n");
		return -1;
	}
	account_format(&key, out, len);
	if (sqlite3_prepare_v2(db, "SELECT par FROM cards WHERE token = ? AND "
	    "par IS NOT NULL", -1, &s, NULL) == SQLITE_OK) {
		sqlite3_bind_text(s, 1, key.id, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(s) == SQLITE_ROW &&
		    account_from(&key, ACCOUNT_PAR, col(s, 0)) == 0)
			account_format(&key, out, len);
		sqlite3_finalize(s);
	}
	return 0;
}

static void
money(int64_t cents, char buf[32])
{
	snprintf(buf, 32, "%s%lld.%02lld", cents < 0 ? "-" : "",
	    (long long)(cents < 0 ? -cents : cents) / 100,
	    (long long)(cents < 0 ? -cents : cents) % 100);
}

/* A CSV field, quoted when it needs it. */
static void
csv_field(const char *v, int last)
{
	if (strpbrk(v, ",\"\n") != NULL) {
		putchar('"');
		for (; *v; v++) {
			if (*v == '"')
				putchar('"');
			putchar(*v);
		}
		putchar('"');
	} else
		fputs(v, stdout);
	putchar(last ? '\n' : ',');
}

struct card_args {
	const char	*path, *pan, *par, *token, *keyfile;
	int		 csv;
};

/* Parses audit card's arguments: OPT_RUN, or the exit status. */
static int
card_args(int argc, char **argv, struct card_args *a)
{
	static const struct opt_cmd cmd = {"fare-engine audit card", "[DB]",
	    0, 1, "A card's journey history, like TfL's statement: a row per "
	    "journey and a\nday-total row.  Name the card by exactly one of "
	    "--pan, --par and --token;\na card that showed a PAR is found "
	    "under its PAR account."};
	const char *db = NULL;
	int first, rc;
	const struct opt o[] = {
		{.name = "pan", .kind = OPT_STR, .dst = &a->pan, .arg = "PAN",
		    .help = "the card number (tokenized, never stored)",
		    .group = 1},
		{.name = "par", .kind = OPT_STR, .dst = &a->par, .arg = "PAR",
		    .help = "the payment account reference", .group = 1},
		{.name = "token", .kind = OPT_STR, .dst = &a->token,
		    .arg = "T", .help = "the card token (tok:<hex> or hex)",
		    .group = 1},
		{.name = "csv", .kind = OPT_FLAG, .dst = &a->csv,
		    .help = "CSV for a spreadsheet"},
		{.name = "token-key-file", .kind = OPT_STR, .dst = &a->keyfile,
		    .arg = "FILE", .help = "the card token key (for --pan)"},
		{.name = "db", .kind = OPT_STR, .dst = &db, .arg = "DB",
		    .help = "the database (instead of the operand)"},
		{.name = NULL},
	};

	memset(a, 0, sizeof *a);
	if ((rc = opt_parse(&cmd, o, argc, argv, &first)) != OPT_RUN)
		return rc;
	if ((db != NULL) == (first < argc))
		return opt_fail(&cmd, "name the database once: DB or --db DB");
	a->path = db != NULL ? db : argv[first];
	if (a->pan == NULL && a->par == NULL && a->token == NULL)
		return opt_fail(&cmd, "missing --pan, --par or --token");
	return OPT_RUN;
}

/* The notes column of a leg (or of a day's total) in plain words. */
static void
card_note(const char *status, int total, int64_t charge, int64_t fare,
    char *note, size_t len)
{
	char u[32];

	if (total) {
		money(fare, u);
		snprintf(note, len, "%s", charge < fare ? "" :
		    "no cap reached");
		if (charge < fare)
			snprintf(note, len, "capped: %s without caps", u);
	} else if (strcmp(status, "complete") == 0)
		snprintf(note, len, "%s", "");
	else if (strcmp(status, "incomplete") == 0)
		snprintf(note, len, "no check-out: maximum fare");
	else if (strcmp(status, "autocompleted") == 0)
		snprintf(note, len, "no check-out: completed automatically");
	else if (strcmp(status, "cancelled") == 0)
		snprintf(note, len, "checked out where checked in: no charge");
	else if (strcmp(status, "open") == 0)
		snprintf(note, len, "still travelling");
	else
		snprintf(note, len, "%s", status);
	if (!total && strcmp(status, "incomplete") != 0 && charge < fare &&
	    note[0] == '\0')
		snprintf(note, len, "transfer discount");
}

/* One row of the history: a leg, or a day's total. */
static void
card_row(sqlite3_stmt *s, int csv)
{
	const char *when = col(s, 1), *status = col(s, 4);
	int total = sqlite3_column_int(s, 6);
	int64_t charge = sqlite3_column_int64(s, 3);
	int64_t fare = sqlite3_column_int64(s, 5);
	char c[32], note[160], tm[9] = "";

	if (strlen(when) >= 19)
		snprintf(tm, sizeof tm, "%.8s", when + 11);
	money(charge, c);
	card_note(status, total, charge, fare, note, sizeof note);
	if (csv) {
		csv_field(col(s, 0), 0);
		csv_field(tm, 0);
		csv_field(col(s, 2), 0);
		csv_field(c, 0);
		csv_field(total && charge < fare ? "yes" : total ? "no" : "",
		    0);
		csv_field(note, 1);
	} else
		printf("%-10s  %-8s  %-44.44s  %8s  %-6s  %s\n", col(s, 0), tm,
		    col(s, 2), c, total ? (charge < fare ? "yes" : "no") : "",
		    note);
}

int
cmd_audit_card(int argc, char **argv)
{
	struct card_args a;
	char account[96];
	int rows = 0, rc;
	sqlite3 *db;
	sqlite3_stmt *s;

	if ((rc = card_args(argc, argv, &a)) != OPT_RUN)
		return rc;
	if ((db = open_ro(a.path)) == NULL)
		return 1;
	if (find_account(db, a.pan, a.par, a.token, a.keyfile, account,
	    sizeof account) == -1) {
		sqlite3_close(db);
		return 1;
	}
	/* One row per journey (leg), then the day's total and settlement. */
	if (sqlite3_prepare_v2(db, "SELECT l.service_day, coalesce("
	    "l.checkin_utc, l.checkout_utc), coalesce(l.from_stop_id, '?') || "
	    "' to ' || coalesce(l.to_stop_id, '?') || ' (' || "
	    "coalesce(l.network_id, '?') || ')', l.contribution_cents, "
	    "l.status, l.fare_cents, 0 FROM v_legs l WHERE l.account = ?1 "
	    "UNION ALL SELECT c.service_day, NULL, 'day total', "
	    "c.charge_cents, CASE WHEN c.charge_cents < c.uncapped_cents THEN "
	    "'capped' ELSE '' END, c.uncapped_cents, 1 FROM charges c WHERE "
	    "c.account = ?1 ORDER BY 1, 7, 2", -1, &s, NULL) != SQLITE_OK) {
		fprintf(stderr, "fare-engine: %s: %s\n", a.path,
		    sqlite3_errmsg(db));
		sqlite3_close(db);
		return 1;
	}
	sqlite3_bind_text(s, 1, account, -1, SQLITE_STATIC);
	if (a.csv)
		printf("date,time,journey,charge,capped,notes\n");
	else
		printf("Journey history of %s (times UTC, amounts in the "
		    "tariff's currency)\n%-10s  %-8s  %-44s  %8s  %-6s  %s\n",
		    account, "date", "time", "journey", "charge", "capped",
		    "notes");
	for (; sqlite3_step(s) == SQLITE_ROW; rows++)
		card_row(s, a.csv);
	sqlite3_finalize(s);
	sqlite3_close(db);
	if (rows == 0) {
		fprintf(stderr, "fare-engine: no journeys for %s\n", account);
		return 1;
	}
	return 0;
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
	printf("%-12s %7s %14s %12s %14s %8.1f%%\n", "total", "", a, b, c,
	    tf - tr > 0 ? 100.0 : 0.0);
	printf("riders charged %s on %s; operators' revenue %s: %s\n", d, day,
	    b, charges == tr ? "equal" : "NOT EQUAL");
}

int
cmd_audit_operators(int argc, char **argv)
{
	static const struct opt_cmd cmd = {"fare-engine audit operators",
	    "DB", 1, 1, "Each network's legs, fares before caps, revenue and "
	    "share of the day's cap\ndiscounts; checks that the operators' "
	    "revenue equals what riders were charged\n(exit 1 if not)."};
	const char *path, *day = NULL;
	int64_t tf = 0, tr = 0, charges = 0;
	sqlite3 *db;
	sqlite3_stmt *s;
	int n = 0, first, rc;
	const struct opt o[] = {
		{.name = "day", .kind = OPT_DAY, .dst = &day,
		    .arg = "YYYY-MM-DD", .help = "the service day",
		    .flags = OPT_REQUIRED},
		{.name = NULL},
	};

	if ((rc = opt_parse(&cmd, o, argc, argv, &first)) != OPT_RUN)
		return rc;
	path = argv[first];
	if ((db = open_ro(path)) == NULL)
		return 1;
	/* Fares before caps are the legs' contributions (after transfer
	 * discounts); revenue is the apportioned share after caps. */
	if (sqlite3_prepare_v2(db, "WITH f AS (SELECT network_id, count(*) AS "
	    "legs, sum(contribution_cents) AS fares FROM legs WHERE "
	    "service_day = ?1 AND network_id IS NOT NULL GROUP BY network_id), "
	    "r AS (SELECT network_id, revenue_cents FROM v_operator_revenue "
	    "WHERE service_day = ?1) SELECT f.network_id, f.legs, f.fares, "
	    "coalesce(r.revenue_cents, 0) FROM f LEFT JOIN r USING "
	    "(network_id) ORDER BY 4 DESC, 1", -1, &s, NULL) != SQLITE_OK) {
		fprintf(stderr, "fare-engine: %s\n", sqlite3_errmsg(db));
		sqlite3_close(db);
		return 1;
	}
	sqlite3_bind_text(s, 1, day, -1, SQLITE_STATIC);
	printf("Operator revenue on %s\n%-12s %7s %14s %12s %14s %9s\n", day,
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
		printf("%-12s %7lld %14s %12s %14s %8.1f%%\n", col(s, 0),
		    sqlite3_column_int64(s, 1), a, b, c, tf - tr > 0 ?
		    100.0 * (double)(f - r) / (double)(tf - tr) : 0.0);
		n++;
	}
	sqlite3_finalize(s);
	charges = day_charges(db, day);
	sqlite3_close(db);
	operators_total(day, tf, tr, charges);
	if (n == 0)
		fprintf(stderr, "fare-engine: no legs on %s\n", day);
	return charges == tr ? 0 : 1;
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
		else
			printf("WARNING: the engine's stored charge is %lld "
			    "cents (repriced since?).\n", (long long)stored);
	}
	return found;
}

static void
explain_settlement(sqlite3 *db, const char *account, const char *day)
{
	sqlite3_stmt *s;
	int m = 0;

	printf("\nSettlement:\n");
	if (sqlite3_prepare_v2(db, "SELECT idem_key, kind, amount_cents, "
	    "state, coalesce(result, ''), coalesce(decided_utc, created_utc), "
	    "coalesce(reference, '-') FROM v_settlements WHERE account = ? AND "
	    "service_day = ? ORDER BY id", -1, &s, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_text(s, 1, account, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, day, -1, SQLITE_STATIC);
	while (sqlite3_step(s) == SQLITE_ROW) {
		char a[32];
		money(sqlite3_column_int64(s, 2), a);
		printf("  %s %s %s: %s %s (reference %s, key %s)\n", col(s, 5),
		    col(s, 1), a, col(s, 3), col(s, 4), col(s, 6), col(s, 0));
		m++;
	}
	sqlite3_finalize(s);
	if (m == 0)
		printf("  not settled yet (the day closes, plus the grace "
		    "period, first)\n");
}

static void
explain_ledger(sqlite3 *db, const char *account, const char *day)
{
	sqlite3_stmt *s;
	int64_t last = -1, owed = 0;
	char a[32];

	printf("\nLedger transactions:\n");
	if (sqlite3_prepare_v2(db, "SELECT txn_id, strftime('%Y-%m-%dT%H:%M:"
	    "%SZ', posted_utc, 'unixepoch'), reason, ledger_account, "
	    "amount_cents FROM ledger WHERE rider_account = ? AND "
	    "service_day = ? ORDER BY entry_id", -1, &s, NULL) != SQLITE_OK) {
		fprintf(stderr, "fare-engine: %s\n", sqlite3_errmsg(db));
		return;
	}
	sqlite3_bind_text(s, 1, account, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, day, -1, SQLITE_STATIC);
	while (sqlite3_step(s) == SQLITE_ROW) {
		if (sqlite3_column_int64(s, 0) != last)
			printf("  txn %lld at %s (%s):\n",
			    sqlite3_column_int64(s, 0), col(s, 1), col(s, 2));
		last = sqlite3_column_int64(s, 0);
		money(sqlite3_column_int64(s, 4), a);
		printf("    %-50s %10s\n", col(s, 3), a);
		if (strncmp(col(s, 3), "rider:", 6) == 0 ||
		    strncmp(col(s, 3), "debt:", 5) == 0)
			owed += sqlite3_column_int64(s, 4);
	}
	sqlite3_finalize(s);
	money(owed, a);
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
	explain_settlement(db, account, day);
	explain_ledger(db, account, day);
	rc = 0;
out:
	free(et.pt);
	free(out.p);
	price_result_free(&pr);
	sqlite3_close(db);
	tariff_free(t);
	return rc;
}
