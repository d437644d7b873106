/*
 * The writer thread and live pricing.  One thread owns the SQLite
 * connection: it takes whatever taps are queued (up to a batch), stores
 * them in one transaction, reprices the accounts they touch, and hands the
 * results to the event loop (event_active on a user event: libevent's
 * threads are on).  Nothing is acknowledged before its transaction has
 * committed.  The tables are the store's (journal, charges, settlement,
 * deny, ledger); this file only orders the work.
 */
#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "account-cache.h"
#include "charges.h"
#include "checkpoint.h"
#include "clock.h"
#include "deny.h"
#include "log.h"
#include "ledger.h"
#include "limits.h"
#include "moves.h"
#include "parse.h"
#include "price-int.h"
#include "settlement.h"
#include "strtab.h"
#include "tap.h"
#include "writer.h"

/* One batch on its way through write_batch(). */
struct batch {
	struct jtap		*b;
	struct jresult		*res;
	uint32_t		*tap_acc;	/* each tap's account or NONE */
	size_t			 n;
	struct strtab		*accounts;	/* every account touched */
	uint32_t		*first, *next;	/* the taps of each account */
	uint32_t		*before;	/* each tap's account before it */
	uint8_t			*added;		/* each tap: a new row */
	int32_t			*from_day;	/* per account: reprice from */
	int32_t			*to_day;	/* ... the last changed day */
	struct strtab		*tokens;	/* every card that tapped */
	uint32_t		*tap_tok;	/* each tap's card */
	uint32_t		*tok_acc;	/* each card's account now */
	uint8_t			*tok_fresh;	/* each card: no PAR, no tap
						 * stored before the batch */
	uint32_t		*tok_ntaps;	/* each card: its taps so far */
};

struct stored_day;

struct writer {
	struct journal		*journal;
	struct charges		*charges;
	struct settlement	*settlement;
	struct ledger		*ledger;
	struct tariff		*tariff;	/* swapped between batches */
	struct tariff		*next_tariff;	/* set by writer_set_tariff */
	struct tariff_files	*next_files;	/* ... with its files */
	struct tariff_files	*files;		/* not recorded yet, or NULL */
	int64_t			 tariff_version;	/* recorded id, or 0 */
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
	struct writer_stats	 st;
	int64_t			 last_expiry;	/* writer only */
	int64_t			 last_close;	/* writer only */
	int			 expire_rounds;	/* writer only: this pass */
	char			 expire_after[ACCOUNT_TEXT_MAX];	/* its
						 * last account so far */
	int			 ckpt_after;	/* writer only: 1 PASSIVE,
						 * 2 RESTART after the acks */
	int64_t			 close_grace_s;	/* a day closes this long
						 * after its end */
	uint64_t		 days_posted;	/* writer only */
	struct checkpoint_key	*ledger_key;	/* NULL: no checkpoints */
	const char		*checkpoint_file;
	int32_t			 checkpoint_day;	/* last day signed */
	struct event		*done_ev;
	writer_done_fn		 done;
	void			*done_arg;
	struct price_result	 pr;
	struct price_tap	*pt;
	size_t			 pt_cap, npt;
	int64_t			 debt_tap_gap;
	uint64_t		 batch_taps_read;	/* writer only */
	struct stored_day	*stored;	/* writer's scratch */
	size_t			 nstored, stored_cap;
	struct acache_day	*newdays;	/* writer's scratch */
	size_t			 newdays_cap;
	struct acache		*cache;		/* writer only */
	struct batch		 bt;		/* writer's scratch, kept */
	/* The validators of the taps committed since the metrics thread
	 * last took them (writer_take_seen), under seen_mu. */
	pthread_mutex_t		 seen_mu;
	struct strtab		*seen;
	int64_t			*seen_last;	/* WRITER_SEEN_DEVICES */
	int			 seen_overflow;
	/* The checkpointer: its thread and connection, woken by commits. */
	pthread_t		 ckpt_thread;
	pthread_cond_t		 ckpt_cv;
	sqlite3			*ckpt_db;
	int			 ckpt_want, ckpt_stop, ckpt_running;
};


int64_t
writer_now(const struct writer *w)
{
	return (int64_t)time(NULL) + w->clock_offset;
}

void
writer_service_day(struct writer *w, int64_t t, char out[11])
{
	pthread_mutex_lock(&w->mu);	/* the writer swaps tariffs under it */
	civil_format_day(price_service_day(w->tariff, t), out);
	pthread_mutex_unlock(&w->mu);
}

/* A service day as "YYYY-MM-DD"; "" (before every day) for INT32_MIN,
 * "9999-12-31" (after every day) for INT32_MAX. */
static void
day_text(int32_t day, char out[11])
{
	if (day == INT32_MIN)
		out[0] = '\0';
	else if (day == INT32_MAX)
		memcpy(out, "9999-12-31", 11);
	else
		civil_format_day(day, out);
}

/* "YYYY-MM-DD" (as the store writes it) to days since 1970. */
static int32_t
day_parse(const char *s)
{
	unsigned y = 0, m = 0, d = 0;
	int i;

	for (i = 0; i < 4; i++)
		y = y * 10 + (unsigned)(s[i] - '0');
	m = (unsigned)(s[5] - '0') * 10 + (unsigned)(s[6] - '0');
	d = (unsigned)(s[8] - '0') * 10 + (unsigned)(s[9] - '0');
	return civil_to_days(y, m, d);
}

static void
set_health(struct writer *w, const char *what)
{
	char h[sizeof w->health];
	int changed;

	snprintf(h, sizeof h, "%s: %s", what,
	    sqlite3_errmsg(journal_db(w->journal)));
	pthread_mutex_lock(&w->mu);
	changed = strcmp(h, w->health) != 0;
	memcpy(w->health, h, sizeof h);
	pthread_mutex_unlock(&w->mu);
	if (changed)	/* once per episode, not once per retry */
		log_err("journal_failing", "error=%s msg=\"taps are not "
		    "acknowledged until a commit succeeds\"", LOGQ(h));
}

static void
clear_health(struct writer *w)
{
	int was;

	pthread_mutex_lock(&w->mu);
	was = w->health[0] != '\0';
	w->health[0] = '\0';
	pthread_mutex_unlock(&w->mu);
	if (was)
		log_notice("journal_committing", "msg=\"committing again\"");
}

/* Adds one stored tap to the taps to price; skips what the tariff lost. */
static int
add_tap_cb(const struct journal_tap *jt, void *arg)
{
	struct writer *w = arg;
	const struct tariff *t = w->tariff;
	struct price_tap *p;

	if (price_reserve((void **)&w->pt, &w->pt_cap, w->npt + 1,
	    sizeof *w->pt) == -1)
		return -1;
	p = &w->pt[w->npt];
	p->time = jt->time_utc;
	p->network = tariff_network(t, jt->network_id,
	    strlen(jt->network_id));
	p->stop = tariff_stop(t, jt->stop_id, strlen(jt->stop_id));
	p->kind = jt->out;
	/* A stop gone from a reloaded tariff cannot count. */
	if (p->network != TARIFF_NONE && p->stop != TARIFF_NONE)
		w->npt++;
	return 0;
}

/*
 * Whether a service day has closed (SPEC §6): its end plus the grace for
 * late taps has passed on the engine clock.
 */
static int
day_closed(struct writer *w, int32_t day)
{
	return day < price_service_day(w->tariff, writer_now(w) -
	    w->close_grace_s);
}

/*
 * Writes one priced day.  While the day is open its charge is provisional
 * and nothing is posted; a change to a closed day is posted at once as an
 * adjusting transaction (SPEC §6 "Provisional, then posted").
 */
static int
write_day(struct writer *w, const char *account, const struct price_day *d,
    int64_t digest, int was_posted, int stored)
{
	const struct price_result *r = &w->pr;
	struct ledger_share ls[LIMIT_NETWORKS];
	int64_t shares = 0;
	/* Once posted, a day stays posted (a restart with a longer grace or
	 * an earlier clock does not reopen it). */
	int closed = was_posted || day_closed(w, d->service_day);
	char day[11];
	uint32_t i;

	if (charges_write_day(w->charges, w->tariff, account, r, d,
	    closed, digest, w->tariff_version, stored) != 0)
		return -1;
	for (i = 0; i < d->nshares && i < LIMIT_NETWORKS; i++) {
		ls[i].network_id = tariff_network_id(w->tariff,
		    r->share[d->shares_off + i].network);
		ls[i].cents = r->share[d->shares_off + i].cents;
		shares += ls[i].cents;
	}
	/* Apportionment shares out the whole charge, no more, no less. */
	assert(d->nshares == 0 || shares == d->charge_cents);
	if (!closed)
		return 0;
	civil_format_day(d->service_day, day);
	return ledger_post_day(w->ledger, account, day, d->charge_cents, ls,
	    d->nshares, writer_now(w), "adjustment");
}

