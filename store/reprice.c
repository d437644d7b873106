/*
 * audit verify's repricing (see reprice.h).  Each account's taps are read
 * with the journal's one loader, as the writer reads them; each tariff
 * version is written from the database to a temporary directory and
 * loaded with the one tariff loader; pricing is price_account(), the
 * writer's own.  A closed day (posted) whose legs are all closed is final:
 * pricing it again must give what is stored, leg by leg.
 */
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diag.h"
#include "journal.h"
#include "parse.h"
#include "price-int.h"
#include "price.h"
#include "reprice.h"
#include "tap.h"
#include "tariff-version.h"
#include "tariff.h"

struct rtap {
	int64_t		 time;
	char		 network_id[129], stop_id[129];
	uint8_t		 out;
};

struct rday {
	char		 day[11];
	int64_t		 charge, uncapped, version;
	int		 open_legs, posted;
};

struct rversion {
	int64_t		 id;
	struct tariff	*t;		/* NULL: does not load */
};

struct rctx {
	sqlite3			*db;
	struct journal		*j;
	FILE			*out;
	struct reprice_stats	*st;
	struct rversion		 v[REPRICE_VERSIONS_MAX];
	size_t			 nv;
	struct rtap		*taps;
	size_t			 ntaps, tcap;
	struct rday		*days;
	size_t			 ndays, dcap;
	struct price_tap	*pt;
	size_t			 ptcap;
	struct price_result	 pr;
	sqlite3_stmt		*sel_days, *sel_legs, *sel_shares, *sel_dayv;
	sqlite3_stmt		*sel_open;
	char			 closed_through[11];
	char			 first_versioned[11];	/* "": none */
	int64_t			 latest;
	size_t			 bad, lines;	/* days that differ; lines */
	const char		*account, *day;	/* being checked */
	int64_t			 version;
};

/* One difference of the account-day being checked. */
static void diff(struct rctx *, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
diff(struct rctx *c, const char *fmt, ...)
{
	va_list ap;

	if (c->lines++ >= REPRICE_LINES_PER_DAY)
		return;
	fprintf(c->out, "reprice: %s %s (tariff version %lld): ", c->account,
	    c->day, (long long)c->version);
	va_start(ap, fmt);
	vfprintf(c->out, fmt, ap);
	va_end(ap);
	fputc('\n', c->out);
}

/* Removes the files of a temporary tariff directory and the directory. */
static void
remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (d != NULL) {
		while ((e = readdir(d)) != NULL)
			if (e->d_name[0] != '.')
				unlinkat(dirfd(d), e->d_name, 0);
		closedir(d);
	}
	rmdir(dir);
}

/* Loads version id from the database through a temporary directory. */
static struct tariff *
load_version(struct rctx *c, int64_t id)
{
	const char *tmp = getenv("TMPDIR");
	char dir[4096], err[512];
	struct tariff *t = NULL;
	struct diag d;

	snprintf(dir, sizeof dir, "%s/onecity-tariff-XXXXXX",
	    tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		fprintf(c->out, "reprice: no temporary directory for tariff "
		    "version %lld\n", (long long)id);
		return NULL;
	}
	if (tariff_version_extract(c->db, id, dir, err, sizeof err) == -1)
		fprintf(c->out, "reprice: %s\n", err);
	else {
		diag_init(&d);
		if ((t = tariff_load(dir, &d)) == NULL) {
			fprintf(c->out, "reprice: tariff version %lld does not "
			    "load:\n", (long long)id);
			diag_print(&d, c->out);
		}
		diag_free(&d);
	}
	remove_dir(dir);
	return t;
}

