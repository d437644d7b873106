/*
 * The engine service.  One libevent loop serves validators over mutual TLS
 * (tls.c), answers HTTP (server-http.c), and hands taps to the writer
 * thread (writer.c); results come back to this thread and go out as ack
 * or refusal frames.  Each validator connection is a struct terminal;
 * every teardown goes through terminal_close(t, reason), which logs why.
 */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <time.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/resource.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/listener.h>
#include <event2/thread.h>

#include <sqlite3.h>

#include <mbedtls/platform_util.h>

#include "certs.h"
#include "clock.h"
#include "limits.h"
#include "metrics.h"
#include "deny.h"
#include "diag.h"
#include "gateway.h"
#include "harden.h"
#include "jsbus.h"
#include "log.h"
#include "http.h"
#include "writer.h"
#include "parse.h"
#include "price.h"
#include "server.h"
#include "server-int.h"
#include "checkpoint.h"
#include "settle.h"
#include "settlement.h"
#include "tap.h"
#include "tariff.h"
#include "tls.h"
#include "wire.h"


static uint64_t
conn_id(const struct terminal *t)
{
	return (uint64_t)t->slot << 32 | t->gen;
}

static void
terminal_close(struct terminal *t, const char *reason)
{
	struct server *s = t->srv;

	log_info("validator_disconnected", "device=%s reason=%s",
	    t->device_id[0] ? LOGQ(t->device_id) : "-", LOGQ(reason));
	s->slot[t->slot] = NULL;
	s->nconns--;
	s->n_closed_conns++;
	if (t->deadline != NULL)
		event_free(t->deadline);
	tls_conn_free(t->conn);
	free(t);
	if (!s->accepting && s->listener != NULL && s->nconns <
	    s->max_conns) {
		evconnlistener_enable(s->listener);
		s->accepting = 1;
	}
}

/*
 * Sends one frame.  A write that fails closes the connection at once and
 * frees t: returns 0 while t still exists, -1 once it is gone.
 */
static int
send_frame(struct terminal *t, char type, const char *body)
{
	unsigned char buf[WIRE_HEADER + WIRE_BODY_MAX];
	struct server *s = t->srv;
	uint32_t slot = t->slot;
	size_t n;

	if (wire_encode(type, body, strlen(body), buf, sizeof buf, &n) == 0)
		tls_conn_write(t->conn, buf, n);
	return s->slot[slot] == t ? 0 : -1;
}

static void
update_pause(struct terminal *t)
{
	int want = t->srv->draining || t->inflight >= TERMINAL_INFLIGHT_MAX ||
	    tls_conn_pending(t->conn) > TERMINAL_OUT_MAX || t->srv->queue_full;

	if (want != t->paused) {
		t->paused = want;
		tls_conn_pause(t->conn, want);
	}
}

/* "%.*s" arguments: s cut to at most max bytes on a character boundary,
 * so that no detail stored or logged ends in half a character. */
#define UTF8_CUT(s, max)	(int)utf8_cut((s), (max)), (s)

/* A tap check's problem as the engine's refusal reason. */
static const enum refusal tap_refusal[TAP_PROBLEM_MAX] = {
	[TAP_OK] = REFUSAL_NONE,
	[TAP_BAD_TEXT] = REFUSAL_BAD_FIELDS,
	[TAP_BAD_TIME] = REFUSAL_BAD_TIME,
	[TAP_BAD_PAN] = REFUSAL_BAD_PAN,
	[TAP_BAD_PAR] = REFUSAL_BAD_PAR,
	[TAP_UNKNOWN_NETWORK] = REFUSAL_UNKNOWN_NETWORK,
	[TAP_UNKNOWN_STOP] = REFUSAL_UNKNOWN_STOP,
	[TAP_BAD_KIND] = REFUSAL_BAD_KIND,
};

/* SPEC §3: a tap more than 5 minutes ahead of the engine clock, or older
 * than the late-tap horizon, is refused (not checked in --dev unless
 * --strict-clock). */
static enum refusal
check_tap_clock(struct server *s, struct jtap *x, const char *time)
{
	int64_t now = writer_now(s->writer);

	if (s->cfg->dev && !s->cfg->strict_clock)
		return REFUSAL_NONE;
	if (x->time_utc > now + TAP_FUTURE_S) {
		snprintf(x->detail, sizeof x->detail, "%s is more than 5 "
		    "minutes ahead of the engine clock", time);
		return REFUSAL_FUTURE;
	}
	if (x->time_utc < now - s->cfg->late_horizon_s) {
		snprintf(x->detail, sizeof x->detail, "%s is older than the "
		    "late-tap horizon", time);
		return REFUSAL_TOO_OLD;
	}
	return REFUSAL_NONE;
}

/*
 * What a refused tap's row can say of it (v_refused_taps): its time once
 * it parses, its network and stop where the tariff knows them.  f is
 * UTF-8 text without control characters by now.
 */
static void
tap_known_fields(struct server *s, struct jtap *x, char *const *f,
    const size_t *len)
{
	const char *why;

	if (parse_rfc3339(f[1], &x->time_utc, &why) == 0)
		x->has_time = 1;
	if (tariff_network(s->tariff, f[4], len[4]) != TARIFF_NONE)
		snprintf(x->network_id, sizeof x->network_id, "%s", f[4]);
	if (tariff_stop(s->tariff, f[5], len[5]) != TARIFF_NONE)
		snprintf(x->stop_id, sizeof x->stop_id, "%s", f[5]);
}