/* Posts one account-day at its closing: its charge and shares. */
static int
post_closed_cb(const char *account, const char *day, int64_t charge,
    void *arg)
{
	struct writer *w = arg;
	struct ledger_share ls[LIMIT_NETWORKS];
	char ids[LIMIT_NETWORKS][128];
	int64_t cents[LIMIT_NETWORKS], sum = 0;
	int i, n = charges_day_shares(w->charges, account, day, ids, cents,
	    LIMIT_NETWORKS);

	for (i = 0; i < n; i++) {
		ls[i].network_id = ids[i];
		ls[i].cents = cents[i];
		sum += cents[i];
	}
	assert(n == 0 || sum == charge);
	struct acache_entry *e = acache_peek(w->cache, account);
	struct acache_day *cd;

	if (ledger_post_day(w->ledger, account, day, charge, ls, (size_t)n,
	    writer_now(w), "close") != 0)
		return -1;
	if (e != NULL && strlen(day) == 10 && day_parse(day) >= e->days_from) {
		if ((cd = acache_find_day(e, day_parse(day))) != NULL)
			cd->posted = 1;
		else	/* not as stored: read it again */
			acache_drop(w->cache, account);
	}
	return charges_set_posted(w->charges, account, day);
}

/*
 * A signed checkpoint of the ledger (SPEC §6 "Proof against an insider")
 * once the days before `open` have closed and are posted; a failure is
 * logged and tried again at the next pass.
 */
static void
sign_checkpoint(struct writer *w, int32_t open)
{
	char line[CHECKPOINT_LINE_MAX], err[256], day[11];
	struct checkpoint c;

	if (checkpoint_head(journal_db(w->journal), &c) == -1) {
		log_err("checkpoint_failed", "msg=%s", LOGQ(sqlite3_errmsg(
		    journal_db(w->journal))));
		return;
	}
	c.time_utc = writer_now(w);
	if (checkpoint_sign(w->ledger_key, &c, line, sizeof line, err,
	    sizeof err) == -1 ||
	    checkpoint_append(w->checkpoint_file, line, err, sizeof err) ==
	    -1) {
		log_err("checkpoint_failed", "msg=%s", LOGQ(err));
		return;
	}
	w->checkpoint_day = open;
	civil_format_day(open - 1, day);
	log_notice("checkpoint_signed", "closed_through=%s entries=%lld "
	    "head=%.16s file=%s", day, (long long)c.entries, c.head,
	    LOGQ(w->checkpoint_file));
}

/*
 * Day close (SPEC §6): every account-day of the days closed so far that
 * is not yet posted goes to the ledger as one balanced transaction, in
 * transactions of WRITER_CLOSE_BATCH account-days, so that settlement
 * (which takes only posted days) finds it.
 */
static int
close_days(struct writer *w)
{
	int32_t last = price_service_day(w->tariff, writer_now(w) -
	    w->close_grace_s) - 1;
	char day[11];
	int n;

	civil_format_day(last, day);
	/* One transaction of WRITER_CLOSE_BATCH a call: the caller takes the
	 * queued taps in between (ISSUE 14: no ack waits for a whole day's
	 * postings) and calls again while it returns 1. */
	if (journal_exec(w->journal, "BEGIN IMMEDIATE") != SQLITE_OK)
		return 0;
	n = charges_unposted(w->charges, day, WRITER_CLOSE_BATCH,
	    post_closed_cb, w);
	if (n < 0 || journal_exec(w->journal, "COMMIT") != SQLITE_OK) {
		journal_exec(w->journal, "ROLLBACK");
		acache_clear(w->cache);
		set_health(w, "cannot post closed days");
		return 0;
	}
	if (n > 0)
		w->days_posted += (uint64_t)n;
	if (n == WRITER_CLOSE_BATCH)
		return 1;
	if (w->ledger_key != NULL && last + 1 != w->checkpoint_day)
		sign_checkpoint(w, last + 1);
	return 0;
}

/*
 * A digest of a priced day's results (legs, shares, charge): equal
 * digests, equal rows, so an unchanged day is not written again.
 * FNV-1a over the fields, kept to the 62 bits the store holds.
 */
static int64_t
day_digest(const struct price_result *r, const struct price_day *d,
    int64_t version)
{
	uint64_t h = 14695981039346656037ULL;
	uint32_t i;

#define MIX(v) do {							\
	uint64_t x_ = (uint64_t)(v);					\
	int b_;								\
	for (b_ = 0; b_ < 8; b_++, x_ >>= 8)				\
		h = (h ^ (x_ & 0xff)) * 1099511628211ULL;		\
} while (0)
	/* The version too: a day priced alike by a new version names it. */
	MIX(version);
	MIX(d->charge_cents);
	MIX(d->uncapped_cents);
	MIX(d->nlegs);
	for (i = 0; i < d->nlegs; i++) {
		const struct price_leg *l = &r->leg[d->legs_off + i];
		MIX(l->network);
		MIX(l->from_stop);
		MIX(l->to_stop);
		MIX(l->checkin);
		MIX(l->checkout);
		MIX(l->status);
		MIX(l->fare_cents);
		MIX(l->contribution_cents);
	}
	MIX(d->nshares);
	for (i = 0; i < d->nshares; i++) {
		MIX(r->share[d->shares_off + i].network);
		MIX(r->share[d->shares_off + i].cents);
	}
#undef MIX
	return (int64_t)(h & 0x3fffffffffffffffULL);	/* as stored */
}

/* One stored day of the account being repriced. */
struct stored_day {
	struct acache_day d;
	uint8_t		 seen;
};

static int
stored_day_cb(const char *day, int64_t digest, int has_digest, int posted,
    void *arg)
{
	struct writer *w = arg;
	struct stored_day *sd;

	if (strlen(day) != 10 || price_reserve((void **)&w->stored,
	    &w->stored_cap, w->nstored + 1, sizeof *w->stored) == -1)
		return -1;
	sd = &w->stored[w->nstored++];
	sd->d.day = day_parse(day);
	sd->d.digest = digest;
	sd->d.has_digest = (uint8_t)has_digest;
	sd->d.posted = (uint8_t)(posted != 0);
	sd->seen = 0;
	return 0;
}

static int
day_cmp(const void *a, const void *b)
{
	int32_t x = ((const struct acache_day *)a)->day;
	int32_t y = ((const struct acache_day *)b)->day;

	return (x > y) - (x < y);
}

/*
 * The account's stored days from week on into w->stored, in day order:
 * from its cache entry when that holds them, else one indexed query.
 * Sets *from to the first day the list is complete from.
 */
static int
read_stored_days(struct writer *w, const char *account, int32_t week,
    struct acache_entry *e, int32_t *from)
{
	char day[11];
	size_t k;

	w->nstored = 0;
	if (e != NULL && e->days_from <= week) {
		if (price_reserve((void **)&w->stored, &w->stored_cap,
		    e->ndays, sizeof *w->stored) == -1)
			return -1;
		for (k = 0; k < e->ndays; k++) {
			w->stored[k].d = e->days[k];
			w->stored[k].seen = 0;
		}
		w->nstored = e->ndays;
		*from = e->days_from;
		return 0;
	}
	*from = week;
	day_text(week, day);
	if (charges_stored_days(w->charges, account, day, "9999-12-31",
	    stored_day_cb, w) != 0)
		return -1;
	/* The table's key order; sorted here all the same. */
	for (k = 1; k < w->nstored; k++)
		if (w->stored[k - 1].d.day >= w->stored[k].d.day)
			break;
	if (k < w->nstored)
		qsort(w->stored, w->nstored, sizeof *w->stored, day_cmp);
	return 0;
}

static struct stored_day *
find_stored(struct writer *w, int32_t day)
{
	size_t lo = 0, hi = w->nstored;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (w->stored[mid].d.day < day)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < w->nstored && w->stored[lo].d.day == day ?
	    &w->stored[lo] : NULL;
}

/*
 * The account's stored days after a repricing of week..last, for its
 * cache entry: those outside the range as they were, the priced days of
 * the range as written (or left).
 */