/* The tariff of a version, loaded once (NULL: it does not load). */
static struct tariff *
version_tariff(struct rctx *c, int64_t id)
{
	size_t i;

	for (i = 0; i < c->nv; i++)
		if (c->v[i].id == id)
			return c->v[i].t;
	if (c->nv == REPRICE_VERSIONS_MAX) {	/* the oldest goes */
		tariff_free(c->v[0].t);
		memmove(c->v, c->v + 1, (c->nv - 1) * sizeof c->v[0]);
		c->nv--;
	}
	c->v[c->nv].id = id;
	c->v[c->nv].t = load_version(c, id);
	return c->v[c->nv++].t;
}

static int
tap_cb(const struct journal_tap *jt, void *arg)
{
	struct rctx *c = arg;
	struct rtap *t;

	if (price_reserve((void **)&c->taps, &c->tcap, c->ntaps + 1,
	    sizeof *c->taps) == -1)
		return -1;
	t = &c->taps[c->ntaps++];
	t->time = jt->time_utc;
	snprintf(t->network_id, sizeof t->network_id, "%s", jt->network_id);
	snprintf(t->stop_id, sizeof t->stop_id, "%s", jt->stop_id);
	t->out = (uint8_t)jt->out;
	return 0;
}

/*
 * The account's taps as the writer reads them: none for a card token that
 * has since joined a PAR account (its taps are that account's).
 */
static int
load_taps(struct rctx *c, const char *account)
{
	char now[ACCOUNT_TEXT_MAX];
	struct account_key key;

	c->ntaps = 0;
	if (account_parse(&key, account) == -1)
		return -1;
	if (key.kind == ACCOUNT_TOKEN) {
		journal_card_account(c->j, key.id, now, sizeof now);
		if (strcmp(now, account) != 0)
			return 0;
	}
	return journal_account_taps(c->j, account, INT64_MIN, tap_cb, c);
}

/*
 * Prices the taps with t, as the writer does (unknown stops skipped), with
 * the clock at now (PRICE_END_OF_TIME: every leg closed).
 */
static int
price_with(struct rctx *c, const struct tariff *t, int64_t now)
{
	size_t i, n = 0;

	if (price_reserve((void **)&c->pt, &c->ptcap, c->ntaps + 1,
	    sizeof *c->pt) == -1)
		return -1;
	for (i = 0; i < c->ntaps; i++) {
		struct price_tap *p = &c->pt[n];
		p->time = c->taps[i].time;
		p->network = tariff_network(t, c->taps[i].network_id,
		    strlen(c->taps[i].network_id));
		p->stop = tariff_stop(t, c->taps[i].stop_id,
		    strlen(c->taps[i].stop_id));
		p->kind = c->taps[i].out;
		if (p->network != TARIFF_NONE && p->stop != TARIFF_NONE)
			n++;
	}
	return price_account(t, c->pt, n, now, &c->pr);
}

static const struct price_day *
find_day(const struct price_result *r, const char *day)
{
	char dd[11];
	size_t k;

	for (k = 0; k < r->ndays; k++) {
		civil_format_day(r->day[k].service_day, dd);
		if (strcmp(dd, day) == 0)
			return &r->day[k];
	}
	return NULL;
}

static const char *
text_or_null(sqlite3_stmt *s, int col)
{
	return sqlite3_column_type(s, col) == SQLITE_NULL ? "null" :
	    (const char *)sqlite3_column_text(s, col);
}

static void
fmt_time(int64_t t, char buf[21])
{
	if (t == PRICE_NO_TIME)
		snprintf(buf, 21, "null");
	else
		civil_format_utc(t, buf);
}

