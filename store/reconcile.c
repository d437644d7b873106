/*
 * audit reconcile (see reconcile.h): the reports' rows are read into
 * memory, indexed by key, and every decided settlement of the engine is
 * looked up among them; rows left over are missing on the engine's side.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "explain.h"
#include "parse.h"
#include "price-int.h"
#include "reconcile.h"
#include "strtab.h"
#include "tariff-version.h"

struct row {
	char		 reference[24], account[64], day[11], outcome[16];
	int64_t		 amount;
	const char	*file;
	size_t		 line;
	int		 matched;
};

struct rec {
	struct strtab	*keys;		/* key -> row index */
	struct row	*rows;
	size_t		 nrows, cap;
	FILE		*out;
	size_t		 bad;
	char		 cur[4];	/* the tariff's, for messages */
};

/* Splits a CSV line of 7 plain fields (no quotes) in place. */
static int
split7(char *line, char *f[7])
{
	int i;

	for (i = 0; i < 7; i++) {
		f[i] = line;
		line = strchr(line, ',');
		if ((line == NULL) != (i == 6))
			return -1;
		if (line != NULL)
			*line++ = '\0';
	}
	return strchr(f[6], '"') == NULL ? 0 : -1;
}

/* One report row into r; 0, or -1 with the problem printed. */
static int
add_row(struct rec *c, char **f, const char *file, size_t line,
    const char *day)
{
	struct row *r;
	const char *why;
	uint32_t id;
	int added;
	int64_t amount;

	if (day != NULL && strcmp(f[3], day) != 0)
		return 0;
	if (parse_int(f[4], INT64_MIN / 2, INT64_MAX / 2, &amount, &why) ==
	    -1 || (strcmp(f[5], "approved") != 0 &&
	    strcmp(f[5], "declined") != 0) || strlen(f[0]) >= 24 ||
	    strlen(f[2]) >= 64 || strlen(f[3]) != 10) {
		fprintf(c->out, "%s:%zu: not a report row\n", file, line);
		return -1;
	}
	id = strtab_intern(c->keys, f[1], strlen(f[1]), &added);
	if (id == STRTAB_NONE || price_reserve((void **)&c->rows, &c->cap,
	    (size_t)id + 1, sizeof *c->rows) == -1) {
		fprintf(c->out, "%s:%zu: out of memory\n", file, line);
		return -1;
	}
	if (!added) {
		fprintf(c->out, "%s:%zu: key %s reported twice\n", file, line,
		    f[1]);
		return -1;
	}
	r = &c->rows[id];
	c->nrows = (size_t)id + 1;
	snprintf(r->reference, sizeof r->reference, "%s", f[0]);
	snprintf(r->account, sizeof r->account, "%s", f[2]);
	snprintf(r->day, sizeof r->day, "%s", f[3]);
	snprintf(r->outcome, sizeof r->outcome, "%s", f[5]);
	r->amount = amount;
	r->file = file;
	r->line = line;
	r->matched = 0;
	return 0;
}

static void
read_report(struct rec *c, const char *file, const char *day)
{
	char line[RECONCILE_LINE_MAX + 2], *f[7];
	size_t lineno = 0;
	FILE *in = fopen(file, "r");

	if (in == NULL) {
		fprintf(c->out, "%s: %s\n", file, strerror(errno));
		c->bad++;
		return;
	}
	while (fgets(line, sizeof line, in) != NULL &&
	    c->nrows < RECONCILE_ROWS_MAX) {
		size_t n = strlen(line);
		int ch;
		lineno++;
		if ((n == 0 || line[n - 1] != '\n') && !feof(in)) {
			/* Too long: said once, the rest of it skipped. */
			fprintf(c->out, "%s:%zu: line too long (more than %d "
			    "bytes)\n", file, lineno, RECONCILE_LINE_MAX);
			c->bad++;
			while ((ch = getc(in)) != EOF && ch != '\n')
				;
			continue;
		}
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (lineno == 1 && strcmp(line, RECONCILE_HEADER) == 0)
			continue;
		if (n == 0)
			continue;
		if (split7(line, f) == -1) {
			fprintf(c->out, "%s:%zu: not a report row (7 fields)\n",
			    file, lineno);
			c->bad++;
		} else if (add_row(c, f, file, lineno, day) == -1)
			c->bad++;
	}
	fclose(in);
}

