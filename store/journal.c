/*
 * Journal and live pricing.  One writer thread owns the SQLite connection:
 * it takes whatever taps are queued (up to a batch), stores them in one
 * transaction, reprices the accounts they touch, and hands the results to
 * the event loop (event_active on a user event: libevent's threads are on).
 * Nothing is acknowledged before its transaction has committed.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "limits.h"
#include "diag.h"
#include "journal.h"
#include "ledger.h"
#include "limits.h"
#include "parse.h"
#include "price-int.h"
#include "strtab.h"


struct journal {
	sqlite3			*db;
	struct tariff		*tariff;	/* the writer's; swapped between batches */
	struct tariff		*next_tariff;	/* set by journal_set_tariff */
	int64_t			 clock_offset;
	pthread_t		 thread;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	struct jtap		*q;		/* ring of JOURNAL_QUEUE */
	size_t			 qhead, qlen;
	struct jresult		*res;		/* results for the loop */
	size_t			 nres;
	int			 stop;
	char			 health[256];
	uint64_t		 committed;
	uint64_t		 batches, commit_us, commit_us_max;
	uint64_t		 store_us, price_us, sync_us;	/* split */
	int64_t			 last_expiry;	/* writer only */
	struct event		*done_ev;
	journal_done_fn		 done;
	void			*done_arg;
	struct ledger		*ledger;
	struct price_result	 pr;
	struct price_tap	*pt;
	size_t			 pt_cap;
	sqlite3_stmt		*ins_tap, *get_tap, *ins_refused, *get_card;
	sqlite3_stmt		*up_card, *sel_par_taps, *sel_tok_taps;
	sqlite3_stmt		*del_legs, *del_charges, *del_shares;
	sqlite3_stmt		*card_day_count, *debt_tap, *sel_days, *any_debt;
	struct strtab		*days_before;	/* writer's scratch */
	int64_t			 debt_tap_gap;
	sqlite3_stmt		*ins_leg, *ins_charge, *ins_share;
};