/* One stored leg (a row of sel_legs) against the repriced one. */
static void
check_leg(struct rctx *c, const struct tariff *t, sqlite3_stmt *s,
    const struct price_leg *l)
{
	char want[600], got[600], in[21], out[21], sin[21], sout[21];

	fmt_time(l->checkin, in);
	fmt_time(l->checkout, out);
	fmt_time(sqlite3_column_type(s, 4) == SQLITE_NULL ? PRICE_NO_TIME :
	    sqlite3_column_int64(s, 4), sin);
	fmt_time(sqlite3_column_type(s, 5) == SQLITE_NULL ? PRICE_NO_TIME :
	    sqlite3_column_int64(s, 5), sout);
	snprintf(want, sizeof want, "%s %s-%s %s-%s %s %lld/%lld",
	    tariff_network_id(t, l->network), l->from_stop == TARIFF_NONE ?
	    "null" : tariff_stop_id(t, l->from_stop), l->to_stop ==
	    TARIFF_NONE ? "null" : tariff_stop_id(t, l->to_stop), in, out,
	    price_status_name(l->status), (long long)l->fare_cents,
	    (long long)l->contribution_cents);
	snprintf(got, sizeof got, "%s %s-%s %s-%s %s %lld/%lld",
	    text_or_null(s, 1), text_or_null(s, 2), text_or_null(s, 3), sin,
	    sout, text_or_null(s, 6), sqlite3_column_int64(s, 7),
	    sqlite3_column_int64(s, 8));
	if (strcmp(want, got) != 0)
		diff(c, "leg %d is '%s' but the taps give '%s'",
		    sqlite3_column_int(s, 0), got, want);
}

/* The stored legs of the day against the repriced day's. */
static void
check_legs(struct rctx *c, const struct tariff *t, const struct price_day *d)
{
	sqlite3_stmt *s = c->sel_legs;
	uint32_t i = 0;

	sqlite3_bind_text(s, 1, c->account, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, c->day, -1, SQLITE_STATIC);
	while (sqlite3_step(s) == SQLITE_ROW) {
		if (i < d->nlegs)
			check_leg(c, t, s, &c->pr.leg[d->legs_off + i]);
		i++;
	}
	sqlite3_reset(s);
	if (i != d->nlegs)
		diff(c, "%u legs but the taps give %u", i, d->nlegs);
}

/* The stored shares against the repriced ones, both ways. */
static void
check_shares(struct rctx *c, const struct tariff *t,
    const struct price_day *d)
{
	sqlite3_stmt *s = c->sel_shares;
	uint8_t seen[64] = {0};
	uint32_t i;

	sqlite3_bind_text(s, 1, c->account, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, c->day, -1, SQLITE_STATIC);
	while (sqlite3_step(s) == SQLITE_ROW) {
		const char *net = (const char *)sqlite3_column_text(s, 0);
		int64_t cents = sqlite3_column_int64(s, 1), want = 0;
		for (i = 0; i < d->nshares; i++) {
			const struct price_share *sh =
			    &c->pr.share[d->shares_off + i];
			if (strcmp(tariff_network_id(t, sh->network), net) ==
			    0) {
				want = sh->cents;
				if (i < sizeof seen)
					seen[i] = 1;
			}
		}
		if (cents != want)
			diff(c, "share %s %lld but the taps give %lld", net,
			    (long long)cents, (long long)want);
	}
	sqlite3_reset(s);
	for (i = 0; i < d->nshares && i < sizeof seen; i++)
		if (!seen[i])
			diff(c, "no share for %s but the taps give %lld",
			    tariff_network_id(t, c->pr.share[d->shares_off +
			    i].network),
			    (long long)c->pr.share[d->shares_off + i].cents);
}

/* One closed account-day against its repricing: 1 if it differs. */
static int
check_day(struct rctx *c, const struct tariff *t, const struct rday *rd)
{
	const struct price_day *d = find_day(&c->pr, rd->day);

	c->day = rd->day;
	c->version = rd->version;
	c->lines = 0;
	if (d == NULL)
		diff(c, "charge %lld but the taps give no legs that day",
		    (long long)rd->charge);
	else {
		if (d->charge_cents != rd->charge)
			diff(c, "charge %lld but the taps give %lld",
			    (long long)rd->charge, (long long)d->charge_cents);
		if (d->uncapped_cents != rd->uncapped)
			diff(c, "uncapped %lld but the taps give %lld",
			    (long long)rd->uncapped,
			    (long long)d->uncapped_cents);
		check_legs(c, t, d);
		check_shares(c, t, d);
	}
	if (c->lines > REPRICE_LINES_PER_DAY)
		fprintf(c->out, "reprice: %s %s: %zu more differences\n",
		    c->account, c->day, c->lines - REPRICE_LINES_PER_DAY);
	return c->lines > 0;
}

