/*
 * The settlement thread.  It owns a second SQLite connection; the
 * writer thread (writer.c) owns the first; the statements are
 * store/settlement.c's.  Both write in short BEGIN IMMEDIATE
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/platform_util.h>
#include <sqlite3.h>

#include "acqline.h"
#include "clock.h"
#include "deny.h"
#include "log.h"
#include "ledger.h"
#include "limits.h"
#include "settle.h"
#include "settlement.h"
#include "tls.h"
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
	struct tls_ctx		*tls;		/* mutual TLS, acquirer pinned */
	struct tls_sync		*conn;		/* to the acquirer, or NULL */
	char			 last_refusal[256];
	char			 in[SETTLE_LINE_MAX * 4];
	size_t			 inlen;
	int			 down_s;	/* back-off while unreachable */
	struct settle_stats	 st;		/* under mu */
	char			 currency[8];
	unsigned char		 secret[SETTLE_SECRET_LEN];
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
	log_err("settlement_commit_failed", "error=%s",
	    LOGQ(sqlite3_errmsg(s->db)));
	exec(s, "ROLLBACK");
	return -1;
}

/* ---- the acquirer connection ---- */

static void
acq_close(struct settle *s)
{
	tls_sync_free(s->conn);
	s->conn = NULL;
	s->inlen = 0;
}

static int64_t
mono_ms(void)
{
	return (int64_t)(clock_mono_us() / 1000);
}

/* A refusal of the link said once, not at every pass. */
static void
acq_log_refusal(struct settle *s, const char *why)
{
	if (strcmp(s->last_refusal, why) == 0)
		return;
	snprintf(s->last_refusal, sizeof s->last_refusal, "%s", why);
	log_warning("acquirer_link_refused", "acquirer=%s error=%s",
	    LOGQ(s->o.acquirer), LOGQ(why));
}

/* TCP within the timeout, then mutual TLS with the pinned acquirer. */
static int
acq_connect(struct settle *s)
{
	struct sockaddr_in sin;
	struct pollfd p;
	int fd, err = 0;
	socklen_t len = sizeof err;
	char why[256];

	if (s->conn != NULL)
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
	if ((s->conn = tls_sync_open(s->tls, fd, s->o.timeout_ms, why,
	    sizeof why)) == NULL) {
		acq_log_refusal(s, why);
		return -1;
	}
	s->last_refusal[0] = '\0';
	s->inlen = 0;
	return 0;
}

/*
 * An answer line for r: its outcome, each echoed value (account, amount,
 * currency) equal to the request's, else it is not booked (issue 16: a
 * fake or confused acquirer must not move money in the ledger).  1
 * approved, 0 declined, -1 refused, unreadable or not matching.
 */
static int
acq_answer(struct settle *s, const struct settle_req *r,
    const struct acq_answer *a, char *result, size_t rlen)
{
	if (a->outcome == ACQ_REFUSED) {
		log_warning("acquirer_refused", "key=%s error=%s",
		    LOGQ(r->key), LOGQ(a->text));
		return -1;
	}
	if (strcmp(a->account, r->account) != 0 ||
	    a->amount_cents != r->amount ||
	    strcmp(a->currency, s->o.currency) != 0) {
		log_warning("acquirer_answer_mismatch", "key=%s "
		    "amount_cents=%lld currency=%s msg=\"the answer does not "
		    "echo the request: not booked, stays pending\"",
		    LOGQ(r->key), (long long)r->amount, LOGQ(s->o.currency));
		return -1;
	}
	snprintf(result, rlen, "%s", a->text);
	return a->outcome == ACQ_APPROVED;
}

/*
 * One request: 1 approved, 0 declined (reason in result), -1 no answer
 * (the connection is dropped; the request stays pending).
 */