static void
keep_days(struct writer *w, struct acache_entry *e, int32_t from,
    int32_t week, int32_t last, size_t npriced)
{
	size_t k, n = 0;

	if (e == NULL)
		return;
	if (price_reserve((void **)&w->newdays, &w->newdays_cap,
	    w->nstored + npriced, sizeof *w->newdays) == -1) {
		acache_drop(w->cache, e->account);
		return;
	}
	for (k = 0; k < w->nstored; k++)
		if (w->stored[k].d.day < week || w->stored[k].d.day > last)
			w->newdays[n++] = w->stored[k].d;
	for (k = 0; k < w->pr.ndays; k++) {
		const struct price_day *pd = &w->pr.day[k];
		if (pd->service_day < week || pd->service_day > last)
			continue;
		/* find_stored's entry was updated to what is stored now. */
		w->newdays[n++] = find_stored(w, pd->service_day)->d;
	}
	if (n > 1)	/* none kept: newdays may never have been allocated */
		qsort(w->newdays, n, sizeof *w->newdays, day_cmp);
	if (n <= ACCOUNT_CACHE_DAYS_PER_ACCOUNT)
		(void)acache_set_days(w->cache, e, from, w->newdays, n);
	else
		acache_drop(w->cache, e->account);
}

/*
 * Writes the priced days from week through last whose results changed
 * (SPEC §6: only what changed); stored days no longer charged are deleted
 * and, where posted, posted back to zero.  The account's cache entry e
 * (or NULL) serves the stored days and keeps them after.
 */
static int
write_changed_days(struct writer *w, const char *account, int32_t week,
    int32_t last, struct acache_entry *e)
{
	char day[11];
	size_t d, k, npriced = 0;
	int32_t from;
	int rc = 0;

	if (read_stored_days(w, account, week, e, &from) != 0)
		return -1;
	for (d = 0; d < w->pr.ndays && rc == 0; d++) {
		const struct price_day *pd = &w->pr.day[d];
		struct stored_day *sd;
		int64_t dg;
		int posted, stored;
		if (pd->service_day < week || pd->service_day > last)
			continue;
		npriced++;
		if ((sd = find_stored(w, pd->service_day)) == NULL) {
			/* New: a stored day for keep_days(), seen. */
			if (price_reserve((void **)&w->stored, &w->stored_cap,
			    w->nstored + 1, sizeof *w->stored) == -1)
				return -1;
			sd = &w->stored[w->nstored++];
			sd->d.day = pd->service_day;
			sd->d.posted = 0;
			sd->d.has_digest = 0;
			sd->seen = 2;	/* not stored before */
			qsort(w->stored, w->nstored, sizeof *w->stored,
			    day_cmp);
			sd = find_stored(w, pd->service_day);
		}
		dg = day_digest(&w->pr, pd, w->tariff_version);
		stored = sd->seen != 2;
		if (stored) {
			sd->seen = 1;
			/* Unchanged: posted already, or still open (the
			 * close pass posts it). */
			if (sd->d.has_digest && sd->d.digest == dg &&
			    (sd->d.posted || !day_closed(w, pd->service_day)))
				continue;
		}
		sd->seen = 1;
		/* Once posted, a day stays posted (a restart with a longer
		 * grace or an earlier clock does not reopen it).  A stored
		 * day's rows are replaced where they are. */
		posted = sd->d.posted || day_closed(w, pd->service_day);
		rc = write_day(w, account, pd, dg, posted, stored);
		sd->d.digest = dg;
		sd->d.has_digest = 1;
		sd->d.posted = (uint8_t)posted;
	}
	for (k = 0; k < w->nstored && rc == 0; k++) {
		struct stored_day *sd = &w->stored[k];
		if (sd->seen || sd->d.day < week || sd->d.day > last)
			continue;
		civil_format_day(sd->d.day, day);
		rc = charges_clear(w->charges, account, day, day);
		if (rc == 0 && sd->d.posted)
			rc = ledger_post_day(w->ledger, account, day, 0,
			    NULL, 0, writer_now(w), "reversal");
	}
	if (rc == 0)
		keep_days(w, e, from, week, last, npriced);
	return rc;
}

/*
 * The account's taps from since on into w->pt: from its cache entry *ep
 * when that holds them all, else one indexed query (through the index on
 * (token, time_utc)), which the cache then keeps.
 */
static int
read_taps(struct writer *w, const char *account, int64_t since,
    struct acache_entry **ep)
{
	struct acache_entry *e = *ep;
	size_t lo = 0, hi;