/* Closed days the taps give that the database does not have. */
static void
check_missing(struct rctx *c, int64_t version)
{
	char dd[11];
	size_t k, i;

	for (k = 0; k < c->pr.ndays; k++) {
		const struct price_day *d = &c->pr.day[k];
		civil_format_day(d->service_day, dd);
		if (c->closed_through[0] == '\0' ||
		    strcmp(dd, c->closed_through) > 0)
			continue;
		for (i = 0; i < c->ndays; i++)
			if (strcmp(c->days[i].day, dd) == 0)
				break;
		if (i < c->ndays || d->nlegs == 0)
			continue;
		c->day = dd;
		c->version = version;
		c->lines = 0;
		diff(c, "the taps give %u legs and a charge of %lld on this "
		    "closed day, the database has no such day", d->nlegs,
		    (long long)d->charge_cents);
		c->bad++;
	}
}

/*
 * A closed day that names no tariff version although days up to it were
 * priced with versions: not from before versions were kept (a version
 * cleared to escape repricing, or one not recorded).  It is repriced with
 * the version its service day's other closed days name (the latest
 * version if none), and said.
 */
static int64_t
unnamed_version(struct rctx *c, const char *account, const char *day)
{
	sqlite3_stmt *s = c->sel_dayv;
	int64_t v = 0;

	sqlite3_bind_text(s, 1, day, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if (v == 0)
		v = c->latest;
	fprintf(c->out, "warning: reprice: %s %s names no tariff version, "
	    "though closed days from %s were priced with one: repriced with "
	    "version %lld\n", account, day, c->first_versioned,
	    (long long)v);
	return v;
}

static int
load_days(struct rctx *c, const char *account)
{
	sqlite3_stmt *s = c->sel_days;
	int rc = 0;

	c->ndays = 0;
	sqlite3_bind_text(s, 1, account, -1, SQLITE_STATIC);
	while (rc == 0 && sqlite3_step(s) == SQLITE_ROW) {
		struct rday *d;
		if (price_reserve((void **)&c->days, &c->dcap, c->ndays + 1,
		    sizeof *c->days) == -1) {
			rc = -1;
			break;
		}
		d = &c->days[c->ndays++];
		snprintf(d->day, sizeof d->day, "%s",
		    (const char *)sqlite3_column_text(s, 0));
		d->charge = sqlite3_column_int64(s, 1);
		d->uncapped = sqlite3_column_int64(s, 2);
		d->open_legs = sqlite3_column_int(s, 3);
		d->version = sqlite3_column_int64(s, 4);
		d->posted = sqlite3_column_int(s, 5);
		if (d->version == 0 && d->posted && c->first_versioned[0] !=
		    '\0' && strcmp(d->day, c->first_versioned) >= 0)
			d->version = unnamed_version(c, account, d->day);
	}
	sqlite3_reset(s);
	return rc;
}

/*
 * A closed day stored with open legs, against its repricing as of the
 * check-in of its open leg: the flag alone does not spare a day from
 * repricing.  1 if it differs.
 */
static int
check_open_day(struct rctx *c, const struct tariff *t, const struct rday *rd)
{
	sqlite3_stmt *s = c->sel_open;
	const struct price_day *d;
	int64_t at = PRICE_NO_TIME;
	uint32_t i, open = 0;
	char when[21];

	sqlite3_bind_text(s, 1, c->account, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, rd->day, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) !=
	    SQLITE_NULL)
		at = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	c->day = rd->day;
	c->version = rd->version;
	c->lines = 0;
	if (at == PRICE_NO_TIME || price_with(c, t, at) == -1) {
		diff(c, "charged with %d leg%s open but %s", rd->open_legs,
		    rd->open_legs == 1 ? "" : "s", at == PRICE_NO_TIME ?
		    "no stored leg is open" : "cannot reprice");
		return 1;
	}
	if (check_day(c, t, rd))
		return 1;
	if ((d = find_day(&c->pr, rd->day)) != NULL)
		for (i = 0; i < d->nlegs; i++)
			open += c->pr.leg[d->legs_off + i].status == LEG_OPEN;
	if (open != (uint32_t)rd->open_legs) {
		civil_format_utc(at, when);
		diff(c, "charged with %d leg%s open but the taps give %u as "
		    "of %s", rd->open_legs, rd->open_legs == 1 ? "" : "s",
		    open, when);
	}
	return c->lines > 0;
}