/* Parses and checks one tap frame into x; returns why it is refused. */
static enum refusal
check_tap(struct server *s, struct terminal *t, char *body, struct jtap *x)
{
	char *f[9], *colon;
	const char *why;
	int64_t seq;
	size_t n = wire_fields(body, f, 9), i, len[7];
	struct tap_fields tf;
	enum tap_problem p;
	enum refusal p2;
	int kind;

	/* tap_id is <device_id>:<seq>, and the device must be this one. */
	colon = strrchr(f[0], ':');
	if (colon == NULL || parse_int(colon + 1, 1, TAP_SEQ_MAX, &seq,
	    &why) == -1) {
		char shown[101];
		/* Not yet checked as text: shown escaped. */
		utf8_printable(f[0], shown, sizeof shown);
		snprintf(x->detail, sizeof x->detail, "tap_id '%s' is not "
		    "<device_id>:<seq>", shown);
		return REFUSAL_BAD_FIELDS;
	}
	x->seq = (uint64_t)seq;
	snprintf(x->tap_id, sizeof x->tap_id, "%s:%lld", t->device_id,
	    (long long)seq);
	/* Exactly 7 fields, or 8 ending in "denied" (9 is "more"). */
	if (n != 7 && !(n == 8 && strcmp(f[7], "denied") == 0)) {
		snprintf(x->detail, sizeof x->detail, "expected 7 fields "
		    "(or 8 ending in 'denied'), found %s", n == 9 ? "more" :
		    n == 8 ? "8 not ending in 'denied'" : "fewer");
		return REFUSAL_BAD_FIELDS;
	}
	/* The one tap check (fare/tap.c), as `price` makes it. */
	for (i = 0; i < 7; i++)
		len[i] = strlen(f[i]);
	p = tap_check_fields(s->tariff, (const char *const *)f, len, &tf,
	    x->detail, sizeof x->detail);
	assert(p >= 0 && p < TAP_PROBLEM_MAX);
	if (p != TAP_BAD_TEXT)
		tap_known_fields(s, x, f, len);
	if (p == TAP_UNKNOWN_NETWORK || p == TAP_UNKNOWN_STOP) {
		/* Text by now: the operator sees which one, never cut in
		 * half a character. */
		size_t k = p == TAP_UNKNOWN_NETWORK ? 4 : 5;
		snprintf(x->detail, sizeof x->detail, "unknown %s '%.*s'",
		    tap_field_name[k], UTF8_CUT(f[k], 100));
	}
	if (p != TAP_OK)
		return tap_refusal[p];
	x->time_utc = tf.time_utc;
	kind = tf.kind;
	if ((size_t)(colon - f[0]) != strlen(t->device_id) ||
	    memcmp(f[0], t->device_id, (size_t)(colon - f[0])) != 0) {
		snprintf(x->detail, sizeof x->detail, "tap_id '%.*s' claims "
		    "another device than %.*s", UTF8_CUT(f[0], 60),
		    UTF8_CUT(t->device_id, 60));
		return REFUSAL_WRONG_DEVICE;
	}
	if ((p2 = check_tap_clock(s, x, f[1])) != REFUSAL_NONE)
		return p2;
	if (tap_token(s->tk, f[2], strlen(f[2]), x->token) == -1)
		return REFUSAL_BAD_PAN;
	mbedtls_platform_zeroize(f[2], strlen(f[2]));
	snprintf(x->par, sizeof x->par, "%s", tf.par);	/* upper-cased */
	snprintf(x->network_id, sizeof x->network_id, "%s", f[4]);
	snprintf(x->stop_id, sizeof x->stop_id, "%s", f[5]);
	x->kind = (uint8_t)kind;
	/* The gate refused the card (deny list): kept, not a journey. */
	return n == 8 ? REFUSAL_DENIED_AT_GATE : REFUSAL_NONE;
}

/* Taps waiting for the writer, or in gateway mode for JetStream too. */
static size_t
queued(struct server *s)
{
	size_t n = writer_queued(s->writer);

	return s->gw != NULL ? n + gateway_queued(s->gw) : n;
}

static void
handle_tap(struct server *s, struct terminal *t, char *body)
{
	struct jtap x;

	memset(&x, 0, sizeof x);
	x.conn_id = conn_id(t);
	x.received_utc = writer_now(s->writer);
	snprintf(x.device_id, sizeof x.device_id, "%s", t->device_id);
	x.refuse = check_tap(s, t, body, &x);
	/* A refusal's detail may quote a field holding a PAN: masked here,
	 * before it is copied into the writer's queue (store_clean_text
	 * masks it again as it is stored). */
	tap_mask_pans(x.detail);
	s->n_taps++;
	/* Gateway mode: accepted taps, and those a gate refused (the
	 * card's debt is on its shard), go to JetStream; the refused ones
	 * to this gateway's own database. */
	if (s->gw != NULL && (x.refuse == REFUSAL_NONE ||
	    x.refuse == REFUSAL_DENIED_AT_GATE) ? gateway_submit(s->gw, &x)
	    == -1 : writer_submit(s->writer, &x) == -1) {
		s->queue_full = 1;
		terminal_close(t, "journal queue full");
		return;
	}
	mbedtls_platform_zeroize(&x, sizeof x);
	t->inflight++;
	if (queued(s) > JOURNAL_QUEUE_PAUSE)
		s->queue_full = 1;
	update_pause(t);
}