	if (e != NULL && e->since <= since) {
		for (hi = e->ntaps; lo < hi;) {
			size_t mid = lo + (hi - lo) / 2;
			if (e->taps[mid].time < since)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (price_reserve((void **)&w->pt, &w->pt_cap,
		    e->ntaps - lo + 1, sizeof *w->pt) == -1)
			return -1;
		memcpy(w->pt, &e->taps[lo], (e->ntaps - lo) * sizeof *w->pt);
		w->npt = e->ntaps - lo;
		acache_count(w->cache, 1);
		return 0;
	}
	acache_count(w->cache, 0);
	w->npt = 0;
	if (journal_account_taps(w->journal, account, since, add_tap_cb,
	    w) == -1)
		return -1;
	w->batch_taps_read += w->npt;
	*ep = acache_put(w->cache, account, since, w->pt, w->npt);
	return 0;
}

/*
 * Reads the taps to price an account whose earliest change is on
 * changed_day (SPEC §6): from the latest clean cut before the week of the
 * first leg the change can touch (price_window_start), looking back
 * further only when what was read holds no cut and the account has older
 * taps.  Sets *cut to the first tap to price and *week to the Monday of
 * the first week to write (INT32_MIN: the whole history).
 */
static int
load_window(struct writer *w, const char *account, int32_t changed_day,
    size_t *cut, int32_t *week, struct acache_entry **ep)
{
	int64_t lookback = price_link_s(w->tariff) + 2 * 86400, since;
	int found = 0, older;

	for (;;) {
		since = changed_day == INT32_MIN ||
		    lookback > WRITER_LOOKBACK_MAX_S ? INT64_MIN :
		    (int64_t)price_week_start(changed_day) * 86400 - 86400 -
		    lookback;
		if (read_taps(w, account, since, ep) == -1)
			return -1;
		if (since != INT64_MIN)
			*cut = price_window_start(w->tariff, w->pt, w->npt,
			    changed_day, week, &found);
		if (since == INT64_MIN || found)
			break;
		older = *ep != NULL && (*ep)->since == INT64_MIN ? 0 :
		    journal_account_has_taps_before(w->journal, account,
		    since);
		if (older == -1)
			return -1;
		if (older == 0) {
			/* What was read is the whole history. */
			found = 0;
			break;
		}
		lookback *= 4;
	}
	if (!found) {
		*cut = 0;
		*week = INT32_MIN;
	}
	return 0;
}

/*
 * Keeps the account's cache entry to its open weeks: taps from where a
 * tap into the previous week would read, days from that week on.
 */
static void
trim_entry(struct writer *w, struct acache_entry *e)
{
	int32_t last, keep_day;

	if (e == NULL || e->ntaps == 0)
		return;
	last = price_service_day(w->tariff, e->taps[e->ntaps - 1].time);
	keep_day = price_week_start(last) - 7;
	acache_trim(w->cache, e, (int64_t)keep_day * 86400 - 86400 -
	    price_link_s(w->tariff) - 2 * 86400, keep_day);
}

/*
 * Reprices one account from the service week of from_day on (SPEC §6: a
 * tap re-prices what it can affect, never the whole history); days before
 * that week keep their stored results.  INT32_MIN reprices every day (a
 * card that joined a PAR account).  Days charged before and not now are
 * posted back to zero, so the ledger always equals the charges.
 */
static int
reprice(struct writer *w, const char *account, int32_t from_day,
    int32_t to_day, int moved)
{
	int32_t week = INT32_MIN, last = INT32_MAX;
	char now_acc[ACCOUNT_TEXT_MAX];
	struct account_key key;
	struct acache_entry *e = NULL;
	size_t cut = 0, end;

	if (from_day == INT32_MAX)	/* touched, nothing to reprice */
		return 0;
	/* A card that has since shown a PAR belongs to that account now
	 * (moved -1: the batch does not know, ask the journal). */
	if (account_parse(&key, account) == -1)
		return -1;
	if (moved == -1) {
		moved = 0;
		if (key.kind == ACCOUNT_TOKEN) {
			journal_card_account(w->journal, key.id, now_acc,
			    sizeof now_acc);
			moved = strcmp(now_acc, account) != 0;
		}
	}
	w->pr.ndays = 0;
	if (moved) {
		acache_drop(w->cache, account);
		return write_changed_days(w, account, INT32_MIN, INT32_MAX,
		    NULL);
	}
	e = acache_get(w->cache, account);
	if (load_window(w, account, from_day, &cut, &week, &e) == -1)
		return -1;
	/* Through the week where the walk is clean again after the last
	 * changed day; the weeks after it stay as stored. */
	end = to_day == INT32_MAX ? w->npt - cut : price_window_end(
	    w->tariff, w->pt + cut, w->npt - cut, to_day, &last);
	if (price_account(w->tariff, w->pt + cut, end, writer_now(w),
	    &w->pr) == -1)
		return -1;
	if (write_changed_days(w, account, week, last, e) != 0)
		return -1;
	trim_entry(w, acache_peek(w->cache, account));
	return 0;
}

/* Feedback for an ack: the tap's leg fare, its day's charge and the day
 * caps that hold it (docs/protocol.md). */
static void
feedback(struct writer *w, const struct jtap *x, struct jresult *res)
{
	int32_t day = price_service_day(w->tariff, x->time_utc);
	size_t d;
	uint32_t i;

	res->leg_fare_cents = res->day_charge_cents = res->day_cap_cents = 0;
	for (d = 0; d < w->pr.ndays; d++) {
		const struct price_day *pd = &w->pr.day[d];
		if (pd->service_day != day)
			continue;
		res->day_charge_cents = pd->charge_cents;
		res->day_cap_cents = price_day_caps_cents(w->tariff, pd);
		for (i = 0; i < pd->nlegs; i++) {
			const struct price_leg *l =
			    &w->pr.leg[pd->legs_off + i];
			if (l->checkin == x->time_utc ||
			    l->checkout == x->time_utc)
				res->leg_fare_cents = l->fare_cents;
		}
	}
}

/* The account's index in the batch; STRTAB_NONE when out of memory. */
static uint32_t
touch_account(struct batch *bt, const char *acc)
{
	return strtab_intern(bt->accounts, acc, strlen(acc), NULL);
}

/*
 * Stores a refusal with what is known of the tap: its account (acc for a
 * card refused at the gate; read for a flood or a conflicting resend;
 * none before the card was read) and that account's service day.
 */
static int
refusal_store(struct writer *w, struct jtap *x, enum refusal why,
    const char *acc)
{
	if (why == REFUSAL_FLOOD || why == REFUSAL_CONFLICTING_RESEND)
		journal_card_account(w->journal, x->token, x->account,
		    sizeof x->account);	/* the card was read: its account */
	else
		snprintf(x->account, sizeof x->account, "%s",
		    why == REFUSAL_DENIED_AT_GATE ? acc : "");
	acc = x->account;
	if (*acc != '\0' && x->has_time)
		civil_format_day(price_service_day(w->tariff, x->time_utc),
		    x->service_day);
	return journal_store_refused(w->journal, x, why);
}

/*
 * The card's account once its row took tap x (journal_update_card): the
 * least PAR it has shown.  Worked out here for a card already in a PAR
 * account; asked of the journal when the card shows its first PAR.
 */
static int
card_after(struct writer *w, struct batch *bt, uint32_t tk,
    const struct jtap *x)
{
	struct account_key now, par;
	char acc[ACCOUNT_TEXT_MAX];
	uint32_t a;

	if (x->par[0] == '\0')
		return 0;	/* no PAR: the row is as it was */
	if (account_parse(&now, strtab_name(bt->accounts, bt->tok_acc[tk]))
	    == -1)
		return -1;
	if (now.kind == ACCOUNT_PAR && strcmp(x->par, now.id) >= 0)
		return 0;
	if (now.kind == ACCOUNT_PAR &&
	    account_from(&par, ACCOUNT_PAR, x->par) == 0)
		account_format(&par, acc, sizeof acc);
	else
		journal_card_account(w->journal, x->token, acc, sizeof acc);
	if ((a = touch_account(bt, acc)) == STRTAB_NONE)
		return -1;
	bt->tok_acc[tk] = a;
	return 0;
}

/*
 * Stores one tap of a batch (or its refusal).  -1 stops the batch: a
 * write failed, or memory ran out.
 */
static int
store_one(struct writer *w, struct batch *bt, size_t i)
{
	struct jtap *x = &bt->b[i];
	enum refusal why = x->refuse;
	char acc[64] = "";
	int64_t rows;
	int added;

	assert(why >= 0 && why < REFUSAL_MAX);
	bt->added[i] = 0;
	bt->tap_tok[i] = STRTAB_NONE;
	if (why == REFUSAL_NONE) {
		/* The account the card had: a PAR in this batch may move it,
		 * and the old one must be repriced too.  Read once a batch. */
		uint32_t tk = strtab_intern(bt->tokens, x->token,
		    strlen(x->token), &added);
		if (tk == STRTAB_NONE)
			return -1;
		if (added) {
			int fresh;
			journal_card_state(w->journal, x->token, acc,
			    sizeof acc, &fresh);
			bt->tok_fresh[tk] = (uint8_t)fresh;
			bt->tok_ntaps[tk] = 0;
			if ((bt->tok_acc[tk] = touch_account(bt, acc)) ==
			    STRTAB_NONE)
				return -1;
		}
		bt->tap_tok[i] = tk;
		bt->before[i] = bt->tok_acc[tk];
		rows = journal_changes(w->journal);
		/* A card with no tap stored before the batch has at most
		 * those it stored in it: no flood count to ask for. */
		why = bt->tok_fresh[tk] && bt->tok_ntaps[tk] <
		    LIMIT_CARD_TAPS_PER_DAY ? journal_store_tap_below_flood(
		    w->journal, x) : journal_store_tap(w->journal, x);
		bt->tok_ntaps[tk]++;
		if (why == REFUSAL_STORE)
			return -1;
		/* A new row, not a resend: the account's cache takes it. */
		bt->added[i] = journal_changes(w->journal) > rows;
		if (why == REFUSAL_NONE &&
		    (journal_update_card(w->journal, x) != 0 ||
		    card_after(w, bt, tk, x) == -1))
			return -1;
	} else if (why == REFUSAL_MOVED) {
		/* Cluster (worker.c): the card's taps went to its PAR's
		 * shard; forget them here and reprice the token's account
		 * whole, which reverses what it had posted. */
		if (moves_forget_card(journal_db(w->journal), x->token, x->par,
		    writer_now(w)) != 0)
			return -1;
		snprintf(acc, sizeof acc, "tok:%s", x->token);
		acache_drop(w->cache, acc);	/* its taps are gone */
		if ((bt->before[i] = touch_account(bt, acc)) == STRTAB_NONE)
			return -1;
		bt->res[i].refused = why;
		return 0;
	} else if (why == REFUSAL_DENIED_AT_GATE) {
		/* Not a journey; but the card is back: try its debt.  The
		 * account the card already has, never one a PAR in the tap
		 * claims (issue 16: any PAR would burn that debt's retries). */
		journal_card_account(w->journal, x->token, acc, sizeof acc);
		snprintf(x->detail, sizeof x->detail, "account %s", acc);
		if ((bt->before[i] = touch_account(bt, acc)) == STRTAB_NONE)
			return -1;
	} else
		bt->before[i] = STRTAB_NONE;
	if (why != REFUSAL_NONE && refusal_store(w, x, why, acc) != 0)
		return -1;
	bt->res[i].refused = why;
	return 0;
}

static int
store_batch(struct writer *w, struct batch *bt)
{
	size_t i;

	for (i = 0; i < bt->n; i++) {
		bt->res[i].conn_id = bt->b[i].conn_id;
		bt->res[i].seq = bt->b[i].seq;
		bt->res[i].leg_fare_cents = bt->res[i].day_charge_cents = 0;
		bt->res[i].day_cap_cents = 0;
		bt->tap_acc[i] = STRTAB_NONE;
		if (store_one(w, bt, i) == -1)
			return -1;
	}
	return 0;
}

/*
 * Each tap's account as of the whole batch, and the taps of each account
 * as a list (first/next), for the feedback.
 */
static int
index_batch(struct writer *w, struct batch *bt)
{
	size_t i, n = bt->n;
	uint32_t a;

	for (i = 0; i < n; i++)
		if (bt->res[i].refused == REFUSAL_NONE)
			bt->tap_acc[i] = bt->tok_acc[bt->tap_tok[i]];
	/* At most two accounts a tap (its card's before and after). */
	assert(strtab_count(bt->accounts) <= 2 * JOURNAL_BATCH);
	for (a = 0; a < strtab_count(bt->accounts); a++) {
		bt->first[a] = UINT32_MAX;
		bt->from_day[a] = INT32_MAX;	/* nothing to reprice */
		bt->to_day[a] = INT32_MIN;
	}
	/* Reprice each account from its earliest tap's day on; a card that
	 * moved to another account (it showed a PAR) moves all its taps, so
	 * both accounts are repriced whole. */
	for (i = 0; i < n; i++) {
		int32_t day;
		if ((a = bt->tap_acc[i]) == STRTAB_NONE)
			continue;
		day = price_service_day(w->tariff, bt->b[i].time_utc);
		if (day < bt->from_day[a])
			bt->from_day[a] = day;
		if (day > bt->to_day[a])
			bt->to_day[a] = day;
		if (bt->before[i] != a) {
			bt->from_day[a] = bt->from_day[bt->before[i]] =
			    INT32_MIN;
			bt->to_day[a] = bt->to_day[bt->before[i]] = INT32_MAX;
		}
	}
	for (i = 0; i < n; i++)
		if (bt->res[i].refused == REFUSAL_MOVED) {
			bt->from_day[bt->before[i]] = INT32_MIN;
			bt->to_day[bt->before[i]] = INT32_MAX;
		}
	for (i = n; i-- > 0;)
		if (bt->tap_acc[i] != STRTAB_NONE) {
			bt->next[i] = bt->first[bt->tap_acc[i]];
			bt->first[bt->tap_acc[i]] = (uint32_t)i;
		}
	return 0;
}

/*
 * An empty cache entry, complete from the start of time, for the account
 * of each card that had neither a PAR nor a stored tap before this batch
 * and still has its own account (it showed no PAR): its whole history is
 * this batch's taps, which cache_batch() then adds, and it has no stored
 * days; so it is priced without reading anything back (ISSUE 14: three
 * queries a new account that find nothing).
 */
static void
fresh_entries(struct writer *w, struct batch *bt)
{
	uint32_t tk;

	for (tk = 0; tk < strtab_count(bt->tokens); tk++) {
		const char *name;
		struct acache_entry *e;
		if (!bt->tok_fresh[tk])
			continue;
		name = strtab_name(bt->accounts, bt->tok_acc[tk]);
		/* tok:<token>: the card did not move to a PAR account. */
		if (strncmp(name, "tok:", 4) != 0 ||
		    strcmp(name + 4, strtab_name(bt->tokens, tk)) != 0)
			continue;
		if ((e = acache_put(w->cache, name, INT64_MIN, NULL, 0)) !=
		    NULL)
			(void)acache_set_days(w->cache, e, INT32_MIN, NULL, 0);
	}
}

/*
 * The batch's new taps into their accounts' cache entries, as the loader
 * would read them back; an account a card moved into or out of (it showed
 * a PAR) is repriced whole from the database and leaves the cache.
 */
static void
cache_batch(struct writer *w, struct batch *bt)
{
	const struct tariff *t = w->tariff;
	size_t i;

	for (i = 0; i < bt->n; i++) {
		const struct jtap *x = &bt->b[i];
		uint32_t a = bt->tap_acc[i];
		struct acache_entry *e;
		struct price_tap p;
		if (a == STRTAB_NONE || !bt->added[i])
			continue;
		if (bt->before[i] != a) {
			acache_drop(w->cache, strtab_name(bt->accounts, a));
			acache_drop(w->cache, strtab_name(bt->accounts,
			    bt->before[i]));
			continue;
		}
		e = acache_peek(w->cache, strtab_name(bt->accounts, a));
		if (e == NULL)
			continue;
		p.time = x->time_utc;
		p.network = tariff_network(t, x->network_id,
		    strlen(x->network_id));
		p.stop = tariff_stop(t, x->stop_id, strlen(x->stop_id));
		p.kind = x->kind == 1;
		/* A stop gone from a reloaded tariff cannot count. */
		if (p.network != TARIFF_NONE && p.stop != TARIFF_NONE)
			(void)acache_add_tap(w->cache, e, &p);
	}
}

/* Whether account a is a card's that this batch moved to a PAR account:
 * 1 or 0, -1 when the batch does not know (an account seen at the gate). */
static int
account_moved(const struct batch *bt, uint32_t a)
{
	const char *name = strtab_name(bt->accounts, a);
	struct account_key key;
	uint32_t tk;

	if (account_parse(&key, name) == -1 || key.kind != ACCOUNT_TOKEN)
		return key.kind == ACCOUNT_PAR ? 0 : -1;
	tk = strtab_find(bt->tokens, key.id, strlen(key.id));
	return tk == STRTAB_NONE ? -1 : bt->tok_acc[tk] != a;
}

/* Live pricing: the accounts this batch touched. */
static int
price_batch(struct writer *w, struct batch *bt)
{
	/* Any open debt at all?  (Inside this transaction: settlement
	 * cannot open one meanwhile.)  Most batches have none to look at. */
	int debts = settlement_any_debt(w->settlement);
	uint32_t a, k;
	size_t i;

	for (a = 0; a < strtab_count(bt->accounts); a++) {
		const char *name = strtab_name(bt->accounts, a);
		if (reprice(w, name, bt->from_day[a], bt->to_day[a],
		    account_moved(bt, a)) != 0)
			return -1;
		for (k = bt->first[a]; k != UINT32_MAX; k = bt->next[k])
			feedback(w, &bt->b[k], &bt->res[k]);
	}
	/* A card of an account in debt tapped (or was denied at a gate):
	 * the account it had before this tap, and that card's token. */
	for (i = 0; debts && i < bt->n; i++) {
		enum refusal r = bt->res[i].refused;
		if ((r != REFUSAL_NONE && r != REFUSAL_DENIED_AT_GATE) ||
		    bt->before[i] == STRTAB_NONE)
			continue;
		if (settlement_debt_due(w->settlement, strtab_name(bt->accounts,
		    bt->before[i]), bt->b[i].token, writer_now(w),
		    w->debt_tap_gap) != 0)
			return -1;
	}
	return 0;
}

static void
count_batch(struct writer *w, size_t n, uint64_t t0, uint64_t t1,
    uint64_t t2, int64_t rows)
{
	uint64_t dt = clock_mono_us() - t0;
	struct acache_stats cs;
	int pages = 0, hi = 0;

	/* What the batch's commit (or a cache spill before it) wrote. */
	sqlite3_db_status(journal_db(w->journal), SQLITE_DBSTATUS_CACHE_WRITE,
	    &pages, &hi, 1);
	acache_get_stats(w->cache, &cs);
	pthread_mutex_lock(&w->mu);
	w->st.committed += n;
	w->st.rows_written += (uint64_t)rows;
	w->st.wal_pages += (uint64_t)pages;
	w->st.taps_read += w->batch_taps_read;
	w->batch_taps_read = 0;
	w->st.cache_hits = cs.hits;
	w->st.cache_misses = cs.misses;
	w->st.cache_evictions = cs.evictions;
	w->st.cache_accounts = cs.accounts;
	w->st.cache_taps = cs.taps;
	w->st.batches++;
	w->st.commit_us += dt;
	w->st.store_us += t1 - t0;
	w->st.price_us += t2 - t1;
	w->st.sync_us += t0 + dt - t2;
	if (dt > w->st.commit_us_max)
		w->st.commit_us_max = dt;
	pthread_mutex_unlock(&w->mu);
}

/*
 * After a commit: the validator and time received of each new tap, for
 * the metrics thread (it reads no taps back; ISSUE 14).
 */
static void
note_seen(struct writer *w, const struct batch *bt)
{
	size_t i;

	pthread_mutex_lock(&w->seen_mu);
	for (i = 0; i < bt->n; i++) {
		const struct jtap *x = &bt->b[i];
		uint32_t k;
		int added;
		if (!bt->added[i] || bt->res[i].refused != REFUSAL_NONE)
			continue;
		if (strtab_count(w->seen) == WRITER_SEEN_DEVICES &&
		    strtab_find(w->seen, x->device_id,
		    strlen(x->device_id)) == STRTAB_NONE) {
			w->seen_overflow = 1;
			continue;
		}
		k = strtab_intern(w->seen, x->device_id, strlen(x->device_id),
		    &added);
		if (k == STRTAB_NONE) {
			w->seen_overflow = 1;
			continue;
		}
		if (added || x->received_utc > w->seen_last[k])
			w->seen_last[k] = x->received_utc;
	}
	pthread_mutex_unlock(&w->seen_mu);
}

int
writer_take_seen(struct writer *w, void (*fn)(const char *, size_t,
    int64_t, void *), void *arg)
{
	uint32_t k;
	int over;

	pthread_mutex_lock(&w->seen_mu);
	for (k = 0; k < strtab_count(w->seen); k++)
		fn(strtab_name(w->seen, k), strtab_len(w->seen, k),
		    w->seen_last[k], arg);
	strtab_clear(w->seen);
	over = w->seen_overflow;
	w->seen_overflow = 0;
	pthread_mutex_unlock(&w->seen_mu);
	return over;
}

/*
 * One batch, one transaction: the taps, then the new prices and ledger
 * postings of every account they touch.  A tap is acknowledged only once
 * all of it is durable (stored, priced, posted): one commit, one fsync.
 */
static int
write_batch(struct writer *w, struct jtap *b, size_t n,
    struct jresult *res, uint32_t *tap_acc)
{
	struct batch *bt = &w->bt;
	uint64_t t0 = clock_mono_us(), t1 = t0, t2 = t0;
	int64_t rows0 = journal_changes(w->journal);
	int ok = journal_exec(w->journal, "BEGIN IMMEDIATE") == SQLITE_OK;
	size_t i;
	int cur, hi;