/* Reprices the closed days of one account priced with version v. */
static void
verify_version(struct rctx *c, int64_t v)
{
	struct tariff *t = version_tariff(c, v);
	size_t i;

	if (t == NULL || price_with(c, t, PRICE_END_OF_TIME) == -1) {
		for (i = 0; i < c->ndays; i++)
			if (c->days[i].version == v && c->days[i].posted)
				c->bad++;
		fprintf(c->out, "reprice: %s: cannot reprice with tariff "
		    "version %lld\n", c->account, (long long)v);
		return;
	}
	for (i = 0; i < c->ndays; i++) {
		const struct rday *d = &c->days[i];
		if (d->version != v || !d->posted || d->open_legs > 0)
			continue;
		if (check_day(c, t, d))
			c->bad++;
		else
			c->st->repriced++;
	}
	/* Closed with a leg still open (the engine's clock had not expired
	 * it yet): repriced as of that leg's check-in, when it was open. */
	for (i = 0; i < c->ndays; i++) {
		const struct rday *d = &c->days[i];
		if (d->version != v || !d->posted || d->open_legs == 0)
			continue;
		if (check_open_day(c, t, d))
			c->bad++;
		else
			c->st->repriced++;
	}
}

static void
verify_account(struct rctx *c, const char *account)
{
	int64_t last_v = 0;
	size_t i, k;

	c->account = account;
	c->st->accounts++;
	if (load_days(c, account) == -1 || load_taps(c, account) == -1) {
		fprintf(c->out, "reprice: %s: cannot read its days or taps\n",
		    account);
		c->bad++;
		return;
	}
	for (i = 0; i < c->ndays; i++) {
		const struct rday *d = &c->days[i];
		if (!d->posted)
			continue;
		if (d->version == 0) {
			c->st->unversioned++;
			continue;
		}
		if (d->open_legs > 0)
			c->st->open_legs++;
		last_v = d->version;
		for (k = 0; k < i; k++)	/* each version once */
			if (c->days[k].version == d->version &&
			    c->days[k].posted)
				break;
		if (k == i)
			verify_version(c, d->version);
	}
	/* Closed days the database lacks, under the account's last version
	 * (or the latest, for an account with no closed day left). */
	if (last_v == 0)
		last_v = c->latest;
	if (last_v > 0 && c->closed_through[0] != '\0' && c->ntaps > 0) {
		struct tariff *t = version_tariff(c, last_v);
		if (t != NULL && price_with(c, t, PRICE_END_OF_TIME) == 0)
			check_missing(c, last_v);
	}
}