static void
terminal_data_cb(struct tls_conn *c, struct evbuffer *in, void *arg)
{
	struct terminal *t = arg;
	struct server *s = t->srv;
	static struct wire_frame f;	/* one thread: the event loop's */
	uint32_t slot = t->slot;
	int frames = 0, r;

	(void)c;
	while (frames < TERMINAL_FRAMES_PER_EVENT) {
		size_t len = evbuffer_get_length(in), used = 0;
		const char *why = NULL;
		unsigned char *p;
		if (len == 0)
			break;
		if (len > WIRE_HEADER + WIRE_BODY_MAX)
			len = WIRE_HEADER + WIRE_BODY_MAX;
		p = evbuffer_pullup(in, (ssize_t)len);
		r = wire_parse(p, len, &f, &used, &why);
		if (r == 0)
			break;
		/* The frame's plaintext in the input buffer: wiped before it
		 * is drained (a drained chunk keeps its bytes until libevent
		 * frees it, which a busy connection may never do). */
		if (r == 1)
			mbedtls_platform_zeroize(p, used);
		if (r == -1 || f.type != 'T') {
			mbedtls_platform_zeroize(f.body, sizeof f.body);
			s->n_broken++;
			log_warning("broken_frame", "device=%s reason=%s",
			    LOGQ(t->device_id), LOGQ(why ? why :
			    "unknown frame type"));
			if (send_frame(t, 'E', why ? why : "unknown frame "
			    "type") == 0)
				tls_conn_close_after_flush(t->conn);
			return;
		}
		evbuffer_drain(in, used);
		handle_tap(s, t, f.body);
		mbedtls_platform_zeroize(f.body, f.len);
		if (s->slot[slot] != t)
			return;		/* closed and freed: t is not read */
		frames++;
	}
	/* Frames left over: come back after the others had their turn. */
	if (frames == TERMINAL_FRAMES_PER_EVENT && !t->paused) {
		tls_conn_pause(t->conn, 1);
		tls_conn_pause(t->conn, 0);
	}
}

/* A deny-list change as a D frame: only a valid account, whole. */
static int
send_deny(struct terminal *t, const char *account, int on)
{
	struct account_key key;
	char body[ACCOUNT_TEXT_MAX + 2];

	if (account_parse(&key, account) == -1) {
		log_warning("deny_entry_invalid", "account=%s msg=\"not an "
		    "account: not sent\"", LOGQ(account));
		return 0;
	}
	body[0] = on ? '+' : '-';
	account_format(&key, body + 1, sizeof body - 1);
	return send_frame(t, 'D', body);
}

/* The whole list to one terminal, which a failed write may free. */
struct deny_to {
	struct terminal	*t;		/* NULL once gone */
};

static void
deny_one_cb(const char *account, int on, void *arg)
{
	struct deny_to *d = arg;

	if (d->t != NULL && send_deny(d->t, account, on) == -1)
		d->t = NULL;
}

static void
deny_all_cb(const char *account, int on, void *arg)
{
	struct server *s = arg;
	long i;

	for (i = 0; i < s->nslots; i++)
		if (s->slot[i] != NULL && s->slot[i]->device_id[0] != '\0')
			send_deny(s->slot[i], account, on);
}

static void
terminal_open_cb(struct tls_conn *c, void *arg)
{
	struct terminal *t = arg;

	snprintf(t->device_id, sizeof t->device_id, "%s", tls_conn_peer_cn(c));
	if (t->deadline != NULL)
		event_del(t->deadline);
	log_info("validator_connected", "device=%s resumed=%d",
	    LOGQ(t->device_id), tls_conn_resumed(c) ? 1 : 0);
	/* The whole deny list, so the gate decides without asking. */
	{
		struct deny_to d = {t};
		if (t->srv->ro != NULL)
			deny_each(t->srv->ro, deny_one_cb, &d);
		if (d.t != NULL)
			send_frame(t, 'D', "=");	/* the list is complete */
	}
}

static void
terminal_close_cb(struct tls_conn *c, const char *reason, void *arg)
{
	(void)c;
	terminal_close(arg, reason);
}

static const struct tls_conn_cbs terminal_cbs = {
	terminal_open_cb, terminal_data_cb, terminal_close_cb,
};

/*
 * A connection that has not finished its handshake in time is dropped:
 * idle half-open sockets must not hold slots (slowloris).  One whose peer
 * has spoken gets the timeout twice more: in a reconnect storm the engine
 * itself is what is slow (thousands of handshakes queue for the CPU), and
 * dropping them would only make them all come back; for the same reason
 * a timeout that finds the handshake queued for a handshake thread is
 * not counted (the peer has answered; the engine has not yet).
 */