/* One settlement of the engine against its report row, if any. */
static void
match(struct rec *c, sqlite3_stmt *s)
{
	const char *key = (const char *)sqlite3_column_text(s, 0);
	const char *ref = (const char *)sqlite3_column_text(s, 1);
	const char *acc = (const char *)sqlite3_column_text(s, 2);
	const char *day = (const char *)sqlite3_column_text(s, 3);
	int64_t amount = sqlite3_column_int64(s, 4);
	const char *state = (const char *)sqlite3_column_text(s, 5);
	uint32_t id = strtab_find(c->keys, key, strlen(key));
	struct row *r;
	char m[MONEY_TEXT_MAX], m2[MONEY_TEXT_MAX];

	money_text(c->cur, amount, m);
	if (id == STRTAB_NONE) {
		fprintf(c->out, "settlement %s (reference %s, %s %s, %s, %s): "
		    "not in the acquirer's report\n", key, ref, acc, day, m,
		    state);
		c->bad++;
		return;
	}
	r = &c->rows[id];
	r->matched = 1;
	if (r->amount != amount || strcmp(r->outcome, state) != 0 ||
	    strcmp(r->account, acc) != 0 || strcmp(r->day, day) != 0 ||
	    strcmp(r->reference, ref) != 0) {
		money_text(c->cur, r->amount, m2);
		fprintf(c->out, "settlement %s: the engine has %s %s %s %s "
		    "(reference %s), the acquirer's report (%s:%zu) %s %s %s "
		    "%s (reference %s)\n", key, acc, day, m, state, ref,
		    r->file, r->line, r->account, r->day, m2, r->outcome,
		    r->reference);
		c->bad++;
	}
}

size_t
reconcile_reports(sqlite3 *db, const char *const *reports, size_t n,
    const char *day, FILE *out, struct reconcile_stats *st)
{
	struct rec c;
	sqlite3_stmt *s;
	size_t i;

	memset(st, 0, sizeof *st);
	memset(&c, 0, sizeof c);
	c.out = out;
	(void)tariff_version_currency(db, c.cur);
	if ((c.keys = strtab_new()) == NULL)
		return 1;
	for (i = 0; i < n; i++)
		read_report(&c, reports[i], day);
	if (sqlite3_prepare_v2(db, "SELECT idem_key, coalesce(reference, '-'), "
	    "account, service_day, amount_cents, state FROM settlements WHERE "
	    "state IN ('approved', 'declined') AND kind IN ('capture', "
	    "'refund', 'recovery') AND (?1 IS NULL OR service_day = ?1) ORDER "
	    "BY id", -1, &s, NULL) != SQLITE_OK) {
		fprintf(out, "no settlements: %s\n", sqlite3_errmsg(db));
		c.bad++;
	} else {
		if (day != NULL)
			sqlite3_bind_text(s, 1, day, -1, SQLITE_STATIC);
		while (sqlite3_step(s) == SQLITE_ROW) {
			st->engine++;
			if (strcmp((const char *)sqlite3_column_text(s, 5),
			    "approved") == 0) {
				st->approved++;
				st->net_cents += sqlite3_column_int64(s, 4);
			}
			match(&c, s);
		}
		sqlite3_finalize(s);
	}
	for (i = 0; i < c.nrows; i++) {
		const struct row *r = &c.rows[i];
		st->report++;
		if (r->matched)
			continue;
		char m[MONEY_TEXT_MAX];
		money_text(c.cur, r->amount, m);
		fprintf(out, "%s:%zu: %s %s %s %s %s (reference %s): not in "
		    "the engine's settlements\n", r->file, r->line,
		    strtab_name(c.keys, (uint32_t)i), r->account, r->day, m,
		    r->outcome, r->reference);
		c.bad++;
	}
	strtab_free(c.keys);
	free(c.rows);
	return c.bad;
}