static int
prepare(struct rctx *c)
{
	sqlite3_stmt *s;
	int rc = -1;

	if (sqlite3_prepare_v2(c->db, "SELECT (SELECT coalesce(max("
	    "service_day), '') FROM charges WHERE posted = 1), (SELECT "
	    "coalesce(max(id), 0) FROM tariff_versions), (SELECT coalesce("
	    "min(service_day), '') FROM charges WHERE posted = 1 AND "
	    "tariff_version IS NOT NULL)", -1, &s, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(s) == SQLITE_ROW) {
		snprintf(c->closed_through, sizeof c->closed_through, "%s",
		    (const char *)sqlite3_column_text(s, 0));
		c->latest = sqlite3_column_int64(s, 1);
		snprintf(c->first_versioned, sizeof c->first_versioned, "%s",
		    (const char *)sqlite3_column_text(s, 2));
		rc = 0;
	}
	sqlite3_finalize(s);
	if (rc == -1 || sqlite3_prepare_v2(c->db, "SELECT service_day, "
	    "charge_cents, uncapped_cents, open_legs, coalesce(tariff_version, "
	    "0), posted FROM charges WHERE account = ? ORDER BY service_day",
	    -1, &c->sel_days, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(c->db, "SELECT leg_no, network_id, from_stop_id, "
	    "to_stop_id, checkin_utc, checkout_utc, status, fare_cents, "
	    "contribution_cents FROM legs WHERE account = ? AND service_day = ? "
	    "ORDER BY leg_no", -1, &c->sel_legs, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(c->db, "SELECT network_id, cents FROM shares "
	    "WHERE account = ? AND service_day = ? ORDER BY network_id", -1,
	    &c->sel_shares, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(c->db, "SELECT coalesce(max(tariff_version), 0) "
	    "FROM charges WHERE service_day = ? AND posted = 1", -1,
	    &c->sel_dayv, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(c->db, "SELECT max(checkin_utc) FROM legs WHERE "
	    "account = ? AND service_day = ? AND status = 'open'", -1,
	    &c->sel_open, NULL) != SQLITE_OK)
		return -1;
	return 0;
}

/* Every account with closed days or taps, in order. */
static void
verify_all(struct rctx *c)
{
	sqlite3_stmt *s;

	if (sqlite3_prepare_v2(c->db, "SELECT account FROM charges UNION "
	    "SELECT CASE WHEN c.par IS NOT NULL THEN 'par:' || c.par ELSE "
	    "'tok:' || t.token END FROM taps t LEFT JOIN cards c ON c.token = "
	    "t.token ORDER BY 1", -1, &s, NULL) != SQLITE_OK) {
		fprintf(c->out, "reprice: %s\n", sqlite3_errmsg(c->db));
		c->bad++;
		return;
	}
	while (sqlite3_step(s) == SQLITE_ROW) {
		char acc[ACCOUNT_TEXT_MAX];
		snprintf(acc, sizeof acc, "%s",
		    (const char *)sqlite3_column_text(s, 0));
		verify_account(c, acc);
	}
	sqlite3_finalize(s);
}

size_t
reprice_verify(const char *path, sqlite3 *db, FILE *out,
    struct reprice_stats *st)
{
	struct rctx c;
	char err[256];
	size_t i;

	memset(st, 0, sizeof *st);
	memset(&c, 0, sizeof c);
	c.db = db;
	c.out = out;
	c.st = st;
	price_result_init(&c.pr);
	if ((c.j = journal_open_ro(path, err, sizeof err)) == NULL ||
	    prepare(&c) == -1) {
		fprintf(out, "reprice: %s: %s\n", path, c.j == NULL ? err :
		    sqlite3_errmsg(db));
		c.bad = 1;
	} else
		verify_all(&c);
	for (i = 0; i < c.nv; i++)
		tariff_free(c.v[i].t);
	sqlite3_finalize(c.sel_days);
	sqlite3_finalize(c.sel_legs);
	sqlite3_finalize(c.sel_shares);
	sqlite3_finalize(c.sel_dayv);
	sqlite3_finalize(c.sel_open);
	journal_close(c.j);
	price_result_free(&c.pr);
	free(c.taps);
	free(c.days);
	free(c.pt);
	return c.bad;
}