static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct terminal *t = arg;
	struct timeval tv = {t->srv->cfg->handshake_timeout_s, 0};

	(void)fd;
	(void)what;
	if (tls_conn_waits_for_us(t->conn)) {
		evtimer_add(t->deadline, &tv);
		return;
	}
	if (tls_conn_started(t->conn) && ++t->extensions <= 2) {
		evtimer_add(t->deadline, &tv);
		return;
	}
	terminal_close(t, "handshake timeout");
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int socklen, void *arg)
{
	struct server *s = arg;
	struct terminal *t;
	long i;

	(void)l;
	(void)sa;
	(void)socklen;
	if (s->nconns >= s->max_conns) {
		close(fd);
		evconnlistener_disable(s->listener);
		s->accepting = 0;
		log_warning("connection_limit", "max_connections=%ld "
		    "msg=\"not accepting until a connection closes\"",
		    s->max_conns);
		return;
	}
	/* Half-open connections (a validator's link died without a FIN)
	 * are found by TCP keepalive and closed, freeing their slot. */
	{
		int on = 1, idle = TCP_KEEPALIVE_IDLE_S, intvl =
		    TCP_KEEPALIVE_INTERVAL_S, cnt = TCP_KEEPALIVE_PROBES;
		setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
		setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
		setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl,
		    sizeof intvl);
		setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
	}
	for (i = 0; i < s->nslots && s->slot[i] != NULL; i++)
		;
	if (i == s->nslots || (t = calloc(1, sizeof *t)) == NULL) {
		close(fd);
		return;
	}
	t->srv = s;
	t->slot = (uint32_t)i;
	t->gen = ++s->gen[i];
	t->conn = tls_conn_new(s->tls, s->base, fd, &terminal_cbs, t);
	if (t->conn == NULL) {
		close(fd);
		free(t);
		return;
	}
	s->slot[i] = t;
	s->nconns++;
	s->n_accepted_conns++;
	t->deadline = evtimer_new(s->base, deadline_cb, t);
	if (t->deadline != NULL) {
		struct timeval tv = {s->cfg->handshake_timeout_s, 0};
		evtimer_add(t->deadline, &tv);
	}
}

static void
listener_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;

	(void)fd;
	(void)what;
	if (s->draining || s->nconns >= s->max_conns)
		return;
	evconnlistener_enable(s->listener);
	s->accepting = 1;
}

/*
 * At most LOG_BURST_PER_MINUTE lines of one kind a minute; the rest are
 * counted, and the count said when the next minute's first line is let
 * through.  Thread-safe: libevent may log from any thread.
 */
struct log_limit {
	pthread_mutex_t	 mu;
	time_t		 minute;
	unsigned	 lines;
	unsigned long	 suppressed;
};

static int
log_limit_allow(struct log_limit *l, const char *what)
{
	time_t now = time(NULL);
	unsigned long dropped = 0;
	int ok;

	pthread_mutex_lock(&l->mu);
	if (now / 60 != l->minute) {
		dropped = l->suppressed;
		l->minute = now / 60;
		l->lines = 0;
		l->suppressed = 0;
	}
	ok = l->lines < LOG_BURST_PER_MINUTE;
	if (ok)
		l->lines++;
	else
		l->suppressed++;
	pthread_mutex_unlock(&l->mu);
	if (dropped > 0)
		log_warning("log_lines_suppressed", "what=%s lines=%lu "
		    "msg=\"not logged in the last minute\"", LOGQ(what),
		    dropped);
	return ok;
}

static struct log_limit accept_log = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0};
static struct log_limit libevent_log = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0};

static void
accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct server *s = arg;
	struct timeval one = {1, 0};
	int e = errno;

	/* EMFILE and friends: pause accepting instead of spinning, and
	 * say so on /healthz (validators cannot connect). */
	if (log_limit_allow(&accept_log, "accept error"))
		log_warning("accept_failed", "error=%s msg=\"pausing accept "
		    "for a second\"", LOGQ(strerror(e)));
	evconnlistener_disable(l);
	s->accepting = 0;
	s->accept_failed_us = clock_mono_us();
	evtimer_add(s->listener_retry, &one);
}

/* libevent's own warnings and errors, through our log line, limited. */
static void
libevent_log_cb(int severity, const char *msg)
{
	if (severity < EVENT_LOG_WARN)
		return;
	if (log_limit_allow(&libevent_log, "libevent"))
		log_event(severity >= EVENT_LOG_ERR ? LOG_LEVEL_ERR :
		    LOG_LEVEL_WARNING, "libevent", "msg=%s", LOGQ(msg));
}

static void
writer_done_cb(const struct jresult *r, size_t n, void *arg)
{
	struct server *s = arg;
	char body[128];
	size_t i;

	for (i = 0; i < n; i++) {
		uint32_t slot = (uint32_t)(r[i].conn_id >> 32);
		struct terminal *t = (long)slot < s->nslots ? s->slot[slot] :
		    NULL;
		if (t == NULL || t->gen != (uint32_t)r[i].conn_id)
			continue;	/* gone: the validator will resend */
		assert(r[i].refused >= 0 && r[i].refused < REFUSAL_MAX);
		if (r[i].refused == REFUSAL_NONE)
			snprintf(body, sizeof body, "%llu,%lld,%lld,%lld",
			    (unsigned long long)r[i].seq,
			    (long long)r[i].leg_fare_cents,
			    (long long)r[i].day_charge_cents,
			    (long long)r[i].day_cap_cents);
		else
			snprintf(body, sizeof body, "%llu,%s",
			    (unsigned long long)r[i].seq,
			    refusal_name(r[i].refused));
		if (r[i].refused == REFUSAL_NONE)
			s->n_acked++;
		else {
			s->n_refused++;
			s->n_refused_by[r[i].refused]++;
		}
		if (t->inflight > 0)
			t->inflight--;
		/* Last: a failed write frees t (the validator resends). */
		if (r[i].refused != REFUSAL_NOT_COMMITTED)
			send_frame(t, r[i].refused != REFUSAL_NONE ? 'R' : 'A',
			    body);
	}
	if (s->queue_full && queued(s) < JOURNAL_QUEUE_RESUME)
		s->queue_full = 0;
	for (i = 0; i < (size_t)s->nslots; i++)
		if (s->slot[i] != NULL)
			update_pause(s->slot[i]);
}

