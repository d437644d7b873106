/*
 * The settlement thread.  It owns a second SQLite connection; the
 * journal's writer owns the first.  Both write in short BEGIN IMMEDIATE
 * transactions, so ledger appends stay one chain.  Network I/O never
 * happens inside a transaction: a request is first committed as a
 * 'pending' row of `settlements` with its idempotency key, then sent, and
 * its outcome is posted in a second transaction.  Pending rows (a timeout,
 * a crash of the engine or of the acquirer) are resent with the same key
 * at the next pass; the acquirer answers a key it has seen with the same
 * result and does not capture again.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "clock.h"
#include "deny.h"
#include "diag.h"
#include "ledger.h"
#include "limits.h"
#include "settle.h"
#include "settlement.h"
#include "wire.h"

#define SETTLE_BATCH		5000	/* account-days per pass */
#define SETTLE_LINE_MAX		512	/* an acquirer answer */
#define SETTLE_STALE_LINES	16	/* stray answers skipped per request */
#define SETTLE_BACKOFF_MAX_S	300	/* acquirer down: wait at most this */
#define SETTLE_POST_BATCH	256	/* outcomes posted per transaction */
#define SETTLE_FAILURES_DOWN	3	/* unanswered in a row: acquirer down */

/* Days after a decline on which recovery is retried (Visa: <= 6 in 14). */
static const int retry_day[SETTLE_RETRIES_MAX] = {1, 2, 4, 7, 10, 13};

struct settle {
	struct settle_opts	 o;
	struct writer		*w;
	sqlite3			*db;
	struct ledger		*ledger;
	pthread_t		 thread;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	int			 stop;
	int			 fd;		/* to the acquirer, or -1 */
	char			 in[SETTLE_LINE_MAX * 4];
	size_t			 inlen;
	int			 down_s;	/* back-off while unreachable */
	struct settle_stats	 st;		/* under mu */
	char			 currency[8];
};

struct req {
	int64_t		 id, debt_id, amount;
	int		 outcome;	/* 1 approved, 0 declined, -1 none */
	char		 result[64];
	char		 key[200];
	char		 account[64];
	char		 day[11];
	enum settle_kind kind;
};