static const char schema[] =
"CREATE TABLE IF NOT EXISTS taps ("
"  tap_id TEXT PRIMARY KEY, device_id TEXT NOT NULL, seq INTEGER NOT NULL,"
"  time_utc INTEGER NOT NULL, token TEXT NOT NULL, par TEXT,"
"  network_id TEXT NOT NULL, stop_id TEXT NOT NULL, kind TEXT NOT NULL,"
"  received_utc INTEGER NOT NULL) WITHOUT ROWID;"
"CREATE INDEX IF NOT EXISTS taps_token ON taps(token, time_utc);"
"CREATE TABLE IF NOT EXISTS cards (token TEXT PRIMARY KEY, par TEXT)"
"  WITHOUT ROWID;"
"CREATE INDEX IF NOT EXISTS cards_par ON cards(par);"
"CREATE TABLE IF NOT EXISTS refused (id INTEGER PRIMARY KEY,"
"  received_utc INTEGER NOT NULL, device_id TEXT NOT NULL,"
"  reason TEXT NOT NULL, detail TEXT NOT NULL);"
"CREATE TABLE IF NOT EXISTS legs (account TEXT NOT NULL,"
"  service_day TEXT NOT NULL, leg_no INTEGER NOT NULL, network_id TEXT,"
"  from_stop_id TEXT, to_stop_id TEXT, checkin_utc INTEGER,"
"  checkout_utc INTEGER, status TEXT NOT NULL, fare_cents INTEGER NOT NULL,"
"  contribution_cents INTEGER NOT NULL,"
"  PRIMARY KEY (account, service_day, leg_no)) WITHOUT ROWID;"
"CREATE TABLE IF NOT EXISTS charges (account TEXT NOT NULL,"
"  service_day TEXT NOT NULL, charge_cents INTEGER NOT NULL,"
"  uncapped_cents INTEGER NOT NULL, open_legs INTEGER NOT NULL,"
"  settled INTEGER NOT NULL DEFAULT 0,"
"  PRIMARY KEY (account, service_day)) WITHOUT ROWID;"
"CREATE TABLE IF NOT EXISTS shares (account TEXT NOT NULL,"
"  service_day TEXT NOT NULL, network_id TEXT NOT NULL,"
"  cents INTEGER NOT NULL,"
"  PRIMARY KEY (account, service_day, network_id)) WITHOUT ROWID;"
"CREATE VIEW IF NOT EXISTS v_taps AS SELECT t.tap_id, t.device_id,"
"  strftime('%Y-%m-%dT%H:%M:%SZ', t.time_utc, 'unixepoch') AS time_utc,"
"  CASE WHEN c.par IS NOT NULL THEN 'par:' || c.par"
"       ELSE 'tok:' || t.token END AS account,"
"  t.network_id, t.stop_id, t.kind,"
"  strftime('%Y-%m-%dT%H:%M:%SZ', t.received_utc, 'unixepoch')"
"    AS received_utc"
"  FROM taps t LEFT JOIN cards c ON c.token = t.token;"
"CREATE VIEW IF NOT EXISTS v_refused_taps AS SELECT"
"  strftime('%Y-%m-%dT%H:%M:%SZ', received_utc, 'unixepoch')"
"    AS received_utc, device_id, reason, detail FROM refused;"
"CREATE VIEW IF NOT EXISTS v_legs AS SELECT account, service_day, leg_no,"
"  network_id, from_stop_id, to_stop_id,"
"  strftime('%Y-%m-%dT%H:%M:%SZ', checkin_utc, 'unixepoch') AS checkin_utc,"
"  strftime('%Y-%m-%dT%H:%M:%SZ', checkout_utc, 'unixepoch')"
"    AS checkout_utc,"
"  status, fare_cents, contribution_cents FROM legs;"
"CREATE TABLE IF NOT EXISTS settlements (id INTEGER PRIMARY KEY,"
"  idem_key TEXT NOT NULL UNIQUE, account TEXT NOT NULL,"
"  service_day TEXT NOT NULL, kind TEXT NOT NULL,"
"  amount_cents INTEGER NOT NULL, state TEXT NOT NULL,"
"  debt_id INTEGER, attempts INTEGER NOT NULL DEFAULT 0,"
"  created_utc INTEGER NOT NULL, decided_utc INTEGER, result TEXT);"
"CREATE INDEX IF NOT EXISTS settlements_day ON settlements(account,"
"  service_day);"
"CREATE INDEX IF NOT EXISTS settlements_pending ON settlements(state)"
"  WHERE state = 'pending';"
"CREATE TABLE IF NOT EXISTS debts (id INTEGER PRIMARY KEY,"
"  account TEXT NOT NULL, service_day TEXT NOT NULL,"
"  amount_cents INTEGER NOT NULL, opened_utc INTEGER NOT NULL,"
"  retries INTEGER NOT NULL DEFAULT 0, last_try_utc INTEGER NOT NULL,"
"  next_retry_utc INTEGER NOT NULL, state TEXT NOT NULL);"
"CREATE INDEX IF NOT EXISTS debts_account ON debts(account, state);"
"CREATE INDEX IF NOT EXISTS debts_due ON debts(state, next_retry_utc);"
"DROP VIEW IF EXISTS v_charges;"
"CREATE VIEW v_charges AS SELECT c.account, c.service_day,"
"  c.charge_cents, (c.charge_cents = coalesce((SELECT sum(s.amount_cents)"
"    FROM settlements s WHERE s.account = c.account AND"
"    s.service_day = c.service_day AND s.state = 'approved'), 0)"
"    AND (c.charge_cents = 0 OR EXISTS (SELECT 1"
"    FROM settlements s WHERE s.account = c.account AND"
"    s.service_day = c.service_day AND s.state = 'approved'))) AS settled"
"  FROM charges c;"
"CREATE VIEW IF NOT EXISTS v_settlements AS SELECT id, idem_key, account,"
"  service_day, kind, amount_cents, state, attempts,"
"  strftime('%Y-%m-%dT%H:%M:%SZ', created_utc, 'unixepoch') AS created_utc,"
"  strftime('%Y-%m-%dT%H:%M:%SZ', decided_utc, 'unixepoch') AS decided_utc,"
"  result FROM settlements;"
"CREATE VIEW IF NOT EXISTS v_debts AS SELECT id, account, service_day,"
"  amount_cents, strftime('%Y-%m-%dT%H:%M:%SZ', opened_utc, 'unixepoch')"
"    AS opened_utc, retries,"
"  strftime('%Y-%m-%dT%H:%M:%SZ', next_retry_utc, 'unixepoch')"
"    AS next_retry_utc, state FROM debts;"
"CREATE VIEW IF NOT EXISTS v_operator_revenue AS SELECT network_id,"
"  service_day, SUM(cents) AS revenue_cents FROM shares"
"  GROUP BY network_id, service_day;"
"CREATE TABLE IF NOT EXISTS deny (account TEXT PRIMARY KEY,"
"  since_utc INTEGER NOT NULL, reason TEXT NOT NULL) WITHOUT ROWID;"
"CREATE TABLE IF NOT EXISTS deny_log (id INTEGER PRIMARY KEY,"
"  account TEXT NOT NULL, action TEXT NOT NULL, at_utc INTEGER NOT NULL);"
"CREATE VIEW IF NOT EXISTS v_deny_list AS SELECT account,"
"  strftime('%Y-%m-%dT%H:%M:%SZ', since_utc, 'unixepoch') AS since_utc,"
"  reason FROM deny;";

static int	step_done(sqlite3_stmt *);

static int
prep(struct journal *j, sqlite3_stmt **st, const char *sql)
{
	return sqlite3_prepare_v3(j->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
	    st, NULL);
}