/*
 * The first UTC second of service day `day`, searched in (lo, hi] where
 * lo is in an earlier day and hi in that day or later: service days only
 * grow with time (SPEC 4), also across daylight saving, so a bisection
 * finds it.
 */
static int64_t
day_first_second(const struct tariff *t, int32_t day, int64_t lo,
    int64_t hi)
{
	while (hi - lo > 1) {
		int64_t mid = lo + (hi - lo) / 2;
		if (price_service_day(t, mid) < day)
			lo = mid;
		else
			hi = mid;
	}
	return hi;
}

/* /metrics: the current service day and its bounds, when it changes. */
static void
tick_metrics(struct server *s)
{
	int64_t now = writer_now(s->writer), start, end;
	int32_t day;

	if (s->metrics == NULL)
		return;
	day = price_service_day(s->tariff, now);
	if (day != s->metrics_day) {
		start = day_first_second(s->tariff, day, now - 3 * 86400,
		    now);
		end = day_first_second(s->tariff, day + 1, now,
		    now + 3 * 86400);
		s->metrics_day = day;
		s->metrics_start = start;
		s->metrics_end = end;
	}
	metrics_set_day(s->metrics, day, s->metrics_start, s->metrics_end,
	    now);
}

/* The CRL nears its nextUpdate (or passed it): said in the log once an
 * hour, as /healthz says it on every probe. */
static void
crl_watch(struct server *s)
{
	int64_t nu = tls_ctx_crl_next_update(s->tls), now = (int64_t)time(NULL);
	char next[21];

	if (nu == 0 || nu - now >= CRL_WARN_DAYS * 86400LL ||
	    now - s->crl_warned_s < 3600)
		return;
	s->crl_warned_s = now;
	civil_format_utc(nu, next);
	if (nu <= now)
		log_err("crl_expired", "next_update=%s certs=%s "
		    "msg=\"every validator handshake is refused; run "
		    "fare-engine certs crl DIR and send SIGHUP\"", next,
		    LOGQ(s->cfg->certs));
	else
		log_warning("crl_expiring", "next_update=%s hours_left=%lld "
		    "certs=%s msg=\"run fare-engine certs crl DIR and send "
		    "SIGHUP\"", next, (long long)(nu - now) / 3600,
		    LOGQ(s->cfg->certs));
}

/* Each second: resume connections whose acks have drained. */
static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	long i;

	(void)fd;
	(void)what;
	tick_metrics(s);
	if (s->queue_full && queued(s) < JOURNAL_QUEUE_RESUME)
		s->queue_full = 0;
	for (i = 0; i < s->nslots; i++)
		if (s->slot[i] != NULL)
			update_pause(s->slot[i]);
	/* Deny-list changes go out to every validator within a second. */
	if (s->ro != NULL)
		deny_changes(s->ro, &s->deny_last, deny_all_cb, s);
	crl_watch(s);
}

/*
 * Shutting down: once every tap read is committed and acked, flush the
 * acks and close each connection; stop when none is left.  Bounded: after
 * ten seconds whatever is left is closed (those validators resend).
 */
static void
drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	unsigned inflight = 0;
	long i;

	(void)fd;
	(void)what;
	for (i = 0; i < s->nslots; i++)
		if (s->slot[i] != NULL)
			inflight += s->slot[i]->inflight;
	s->drain_turns++;
	if (s->nconns > 0 && s->drain_turns < 100) {
		if (inflight == 0)
			for (i = 0; i < s->nslots; i++)
				if (s->slot[i] != NULL)
					tls_conn_close_after_flush(
					    s->slot[i]->conn);
		return;
	}
	if (inflight > 0)
		log_notice("shutdown_unacknowledged", "taps=%u msg=\"their "
		    "validators will resend them\"", inflight);
	for (i = 0; i < s->nslots; i++)
		if (s->slot[i] != NULL)
			terminal_close(s->slot[i], "engine shutting down");
	event_base_loopbreak(s->base);
}

static void
shutdown_cb(evutil_socket_t sig, short what, void *arg)
{
	struct server *s = arg;
	struct timeval tenth = {0, 100000};
	long i;

	(void)what;
	if (s->draining)
		return;
	log_notice("shutting_down", "signal=%d msg=\"no new connections or "
	    "taps; committing and acknowledging what was read\"", (int)sig);
	if (s->listener != NULL)
		evconnlistener_disable(s->listener);
	s->accepting = 0;
	s->draining = 1;
	for (i = 0; i < s->nslots; i++)
		if (s->slot[i] != NULL)
			update_pause(s->slot[i]);
	s->drain = event_new(s->base, -1, EV_PERSIST, drain_cb, s);
	if (s->drain == NULL || event_add(s->drain, &tenth) == -1)
		drain_cb(-1, 0, s);
}