	/* Counts the pages this batch writes from here (count_batch). */
	sqlite3_db_status(journal_db(w->journal), SQLITE_DBSTATUS_CACHE_WRITE,
	    &cur, &hi, 1);
	bt->b = b;
	bt->res = res;
	bt->tap_acc = tap_acc;
	bt->n = n;
	strtab_clear(bt->accounts);
	strtab_clear(bt->tokens);
	ok = ok && store_batch(w, bt) == 0 && index_batch(w, bt) == 0;
	if (ok) {
		fresh_entries(w, bt);
		cache_batch(w, bt);
	}
	t1 = clock_mono_us();
	ok = ok && price_batch(w, bt) == 0;
	t2 = clock_mono_us();
	if (!ok || journal_exec(w->journal, "COMMIT") != SQLITE_OK) {
		set_health(w, "cannot commit a batch; nothing acknowledged");
		journal_exec(w->journal, "ROLLBACK");
		acache_clear(w->cache);	/* it may hold what was rolled back */
		/* No commit, so no WAL hook: copy the WAL back here, so that
		 * the next batch can start it again when space returns
		 * rather than grow it (a full disk). */
		(void)sqlite3_wal_checkpoint_v2(journal_db(w->journal), NULL,
		    SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		for (i = 0; i < n; i++)
			res[i].refused = REFUSAL_NOT_COMMITTED;
		return -1;
	}
	count_batch(w, n, t0, t1, t2, journal_changes(w->journal) - rows0);
	note_seen(w, bt);
	clear_health(w);
	return 0;
}

/*
 * Every JOURNAL_EXPIRE_S: reprice the accounts whose open leg is past
 * max_leg_minutes, so that it becomes incomplete without waiting for a
 * tap.  Only those: an open leg checked in more recently than the
 * shortest max_leg_minutes of the tariff prices the same now as at its
 * tap (price.c: the clock only ends open legs).  WRITER_EXPIRE_BATCH
 * accounts a transaction; returns 1 when there may be more (the caller
 * takes the queued taps first and calls again).
 */
static int
close_expired_legs(struct writer *w)
{
	struct strtab *acc = strtab_new();
	uint32_t i;
	int more;

	if (acc == NULL)
		return 0;
	/* On a failure, with the accounts read so far. */
	(void)charges_open_accounts(w->charges, writer_now(w) -
	    tariff_min_max_leg_s(w->tariff), w->expire_after, acc,
	    WRITER_EXPIRE_BATCH);
	more = strtab_count(acc) == WRITER_EXPIRE_BATCH;
	/* The next transaction of the pass goes on after the last account
	 * (a leg on a network with a longer max_leg_minutes may stay open:
	 * the pass does not take it again and again). */
	if (more) {
		const char *last = strtab_name(acc, strtab_count(acc) - 1);
		size_t len = strcspn(last, " ");
		if (len >= sizeof w->expire_after)
			more = 0;
		else {
			memcpy(w->expire_after, last, len);
			w->expire_after[len] = '\0';
		}
	}
	if (!more)
		w->expire_after[0] = '\0';
	if (strtab_count(acc) > 0 &&
	    journal_exec(w->journal, "BEGIN IMMEDIATE") == SQLITE_OK) {
		for (i = 0; i < strtab_count(acc); i++) {
			/* "ACCOUNT YYYY-MM-DD": from its first open day. */
			char name[80];
			const char *e = strtab_name(acc, i), *sp;
			int32_t day = INT32_MIN;
			unsigned y, m, dd;
			if ((sp = strchr(e, ' ')) == NULL ||
			    (size_t)(sp - e) >= sizeof name)
				continue;
			memcpy(name, e, (size_t)(sp - e));
			name[sp - e] = '\0';
			if (sscanf(sp + 1, "%4u-%2u-%2u", &y, &m, &dd) == 3)
				day = civil_to_days(y, m, dd);
			if (reprice(w, name, day, INT32_MAX, -1) != 0) {
				set_health(w, "repricing open legs");
				acache_drop(w->cache, name);
			}
		}
		if (journal_exec(w->journal, "COMMIT") != SQLITE_OK) {
			journal_exec(w->journal, "ROLLBACK");
			acache_clear(w->cache);
			more = 0;
		}
	}
	strtab_free(acc);
	return more;
}

/*
 * Records the tariff version in force before anything is priced with it
 * (SPEC §6: the database keeps each version it priced with).  Until it is
 * recorded (a full disk), days are written naming no version; it is tried
 * again before every batch.
 */
static void
record_version(struct writer *w)
{
	if (w->files == NULL)
		return;
	if (tariff_version_store(journal_db(w->journal), w->files,
	    writer_now(w), &w->tariff_version) == -1) {
		w->tariff_version = 0;
		set_health(w, "cannot record the tariff version");
		return;
	}
	log_notice("tariff_version", "id=%lld hash=%.16s msg=\"days priced "
	    "from now on name it\"", (long long)w->tariff_version,
	    tariff_files_hash(w->files));
	tariff_files_free(w->files);
	w->files = NULL;
}

static void checkpoint_after(struct writer *);

/*
 * Waits for taps (closing expired legs while idle and every
 * JOURNAL_EXPIRE_S), then takes a batch and swaps in a new tariff.
 * Returns how many taps it took, or -1 when stopping with nothing queued.
 */
static long
take_batch(struct writer *w, struct jtap *b)
{
	size_t n;
	int more = 0;	/* a pass left work: no waiting for it */

	for (;;) {
		struct timespec until;
		int timed_out = 0, expire, close;
		pthread_mutex_lock(&w->mu);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += WRITER_CLOSE_INTERVAL_S;
		while (w->qlen == 0 && !w->stop && !timed_out && !more)
			timed_out = pthread_cond_timedwait(&w->cv, &w->mu,
			    &until) != 0;
		if (w->qlen == 0 && w->stop) {
			pthread_mutex_unlock(&w->mu);
			return -1;
		}
		/* Days close and open legs expire whether or not taps keep
		 * coming. */
		expire = writer_now(w) - w->last_expiry >= JOURNAL_EXPIRE_S;
		close = writer_now(w) - w->last_close >=
		    WRITER_CLOSE_INTERVAL_S;
		if (w->qlen > 0 && !expire && !close)
			break;
		pthread_mutex_unlock(&w->mu);
		/* Each a transaction at a time, the queued taps between;
		 * a pass that has more stays due (the expiry pass at most
		 * WRITER_EXPIRE_ROUNDS times: a leg it cannot end is not
		 * repriced again and again). */
		more = 0;
		if (close && !(more = close_days(w)))
			w->last_close = writer_now(w);
		if (expire && (!close_expired_legs(w) ||
		    ++w->expire_rounds >= WRITER_EXPIRE_ROUNDS)) {
			w->last_expiry = writer_now(w);
			w->expire_rounds = 0;
		} else if (expire)
			more = 1;
		checkpoint_after(w);
		pthread_mutex_lock(&w->mu);
		if (w->qlen > 0)
			break;
		pthread_mutex_unlock(&w->mu);
	}
	for (n = 0; n < JOURNAL_BATCH && w->qlen > 0; n++) {
		b[n] = w->q[w->qhead];
		/* The ring keeps no copy of a tap (tokens, PARs, details). */
		memset(&w->q[w->qhead], 0, sizeof w->q[w->qhead]);
		w->qhead = (w->qhead + 1) % JOURNAL_QUEUE;
		w->qlen--;
	}
	if (w->next_tariff != NULL) {
		/* Between batches: nobody else reads the old one. */
		tariff_free(w->tariff);
		w->tariff = w->next_tariff;
		w->next_tariff = NULL;
		tariff_files_free(w->files);
		w->files = w->next_files;
		w->next_files = NULL;
		w->tariff_version = 0;
		/* Its networks, stops and days may differ. */
		acache_clear(w->cache);
	}
	pthread_mutex_unlock(&w->mu);
	record_version(w);
	return (long)n;
}

/*
 * Disk full or an I/O error: nothing of the batch was acknowledged.  Keep
 * it and try again (0.1 s, doubling to 1 s; the loop stops reading once
 * the queue fills); validators keep their copies, so stopping now loses
 * nothing either.
 */
static void
commit_retrying(struct writer *w, struct jtap *b, size_t n,
    struct jresult *res, uint32_t *tap_acc)
{
	long wait_ms;
	int stop;