static int
acq_request(struct settle *s, const struct settle_req *r, char *result,
    size_t rlen)
{
	char line[ACQ_LINE_MAX];
	int64_t deadline = mono_ms() + s->o.timeout_ms;
	size_t klen = strlen(r->key);
	struct acq_request q;
	int n, stale = 0, rc;

	if (acq_connect(s) == -1)
		return -1;
	q.key = r->key;
	q.account = r->account;
	q.amount_cents = r->amount;
	q.currency = s->o.currency;
	q.day = r->day;
	q.reference = r->reference[0] != '\0' ? r->reference : "-";
	if ((n = acq_format_request(&q, line, sizeof line)) == -1) {
		log_err("acquirer_request_unwritable", "key=%s",
		    LOGQ(r->key));
		goto fail;
	}
	if (tls_sync_write(s->conn, line, (size_t)n) == -1)
		goto fail;
	for (;;) {
		char *nl = memchr(s->in, '\n', s->inlen);
		int got;
		if (nl != NULL) {
			size_t ll = (size_t)(nl - s->in);
			*nl = '\0';
			/* An answer to an earlier request (a duplicate, or
			 * one that came after its timeout): skip it. */
			if (ll > klen && memcmp(s->in, r->key, klen) == 0 &&
			    s->in[klen] == ' ') {
				const char *why;
				struct acq_answer a;
				rc = acq_parse_answer(s->in, &a, &why) == 0 ?
				    acq_answer(s, r, &a, result, rlen) : -1;
				if (a.key == NULL)
					log_warning("acquirer_bad_answer",
					    "key=%s error=%s", LOGQ(r->key),
					    LOGQ(why));
				memmove(s->in, nl + 1, s->inlen - ll - 1);
				s->inlen -= ll + 1;
				if (rc == -1)
					goto fail;
				return rc;
			}
			memmove(s->in, nl + 1, s->inlen - ll - 1);
			s->inlen -= ll + 1;
			if (++stale > SETTLE_STALE_LINES)
				goto fail;
			continue;
		}
		if (s->inlen == sizeof s->in)	/* a line too long */
			goto fail;
		got = tls_sync_read(s->conn, s->in + s->inlen,
		    sizeof s->in - s->inlen, (int)(deadline - mono_ms()));
		if (got <= 0)
			goto fail;
		s->inlen += (size_t)got;
	}
fail:
	acq_close(s);
	return -1;
}

/* ---- the database side ---- */

