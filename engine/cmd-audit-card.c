/*
 * fare-engine audit card: a card's statement, as TfL's journey history
 * shows one, from the statement model (store/statement.c): per service
 * day a row per leg with its fare and any transfer discount, the cap's
 * discount, the day total, the payment and the taps refused at the gate;
 * local times of the tariff's zone, stop names, money as a person reads
 * it.  --csv gives the same rows for a spreadsheet (TfL's columns, then
 * the time zone and the currency).  The charges less the credits of a
 * day's rows are the day's charge.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "cmd.h"
#include "diag.h"
#include "explain.h"
#include "opt.h"
#include "parse.h"
#include "shards.h"
#include "statement.h"
#include "store.h"
#include "tap.h"
#include "tariff.h"

struct card_args {
	struct shard_paths db;	/* one database, or a cluster's shards */
	const char	*pan, *par, *token, *keyfile, *tariff;
	const char	*from, *to;
	int		 csv;
};

/*
 * --pan -: the card number from the first line of stdin, so that it is
 * neither in ps nor in the shell's history (issue 16's review).  NULL
 * when there is no line.
 */
static const char *
pan_from_stdin(void)
{
	static char line[64];

	if (fgets(line, sizeof line, stdin) == NULL)
		return NULL;
	line[strcspn(line, "\r\n")] = '\0';
	return line;
}

/* The card named well (bad usage, exit 2): OPT_RUN or opt_fail's 2. */
static int
card_check(const struct opt_cmd *cmd, struct card_args *a)
{
	struct account_key key;
	const char *why;

	if (a->pan != NULL && strcmp(a->pan, "-") == 0 &&
	    (a->pan = pan_from_stdin()) == NULL)
		return opt_fail(cmd, "--pan -: no card number on stdin");

	if (a->par != NULL && account_from(&key, ACCOUNT_PAR, a->par) == -1)
		return opt_fail(cmd, "--par '%s': not a PAR (29 letters and "
		    "digits)", a->par);
	if (a->pan != NULL && tap_check_pan(a->pan, &why) == -1)
		return opt_fail(cmd, "--pan: %s", why);
	if (a->token != NULL && account_parse(&key, a->token) == -1 &&
	    account_from(&key, ACCOUNT_TOKEN, a->token) == -1)
		return opt_fail(cmd, "--token '%s': not a card token (32 "
		    "lowercase hex, optionally after tok:)", a->token);
	return OPT_RUN;
}