static struct tariff *
load_tariff(const char *dir)
{
	struct diag d;
	struct tariff *t;
	size_t i;

	diag_init(&d);
	t = tariff_load(dir, &d);
	for (i = 0; i < d.n; i++)
		log_event(t == NULL ? LOG_LEVEL_ERR : LOG_LEVEL_WARNING,
		    "tariff_problem", "tariff=%s msg=%s", LOGQ(dir),
		    LOGQ(d.msg[i]));
	if (d.dropped > 0)
		log_event(t == NULL ? LOG_LEVEL_ERR : LOG_LEVEL_WARNING,
		    "tariff_problem", "tariff=%s more=%zu", LOGQ(dir),
		    d.dropped);
	diag_free(&d);
	return t;
}

/*
 * The tariff twice (this thread's and the writer's) and its files, the
 * version the database keeps (SPEC §6): read before and after loading,
 * so that what is kept is what was loaded.  0, or -1 with err.
 */
static int
load_tariffs(const char *dir, struct tariff **a, struct tariff **b,
    struct tariff_files **files, char *err, size_t errlen)
{
	struct tariff_files *after = NULL;

	*a = *b = NULL;
	if ((*files = tariff_files_read(dir, err, errlen)) == NULL)
		return -1;
	if ((*a = load_tariff(dir)) == NULL || (*b = load_tariff(dir)) ==
	    NULL) {
		snprintf(err, errlen, "tariff %s rejected (see above)", dir);
		goto fail;
	}
	if ((after = tariff_files_read(dir, err, errlen)) == NULL)
		goto fail;
	if (strcmp(tariff_files_hash(after), tariff_files_hash(*files)) !=
	    0) {
		snprintf(err, errlen, "tariff %s changed while it was loaded",
		    dir);
		goto fail;
	}
	tariff_files_free(after);
	return 0;
fail:
	tariff_files_free(after);
	tariff_files_free(*files);
	tariff_free(*a);
	tariff_free(*b);
	*files = NULL;
	*a = *b = NULL;
	return -1;
}

/* After a CRL reload: the connections of devices it revokes close now
 * (SPEC §7), not at their next handshake. */
static void
close_revoked(struct server *s)
{
	char why[256], reason[300];
	long i, n = 0;

	for (i = 0; i < s->nslots; i++) {
		struct terminal *t = s->slot[i];
		if (t == NULL || t->device_id[0] == '\0' ||
		    tls_conn_recheck(t->conn, why, sizeof why) == 0)
			continue;
		snprintf(reason, sizeof reason, "%s (CRL reloaded)", why);
		terminal_close(t, reason);
		n++;
	}
	if (n > 0)
		log_notice("revoked_closed", "connections=%ld msg=\"certificate "
		    "no longer valid under the new CRL\"", n);
}

static void
reload_cb(evutil_socket_t sig, short what, void *arg)
{
	struct server *s = arg;
	struct tariff_files *files;
	struct tariff *a, *b;
	char err[256];

	(void)sig;
	(void)what;
	if (tls_ctx_reload_crl(s->tls, err, sizeof err) == -1)
		log_warning("crl_reload_failed", "error=%s", LOGQ(err));
	else {
		log_notice("crl_reloaded", NULL);
		close_revoked(s);
		s->crl_warned_s = 0;
	}
	if (load_tariffs(s->cfg->tariff, &a, &b, &files, err, sizeof err) ==
	    -1)
		log_warning("tariff_reload_failed", "tariff=%s msg=%s",
		    LOGQ(s->cfg->tariff), LOGQ(err));
	else {
		tariff_free(s->tariff);
		s->tariff = a;
		writer_set_tariff(s->writer, b, files);
		log_notice("tariff_reloaded", "tariff=%s",
		    LOGQ(s->cfg->tariff));
	}
	/* An operator who edited the config file must not think it applied. */
	log_notice("reload_done", "reloaded=\"crl tariff\" msg=\"the config "
	    "file, certificates and keys are read at start only: restart "
	    "for changes to them\"");
}

/* The tariff twice (this thread's and the writer's), the token key, TLS. */
static int
setup_keys(struct server *s, struct tariff **jt, struct tariff_files **files,
    char *err, size_t errlen)
{
	const struct server_config *c = s->cfg;

	if (load_tariffs(c->tariff, &s->tariff, jt, files, err, errlen) == -1)
		return -1;
	if ((s->tk = harden_token_key(c->token_key_file, c->dev, err,
	    errlen)) == NULL)
		return -1;
	if (!c->dev) {
		char key[1100], ca[1100];
		certs_path(key, sizeof key, c->certs, "engine.key");
		if (harden_secret_file(key, err, errlen) == -1)
			return -1;
		certs_path(ca, sizeof ca, c->certs, "ca.key");
		if (access(ca, F_OK) == 0)
			log_warning("ca_key_present", "path=%s msg=\"keep the "
			    "CA key offline: the engine needs engine.crt and "
			    ".key, ca.crt, crl.pem and acquirer.crt only\"",
			    LOGQ(ca));
	}
	s->tls = tls_server_new(c->certs, !c->dev, err, errlen);
	if (s->tls == NULL)
		return -1;
	/* Handshakes on a thread per core, off the loop (issue 14: a storm
	 * of full handshakes is CPU-bound; the loop keeps acknowledging). */
	{
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		if (n < 1)
			n = 1;
		if (n > TLS_HANDSHAKE_THREADS_MAX)
			n = TLS_HANDSHAKE_THREADS_MAX;
		if (tls_ctx_handshake_threads(s->tls, (int)n, err, errlen) ==
		    -1)
			return -1;
	}
	return 0;
}