/* Lifts a settlement's deny entry once the account owes nothing. */
static int
maybe_lift(struct settle *s, const char *account, int64_t now)
{
	if (debt_unrecovered(s->db, account) > 0 ||
	    !deny_declined(s->db, account))
		return 0;
	log_notice("deny_lifted", "account=%s msg=\"owes nothing now\"",
	    LOGQ(account));
	return deny_set_in(s->db, account, 0, "debt recovered: owes nothing",
	    now);
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
record_recovery(struct settle *s, const struct settle_req *r, int approved,
    int64_t now)
{
	int64_t opened, next;
	int retries, rc = 0;
	char debt[80];

	if (approved) {
		snprintf(debt, sizeof debt, "debt:%s", r->account);
		rc |= ledger_move(s->ledger, "clearing:acquirer", debt,
		    r->amount, r->day, r->account, now, "recovery");
		rc |= debt_recovered(s->db, r->debt_id, now);
		return rc | maybe_lift(s, r->account, now);
	}
	debt_history(s->db, r->debt_id, now, &opened, &retries);
	next = next_retry(opened, retries + 1, now);
	rc |= debt_retried(s->db, r->debt_id, now, next);
	if (next < 0)
		log_warning("debt_exhausted", "account=%s service_day=%s "
		    "amount_cents=%lld retries=%d msg=\"stays on the deny "
		    "list\"", LOGQ(r->account), LOGQ(r->day),
		    (long long)r->amount, retries + 1);
	return rc;
}

/* A declined capture: a debt opens and the account is denied. */
static int
record_decline(struct settle *s, const struct settle_req *r,
    const char *result, int64_t now)
{
	char rider[80], debt[80], why[160];
	int rc = 0;

	snprintf(rider, sizeof rider, "rider:%s", r->account);
	snprintf(debt, sizeof debt, "debt:%s", r->account);
	rc |= ledger_move(s->ledger, debt, rider, r->amount, r->day,
	    r->account, now, "decline");
	rc |= debt_open(s->db, r, now, next_retry(now, 0, now));
	snprintf(why, sizeof why, "declined: %.100s", result);
	rc |= deny_set_in(s->db, r->account, 1, why, now);
	log_notice("capture_declined", "account=%s service_day=%s "
	    "amount_cents=%lld result=%s msg=\"debt opened, on the deny "
	    "list\"", LOGQ(r->account), LOGQ(r->day), (long long)r->amount,
	    LOGQ(result));
	return rc;
}

static void
count_outcome(struct settle *s, const struct settle_req *r, int approved)
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
record(struct settle *s, const struct settle_req *r, int approved,
    const char *result)
{
	int64_t now = writer_now(s->w);
	char rider[80];
	int rc = 0;

	assert(r->kind >= 0 && r->kind < SETTLE_KIND_MAX);
	assert(approved == 0 || approved == 1);
	if (!approved && r->kind == SETTLE_REFUND) {
		/* A refund is never refused for funds: try again later. */
		log_warning("refund_declined", "key=%s result=%s "
		    "msg=\"retried next pass\"", LOGQ(r->key), LOGQ(result));
		return settlement_attempted(s->db, r->id);
	}
	if ((rc = settlement_decide(s->db, r->id, approved, result, now)) != 1)
		return rc;	/* -1, or 0: recorded before */
	rc = 0;
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
post_outcomes(struct settle *s, struct settle_req *rs, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	if (exec(s, "BEGIN IMMEDIATE") == -1)
		return -1;
	for (i = 0; i < n; i++)
		if (rs[i].outcome != -1 && record(s, &rs[i], rs[i].outcome,
		    rs[i].result) == -1) {
			log_err("settlement_post_failed", "key=%s error=%s "
			    "msg=\"it stays pending\"", LOGQ(rs[i].key),
			    LOGQ(sqlite3_errmsg(s->db)));
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
send_all(struct settle *s, struct settle_req *rs, size_t n)
{
	size_t i, from = 0;
	int rc = 0, failed = 0;

	for (i = 0; i < n && rc == 0 && !s->stop; i++) {
		struct settle_req *r = &rs[i];
		r->outcome = acq_request(s, r, r->result, sizeof r->result);
		pthread_mutex_lock(&s->mu);
		s->st.acquirer_ok = r->outcome != -1;
		if (r->outcome == -1)
			s->st.failures++;
		pthread_mutex_unlock(&s->mu);
		if (r->outcome == -1) {
			/* A lost answer: the request stays pending for the
			 * next pass; several in a row: the acquirer is down. */
			settlement_attempted(s->db, r->id);
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
request_all(struct settle *s, struct settle_req *rs, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	if (exec(s, "BEGIN IMMEDIATE") == -1)
		return -1;
	for (i = 0; i < n; i++)
		if (settlement_add(s->db, s->secret, &rs[i], SETTLE_PENDING,
		    NULL, writer_now(s->w)) == -1) {
			exec(s, "ROLLBACK");
			return -1;
		}
	if (commit(s) == -1)
		return -1;
	return send_all(s, rs, n);
}

/* Requests sent before but not answered: the same key again. */
static int
resend_pending(struct settle *s)
{
	size_t n;
	struct settle_req *rs = settlement_fetch(s->db, SETTLE_FETCH_PENDING,
	    NULL, 0, SETTLE_BATCH, &n);
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
adjust_debt(struct settle *s, struct settle_req *r)
{
	int64_t now = writer_now(s->w), id, owed, adj;
	char rider[80], debt[80];
	int rc = 0;

	if (exec(s, "BEGIN IMMEDIATE") == -1)
		return -1;
	if (!debt_owed(s->db, r->account, r->day, &id, &owed)) {
		exec(s, "ROLLBACK");
		return 0;
	}
	adj = -r->amount < owed ? -r->amount : owed;
	assert(adj > 0 && adj <= owed);
	snprintf(rider, sizeof rider, "rider:%s", r->account);
	snprintf(debt, sizeof debt, "debt:%s", r->account);
	r->amount = -adj;
	r->debt_id = id;
	rc |= settlement_add(s->db, s->secret, r, SETTLE_DEBT_ADJUSTED,
	    "debt reduced", now);
	rc |= ledger_move(s->ledger, rider, debt, adj, r->day, r->account,
	    now, "debt-adjust");
	rc |= debt_reduce(s->db, id, adj);
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
	struct settle_req *rs;
	size_t n, i, m = 0;
	int rc = 0;

	rs = settlement_fetch(s->db, SETTLE_FETCH_DAYS, cutoff, 0,
	    SETTLE_BATCH, &n);
	if (rs == NULL)
		return -1;
	for (i = 0; i < n && rc == 0 && !s->stop; i++) {
		struct settle_req *r = &rs[i];
		if (r->amount < 0) {
			struct settle_req adj = *r;
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
	struct settle_req *rs = settlement_fetch(s->db, SETTLE_FETCH_DEBTS,
	    NULL, writer_now(s->w), SETTLE_BATCH, &n);
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
				log_warning("acquirer_down", "acquirer=%s "
				    "msg=\"requests stay pending and are "
				    "retried with their keys\"",
				    LOGQ(s->o.acquirer));
			was_down = 1;
		} else {
			if (was_down)
				log_notice("acquirer_up", "acquirer=%s",
				    LOGQ(s->o.acquirer));
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
	assert(o->secret != NULL);
	memcpy(s->secret, o->secret, sizeof s->secret);
	s->o.secret = NULL;
	snprintf(s->currency, sizeof s->currency, "%s", o->currency);
	s->o.currency = s->currency;
	s->w = w;
	if (wire_parse_addr(o->acquirer, &sin) == -1) {
		snprintf(err, errlen, "acquirer '%s' is not HOST:PORT",
		    o->acquirer);
		mbedtls_platform_zeroize(s, sizeof *s);
		free(s);
		return NULL;
	}
	/* Mutual TLS: the engine's certificate, the acquirer's pinned. */
	if ((s->tls = tls_acquirer_client_new(o->certs, err, errlen)) ==
	    NULL) {
		char why[256];
		snprintf(why, sizeof why, "%s", err);
		snprintf(err, errlen, "acquirer link: %s (issue it with "
		    "'fare-engine certs acquirer %s')", why, o->certs);
		mbedtls_platform_zeroize(s, sizeof *s);
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
		tls_ctx_free(s->tls);
		mbedtls_platform_zeroize(s, sizeof *s);
		free(s);
		return NULL;
	}
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	if (pthread_create(&s->thread, NULL, settle_main, s) != 0) {
		snprintf(err, errlen, "cannot start the settlement thread");
		ledger_close(s->ledger);
		sqlite3_close_v2(s->db);
		tls_ctx_free(s->tls);
		mbedtls_platform_zeroize(s, sizeof *s);
		free(s);
		return NULL;
	}
	log_notice("settlement_on", "acquirer=%s tls=mutual pinned=1 "
	    "grace_s=%lld interval_s=%d", LOGQ(o->acquirer),
	    (long long)o->grace_s, o->interval_s);
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
	tls_ctx_free(s->tls);
	mbedtls_platform_zeroize(s, sizeof *s);
	free(s);
}

void
settle_get_stats(struct settle *s, struct settle_stats *out)
{
	pthread_mutex_lock(&s->mu);
	*out = s->st;
	pthread_mutex_unlock(&s->mu);
}