/* Parses audit card's arguments: OPT_RUN, or the exit status. */
static int
card_args(int argc, char **argv, struct card_args *a)
{
	static const struct opt_cmd cmd = {"fare-engine audit card", "[DB...]",
	    0, SHARDS_AUDIT_MAX, "A card's statement, like TfL's journey history: per service "
	    "day a row per\njourney with its fare and transfer discount, the "
	    "cap's discount, taps refused\nat the gate, and the day total with "
	    "its payment; each day's charges less its\ncredits are its total.  "
	    "Local times and stop names from the tariff.  Name the\ncard by "
	    "exactly one of --pan, --par and --token; a card that showed a "
	    "PAR\nis found under its PAR account.  Several databases (or a "
	    "directory of *.db)\nare a cluster's shards: the statement of "
	    "each shard that holds the account,\nthen the total."};
	const char *db = NULL, *day = NULL;
	char err[256];
	int first, rc;
	const struct opt o[] = {
		{.name = "pan", .kind = OPT_STR, .dst = &a->pan, .arg = "PAN",
		    .help = "the card number (tokenized, never stored); - reads "
		    "it from stdin, out of ps and the shell's history",
		    .group = 1},
		{.name = "par", .kind = OPT_STR, .dst = &a->par, .arg = "PAR",
		    .help = "the payment account reference", .group = 1},
		{.name = "token", .kind = OPT_STR, .dst = &a->token,
		    .arg = "T", .help = "the card token (tok:<hex> or hex)",
		    .group = 1},
		{.name = "tariff", .kind = OPT_STR, .dst = &a->tariff,
		    .arg = "DIR", .flags = OPT_REQUIRED, .help = "the tariff: "
		    "stop names, time zone, currency"},
		{.name = "day", .kind = OPT_DAY, .dst = &day,
		    .arg = "YYYY-MM-DD", .help = "only this service day",
		    .group = 2},
		{.name = "from", .kind = OPT_DAY, .dst = &a->from,
		    .arg = "YYYY-MM-DD", .help = "from this service day on",
		    .group = 2},
		{.name = "to", .kind = OPT_DAY, .dst = &a->to,
		    .arg = "YYYY-MM-DD", .help = "through this service day"},
		{.name = "csv", .kind = OPT_FLAG, .dst = &a->csv,
		    .help = "CSV for a spreadsheet (TfL's columns)"},
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
	if (a->pan == NULL && a->par == NULL && a->token == NULL)
		return opt_fail(&cmd, "missing --pan, --par or --token");
	if (day != NULL && a->to != NULL)
		return opt_fail(&cmd, "--day and --to exclude each other");
	if (day != NULL)
		a->from = a->to = day;
	if (a->from != NULL && a->to != NULL && strcmp(a->from, a->to) > 0)
		return opt_fail(&cmd, "--from %s is after --to %s", a->from,
		    a->to);
	if ((rc = card_check(&cmd, a)) != OPT_RUN)
		return rc;
	if (shard_paths(db != NULL ? (char *const *)&db : argv + first,
	    db != NULL ? 1 : argc - first, &a->db, err, sizeof err) == -1) {
		fprintf(stderr, "fare-engine: audit card: %s\n", err);
		return 1;
	}
	return OPT_RUN;
}

/* The account a card, PAR or token is billed under now. */
static int
card_account(sqlite3 *db, const struct card_args *a, char *out, size_t len)
{
	char tok[TAP_TOKEN_HEX + 1], err[256];
	const char *token = a->token;
	struct account_key key;
	sqlite3_stmt *s;

	if (a->par != NULL) {
		if (account_from(&key, ACCOUNT_PAR, a->par) == -1) {
			fprintf(stderr, "fare-engine: --par: not 29 letters "
			    "and digits\n");
			return -1;
		}
		account_format(&key, out, len);
		return 0;
	}
	if (a->pan != NULL) {
		struct tap_tokenizer *tk;
		const char *why;
		if (tap_check_pan(a->pan, &why) == -1) {
			fprintf(stderr, "fare-engine: --pan: %s\n", why);
			return -1;
		}
		tk = a->keyfile != NULL ? tap_tokenizer_from_file(a->keyfile,
		    err, sizeof err) : tap_tokenizer_new((const unsigned char *)
		    TAP_DEV_TOKEN_KEY, strlen(TAP_DEV_TOKEN_KEY));
		if (tk == NULL || tap_token(tk, a->pan, strlen(a->pan), tok) ==
		    -1) {
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
	/* A card that showed a PAR is billed under the PAR's account. */
	if (sqlite3_prepare_v2(db, "SELECT par FROM cards WHERE token = ? AND "
	    "par IS NOT NULL", -1, &s, NULL) == SQLITE_OK) {
		sqlite3_bind_text(s, 1, key.id, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(s) == SQLITE_ROW &&
		    account_from(&key, ACCOUNT_PAR, (const char *)
		    sqlite3_column_text(s, 0)) == 0)
			account_format(&key, out, len);
		sqlite3_finalize(s);
	}
	return 0;
}

/* A CSV field, quoted when it needs it; then a comma or the line's end. */
static void
csv_field(const char *v, int last)
{
	if (strpbrk(v, ",\"\r\n") != NULL) {
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

/* The printed cells of one row: times, money and words. */
struct cells {
	char	start[EXPLAIN_TIME_MAX], end[EXPLAIN_TIME_MAX];
	char	charge[MONEY_TEXT_MAX], credit[MONEY_TEXT_MAX];
	char	total[MONEY_TEXT_MAX];
	char	journey[512], note[256];
};

/* A row's time: "08:01", or dated where the day's date would mislead. */
static void
hm(const struct tariff *t, int64_t utc, int32_t day,
    char buf[EXPLAIN_TIME_MAX])
{
	if (utc == STATEMENT_NO_TIME)
		*buf = '\0';
	else
		explain_day_time(t, utc, day, buf);
}

static void
row_cells(const struct tariff *t, const struct statement_row *r,
    int32_t day, int csv, struct cells *c)
{
	const char *cur = tariff_currency(t);

	hm(t, r->start_utc, day, c->start);
	hm(t, r->end_utc, day, c->end);
	statement_journey(t, r, c->journey, sizeof c->journey);
	statement_note(t, r, c->note, sizeof c->note);
	*c->charge = *c->credit = '\0';
	/* A refused tap adds nothing: its money cells stay empty. */
	if (r->kind != STATEMENT_REFUSED) {
		if (csv) {
			money_plain(r->charge_cents, c->charge);
			money_plain(r->credit_cents, c->credit);
			money_plain(r->day_total_cents, c->total);
		} else {
			money_text(cur, r->charge_cents, c->charge);
			money_text(cur, r->credit_cents, c->credit);
			money_text(cur, r->day_total_cents, c->total);
		}
		if (r->kind == STATEMENT_CAP)
			*c->charge = '\0';
		if (r->credit_cents == 0)
			*c->credit = '\0';
	} else
		*c->total = '\0';
}

/* The characters of UTF-8 text s (a column's width). */
static size_t
text_width(const char *s)
{
	size_t k = 0;

	for (; *s != '\0'; s++)
		k += ((unsigned char)*s & 0xc0) != 0x80;
	return k;
}

/* s in a column of width characters (never cut: widths fit the
 * statement's widest cell); then 2 spaces. */
static void
pad(const char *s, size_t width, int right)
{
	size_t k = text_width(s), fill = k < width ? width - k : 0;

	if (right)
		printf("%*s%s  ", (int)fill, "", s);
	else
		printf("%s%*s  ", s, (int)fill, "");
}

/* The text statement's column widths: its widest times and journey. */
struct widths {
	size_t	start, end, journey, charge, credit, total;
};

static void
widen(struct widths *w, const struct cells *c)
{
	size_t k;

	if ((k = text_width(c->start)) > w->start)
		w->start = k;
	if ((k = text_width(c->end)) > w->end)
		w->end = k;
	if ((k = text_width(c->journey)) > w->journey)
		w->journey = k;
	if ((k = text_width(c->charge)) > w->charge)
		w->charge = k;
	if ((k = text_width(c->credit)) > w->credit)
		w->credit = k;
	if ((k = text_width(c->total)) > w->total)
		w->total = k;
}

static void
print_cells(const char *day, const struct cells *c, const struct tariff *t,
    const struct widths *w, int csv)
{
	if (csv) {
		csv_field(day, 0);
		csv_field(c->start, 0);
		csv_field(c->end, 0);
		csv_field(c->journey, 0);
		csv_field(c->charge, 0);
		csv_field(c->credit, 0);
		csv_field(c->total, 0);
		csv_field(c->note, 0);
		csv_field(tariff_timezone(t), 0);
		csv_field(tariff_currency(t), 1);
		return;
	}
	printf("%s  ", day);
	pad(c->start, w->start, 0);
	pad(c->end, w->end, 0);
	pad(c->journey, w->journey, 0);
	pad(c->charge, w->charge, 1);
	pad(c->credit, w->credit, 1);
	printf("%*s%s%s%s\n", (int)(w->total - text_width(c->total)), "",
	    c->total, *c->note ? "  " : "", c->note);
}

/* The day's last line: what was charged, and what became of it. */
static void
day_total_cells(const struct tariff *t, const struct statement_day *d,
    int csv, struct cells *out)
{
	struct cells c;
	char pay[200];

	memset(&c, 0, sizeof c);
	statement_payment_text(t, d, pay, sizeof pay);
	snprintf(c.journey, sizeof c.journey, "Day total%s",
	    d->closed ? "" : " (provisional: the day is open)");
	if (d->refused_at_gate > 0)
		snprintf(c.note, sizeof c.note, "payment: %s; %zu tap%s "
		    "refused at the gate", pay, d->refused_at_gate,
		    d->refused_at_gate == 1 ? "" : "s");
	else
		snprintf(c.note, sizeof c.note, "payment: %s", pay);
	if (csv)
		money_plain(d->charge_cents, c.total);
	else
		money_text(tariff_currency(t), d->charge_cents, c.total);
	*out = c;
}

/* Each day's rows and its total line; widths, when given, widened. */
static void
statement_cells(const struct tariff *t, const struct statement *st, int csv,
    struct widths *grow, const struct widths *w)
{
	struct cells c;
	int32_t day;
	size_t k, i;

	for (k = 0; k < st->ndays; k++) {
		const struct statement_day *d = &st->day[k];
		const char *why;
		if (parse_day(d->service_day, &day, &why) == -1)
			day = 0;	/* stored days are valid: dated times */
		for (i = 0; i < d->nrows; i++) {
			row_cells(t, &st->row[d->row_off + i], day, csv, &c);
			if (grow != NULL)
				widen(grow, &c);
			else
				print_cells(d->service_day, &c, t, w, csv);
		}
		day_total_cells(t, d, csv, &c);
		if (grow != NULL)
			widen(grow, &c);
		else
			print_cells(d->service_day, &c, t, w, csv);
	}
}

/* The statement; header 0 leaves out the CSV header line (a second
 * shard's rows). */
static void
print_statement(const struct tariff *t, const struct statement *st, int csv,
    int header)
{
	struct widths w = {5, 5, 7, 9, 9, 10};	/* at least the heads' */

	if (csv && header)
		printf("Date,Start Time,End Time,Journey/Action,Charge,Credit,"
		    "Day Total,Note,Time Zone,Currency\n");
	else if (!csv) {
		statement_cells(t, st, csv, &w, NULL);
		printf("Statement of %s: times in %s (local), amounts in %s; "
		    "each day's charges less credits are its day total\n",
		    st->account, tariff_timezone(t), tariff_currency(t));
		printf("%-10s  ", "date");
		pad("start", w.start, 0);
		pad("end", w.end, 0);
		pad("journey", w.journey, 0);
		pad("charge", w.charge, 1);
		pad("credit", w.credit, 1);
		pad("day total", w.total, 1);
		printf("note\n");
	}
	statement_cells(t, st, csv, NULL, &w);
}

static struct tariff *
card_tariff(const char *dir)
{
	struct tariff *t;
	struct diag d;

	diag_init(&d);
	/* Its warnings are tariff check's to give; its errors are ours. */
	if ((t = tariff_load(dir, &d)) == NULL)
		diag_print(&d, stderr);
	diag_free(&d);
	return t;
}

/*
 * The account the card is billed under, over every database: its PAR's
 * where any shard knows the card's PAR (its taps moved there), else its
 * token's.  0, or -1 (said on stderr).
 */
static int
card_account_all(const struct card_args *a, char *out, size_t len)
{
	char acc[96];
	sqlite3 *db;
	int i;

	*out = '\0';
	for (i = 0; i < a->db.n; i++) {
		if ((db = store_open_ro(a->db.path[i])) == NULL)
			return -1;
		if (card_account(db, a, acc, sizeof acc) == -1) {
			sqlite3_close(db);
			return -1;
		}
		sqlite3_close(db);
		if (*out == '\0' || strncmp(acc, "par:", 4) == 0)
			snprintf(out, len, "%s", acc);
	}
	return 0;
}

int
cmd_audit_card(int argc, char **argv)
{
	struct card_args a;
	struct statement st;
	struct tariff *t = NULL;
	sqlite3 *db = NULL;
	char account[96], err[256], total[MONEY_TEXT_MAX];
	size_t days = 0, shards = 0;
	int64_t charged = 0;
	int rc = 1, i;

	if ((rc = card_args(argc, argv, &a)) != OPT_RUN)
		return rc;
	rc = 1;
	if ((t = card_tariff(a.tariff)) == NULL)
		goto out;
	if (card_account_all(&a, account, sizeof account) == -1)
		goto out;
	for (i = 0; i < a.db.n; i++) {
		size_t k;
		if ((db = store_open_ro(a.db.path[i])) == NULL)
			goto out;
		if (statement_load(db, account, a.from, a.to, &st, err,
		    sizeof err) == -1) {
			fprintf(stderr, "fare-engine: %s: %s\n", a.db.path[i],
			    err);
			goto out;
		}
		sqlite3_close(db);
		db = NULL;
		if (st.ndays > 0) {
			if (a.db.n > 1 && !a.csv)
				printf("%sshard %d: %s\n", shards ? "\n" : "",
				    i, a.db.path[i]);
			print_statement(t, &st, a.csv, shards == 0);
			for (k = 0; k < st.ndays; k++)
				charged += st.day[k].charge_cents;
			days += st.ndays;
			shards++;
		}
		statement_free(&st);
	}
	if (days == 0)
		fprintf(stderr, "fare-engine: no journeys for %s\n", account);
	else {
		if (a.db.n > 1 && !a.csv) {
			money_text(tariff_currency(t), charged, total);
			printf("\n%s: %zu day%s on %zu of %d shards, %s in "
			    "all\n", account, days, days == 1 ? "" : "s",
			    shards, a.db.n, total);
		}
		rc = 0;
	}
out:
	sqlite3_close(db);
	tariff_free(t);
	shard_paths_free(&a.db);
	return rc;
}