static int
prepare_all(struct journal *j)
{
	return prep(j, &j->ins_tap, "INSERT INTO taps VALUES "
	    "(?,?,?,?,?,?,?,?,?,?) ON CONFLICT(tap_id) DO NOTHING") ||
	    prep(j, &j->get_tap, "SELECT device_id, time_utc, token, "
	    "coalesce(par, ''), network_id, stop_id, kind FROM taps "
	    "WHERE tap_id = ?") ||
	    prep(j, &j->ins_refused, "INSERT INTO refused (received_utc, "
	    "device_id, reason, detail) VALUES (?,?,?,?)") ||
	    prep(j, &j->get_card, "SELECT par FROM cards WHERE token = ?") ||
	    prep(j, &j->up_card, "INSERT INTO cards VALUES (?, ?) "
	    "ON CONFLICT(token) DO UPDATE SET par = CASE WHEN excluded.par "
	    "IS NOT NULL AND (par IS NULL OR excluded.par < par) THEN "
	    "excluded.par ELSE par END") ||
	    prep(j, &j->sel_par_taps, "SELECT time_utc, network_id, stop_id, "
	    "kind FROM taps WHERE token IN (SELECT token FROM cards WHERE "
	    "par = ?) ORDER BY time_utc, tap_id") ||
	    prep(j, &j->sel_tok_taps, "SELECT time_utc, network_id, stop_id, "
	    "kind FROM taps WHERE token = ? ORDER BY time_utc, tap_id") ||
	    prep(j, &j->del_legs, "DELETE FROM legs WHERE account = ?") ||
	    prep(j, &j->del_charges, "DELETE FROM charges WHERE account = ? "
	    "AND settled = 0") ||
	    prep(j, &j->del_shares, "DELETE FROM shares WHERE account = ?") ||
	    prep(j, &j->ins_leg, "INSERT INTO legs VALUES "
	    "(?,?,?,?,?,?,?,?,?,?,?)") ||
	    prep(j, &j->ins_charge, "INSERT INTO charges (account, "
	    "service_day, charge_cents, uncapped_cents, open_legs) VALUES "
	    "(?,?,?,?,?) ON CONFLICT DO UPDATE SET charge_cents = "
	    "excluded.charge_cents, uncapped_cents = excluded.uncapped_cents, "
	    "open_legs = excluded.open_legs") ||
	    prep(j, &j->ins_share, "INSERT INTO shares VALUES (?,?,?,?)") ||
	    prep(j, &j->card_day_count, "SELECT count(*) FROM taps WHERE "
	    "token = ? AND time_utc > ? AND time_utc <= ?") ||
	    prep(j, &j->sel_days, "SELECT service_day FROM charges WHERE "
	    "account = ?") ||
	    prep(j, &j->any_debt, "SELECT EXISTS (SELECT 1 FROM debts WHERE "
	    "state = 'open')") ||
	    prep(j, &j->debt_tap, "UPDATE debts SET next_retry_utc = ?1 "
	    "WHERE account = ?2 AND state = 'open' AND next_retry_utc > ?1 "
	    "AND last_try_utc <= ?1 - ?3");
}

int64_t
journal_now(const struct journal *j)
{
	return (int64_t)time(NULL) + j->clock_offset;
}

void
journal_service_day(struct journal *j, int64_t t, char out[11])
{
	pthread_mutex_lock(&j->mu);	/* the writer swaps tariffs under it */
	civil_format_day(price_service_day(j->tariff, t), out);
	pthread_mutex_unlock(&j->mu);
}

/*
 * The card of an account in debt tapped again: its debt is due for a
 * recovery attempt now (settlement picks it up), at most once per gap.
 */
static int
debt_due(struct journal *j, const char *account)
{
	sqlite3_stmt *s = j->debt_tap;

	sqlite3_bind_int64(s, 1, journal_now(j));
	sqlite3_bind_text(s, 2, account, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, j->debt_tap_gap);
	return step_done(s);
}

static void
set_health(struct journal *j, const char *what)
{
	char h[sizeof j->health];
	int changed;

	snprintf(h, sizeof h, "%s: %s", what, sqlite3_errmsg(j->db));
	pthread_mutex_lock(&j->mu);
	changed = strcmp(h, j->health) != 0;
	memcpy(j->health, h, sizeof h);
	pthread_mutex_unlock(&j->mu);
	if (changed)	/* once per episode, not once per retry */
		logmsg("journal: %s", h);
}

static void
clear_health(struct journal *j)
{
	int was;

	pthread_mutex_lock(&j->mu);
	was = j->health[0] != '\0';
	j->health[0] = '\0';
	pthread_mutex_unlock(&j->mu);
	if (was)
		logmsg("journal: committing again");
}

static int
exec(struct journal *j, const char *sql)
{
	return sqlite3_exec(j->db, sql, NULL, NULL, NULL);
}

static const char *kinds[] = {"in", "out"};

/* Whether the card already has its day's worth of taps around x. */
static int
card_flooding(struct journal *j, const struct jtap *x)
{
	sqlite3_stmt *s = j->card_day_count;
	int64_t n = 0;

	sqlite3_bind_text(s, 1, x->token, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, x->time_utc - 86400);
	sqlite3_bind_int64(s, 3, x->time_utc);
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return n >= LIMIT_CARD_TAPS_PER_DAY;
}