	for (wait_ms = 100; write_batch(w, b, n, res, tap_acc) == -1;
	    wait_ms = wait_ms < 1000 ? wait_ms * 2 : 1000) {
		struct timespec again;
		pthread_mutex_lock(&w->mu);
		clock_gettime(CLOCK_REALTIME, &again);
		again.tv_nsec += wait_ms * 1000000L;
		again.tv_sec += again.tv_nsec / 1000000000L;
		again.tv_nsec %= 1000000000L;
		if (!w->stop)
			pthread_cond_timedwait(&w->cv, &w->mu, &again);
		stop = w->stop;
		pthread_mutex_unlock(&w->mu);
		if (stop)
			break;
	}
}

static void *
writer_main(void *arg)
{
	struct writer *w = arg;
	struct jtap *b = malloc(JOURNAL_BATCH * sizeof *b);
	struct jresult *res = malloc(JOURNAL_BATCH * sizeof *res);
	uint32_t *tap_acc = malloc(JOURNAL_BATCH * sizeof *tap_acc);
	long n;
	size_t i;

	if (b == NULL || res == NULL || tap_acc == NULL) {
		log_err("journal_failing", "error=\"out of memory\"");
		goto out;
	}
	pthread_setname_np(pthread_self(), "fe-writer");
	/* After downtime: legs that expired meanwhile close right away (the
	 * rest of them at the first passes). */
	(void)close_expired_legs(w);
	while ((n = take_batch(w, b)) >= 0) {
		commit_retrying(w, b, (size_t)n, res, tap_acc);
		pthread_mutex_lock(&w->mu);
		/* The loop drains results promptly; bound them all the same. */
		for (i = 0; i < (size_t)n && w->nres < JOURNAL_QUEUE; i++)
			w->res[w->nres++] = res[i];
		pthread_mutex_unlock(&w->mu);
		event_active(w->done_ev, EV_READ, 0);
		checkpoint_after(w);
	}
out:
	free(b);
	free(res);
	free(tap_acc);
	return NULL;
}

static void
done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct writer *w = arg;
	struct jresult *copy;
	size_t n;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&w->mu);
	n = w->nres;
	copy = malloc((n + 1) * sizeof *copy);
	if (copy != NULL)
		memcpy(copy, w->res, n * sizeof *copy);
	w->nres = 0;
	pthread_mutex_unlock(&w->mu);
	if (copy != NULL)
		w->done(copy, n, w->done_arg);
	free(copy);
}