/* A read-only view for the deny list; the writer owns the rest. */
static void
open_deny_feed(struct server *s)
{
	sqlite3_stmt *st;

	if (sqlite3_open_v2(s->cfg->db, &s->ro, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK)
		return;
	sqlite3_busy_timeout(s->ro, 1000);
	if (sqlite3_prepare_v2(s->ro, "SELECT coalesce(max(id), 0) FROM "
	    "deny_log", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			s->deny_last = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
}

static int
listen_validators(struct server *s, char *err, size_t errlen)
{
	const struct server_config *c = s->cfg;
	struct sockaddr_in sin;

	s->nslots = s->max_conns;
	s->slot = calloc((size_t)s->nslots, sizeof *s->slot);
	s->gen = calloc((size_t)s->nslots, sizeof *s->gen);
	if (s->slot == NULL || s->gen == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (wire_parse_addr(c->listen, &sin) == -1) {
		snprintf(err, errlen, "--listen %s: not HOST:PORT", c->listen);
		return -1;
	}
	s->listener = evconnlistener_new_bind(s->base, accept_cb, s,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    LISTEN_BACKLOG, (struct sockaddr *)&sin, sizeof sin);
	if (s->listener == NULL) {
		snprintf(err, errlen, "cannot listen on %s: %s", c->listen,
		    strerror(errno));
		return -1;
	}
	evconnlistener_set_error_cb(s->listener, accept_error_cb);
	s->listener_retry = evtimer_new(s->base, listener_retry_cb, s);
	return 0;
}

/* SIGTERM and SIGINT drain and stop, SIGHUP reloads; a tick each second. */
static void
add_events(struct server *s)
{
	int sigs[] = {SIGTERM, SIGINT}, i;
	struct timeval one = {1, 0};

	for (i = 0; i < 2; i++) {
		s->sig[i] = evsignal_new(s->base, sigs[i], shutdown_cb, s);
		event_add(s->sig[i], NULL);
	}
	s->sig[2] = evsignal_new(s->base, SIGHUP, reload_cb, s);
	event_add(s->sig[2], NULL);
	s->tick = event_new(s->base, -1, EV_PERSIST, tick_cb, s);
	if (s->tick != NULL)
		event_add(s->tick, &one);
}

/*
 * RLIMIT_NOFILE must hold every connection the engine may accept (the
 * validators' max_connections and each HTTP listener's cap) plus
 * FD_RESERVE: the soft limit is raised toward the hard one, and where even
 * that is short max_connections is lowered, saying so.  Without this a
 * full table of validators left no descriptor for anything else (issue
 * 16: accept failed in a loop and validators timed out).
 */
static int
check_fd_budget(struct server *s, char *err, size_t errlen)
{
	long http = (s->cfg->http != NULL) * HTTP_CONNECTIONS_DEFAULT +
	    (s->cfg->web != NULL) * HTTP_CONNECTIONS_DEFAULT;
	rlim_t need = (rlim_t)(s->max_conns + http + FD_RESERVE);
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
		snprintf(err, errlen, "getrlimit(RLIMIT_NOFILE): %s",
		    strerror(errno));
		return -1;
	}
	if (rl.rlim_cur < need) {
		struct rlimit up = {need < rl.rlim_max ? need : rl.rlim_max,
		    rl.rlim_max};
		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			rl.rlim_cur = up.rlim_cur;
	}
	if (rl.rlim_cur >= need)
		return 0;
	if ((long)rl.rlim_cur < http + FD_RESERVE + 1) {
		snprintf(err, errlen, "RLIMIT_NOFILE is %llu: the engine needs "
		    "at least %ld descriptors (%ld for HTTP, %d in reserve, "
		    "one validator)", (unsigned long long)rl.rlim_cur,
		    http + FD_RESERVE + 1, http, FD_RESERVE);
		return -1;
	}
	log_warning("max_connections_lowered", "from=%ld to=%ld nofile=%llu "
	    "hard=%llu http=%ld reserve=%d msg=\"raise it (ulimit -n, "
	    "LimitNOFILE=) to serve more validators\"", s->max_conns,
	    (long)rl.rlim_cur - http - FD_RESERVE,
	    (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max,
	    http, FD_RESERVE);
	s->max_conns = (long)rl.rlim_cur - http - FD_RESERVE;
	return 0;
}

static int
server_setup(struct server *s, char *err, size_t errlen)
{
	const struct server_config *c = s->cfg;
	struct writer_opts wo = {c->db, c->synchronous_full,
	    c->clock_offset_s, c->debt_tap_gap_s, c->settle_grace_s,
	    (size_t)c->account_cache, NULL, c->checkpoint_file};
	struct tariff_files *files = NULL;
	struct tariff *jt = NULL;

	if (check_fd_budget(s, err, errlen) == -1 ||
	    setup_keys(s, &jt, &files, err, errlen) == -1)
		goto fail;
	/* The ledger key is a secret like the others (issue 16). */
	if (c->ledger_key_file != NULL && ((!c->dev &&
	    harden_secret_file(c->ledger_key_file, err, errlen) == -1) ||
	    (wo.ledger_key = checkpoint_key_load(c->ledger_key_file, 1, err,
	    errlen)) == NULL))
		goto fail;
	if ((s->writer = writer_open(&wo, jt, files, s->base, writer_done_cb,
	    s, err, errlen)) == NULL)
		goto fail;
	if (wo.ledger_key != NULL)
		log_notice("ledger_key", "id=%s checkpoint_file=%s msg=\"a "
		    "signed checkpoint at every day close\"",
		    checkpoint_key_id(wo.ledger_key), LOGQ(c->checkpoint_file));
	if (c->acquirer != NULL) {
		unsigned char secret[TAP_DERIVED_KEY_LEN];
		struct settle_opts so = {c->db, c->acquirer, c->certs,
		    tariff_currency(s->tariff), c->settle_grace_s,
		    (int)c->settle_interval_s, (int)c->settle_timeout_ms,
		    secret};
		_Static_assert(TAP_DERIVED_KEY_LEN == SETTLE_SECRET_LEN,
		    "the derived key is settlement's secret");
		/* References and idempotency keys: a sub-key of the token
		 * key, so that no new secret has to be kept. */
		if (tap_derive_key(s->tk, SETTLE_SECRET_LABEL, secret) == -1) {
			snprintf(err, errlen, "cannot derive the settlement "
			    "key");
			return -1;
		}
		s->settle = settle_start(&so, s->writer, err, errlen);
		mbedtls_platform_zeroize(secret, sizeof secret);
		if (s->settle == NULL)
			return -1;
	} else
		log_notice("settlement_off", "msg=\"no acquirer "
		    "configured\"");
	if (c->nats != NULL) {
		struct gateway_opts go = {c->nats, (unsigned)c->shards, c->db,
		    c->clock_offset_s, s->writer, {c->nats_user,
		    c->nats_password_file, c->nats_ca, c->nats_cert,
		    c->nats_key}};
		if ((s->gw = gateway_open(&go, s->base, writer_done_cb, s, err,
		    errlen)) == NULL)
			return -1;
		CLUSTER_LOG(LOG_LEVEL_NOTICE, "gateway_mode", "gateway: publishing taps to JetStream at %s, %ld "
		    "shard(s)", c->nats, c->shards);
	}
	open_deny_feed(s);
	if (listen_validators(s, err, errlen) == -1)
		return -1;
	if (c->web != NULL && c->http == NULL) {
		snprintf(err, errlen, "--web needs --http (the operator port)");
		return -1;
	}
	if (c->http != NULL && server_http_start(s, err, errlen) == -1)
		return -1;
	/* After the writer: the schema exists for its read-only queries. */
	if (c->http != NULL && (s->metrics = metrics_start(c->db,
	    s->writer, (int)c->metrics_refresh_s, err, errlen)) == NULL)
		return -1;
	s->metrics_day = INT32_MIN;
	add_events(s);
	s->accepting = 1;
	return 0;
fail:
	/* The writer owns them once it opened. */
	checkpoint_key_free(wo.ledger_key);
	tariff_free(jt);
	tariff_files_free(files);
	return -1;
}

int
server_run(const struct server_config *cfg)
{
	struct server s;
	char err[512];
	int rc = 1, i;

	memset(&s, 0, sizeof s);
	s.cfg = cfg;
	s.max_conns = cfg->max_connections;
	harden_process();
	signal(SIGPIPE, SIG_IGN);
	event_set_log_callback(libevent_log_cb);
	evthread_use_pthreads();
	if ((s.base = event_base_new()) == NULL) {
		log_err("start_failed", "error=\"cannot start libevent\"");
		return 1;
	}
	if (cfg->dev)
		log_warning("development_mode", "token_key=%s "
		    "tap_times_checked=%d crl_required=0 msg=\"DEVELOPMENT "
		    "MODE: not for real cards\"", TAP_DEV_TOKEN_KEY,
		    cfg->strict_clock ? 1 : 0);
	if (server_setup(&s, err, sizeof err) == -1) {
		log_err("start_failed", "error=%s", LOGQ(err));
		goto out;
	}
	log_notice("serving", "listen=%s http=%s web=%s db=%s",
	    LOGQ(cfg->listen), cfg->http ? LOGQ(cfg->http) : "-",
	    cfg->web ? LOGQ(cfg->web) : "-", LOGQ(cfg->db));
	event_base_dispatch(s.base);
	rc = 0;
out:
	if (s.listener != NULL)
		evconnlistener_free(s.listener);
	if (s.listener_retry != NULL)
		event_free(s.listener_retry);
	server_http_stop(&s);
	metrics_stop(s.metrics);
	settle_stop(s.settle);
	gateway_close(s.gw);
	/* The writer last, alone on the database: it checkpoints the WAL. */
	sqlite3_close(s.ro);
	s.ro = NULL;
	writer_close(s.writer);
	for (i = 0; i < 4; i++)
		if (s.sig[i] != NULL)
			event_free(s.sig[i]);
	if (s.tick != NULL)
		event_free(s.tick);
	if (s.drain != NULL)
		event_free(s.drain);
	for (i = 0; i < s.nslots; i++)
		if (s.slot[i] != NULL)
			terminal_close(s.slot[i], "engine stopped");
	free(s.slot);
	free(s.gen);
	sqlite3_close(s.ro);
	tls_ctx_free(s.tls);
	tap_tokenizer_free(s.tk);
	tariff_free(s.tariff);
	event_base_free(s.base);
	/* libevent's global locks, allocated by harden.c's allocator. */
	libevent_global_shutdown();
	if (rc == 0)
		log_notice("stopped", "msg=\"stopped cleanly\"");
	return rc;
}