/* Stores one tap; returns NULL when stored or resent alike, or a reason. */
static const char *
store_tap(struct journal *j, const struct jtap *x)
{
	sqlite3_stmt *s = j->ins_tap;
	const char *why = NULL;

	if (card_flooding(j, x)) {
		/* A resend of a stored tap is still acknowledged. */
		sqlite3_stmt *g = j->get_tap;
		int stored;
		sqlite3_bind_text(g, 1, x->tap_id, -1, SQLITE_STATIC);
		stored = sqlite3_step(g) == SQLITE_ROW;
		sqlite3_reset(g);
		if (!stored)
			return "flood";
	}

	sqlite3_bind_text(s, 1, x->tap_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, x->device_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)x->seq);
	sqlite3_bind_int64(s, 4, x->time_utc);
	sqlite3_bind_text(s, 5, x->token, -1, SQLITE_STATIC);
	if (x->par[0] != '\0')
		sqlite3_bind_text(s, 6, x->par, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 6);
	sqlite3_bind_text(s, 7, x->network_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 8, x->stop_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 9, kinds[x->kind], -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 10, x->received_utc);
	if (sqlite3_step(s) != SQLITE_DONE)
		why = "store";
	sqlite3_reset(s);
	if (why != NULL || sqlite3_changes(j->db) == 1)
		return why;
	/* A resend: the same content is acknowledged again, not stored. */
	s = j->get_tap;
	sqlite3_bind_text(s, 1, x->tap_id, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW &&
	    (strcmp((const char *)sqlite3_column_text(s, 0), x->device_id) ||
	    sqlite3_column_int64(s, 1) != x->time_utc ||
	    strcmp((const char *)sqlite3_column_text(s, 2), x->token) ||
	    strcmp((const char *)sqlite3_column_text(s, 3), x->par) ||
	    strcmp((const char *)sqlite3_column_text(s, 4), x->network_id) ||
	    strcmp((const char *)sqlite3_column_text(s, 5), x->stop_id) ||
	    strcmp((const char *)sqlite3_column_text(s, 6), kinds[x->kind])))
		why = "conflicting-resend";
	sqlite3_reset(s);
	return why;
}