/*
 * Checkpoints off the ack path: the writer's connection never checkpoints
 * as part of a commit (its WAL hook replaces SQLite's automatic one); this
 * thread, on its own connection, copies the WAL back into the database
 * (PASSIVE: it never blocks the writer) once commits have put
 * WRITER_CHECKPOINT_PAGES in it.  A crash at any point is SQLite's to
 * recover as with its own checkpoints.
 */
static void *
walckpt_main(void *arg)
{
	struct writer *w = arg;
	int log, done;

	pthread_setname_np(pthread_self(), "fe-checkpoint");
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->ckpt_want && !w->ckpt_stop)
			pthread_cond_wait(&w->ckpt_cv, &w->mu);
		if (w->ckpt_stop)
			break;
		w->ckpt_want = 0;
		pthread_mutex_unlock(&w->mu);
		/* A failure (a full disk) leaves the WAL as it is; the next
		 * commit asks again. */
		(void)sqlite3_wal_checkpoint_v2(w->ckpt_db, NULL,
		    SQLITE_CHECKPOINT_PASSIVE, &log, &done);
		pthread_mutex_lock(&w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/*
 * After each commit on the writer's connection, with the WAL's size in
 * pages: wake the checkpointer; past WRITER_WAL_RESET_PAGES copy what it
 * left here; at WRITER_WAL_MAX_PAGES wait for a whole checkpoint
 * (RESTART), so that the WAL stays bounded when the checkpointer cannot
 * keep up (limits.h).
 */
static int
wal_hook_cb(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct writer *w = arg;

	(void)db;
	(void)name;
	/* Done by checkpoint_after() once this batch's taps are handed to
	 * the loop for their acks (ISSUE 14: an ack never waits for a
	 * checkpoint), before the next batch begins. */
	if (pages >= WRITER_WAL_MAX_PAGES || (!w->ckpt_running &&
	    pages >= WRITER_CHECKPOINT_PAGES)) {
		w->ckpt_after = 2;
		return SQLITE_OK;
	}
	/* The checkpointer has copied most of it (or holds the lock: busy,
	 * try after the next commit); no commit runs meanwhile, so this
	 * completes and the next transaction starts the WAL again. */
	if (pages >= WRITER_WAL_RESET_PAGES) {
		w->ckpt_after = 1;
		return SQLITE_OK;
	}
	if (pages >= WRITER_CHECKPOINT_PAGES) {
		pthread_mutex_lock(&w->mu);
		w->ckpt_want = 1;
		pthread_cond_signal(&w->ckpt_cv);
		pthread_mutex_unlock(&w->mu);
	}
	return SQLITE_OK;
}

/* What wal_hook_cb asked for, after the batch's results went out. */
static void
checkpoint_after(struct writer *w)
{
	int mode = w->ckpt_after;

	w->ckpt_after = 0;
	if (mode != 0)
		(void)sqlite3_wal_checkpoint_v2(journal_db(w->journal), NULL,
		    mode == 2 ? SQLITE_CHECKPOINT_RESTART :
		    SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
}

/* Starts the checkpointer; without it commits checkpoint as before. */
static void
walckpt_start(struct writer *w, const char *path)
{
	sqlite3_wal_hook(journal_db(w->journal), wal_hook_cb, w);
	if (sqlite3_open_v2(path, &w->ckpt_db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
	    sqlite3_exec(w->ckpt_db, "PRAGMA synchronous=FULL", NULL, NULL,
	    NULL) != SQLITE_OK ||
	    pthread_create(&w->ckpt_thread, NULL, walckpt_main, w) != 0) {
		log_warning("checkpointer_off", "error=%s msg=\"commits "
		    "checkpoint themselves\"", LOGQ(w->ckpt_db != NULL ?
		    sqlite3_errmsg(w->ckpt_db) : "cannot open"));
		sqlite3_close_v2(w->ckpt_db);
		w->ckpt_db = NULL;
		return;
	}
	w->ckpt_running = 1;
}

static void
walckpt_stop(struct writer *w)
{
	if (!w->ckpt_running)
		return;
	pthread_mutex_lock(&w->mu);
	w->ckpt_stop = 1;
	pthread_cond_signal(&w->ckpt_cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->ckpt_thread, NULL);
	sqlite3_close_v2(w->ckpt_db);
	w->ckpt_db = NULL;
	w->ckpt_running = 0;
}

/* A batch's scratch, once for all batches: no allocation per tap. */
static int
batch_alloc(struct batch *bt)
{
	size_t n = JOURNAL_BATCH + 1, na = 2 * JOURNAL_BATCH + 1;

	bt->accounts = strtab_new();
	bt->tokens = strtab_new();
	bt->first = malloc(na * sizeof *bt->first);
	bt->from_day = malloc(na * sizeof *bt->from_day);
	bt->to_day = malloc(na * sizeof *bt->to_day);
	bt->next = malloc(n * sizeof *bt->next);
	bt->before = malloc(n * sizeof *bt->before);
	bt->added = malloc(n * sizeof *bt->added);
	bt->tap_tok = malloc(n * sizeof *bt->tap_tok);
	bt->tok_acc = malloc(n * sizeof *bt->tok_acc);
	bt->tok_fresh = malloc(n * sizeof *bt->tok_fresh);
	bt->tok_ntaps = malloc(n * sizeof *bt->tok_ntaps);
	return bt->tok_fresh == NULL || bt->tok_ntaps == NULL ||
	    bt->accounts == NULL ||
	    bt->tokens == NULL ||
	    bt->first == NULL || bt->from_day == NULL || bt->to_day == NULL ||
	    bt->next == NULL || bt->before == NULL || bt->added == NULL ||
	    bt->tap_tok == NULL || bt->tok_acc == NULL ? -1 : 0;
}

static void
batch_free(struct batch *bt)
{
	strtab_free(bt->accounts);
	strtab_free(bt->tokens);
	free(bt->first);
	free(bt->from_day);
	free(bt->to_day);
	free(bt->next);
	free(bt->before);
	free(bt->added);
	free(bt->tap_tok);
	free(bt->tok_acc);
	free(bt->tok_fresh);
	free(bt->tok_ntaps);
}

/* The store: the journal's connection, each module adding its tables. */
static int
open_store(struct writer *w, const struct writer_opts *o, char *err,
    size_t errlen)
{
	sqlite3 *db;

	if ((w->journal = journal_open(o->path, o->synchronous_full,
	    JOURNAL_CACHE_KIB, err, errlen)) == NULL)
		return -1;
	db = journal_db(w->journal);
	if (tariff_version_schema(db, err, errlen) == -1 ||
	    (w->charges = charges_open(db, err, errlen)) == NULL ||
	    (w->settlement = settlement_open(db, err, errlen)) == NULL ||
	    deny_schema(db, err, errlen) == -1 ||
	    (w->ledger = ledger_open(db, err, errlen)) == NULL)
		return -1;
	return 0;
}

static void
close_store(struct writer *w)
{
	ledger_close(w->ledger);
	settlement_close(w->settlement);
	charges_close(w->charges);
	journal_close(w->journal);
}

/*
 * A clean stop leaves no WAL beside the database: everything is copied
 * into the main file and the WAL truncated to zero bytes, so that a copy
 * of engine.db alone is whole.  Readers still open elsewhere (an audit, a
 * backup) can keep it from completing; it is then said in the log, and the
 * WAL, still beside the database, holds the rest.
 */
static void
writer_checkpoint(struct writer *w)
{
	int frames = -1, copied = -1;
	int rc = sqlite3_wal_checkpoint_v2(journal_db(w->journal), NULL,
	    SQLITE_CHECKPOINT_TRUNCATE, &frames, &copied);

	if (rc == SQLITE_OK)
		log_notice("checkpoint", "mode=truncate frames=%d", copied);
	else
		log_warning("checkpoint_incomplete", "error=%s frames=%d "
		    "copied=%d msg=\"keep the -wal file with the database\"",
		    LOGQ(sqlite3_errmsg(journal_db(w->journal))), frames,
		    copied);
}

struct writer *
writer_open(const struct writer_opts *o, struct tariff *t,
    struct tariff_files *files, struct event_base *base, writer_done_fn done,
    void *arg, char *err, size_t errlen)
{
	struct writer *w = calloc(1, sizeof *w);

	if (w == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	w->tariff = t;
	w->clock_offset = o->clock_offset_s;
	w->debt_tap_gap = o->debt_tap_gap_s;
	w->close_grace_s = o->close_grace_s;
	w->ledger_key = o->ledger_key;
	w->checkpoint_file = o->checkpoint_file;
	w->checkpoint_day = INT32_MIN;
	w->done = done;
	w->done_arg = arg;
	price_result_init(&w->pr);
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	pthread_cond_init(&w->ckpt_cv, NULL);
	pthread_mutex_init(&w->seen_mu, NULL);
	w->seen = strtab_new();
	w->seen_last = malloc(WRITER_SEEN_DEVICES * sizeof *w->seen_last);
	w->q = malloc(JOURNAL_QUEUE * sizeof *w->q);
	w->res = malloc(JOURNAL_QUEUE * sizeof *w->res);
	/* Taps: the accounts' share of the bound (limits.h). */
	w->cache = acache_new(o->account_cache, o->account_cache >=
	    ACCOUNT_CACHE_ACCOUNTS ? ACCOUNT_CACHE_TAPS :
	    o->account_cache * (ACCOUNT_CACHE_TAPS / ACCOUNT_CACHE_ACCOUNTS));
	if (w->q == NULL || w->res == NULL || w->cache == NULL ||
	    w->seen == NULL || w->seen_last == NULL ||
	    batch_alloc(&w->bt) == -1) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (open_store(w, o, err, errlen) == -1)
		goto fail;
	w->files = files;
	record_version(w);
	if (w->files != NULL) {
		w->files = NULL;
		snprintf(err, errlen, "cannot record the tariff version: %s",
		    sqlite3_errmsg(journal_db(w->journal)));
		goto fail;
	}
	walckpt_start(w, o->path);
	w->done_ev = event_new(base, -1, EV_READ, done_cb, w);
	w->last_expiry = writer_now(w);
	if (w->done_ev == NULL ||
	    pthread_create(&w->thread, NULL, writer_main, w) != 0) {
		snprintf(err, errlen, "cannot start the writer thread");
		goto fail;
	}
	return w;
fail:
	if (w->done_ev != NULL)
		event_free(w->done_ev);
	walckpt_stop(w);
	close_store(w);
	price_result_free(&w->pr);
	free(w->q);
	free(w->res);
	acache_free(w->cache);
	batch_free(&w->bt);
	strtab_free(w->seen);
	free(w->seen_last);
	pthread_mutex_destroy(&w->mu);
	pthread_mutex_destroy(&w->seen_mu);
	pthread_cond_destroy(&w->cv);
	pthread_cond_destroy(&w->ckpt_cv);
	free(w);
	return NULL;
}

void
writer_close(struct writer *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	/* Deliver the last results, if the loop still runs they go out. */
	done_cb(-1, 0, w);
	/* The checkpointer's connection first: the writer's is the last on
	 * the database when it checkpoints. */
	walckpt_stop(w);
	writer_checkpoint(w);
	close_store(w);
	checkpoint_key_free(w->ledger_key);
	event_free(w->done_ev);
	tariff_free(w->next_tariff);
	tariff_free(w->tariff);
	tariff_files_free(w->next_files);
	tariff_files_free(w->files);
	price_result_free(&w->pr);
	free(w->pt);
	free(w->stored);
	free(w->newdays);
	acache_free(w->cache);
	batch_free(&w->bt);
	strtab_free(w->seen);
	free(w->seen_last);
	free(w->q);
	free(w->res);
	pthread_mutex_destroy(&w->seen_mu);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	pthread_cond_destroy(&w->ckpt_cv);
	free(w);
}

int
writer_submit(struct writer *w, const struct jtap *x)
{
	pthread_mutex_lock(&w->mu);
	if (w->qlen == JOURNAL_QUEUE) {
		pthread_mutex_unlock(&w->mu);
		return -1;
	}
	w->q[(w->qhead + w->qlen) % JOURNAL_QUEUE] = *x;
	w->qlen++;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	return 0;
}

size_t
writer_queued(struct writer *w)
{
	size_t n;

	pthread_mutex_lock(&w->mu);
	n = w->qlen;
	pthread_mutex_unlock(&w->mu);
	return n;
}

void
writer_set_tariff(struct writer *w, struct tariff *t,
    struct tariff_files *files)
{
	pthread_mutex_lock(&w->mu);
	tariff_free(w->next_tariff);
	tariff_files_free(w->next_files);
	w->next_tariff = t;
	w->next_files = files;
	pthread_mutex_unlock(&w->mu);
}

const char *
writer_health(struct writer *w, char *buf, size_t len)
{
	const char *r = NULL;

	pthread_mutex_lock(&w->mu);
	if (w->health[0] != '\0') {
		snprintf(buf, len, "%s", w->health);
		r = buf;
	}
	pthread_mutex_unlock(&w->mu);
	return r;
}

void
writer_get_stats(struct writer *w, struct writer_stats *out)
{
	pthread_mutex_lock(&w->mu);
	*out = w->st;
	pthread_mutex_unlock(&w->mu);
}