static int
exec(struct settle *s, const char *sql)
{
	return sqlite3_exec(s->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

static int
commit(struct settle *s)
{
	if (exec(s, "COMMIT") == 0)
		return 0;
	logmsg("settlement: commit failed: %s", sqlite3_errmsg(s->db));
	exec(s, "ROLLBACK");
	return -1;
}

/* ---- the acquirer connection ---- */

static void
acq_close(struct settle *s)
{
	if (s->fd != -1)
		close(s->fd);
	s->fd = -1;
	s->inlen = 0;
}

static int
acq_connect(struct settle *s)
{
	struct sockaddr_in sin;
	struct pollfd p;
	int fd, err = 0;
	socklen_t len = sizeof err;

	if (s->fd != -1)
		return 0;
	if (wire_parse_addr(s->o.acquirer, &sin) == -1 ||
	    (fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sin, sizeof sin) == -1 &&
	    errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	p.fd = fd;
	p.events = POLLOUT;
	if (poll(&p, 1, s->o.timeout_ms) != 1 ||
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 ||
	    err != 0) {
		close(fd);
		return -1;
	}
	s->fd = fd;
	s->inlen = 0;
	return 0;
}

static int64_t
mono_ms(void)
{
	return (int64_t)(clock_mono_us() / 1000);
}

/* Waits for the fd until the deadline; 1 ready, 0 timed out or broken. */
static int
wait_fd(int fd, short ev, int64_t deadline)
{
	struct pollfd p = {fd, ev, 0};
	int64_t left = deadline - mono_ms();

	if (left <= 0)
		return 0;
	return poll(&p, 1, (int)left) == 1 && (p.revents & ev);
}

/*
 * One request: 1 approved, 0 declined (reason in result), -1 no answer
 * (the connection is dropped; the request stays pending).
 */
static int
acq_request(struct settle *s, const struct req *r, char *result,
    size_t rlen)
{
	char line[SETTLE_LINE_MAX];
	int64_t deadline = mono_ms() + s->o.timeout_ms;
	size_t off = 0, klen = strlen(r->key);
	int n, stale = 0;

	if (acq_connect(s) == -1)
		return -1;
	n = snprintf(line, sizeof line, "CAPTURE %s %s %lld %s\n", r->key,
	    r->account, (long long)r->amount, s->o.currency);
	while (off < (size_t)n) {
		ssize_t w;
		if (!wait_fd(s->fd, POLLOUT, deadline))
			goto fail;
		w = send(s->fd, line + off, (size_t)n - off, MSG_NOSIGNAL);
		if (w <= 0 && errno != EAGAIN)
			goto fail;
		if (w > 0)
			off += (size_t)w;
	}
	for (;;) {
		char *nl = memchr(s->in, '\n', s->inlen);
		ssize_t got;
		if (nl != NULL) {
			size_t ll = (size_t)(nl - s->in);
			*nl = '\0';
			/* An answer to an earlier request (a duplicate, or
			 * one that came after its timeout): skip it. */
			if (ll > klen && memcmp(s->in, r->key, klen) == 0 &&
			    s->in[klen] == ' ') {
				const char *v = s->in + klen + 1;
				int ok = strncmp(v, "APPROVED", 8) == 0;
				int no = strncmp(v, "DECLINED", 8) == 0;
				const char *rest = strchr(v, ' ');
				snprintf(result, rlen, "%s", rest ? rest + 1 :
				    "");
				memmove(s->in, nl + 1, s->inlen - ll - 1);
				s->inlen -= ll + 1;
				if (ok || no)
					return ok;
				logmsg("settlement: acquirer: unreadable "
				    "answer for %s", r->key);
				goto fail;
			}
			memmove(s->in, nl + 1, s->inlen - ll - 1);
			s->inlen -= ll + 1;
			if (++stale > SETTLE_STALE_LINES)
				goto fail;
			continue;
		}
		if (s->inlen == sizeof s->in)	/* a line too long */
			goto fail;
		if (!wait_fd(s->fd, POLLIN, deadline))
			goto fail;
		got = recv(s->fd, s->in + s->inlen, sizeof s->in - s->inlen, 0);
		if (got <= 0 && errno != EAGAIN)
			goto fail;
		if (got > 0)
			s->inlen += (size_t)got;
	}
fail:
	acq_close(s);
	return -1;
}

/* ---- the database side ---- */

static int
prepare(struct settle *s, sqlite3_stmt **st, const char *sql)
{
	if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) == SQLITE_OK)
		return 0;
	logmsg("settlement: %s", sqlite3_errmsg(s->db));
	return -1;
}

/*
 * Runs sql with arguments bound from fmt: 'i' int64, 's' text.  Returns 0
 * when it ran to the end.
 */
static int
step_sql(struct settle *s, const char *sql, const char *fmt, ...)
{
	sqlite3_stmt *st;
	va_list ap;
	int i, rc;

	if (prepare(s, &st, sql) == -1)
		return -1;
	va_start(ap, fmt);
	for (i = 0; fmt[i] != '\0'; i++)
		if (fmt[i] == 'i')
			sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
		else
			sqlite3_bind_text(st, i + 1, va_arg(ap, const char *),
			    -1, SQLITE_TRANSIENT);
	va_end(ap);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		return 0;
	logmsg("settlement: %s", sqlite3_errmsg(s->db));
	return -1;
}

static int64_t
query_int(struct settle *s, const char *sql, const char *a, const char *b)
{
	sqlite3_stmt *st;
	int64_t v = 0;

	if (prepare(s, &st, sql) == -1)
		return 0;
	sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
	if (b != NULL)
		sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Inserts r as a pending request (inside a transaction); fills id, key. */
static int
add_request(struct settle *s, struct req *r, enum settle_state state,
    const char *result)
{
	int64_t n = query_int(s, "SELECT count(*) FROM settlements WHERE "
	    "account = ? AND service_day = ?", r->account, r->day);
	int64_t now = writer_now(s->w);

	snprintf(r->key, sizeof r->key, "%s/%s/%lld", r->account, r->day,
	    (long long)n + 1);
	if (step_sql(s, "INSERT INTO settlements (idem_key, account, "
	    "service_day, kind, amount_cents, state, debt_id, created_utc, "
	    "decided_utc, result) VALUES (?,?,?,?,?,?,nullif(?, 0),?,"
	    "CASE WHEN ?6 = 'pending' THEN NULL ELSE ?8 END,?)", "ssssisiis",
	    r->key, r->account, r->day, settle_kind_name(r->kind), r->amount,
	    settle_state_name(state), r->debt_id,
	    now, result) == -1)
		return -1;
	r->id = sqlite3_last_insert_rowid(s->db);
	return 0;
}

/* Lifts a settlement's deny entry once the account owes nothing. */
static int
maybe_lift(struct settle *s, const char *account, int64_t now)
{
	if (query_int(s, "SELECT count(*) FROM debts WHERE account = ? AND "
	    "state != 'recovered'", account, NULL) > 0 ||
	    query_int(s, "SELECT count(*) FROM deny WHERE account = ? AND "
	    "reason LIKE 'declined%'", account, NULL) == 0)
		return 0;
	logmsg("settlement: %s owes nothing now: lifted from the deny list",
	    account);
	return deny_set_in(s->db, account, 0, "", now);
}

static int64_t
next_retry(int64_t opened, int retries, int64_t now)
{
	int64_t t;

	if (retries >= SETTLE_RETRIES_MAX)
		return -1;
	t = opened + (int64_t)retry_day[retries] * 86400;
	if (t <= now)
		t = now + 3600;
	return t < opened + (int64_t)SETTLE_RETRY_DAYS * 86400 ? t : -1;
}

/* A recovery's outcome: the debt is paid, or its next retry is set. */
static int
record_recovery(struct settle *s, const struct req *r, int approved,
    int64_t now)
{
	sqlite3_stmt *st;
	int64_t opened = now, next;
	int retries = 0, rc = 0;
	char debt[80];

	if (approved) {
		snprintf(debt, sizeof debt, "debt:%s", r->account);
		rc |= ledger_move(s->ledger, "clearing:acquirer", debt,
		    r->amount, r->day, r->account, now, "recovery");
		rc |= step_sql(s, "UPDATE debts SET state = ?, retries = "
		    "retries + 1, last_try_utc = ? WHERE id = ?", "sii",
		    debt_state_name(DEBT_RECOVERED), now, r->debt_id);
		return rc | maybe_lift(s, r->account, now);
	}
	if (prepare(s, &st, "SELECT opened_utc, retries FROM debts WHERE "
	    "id = ?") == 0) {
		sqlite3_bind_int64(st, 1, r->debt_id);
		if (sqlite3_step(st) == SQLITE_ROW) {
			opened = sqlite3_column_int64(st, 0);
			retries = sqlite3_column_int(st, 1);
		}
		sqlite3_finalize(st);
	}
	next = next_retry(opened, retries + 1, now);
	rc |= step_sql(s, "UPDATE debts SET retries = retries + 1, "
	    "last_try_utc = ?, next_retry_utc = ?, state = ? WHERE id = ?",
	    "iisi", now, next < 0 ? now : next, debt_state_name(next < 0 ?
	    DEBT_EXHAUSTED : DEBT_OPEN), r->debt_id);
	if (next < 0)
		logmsg("settlement: %s %s: debt of %lld cents not recovered "
		    "after %d retries; stays on the deny list", r->account,
		    r->day, (long long)r->amount, retries + 1);
	return rc;
}

/* A declined capture: a debt opens and the account is denied. */
static int
record_decline(struct settle *s, const struct req *r, const char *result,
    int64_t now)
{
	char rider[80], debt[80], why[160];
	int rc = 0;

	snprintf(rider, sizeof rider, "rider:%s", r->account);
	snprintf(debt, sizeof debt, "debt:%s", r->account);
	rc |= ledger_move(s->ledger, debt, rider, r->amount, r->day,
	    r->account, now, "decline");
	rc |= step_sql(s, "INSERT INTO debts (account, service_day, "
	    "amount_cents, opened_utc, last_try_utc, next_retry_utc, state) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?)", "ssiiiis", r->account, r->day,
	    r->amount, now, now, next_retry(now, 0, now),
	    debt_state_name(DEBT_OPEN));
	snprintf(why, sizeof why, "declined: %.100s", result);
	rc |= deny_set_in(s->db, r->account, 1, why, now);
	logmsg("settlement: %s %s: %lld cents declined (%s): debt opened, "
	    "deny list +", r->account, r->day, (long long)r->amount, result);
	return rc;
}

static void
count_outcome(struct settle *s, const struct req *r, int approved)
{
	pthread_mutex_lock(&s->mu);
	if (!approved)
		s->st.declined++;
	else if (r->kind == SETTLE_RECOVERY)
		s->st.recovered++;
	else
		s->st.approved++;
	if (approved && r->amount > 0)
		s->st.captured_cents += r->amount;
	else if (approved)
		s->st.refunded_cents -= r->amount;
	pthread_mutex_unlock(&s->mu);
}

/*
 * Posts a request's outcome inside the caller's transaction: approved 1,
 * declined 0.  Only a pending request is decided, and only once.
 */
static int
record(struct settle *s, const struct req *r, int approved,
    const char *result)
{
	int64_t now = writer_now(s->w);
	char rider[80];
	int rc = 0;

	assert(r->kind >= 0 && r->kind < SETTLE_KIND_MAX);
	assert(approved == 0 || approved == 1);
	if (!approved && r->kind == SETTLE_REFUND) {
		/* A refund is never refused for funds: try again later. */
		logmsg("settlement: refund %s declined (%s); retried next pass",
		    r->key, result);
		return step_sql(s, "UPDATE settlements SET attempts = attempts "
		    "+ 1 WHERE id = ?", "i", r->id);
	}
	/* The one legal transition: pending to approved or declined. */
	rc |= step_sql(s, "UPDATE settlements SET state = ?, decided_utc = ?, "
	    "result = ?, attempts = attempts + 1 WHERE id = ? AND state = ?",
	    "sisis", settle_state_name(approved ? SETTLE_APPROVED :
	    SETTLE_DECLINED), now, result, r->id,
	    settle_state_name(SETTLE_PENDING));
	if (rc != 0 || sqlite3_changes(s->db) != 1)	/* recorded before */
		return rc;
	if (r->kind == SETTLE_RECOVERY)
		rc |= record_recovery(s, r, approved, now);
	else if (approved) {
		snprintf(rider, sizeof rider, "rider:%s", r->account);
		rc |= ledger_move(s->ledger, "clearing:acquirer", rider,
		    r->amount, r->day, r->account, now,
		    settle_kind_name(r->kind));
	} else
		rc |= record_decline(s, r, result, now);
	if (rc != 0)
		return -1;
	count_outcome(s, r, approved);
	return 0;
}

/* Posts the outcomes gathered so far, in one transaction. */
static int
post_outcomes(struct settle *s, struct req *rs, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	if (exec(s, "BEGIN IMMEDIATE") == -1)
		return -1;
	for (i = 0; i < n; i++)
		if (rs[i].outcome != -1 && record(s, &rs[i], rs[i].outcome,
		    rs[i].result) == -1) {
			logmsg("settlement: cannot post %s: %s; it stays "
			    "pending", rs[i].key, sqlite3_errmsg(s->db));
			exec(s, "ROLLBACK");
			return -1;
		}
	return commit(s);
}

/*
 * Sends committed (pending) requests one by one and posts their outcomes
 * in batches: the database is never locked while the acquirer thinks, and
 * an outcome lost to a crash is asked for again with the same key.
 * Returns -1 when the acquirer stopped answering.
 */
static int
send_all(struct settle *s, struct req *rs, size_t n)
{
	size_t i, from = 0;
	int rc = 0, failed = 0;

	for (i = 0; i < n && rc == 0 && !s->stop; i++) {
		struct req *r = &rs[i];
		r->outcome = acq_request(s, r, r->result, sizeof r->result);
		pthread_mutex_lock(&s->mu);
		s->st.acquirer_ok = r->outcome != -1;
		if (r->outcome == -1)
			s->st.failures++;
		pthread_mutex_unlock(&s->mu);
		if (r->outcome == -1) {
			/* A lost answer: the request stays pending for the
			 * next pass; several in a row: the acquirer is down. */
			step_sql(s, "UPDATE settlements SET attempts = "
			    "attempts + 1 WHERE id = ?", "i", r->id);
			if (++failed >= SETTLE_FAILURES_DOWN)
				rc = -1;
		} else
			failed = 0;
		if (i + 1 - from == SETTLE_POST_BATCH || rc == -1) {
			post_outcomes(s, rs + from, i + 1 - from);
			from = i + 1;
		}
	}
	post_outcomes(s, rs + from, i - from);
	return rc;
}

/* Commits new requests as pending (one transaction), then sends them. */
static int
request_all(struct settle *s, struct req *rs, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	if (exec(s, "BEGIN IMMEDIATE") == -1)
		return -1;
	for (i = 0; i < n; i++)
		if (add_request(s, &rs[i], SETTLE_PENDING, NULL) == -1) {
			exec(s, "ROLLBACK");
			return -1;
		}
	if (commit(s) == -1)
		return -1;
	return send_all(s, rs, n);
}

static void
load_req(sqlite3_stmt *st, struct req *r)
{
	int kind;

	memset(r, 0, sizeof *r);
	r->id = sqlite3_column_int64(st, 0);
	snprintf(r->key, sizeof r->key, "%s", sqlite3_column_text(st, 1));
	snprintf(r->account, sizeof r->account, "%s",
	    sqlite3_column_text(st, 2));
	snprintf(r->day, sizeof r->day, "%s", sqlite3_column_text(st, 3));
	/* Account-days to settle come without one: the caller decides. */
	kind = settle_kind_parse((const char *)sqlite3_column_text(st, 4));
	r->kind = kind < 0 ? SETTLE_CAPTURE : (enum settle_kind)kind;
	r->amount = sqlite3_column_int64(st, 5);
	r->debt_id = sqlite3_column_int64(st, 6);
}

/*
 * Up to SETTLE_BATCH requests from a query whose columns are those of
 * load_req(); ?1 is the limit, ?2 (if used) the text or the number given.
 */
static struct req *
fetch(struct settle *s, const char *sql, const char *text, int64_t num,
    size_t *n)
{
	sqlite3_stmt *st;
	struct req *rs;

	*n = 0;
	if ((rs = calloc(SETTLE_BATCH, sizeof *rs)) == NULL)
		return NULL;
	if (prepare(s, &st, sql) == -1) {
		free(rs);
		return NULL;
	}
	sqlite3_bind_int(st, 1, SETTLE_BATCH);
	if (sqlite3_bind_parameter_count(st) < 2)
		;
	else if (text != NULL)
		sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int64(st, 2, num);
	while (*n < SETTLE_BATCH && sqlite3_step(st) == SQLITE_ROW)
		load_req(st, &rs[(*n)++]);
	sqlite3_finalize(st);
	return rs;
}

/* Requests sent before but not answered: the same key again. */
static int
resend_pending(struct settle *s)
{
	size_t n;
	struct req *rs = fetch(s, "SELECT id, idem_key, account, service_day, "
	    "kind, amount_cents, coalesce(debt_id, 0) FROM settlements WHERE "
	    "state = 'pending' ORDER BY id LIMIT ?1", NULL, 0, &n);
	int rc;

	if (rs == NULL)
		return -1;
	rc = send_all(s, rs, n);
	free(rs);
	return rc;
}

/*
 * A charge went down on a day whose capture was declined: the debt
 * shrinks first (no money moves); what is left is refunded.
 */
static int
adjust_debt(struct settle *s, struct req *r)
{
	sqlite3_stmt *st;
	int64_t now = writer_now(s->w), id = 0, owed = 0, adj;
	char rider[80], debt[80];
	int rc = 0;

	if (exec(s, "BEGIN IMMEDIATE") == -1)
		return -1;
	if (prepare(s, &st, "SELECT id, amount_cents FROM debts WHERE "
	    "account = ? AND service_day = ? AND state != 'recovered' AND "
	    "amount_cents > 0 ORDER BY id LIMIT 1") == 0) {
		sqlite3_bind_text(st, 1, r->account, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, r->day, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW) {
			id = sqlite3_column_int64(st, 0);
			owed = sqlite3_column_int64(st, 1);
		}
		sqlite3_finalize(st);
	}
	if (id == 0) {
		exec(s, "ROLLBACK");
		return 0;
	}
	adj = -r->amount < owed ? -r->amount : owed;
	snprintf(rider, sizeof rider, "rider:%s", r->account);
	snprintf(debt, sizeof debt, "debt:%s", r->account);
	r->amount = -adj;
	r->debt_id = id;
	rc |= add_request(s, r, SETTLE_DEBT_ADJUSTED, "debt reduced");
	rc |= ledger_move(s->ledger, rider, debt, adj, r->day, r->account,
	    now, "debt-adjust");
	rc |= step_sql(s, "UPDATE debts SET amount_cents = amount_cents - ?1, "
	    "state = CASE WHEN amount_cents - ?1 = 0 THEN 'recovered' ELSE "
	    "state END WHERE id = ?2", "ii", adj, id);
	rc |= maybe_lift(s, r->account, now);
	if (rc != 0) {
		exec(s, "ROLLBACK");
		return -1;
	}
	return commit(s) == 0 ? 1 : -1;
}

/* Closed account-days whose charge differs from what was asked for. */
static int
settle_days(struct settle *s, const char *cutoff, size_t *done)
{
	struct req *rs;
	size_t n, i, m = 0;
	int rc = 0;

	rs = fetch(s, "WITH a AS (SELECT account, service_day, "
	    "sum(amount_cents) AS asked FROM settlements WHERE kind IN "
	    "('capture', 'refund') GROUP BY account, service_day) "
	    "SELECT 0, '', c.account, c.service_day, '', c.charge_cents - "
	    "coalesce(a.asked, 0), 0 FROM charges c LEFT JOIN a ON a.account "
	    "= c.account AND a.service_day = c.service_day WHERE "
	    "c.service_day < ?2 AND c.open_legs = 0 AND c.charge_cents != "
	    "coalesce(a.asked, 0) UNION ALL SELECT 0, '', a.account, "
	    "a.service_day, '', -a.asked, 0 FROM a WHERE a.asked != 0 AND "
	    "a.service_day < ?2 AND NOT EXISTS (SELECT 1 FROM charges c WHERE "
	    "c.account = a.account AND c.service_day = a.service_day) "
	    "LIMIT ?1", cutoff, 0, &n);
	if (rs == NULL)
		return -1;
	for (i = 0; i < n && rc == 0 && !s->stop; i++) {
		struct req *r = &rs[i];
		if (r->amount < 0) {
			struct req adj = *r;
			adj.kind = SETTLE_REFUND;
			rc = adjust_debt(s, &adj);
			if (rc == -1)
				break;
			if (rc == 1)
				r->amount -= adj.amount;
			rc = 0;
			if (r->amount == 0)
				continue;
		}
		r->kind = r->amount > 0 ? SETTLE_CAPTURE : SETTLE_REFUND;
		rs[m++] = *r;
	}
	if (rc == 0)
		rc = request_all(s, rs, m);
	*done = n;
	free(rs);
	return rc;
}

/* Debts due for a retry (schedule, or the card tapped again). */
static int
recover_debts(struct settle *s)
{
	size_t n;
	struct req *rs = fetch(s, "SELECT 0, '', d.account, d.service_day, "
	    "'recovery', d.amount_cents, d.id FROM debts d WHERE d.state = "
	    "'open' AND d.next_retry_utc <= ?2 AND NOT EXISTS (SELECT 1 FROM "
	    "settlements x WHERE x.debt_id = d.id AND x.state = 'pending') "
	    "ORDER BY d.next_retry_utc LIMIT ?1", NULL, writer_now(s->w), &n);
	int rc;

	if (rs == NULL)
		return -1;
	rc = request_all(s, rs, n);
	free(rs);
	return rc;
}

/* One pass; returns -1 when the acquirer could not be reached. */
static int
pass(struct settle *s, int *more)
{
	char cutoff[11];
	size_t n = 0;

	*more = 0;
	writer_service_day(s->w, writer_now(s->w) - s->o.grace_s, cutoff);
	if (resend_pending(s) == -1 || recover_debts(s) == -1 ||
	    settle_days(s, cutoff, &n) == -1)
		return -1;
	*more = n == SETTLE_BATCH;
	return 0;
}

static void *
settle_main(void *arg)
{
	struct settle *s = arg;
	int was_down = 0;

	pthread_setname_np(pthread_self(), "fe-settle");
	pthread_mutex_lock(&s->mu);
	while (!s->stop) {
		struct timespec until;
		int more = 0, rc, wait_s;
		pthread_mutex_unlock(&s->mu);
		rc = pass(s, &more);
		pthread_mutex_lock(&s->mu);
		s->st.passes++;
		if (rc == -1) {
			s->down_s = s->down_s == 0 ? s->o.interval_s :
			    s->down_s * 2;
			if (s->down_s > SETTLE_BACKOFF_MAX_S)
				s->down_s = SETTLE_BACKOFF_MAX_S;
			if (!was_down)
				logmsg("settlement: acquirer %s not answering; "
				    "requests stay pending and are retried with "
				    "their keys", s->o.acquirer);
			was_down = 1;
		} else {
			if (was_down)
				logmsg("settlement: acquirer %s answering "
				    "again", s->o.acquirer);
			was_down = 0;
			s->down_s = 0;
		}
		if (more && rc == 0)
			continue;
		wait_s = s->down_s > 0 ? s->down_s : s->o.interval_s;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += wait_s;
		while (!s->stop && pthread_cond_timedwait(&s->cv, &s->mu,
		    &until) == 0)
			;
	}
	pthread_mutex_unlock(&s->mu);
	acq_close(s);
	return NULL;
}

struct settle *
settle_start(const struct settle_opts *o, struct writer *w, char *err,
    size_t errlen)
{
	struct settle *s = calloc(1, sizeof *s);
	struct sockaddr_in sin;

	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->o = *o;
	snprintf(s->currency, sizeof s->currency, "%s", o->currency);
	s->o.currency = s->currency;
	s->w = w;
	s->fd = -1;
	if (wire_parse_addr(o->acquirer, &sin) == -1) {
		snprintf(err, errlen, "acquirer '%s' is not HOST:PORT",
		    o->acquirer);
		free(s);
		return NULL;
	}
	if (sqlite3_open_v2(o->db, &s->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
	    sqlite3_busy_timeout(s->db, 10000) != SQLITE_OK ||
	    (s->ledger = ledger_open(s->db, err, errlen)) == NULL) {
		if (s->ledger == NULL && err[0] == '\0')
			snprintf(err, errlen, "%s: %s", o->db,
			    sqlite3_errmsg(s->db));
		sqlite3_close_v2(s->db);
		free(s);
		return NULL;
	}
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	if (pthread_create(&s->thread, NULL, settle_main, s) != 0) {
		snprintf(err, errlen, "cannot start the settlement thread");
		ledger_close(s->ledger);
		sqlite3_close_v2(s->db);
		free(s);
		return NULL;
	}
	logmsg("settlement: acquirer %s, grace %lld s after a service day, "
	    "a pass every %d s", o->acquirer, (long long)o->grace_s,
	    o->interval_s);
	return s;
}

void
settle_stop(struct settle *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = 1;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->thread, NULL);
	ledger_close(s->ledger);
	sqlite3_close_v2(s->db);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
}

void
settle_get_stats(struct settle *s, struct settle_stats *out)
{
	pthread_mutex_lock(&s->mu);
	*out = s->st;
	pthread_mutex_unlock(&s->mu);
}