static int
store_refused(struct journal *j, const struct jtap *x, const char *reason)
{
	sqlite3_stmt *s = j->ins_refused;
	int rc;

	sqlite3_bind_int64(s, 1, x->received_utc);
	sqlite3_bind_text(s, 2, x->device_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, reason, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, x->detail, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* The account key of a card: par:<least PAR> or tok:<token>. */
static void
card_account(struct journal *j, const char *token, char *out, size_t len)
{
	sqlite3_stmt *s = j->get_card;

	sqlite3_bind_text(s, 1, token, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW &&
	    sqlite3_column_type(s, 0) != SQLITE_NULL)
		snprintf(out, len, "par:%s", sqlite3_column_text(s, 0));
	else
		snprintf(out, len, "tok:%s", token);
	sqlite3_reset(s);
}

static int
update_card(struct journal *j, const struct jtap *x)
{
	sqlite3_stmt *s = j->up_card;
	int rc;

	sqlite3_bind_text(s, 1, x->token, -1, SQLITE_STATIC);
	if (x->par[0] != '\0')
		sqlite3_bind_text(s, 2, x->par, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 2);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : -1;
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
step_done(sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int
write_day(struct journal *j, const char *account, const struct price_day *d)
{
	const struct tariff *t = j->tariff;
	const struct price_result *r = &j->pr;
	char day[11];
	uint32_t i, open = 0;
	int rc = 0;

	civil_format_day(d->service_day, day);
	for (i = 0; i < d->nlegs && rc == 0; i++) {
		const struct price_leg *l = &r->leg[d->legs_off + i];
		sqlite3_stmt *s = j->ins_leg;
		open += l->status == LEG_OPEN;
		sqlite3_bind_text(s, 1, account, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, day, 10, SQLITE_TRANSIENT);
		sqlite3_bind_int(s, 3, (int)i + 1);
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
		rc = step_done(s);
	}
	for (i = 0; i < d->nshares && rc == 0; i++) {
		const struct price_share *sh = &r->share[d->shares_off + i];
		sqlite3_stmt *s = j->ins_share;
		sqlite3_bind_text(s, 1, account, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, day, 10, SQLITE_TRANSIENT);
		sqlite3_bind_text(s, 3, tariff_network_id(t, sh->network), -1,
		    SQLITE_STATIC);
		sqlite3_bind_int64(s, 4, sh->cents);
		rc = step_done(s);
	}
	if (rc == 0) {
		struct ledger_share ls[LIMIT_NETWORKS];
		for (i = 0; i < d->nshares && i < LIMIT_NETWORKS; i++) {
			ls[i].network_id = tariff_network_id(t,
			    r->share[d->shares_off + i].network);
			ls[i].cents = r->share[d->shares_off + i].cents;
		}
		rc = ledger_post_day(j->ledger, account, day, d->charge_cents,
		    ls, d->nshares, journal_now(j), "pricing");
	}
	if (rc == 0) {
		sqlite3_stmt *s = j->ins_charge;
		sqlite3_bind_text(s, 1, account, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, day, 10, SQLITE_TRANSIENT);
		sqlite3_bind_int64(s, 3, d->charge_cents);
		sqlite3_bind_int64(s, 4, d->uncapped_cents);
		sqlite3_bind_int(s, 5, (int)open);
		rc = step_done(s);
	}
	return rc;
}

static int
clear_account(struct journal *j, const char *account)
{
	sqlite3_bind_text(j->del_legs, 1, account, -1, SQLITE_STATIC);
	sqlite3_bind_text(j->del_charges, 1, account, -1, SQLITE_STATIC);
	sqlite3_bind_text(j->del_shares, 1, account, -1, SQLITE_STATIC);
	return step_done(j->del_legs) | step_done(j->del_charges) |
	    step_done(j->del_shares);
}

/* The days an account is charged for now, from charges. */
static int
charged_days(struct journal *j, const char *account, struct strtab *days)
{
	sqlite3_stmt *s = j->sel_days;
	int rc = 0;

	sqlite3_bind_text(s, 1, account, -1, SQLITE_STATIC);
	while (sqlite3_step(s) == SQLITE_ROW)
		if (strtab_intern(days, (const char *)sqlite3_column_text(s, 0),
		    10, NULL) == STRTAB_NONE)
			rc = -1;
	sqlite3_reset(s);
	return rc;
}

/*
 * Reprices one account from its stored taps and rewrites its rows.  Days
 * it was charged for before but has no legs on now (its card moved to a
 * PAR account, or a late tap moved a leg) are posted back to zero, so the
 * ledger always equals the charges.
 */
static int
reprice(struct journal *j, const char *account)
{
	const struct tariff *t = j->tariff;
	sqlite3_stmt *s = account[0] == 'p' ? j->sel_par_taps : j->sel_tok_taps;
	struct strtab *before = j->days_before;
	char now_acc[64], day[11];
	size_t n = 0, d;
	uint32_t i;
	int rc = 0, moved = 0;

	strtab_clear(before);
	if (charged_days(j, account, before) == -1)
		return -1;
	/* A card that has since shown a PAR belongs to that account now. */
	if (account[0] == 't') {
		card_account(j, account + 4, now_acc, sizeof now_acc);
		moved = strcmp(now_acc, account) != 0;
	}
	j->pr.ndays = 0;
	if (moved)
		rc = clear_account(j, account);
	else {
		sqlite3_bind_text(s, 1, account + 4, -1, SQLITE_STATIC);
		while (sqlite3_step(s) == SQLITE_ROW) {
			const char *net = (const char *)sqlite3_column_text(s,
			    1);
			const char *stop = (const char *)sqlite3_column_text(s,
			    2);
			struct price_tap *p;
			if (price_reserve((void **)&j->pt, &j->pt_cap, n + 1,
			    sizeof *j->pt) == -1) {
				rc = -1;
				break;
			}
			p = &j->pt[n];
			p->time = sqlite3_column_int64(s, 0);
			p->network = tariff_network(t, net, strlen(net));
			p->stop = tariff_stop(t, stop, strlen(stop));
			p->kind = strcmp((const char *)sqlite3_column_text(s,
			    3), "out") == 0;
			/* A stop gone from a reloaded tariff cannot count. */
			if (p->network != TARIFF_NONE && p->stop != TARIFF_NONE)
				n++;
		}
		sqlite3_reset(s);
		if (rc == -1 || clear_account(j, account) != 0 ||
		    price_account(t, j->pt, n, journal_now(j), &j->pr) == -1)
			return -1;
		for (d = 0; d < j->pr.ndays && rc == 0; d++)
			rc = write_day(j, account, &j->pr.day[d]);
	}
	/* Days charged before and not now: their postings go back to 0. */
	for (i = 0; i < strtab_count(before) && rc == 0; i++) {
		const char *old = strtab_name(before, i);
		int still = 0;
		for (d = 0; d < j->pr.ndays && !still; d++) {
			civil_format_day(j->pr.day[d].service_day, day);
			still = strcmp(day, old) == 0;
		}
		if (!still)
			rc = ledger_post_day(j->ledger, account, old, 0, NULL,
			    0, journal_now(j), "reversal");
	}
	return rc;
}

/* Feedback for an ack: the tap's leg fare and its day's charge. */
static void
feedback(struct journal *j, const struct jtap *x, struct jresult *res)
{
	int32_t day = price_service_day(j->tariff, x->time_utc);
	size_t d;
	uint32_t i;

	res->leg_fare_cents = res->day_charge_cents = 0;
	for (d = 0; d < j->pr.ndays; d++) {
		const struct price_day *pd = &j->pr.day[d];
		if (pd->service_day != day)
			continue;
		res->day_charge_cents = pd->charge_cents;
		for (i = 0; i < pd->nlegs; i++) {
			const struct price_leg *l = &j->pr.leg[pd->legs_off + i];
			if (l->checkin == x->time_utc ||
			    l->checkout == x->time_utc)
				res->leg_fare_cents = l->fare_cents;
		}
	}
}

/* One batch: store, commit, reprice, report. */
static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static int
write_batch(struct journal *j, struct jtap *b, size_t n,
    struct jresult *res, uint32_t *tap_acc)
{
	uint64_t t0 = now_us(), t1 = t0, t2 = t0, dt;
	struct strtab *accounts = strtab_new();
	uint32_t *first = NULL, *next = NULL;
	char acc[64];
	size_t i;
	uint32_t a;
	int debts = 0;
	int ok = accounts != NULL && exec(j, "BEGIN IMMEDIATE") == SQLITE_OK;

	/*
	 * One transaction: the taps, then the new prices and ledger postings
	 * of every account they touch.  A tap is acknowledged only once all
	 * of it is durable (stored, priced, posted): one commit, one fsync.
	 */
	for (i = 0; i < n && ok; i++) {
		const char *why = b[i].refuse;
		res[i].conn_id = b[i].conn_id;
		res[i].seq = b[i].seq;
		res[i].leg_fare_cents = res[i].day_charge_cents = 0;
		tap_acc[i] = STRTAB_NONE;
		if (why == NULL) {
			/* The account the card had: a PAR in this batch may
			 * move it, and the old one must be repriced too. */
			card_account(j, b[i].token, acc, sizeof acc);
			if (strtab_intern(accounts, acc, strlen(acc), NULL) ==
			    STRTAB_NONE)
				ok = 0;
			why = store_tap(j, &b[i]);
			if (why != NULL && strcmp(why, "store") == 0) {
				ok = 0;
				break;
			}
			if (why == NULL && update_card(j, &b[i]) != 0) {
				ok = 0;
				break;
			}
		}
		else if (strcmp(why, "denied-at-gate") == 0) {
			/* Not a journey; but the card is back: try its debt. */
			if (b[i].par[0] != '\0')
				snprintf(acc, sizeof acc, "par:%s", b[i].par);
			else
				card_account(j, b[i].token, acc, sizeof acc);
			snprintf(b[i].detail, sizeof b[i].detail, "account %s",
			    acc);
			if (strtab_intern(accounts, acc, strlen(acc), NULL) ==
			    STRTAB_NONE)
				ok = 0;
		}
		if (why != NULL && store_refused(j, &b[i], why) != 0)
			ok = 0;
		res[i].refused = why;
	}
	/* Each tap's account as of the whole batch, and the taps of each
	 * account as a list (first/next), for the feedback. */
	for (i = 0; i < n && ok; i++)
		if (res[i].refused == NULL) {
			card_account(j, b[i].token, acc, sizeof acc);
			tap_acc[i] = strtab_intern(accounts, acc, strlen(acc),
			    NULL);
		}
	if (ok) {
		first = malloc((strtab_count(accounts) + 1) * sizeof *first);
		next = malloc((n + 1) * sizeof *next);
		ok = first != NULL && next != NULL;
	}
	if (ok) {
		for (a = 0; a < strtab_count(accounts); a++)
			first[a] = UINT32_MAX;
		for (i = n; i-- > 0;)
			if (tap_acc[i] != STRTAB_NONE) {
				next[i] = first[tap_acc[i]];
				first[tap_acc[i]] = (uint32_t)i;
			}
	}
	t1 = now_us();
	/* Any open debt at all? (Inside this transaction: settlement
	 * cannot open one meanwhile.)  Most batches have none to look at. */
	if (ok) {
		sqlite3_stmt *e = j->any_debt;
		debts = sqlite3_step(e) == SQLITE_ROW &&
		    sqlite3_column_int(e, 0) != 0;
		sqlite3_reset(e);
	}
	/* Live pricing: the accounts this batch touched. */
	for (a = 0; ok && a < strtab_count(accounts); a++) {
		const char *name = strtab_name(accounts, a);
		uint32_t k;
		if (reprice(j, name) != 0 || (debts && debt_due(j, name) != 0)) {
			ok = 0;
			break;
		}
		for (k = first[a]; k != UINT32_MAX; k = next[k])
			feedback(j, &b[k], &res[k]);
	}
	free(first);
	free(next);
	t2 = now_us();
	if (!ok || exec(j, "COMMIT") != SQLITE_OK) {
		set_health(j, "cannot commit a batch; nothing acknowledged");
		exec(j, "ROLLBACK");
		strtab_free(accounts);
		for (i = 0; i < n; i++)
			res[i].refused = "not-committed";
		return -1;
	}
	dt = now_us() - t0;
	pthread_mutex_lock(&j->mu);
	j->committed += n;
	j->batches++;
	j->commit_us += dt;
	j->store_us += t1 - t0;
	j->price_us += t2 - t1;
	j->sync_us += t0 + dt - t2;
	if (dt > j->commit_us_max)
		j->commit_us_max = dt;
	pthread_mutex_unlock(&j->mu);
	clear_health(j);
	strtab_free(accounts);
	return 0;
}

/*
 * When idle: reprice the accounts that still have open legs, so that a
 * leg past max_leg_minutes becomes incomplete without waiting for a tap.
 */
static void
close_expired_legs(struct journal *j)
{
	sqlite3_stmt *s = NULL;
	struct strtab *acc = strtab_new();
	uint32_t i;

	if (acc == NULL || sqlite3_prepare_v2(j->db, "SELECT DISTINCT account "
	    "FROM charges WHERE open_legs > 0 LIMIT 10000", -1, &s, NULL) !=
	    SQLITE_OK) {
		strtab_free(acc);
		return;
	}
	while (sqlite3_step(s) == SQLITE_ROW) {
		const char *a = (const char *)sqlite3_column_text(s, 0);
		if (strtab_intern(acc, a, strlen(a), NULL) == STRTAB_NONE)
			break;
	}
	sqlite3_finalize(s);
	if (strtab_count(acc) > 0 && exec(j, "BEGIN IMMEDIATE") == SQLITE_OK) {
		for (i = 0; i < strtab_count(acc); i++)
			if (reprice(j, strtab_name(acc, i)) != 0)
				set_health(j, "repricing open legs");
		if (exec(j, "COMMIT") != SQLITE_OK)
			exec(j, "ROLLBACK");
	}
	strtab_free(acc);
}

static void *
writer_main(void *arg)
{
	struct journal *j = arg;
	struct jtap *b = malloc(JOURNAL_BATCH * sizeof *b);
	struct jresult *res = malloc(JOURNAL_BATCH * sizeof *res);
	uint32_t *tap_acc = malloc(JOURNAL_BATCH * sizeof *tap_acc);
	size_t n, i;
	long wait_ms;

	if (b == NULL || res == NULL || tap_acc == NULL) {
		free(tap_acc);
		fprintf(stderr, "fare-engine: journal: out of memory\n");
		free(b);
		free(res);
		return NULL;
	}
	pthread_setname_np(pthread_self(), "fe-writer");
	/* After downtime: legs that expired meanwhile close right away. */
	close_expired_legs(j);
	for (;;) {
		struct timespec until;
		int timed_out = 0;
		pthread_mutex_lock(&j->mu);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += JOURNAL_EXPIRE_S;
		while (j->qlen == 0 && !j->stop && !timed_out)
			timed_out = pthread_cond_timedwait(&j->cv, &j->mu,
			    &until) != 0;
		if (j->qlen == 0 && j->stop) {
			pthread_mutex_unlock(&j->mu);
			break;
		}
		/* Open legs expire whether or not taps keep coming. */
		if (j->qlen == 0 || journal_now(j) - j->last_expiry >=
		    JOURNAL_EXPIRE_S) {
			int idle = j->qlen == 0;
			pthread_mutex_unlock(&j->mu);
			j->last_expiry = journal_now(j);
			close_expired_legs(j);
			if (idle)
				continue;
			pthread_mutex_lock(&j->mu);
		}
		for (n = 0; n < JOURNAL_BATCH && j->qlen > 0; n++) {
			b[n] = j->q[j->qhead];
			j->qhead = (j->qhead + 1) % JOURNAL_QUEUE;
			j->qlen--;
		}
		if (j->next_tariff != NULL) {
			/* Between batches: nobody else reads the old one. */
			tariff_free(j->tariff);
			j->tariff = j->next_tariff;
			j->next_tariff = NULL;
		}
		pthread_mutex_unlock(&j->mu);
		/*
		 * Disk full or an I/O error: nothing of the batch was
		 * acknowledged.  Keep it and try again (0.1 s, doubling to
		 * 1 s; the loop
		 * stops reading once the queue fills); validators keep their
		 * copies, so stopping now loses nothing either.
		 */
		for (wait_ms = 100; write_batch(j, b, n, res, tap_acc) == -1;
		    wait_ms = wait_ms < 1000 ? wait_ms * 2 : 1000) {
			struct timespec again;
			pthread_mutex_lock(&j->mu);
			clock_gettime(CLOCK_REALTIME, &again);
			again.tv_nsec += wait_ms * 1000000L;
			again.tv_sec += again.tv_nsec / 1000000000L;
			again.tv_nsec %= 1000000000L;
			if (!j->stop)
				pthread_cond_timedwait(&j->cv, &j->mu, &again);
			i = j->stop;
			pthread_mutex_unlock(&j->mu);
			if (i)
				break;
		}
		pthread_mutex_lock(&j->mu);
		/* The loop drains results promptly; bound them all the same. */
		for (i = 0; i < n && j->nres < JOURNAL_QUEUE; i++)
			j->res[j->nres++] = res[i];
		pthread_mutex_unlock(&j->mu);
		event_active(j->done_ev, EV_READ, 0);
	}
	free(b);
	free(res);
	free(tap_acc);
	return NULL;
}

static void
done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct journal *j = arg;
	struct jresult *copy;
	size_t n;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&j->mu);
	n = j->nres;
	copy = malloc((n + 1) * sizeof *copy);
	if (copy != NULL)
		memcpy(copy, j->res, n * sizeof *copy);
	j->nres = 0;
	pthread_mutex_unlock(&j->mu);
	if (copy != NULL)
		j->done(copy, n, j->done_arg);
	free(copy);
}

struct journal *
journal_open(const struct journal_opts *o, struct tariff *t,
    struct event_base *base, journal_done_fn done, void *arg, char *err,
    size_t errlen)
{
	struct journal *j = calloc(1, sizeof *j);
	char pragma[256];

	if (j == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	j->tariff = t;
	j->clock_offset = o->clock_offset_s;
	j->debt_tap_gap = o->debt_tap_gap_s;
	j->done = done;
	j->done_arg = arg;
	price_result_init(&j->pr);
	pthread_mutex_init(&j->mu, NULL);
	pthread_cond_init(&j->cv, NULL);
	j->q = malloc(JOURNAL_QUEUE * sizeof *j->q);
	j->res = malloc(JOURNAL_QUEUE * sizeof *j->res);
	if (j->q == NULL || j->res == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (sqlite3_open_v2(o->path, &j->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", o->path, j->db ?
		    sqlite3_errmsg(j->db) : "cannot open");
		goto fail;
	}
	/* A page cache of JOURNAL_CACHE_KIB: the writer's working set
	 * (indexes of taps, legs, charges, ledger) stays in memory instead of
	 * being read back from the OS on every batch. */
	snprintf(pragma, sizeof pragma, "PRAGMA journal_mode=WAL; "
	    "PRAGMA synchronous=%s; PRAGMA busy_timeout=5000; "
	    "PRAGMA cache_size=-%d; PRAGMA temp_store=MEMORY;",
	    o->synchronous_full ? "FULL" : "NORMAL", JOURNAL_CACHE_KIB);
	if (exec(j, pragma) != SQLITE_OK || exec(j, schema) != SQLITE_OK ||
	    prepare_all(j) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", o->path, sqlite3_errmsg(j->db));
		goto fail;
	}
	if ((j->days_before = strtab_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if ((j->ledger = ledger_open(j->db, err, errlen)) == NULL)
		goto fail;
	j->done_ev = event_new(base, -1, EV_READ, done_cb, j);
	j->last_expiry = journal_now(j);
	if (j->done_ev == NULL ||
	    pthread_create(&j->thread, NULL, writer_main, j) != 0) {
		snprintf(err, errlen, "cannot start the writer thread");
		goto fail;
	}
	return j;
fail:
	if (j->done_ev != NULL)
		event_free(j->done_ev);
	strtab_free(j->days_before);
	sqlite3_close_v2(j->db);
	free(j->q);
	free(j->res);
	free(j);
	return NULL;
}

static void
finalize_all(struct journal *j)
{
	sqlite3_stmt *all[] = {j->ins_tap, j->get_tap, j->ins_refused,
	    j->get_card, j->up_card, j->sel_par_taps, j->sel_tok_taps,
	    j->del_legs, j->del_charges, j->del_shares, j->ins_leg,
	    j->ins_charge, j->ins_share, j->card_day_count, j->debt_tap,
	    j->sel_days, j->any_debt};
	size_t i;

	for (i = 0; i < sizeof all / sizeof all[0]; i++)
		sqlite3_finalize(all[i]);
}

void
journal_close(struct journal *j)
{
	if (j == NULL)
		return;
	pthread_mutex_lock(&j->mu);
	j->stop = 1;
	pthread_cond_signal(&j->cv);
	pthread_mutex_unlock(&j->mu);
	pthread_join(j->thread, NULL);
	/* Deliver the last results, if the loop still runs they go out. */
	done_cb(-1, 0, j);
	finalize_all(j);
	ledger_close(j->ledger);
	strtab_free(j->days_before);
	sqlite3_close_v2(j->db);
	event_free(j->done_ev);
	tariff_free(j->next_tariff);
	tariff_free(j->tariff);
	price_result_free(&j->pr);
	free(j->pt);
	free(j->q);
	free(j->res);
	pthread_mutex_destroy(&j->mu);
	pthread_cond_destroy(&j->cv);
	free(j);
}

int
journal_submit(struct journal *j, const struct jtap *x)
{
	pthread_mutex_lock(&j->mu);
	if (j->qlen == JOURNAL_QUEUE) {
		pthread_mutex_unlock(&j->mu);
		return -1;
	}
	j->q[(j->qhead + j->qlen) % JOURNAL_QUEUE] = *x;
	j->qlen++;
	pthread_cond_signal(&j->cv);
	pthread_mutex_unlock(&j->mu);
	return 0;
}

size_t
journal_queued(struct journal *j)
{
	size_t n;

	pthread_mutex_lock(&j->mu);
	n = j->qlen;
	pthread_mutex_unlock(&j->mu);
	return n;
}

void
journal_set_tariff(struct journal *j, struct tariff *t)
{
	pthread_mutex_lock(&j->mu);
	tariff_free(j->next_tariff);
	j->next_tariff = t;
	pthread_mutex_unlock(&j->mu);
}

const char *
journal_health(struct journal *j, char *buf, size_t len)
{
	const char *r = NULL;

	pthread_mutex_lock(&j->mu);
	if (j->health[0] != '\0') {
		snprintf(buf, len, "%s", j->health);
		r = buf;
	}
	pthread_mutex_unlock(&j->mu);
	return r;
}

void
journal_commit_stats(struct journal *j, uint64_t *batches, uint64_t *total,
    uint64_t *max)
{
	pthread_mutex_lock(&j->mu);
	*batches = j->batches;
	*total = j->commit_us;
	*max = j->commit_us_max;
	pthread_mutex_unlock(&j->mu);
}

void
journal_batch_split(struct journal *j, uint64_t *store_us,
    uint64_t *price_us, uint64_t *sync_us)
{
	pthread_mutex_lock(&j->mu);
	*store_us = j->store_us;
	*price_us = j->price_us;
	*sync_us = j->sync_us;
	pthread_mutex_unlock(&j->mu);
}

uint64_t
journal_committed(struct journal *j)
{
	uint64_t n;

	pthread_mutex_lock(&j->mu);
	n = j->committed;
	pthread_mutex_unlock(&j->mu);
	return n;
}
