/*
 * terminal-sim acquirer: the acquirer the engine settles with, as a
 * separate process on loopback (docs/protocol.md, "Acquirer").  Each
 * request carries an idempotency key; the first answer to a key is
 * appended to a journal file and fsync'd before it is sent, and a key seen
 * again (after a timeout, a crash of either side, a restart) gets the same
 * answer without a second capture.  Decline rules are deterministic:
 * accounts named with --decline, and a seeded share (--decline-pct) of all
 * accounts, are declined for their first --decline-times requests.
 * Faults on purpose: latency, dropped answers, duplicated answers, and a
 * crash after the Nth new decision (recorded but not answered).
 *
 * The engine connects over mutual TLS (acquirer.crt; the engine's
 * certificate must chain to ca.crt and equal engine.crt), each answer
 * echoes the request's account, amount and currency, and a key reused
 * with another account, day or amount is refused, not answered.
 *
 * Journal lines: "<key> <account> <amount_cents> <service_day> <reference>
 * APPROVED <code>" or "... DECLINED <reason>", one per key, in the order
 * decided: what the acquirer captured, for the tests to compare with the
 * engine's ledger.
 *
 * With --report-dir DIR it also writes the daily settlement report that
 * `fare-engine audit reconcile` reads: DIR/settlement-<service_day>.csv,
 * "reference,key,account,service_day,amount_cents,outcome,time_utc", one
 * row per decision, appended as it is made (store/reconcile.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "acqline.h"
#include "explain.h"
#include "limits.h"
#include "opt.h"
#include "rng.h"
#include "sim.h"
#include "strtab.h"
#include "tls.h"
#include "wire.h"

#define ACQ_CONNS_MAX	64
#define ACQ_KEYS_MAX	20000000

struct decision {
	char		 answer[64];	/* "APPROVED A123" or "DECLINED ..." */
	/* What the key was first asked with: a reuse with other values is
	 * refused (issue 16), never answered as if it were the same. */
	char		 acc[80], day[16];
	long long	 cents;
};

/* One connection from the engine, over mutual TLS. */
struct acq_conn {
	struct acquirer	*a;
	struct tls_conn	*conn;
	int		 dead;		/* closed: freed on the next turn */
};

struct acquirer {
	struct event_base *base;
	struct tls_ctx	*tls;		/* acquirer.crt, the engine's pinned */
	int		 lie;		/* --lie: echo another amount (tests) */
	FILE		*journal;
	const char	*report_dir;	/* NULL: no settlement report */
	struct strtab	*keys;		/* idempotency key -> decision */
	struct decision	*dec;
	size_t		 ndec, cap;
	struct strtab	*declined_acc;	/* account -> declines so far */
	uint32_t	*declines;
	size_t		 dcap;
	struct strtab	*deny_named;	/* --decline ACCOUNT */
	int		 decline_pct, decline_times, latency_ms;
	int		 drop_pct, dup_pct;
	long		 crash_after, fresh;
	uint64_t	 seed, rng;
	long		 conns;
	/* Report. */
	uint64_t	 requests, repeats, captures, declines_n, refunds;
	int64_t		 captured_cents, refunded_cents;
	char		 currency[4];	/* of the requests ("EUR" until one) */
};

static int
account_declines(struct acquirer *a, const char *acc)
{
	uint64_t h;

	if (strtab_find(a->deny_named, acc, strlen(acc)) != STRTAB_NONE)
		return 1;
	if (a->decline_pct <= 0)
		return 0;
	h = strtab_hash(acc, strlen(acc)) ^ a->seed;
	return (int)(rng_next(&h) % 100) < a->decline_pct;
}

/* What a request names besides its key and amount. */
struct acq_req {
	const char	*key, *acc, *day, *ref;
	long long	 cents;
};

/* Appends a decision to its service day's settlement report; 0 or -1. */
static int
report(struct acquirer *a, const struct acq_req *q, const char *answer)
{
	char path[4096], t[32];
	time_t now = time(NULL);
	struct tm tm;
	size_t i;
	FILE *f;
	int rc;

	if (a->report_dir == NULL)
		return 0;
	/* The day names the file: only a civil date may. */
	for (i = 0; q->day[i] != '\0'; i++)
		if (!((q->day[i] >= '0' && q->day[i] <= '9') ||
		    ((i == 4 || i == 7) && q->day[i] == '-')))
			return -1;
	if (i != 10)
		return -1;
	snprintf(path, sizeof path, "%s/settlement-%s.csv", a->report_dir,
	    q->day);
	if ((f = fopen(path, "a")) == NULL)
		return -1;
	gmtime_r(&now, &tm);
	strftime(t, sizeof t, "%Y-%m-%dT%H:%M:%SZ", &tm);
	rc = (ftell(f) == 0 && fprintf(f, "reference,key,account,service_day,"
	    "amount_cents,outcome,time_utc\n") < 0) ||
	    fprintf(f, "%s,%s,%s,%s,%lld,%s,%s\n", q->ref, q->key, q->acc,
	    q->day, q->cents, strncmp(answer, "APPROVED", 8) == 0 ?
	    "approved" : "declined", t) < 0;
	return (fclose(f) != 0 || rc) ? -1 : 0;
}

/* Records a decision for key (journal first); 0 or -1. */
static int
remember(struct acquirer *a, const struct acq_req *q, const char *answer,
    int write)
{
	const char *key = q->key, *acc = q->acc;
	int added;
	uint32_t id = strtab_intern(a->keys, key, strlen(key), &added);

	if (id == STRTAB_NONE || strtab_count(a->keys) > ACQ_KEYS_MAX)
		return -1;
	if (id >= a->cap) {
		size_t nc = a->cap ? a->cap * 2 : 1024;
		struct decision *d = realloc(a->dec, nc * sizeof *d);
		if (d == NULL)
			return -1;
		a->dec = d;
		a->cap = nc;
	}
	snprintf(a->dec[id].answer, sizeof a->dec[id].answer, "%s", answer);
	snprintf(a->dec[id].acc, sizeof a->dec[id].acc, "%s", acc);
	snprintf(a->dec[id].day, sizeof a->dec[id].day, "%s", q->day);
	a->dec[id].cents = q->cents;
	if (strncmp(answer, "DECLINED", 8) == 0) {
		uint32_t k = strtab_intern(a->declined_acc, acc, strlen(acc),
		    &added);
		if (k == STRTAB_NONE)
			return -1;
		if (k >= a->dcap) {
			size_t nc = a->dcap ? a->dcap * 2 : 256;
			uint32_t *d = realloc(a->declines, nc * sizeof *d);
			if (d == NULL)
				return -1;
			memset(d + a->dcap, 0, (nc - a->dcap) * sizeof *d);
			a->declines = d;
			a->dcap = nc;
		}
		a->declines[k]++;
	}
	if (write) {
		if (fprintf(a->journal, "%s %s %lld %s %s %s\n", key, acc,
		    q->cents, q->day, q->ref, answer) < 0 ||
		    fflush(a->journal) != 0 || fsync(fileno(a->journal)) != 0 ||
		    report(a, q, answer) != 0)
			return -1;
	}
	return 0;
}

static int
load_journal(struct acquirer *a, const char *path)
{
	char line[ACQ_LINE_MAX];
	unsigned long n = 0;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return errno == ENOENT ? 0 : -1;
	while (fgets(line, sizeof line, f) != NULL) {
		struct acq_req q;
		char *amt, *ans;
		q.key = strtok(line, " \n");
		q.acc = strtok(NULL, " \n");
		amt = strtok(NULL, " \n");
		q.day = strtok(NULL, " \n");
		q.ref = strtok(NULL, " \n");
		ans = strtok(NULL, "\n");
		n++;
		if (q.key == NULL || q.acc == NULL || amt == NULL ||
		    q.day == NULL || q.ref == NULL || ans == NULL)
			continue;	/* a torn last line: never answered */
		q.cents = strtoll(amt, NULL, 10);
		if (remember(a, &q, ans, 0) == -1) {
			fclose(f);
			return -1;
		}
	}
	fclose(f);
	fprintf(stderr, "acquirer: %lu decisions from %s\n", n, path);
	return 0;
}

/*
 * "<key> APPROVED|DECLINED <account> <amount_cents> <currency> <code or
 * reason>": the answer echoes what it answers, and the engine books it
 * only when the echo equals its request.
 */
static void
send_answer(struct acquirer *a, struct acq_conn *c, const struct acq_req *q,
    const char *cur, const char *answer)
{
	struct acq_answer ans;
	char line[ACQ_LINE_MAX];
	const char *code = strchr(answer, ' ');
	int n;

	/* Latency: the simulated network and issuer, in order of arrival. */
	if (a->latency_ms > 0)
		usleep((useconds_t)a->latency_ms * 1000);
	if ((int)(rng_next(&a->rng) % 100) < a->drop_pct)
		return;		/* lost on the way: the engine times out */
	ans.key = q->key;
	ans.outcome = answer[0] == 'A' ? ACQ_APPROVED : ACQ_DECLINED;
	ans.account = q->acc;
	ans.amount_cents = q->cents + (a->lie ? 1 : 0);
	ans.currency = cur;
	ans.text = code != NULL ? code + 1 : "-";
	if ((n = acq_format_answer(&ans, line, sizeof line)) == -1)
		return;
	tls_conn_write(c->conn, line, (size_t)n);
	if (!c->dead && (int)(rng_next(&a->rng) % 100) < a->dup_pct)
		tls_conn_write(c->conn, line, (size_t)n);
}

/* "<key> REFUSED <reason>": nothing decided. */
static void
send_refusal(struct acq_conn *c, const char *key, const char *reason)
{
	struct acq_answer ans = {key, NULL, NULL, reason, 0, ACQ_REFUSED};
	char line[ACQ_LINE_MAX];
	int n;

	if ((n = acq_format_answer(&ans, line, sizeof line)) == -1)
		n = snprintf(line, sizeof line, "? REFUSED %s\n", reason);
	tls_conn_write(c->conn, line, (size_t)n);
}

/* A request: its answer (again, for a key seen before). */
static void
handle_line(struct acquirer *a, struct acq_conn *c, char *line)
{
	struct acq_request r;
	struct acq_req q;
	char answer[64];
	const char *why;
	uint32_t id;

	a->requests++;
	if (acq_parse_request(line, &r, &why) == -1 ||
	    strlen(r.account) >= sizeof a->dec[0].acc) {
		send_refusal(c, "?", "bad-request");
		return;
	}
	q.key = r.key;
	q.acc = r.account;
	q.day = r.day;
	q.ref = r.reference;
	q.cents = r.amount_cents;
	id = strtab_find(a->keys, q.key, strlen(q.key));
	if (id != STRTAB_NONE) {
		const struct decision *d = &a->dec[id];
		if (strcmp(d->acc, q.acc) != 0 || strcmp(d->day, q.day) != 0 ||
		    d->cents != q.cents) {
			send_refusal(c, q.key,
			    "key-reused-with-different-parameters");
			return;
		}
		a->repeats++;
		send_answer(a, c, &q, r.currency, d->answer);
		return;
	}
	if (strlen(r.currency) == 3)
		memcpy(a->currency, r.currency, 4);	/* for the report */
	if (q.cents > 0 && account_declines(a, q.acc)) {
		uint32_t k = strtab_find(a->declined_acc, q.acc, strlen(q.acc));
		uint32_t before = k == STRTAB_NONE ? 0 : a->declines[k];
		if ((int)before < a->decline_times) {
			snprintf(answer, sizeof answer,
			    "DECLINED insufficient-funds");
			goto decided;
		}
	}
	snprintf(answer, sizeof answer, "APPROVED A%06lu",
	    (unsigned long)(a->captures + a->refunds + 1));
decided:
	if (remember(a, &q, answer, 1) == -1) {
		fprintf(stderr, "acquirer: cannot record %s: %s\n", q.key,
		    strerror(errno));
		return;		/* unanswered: retried with its key */
	}
	if (answer[0] == 'D')
		a->declines_n++;
	else if (q.cents >= 0) {
		a->captures++;
		a->captured_cents += q.cents;
	} else {
		a->refunds++;
		a->refunded_cents -= q.cents;
	}
	if (a->crash_after > 0 && ++a->fresh >= a->crash_after) {
		fprintf(stderr, "acquirer: crashing on purpose after %ld new "
		    "decisions (the last one recorded, not answered)\n",
		    a->fresh);
		_exit(3);
	}
	send_answer(a, c, &q, r.currency, answer);
}

static void
conn_data_cb(struct tls_conn *t, struct evbuffer *in, void *arg)
{
	struct acq_conn *c = arg;
	char *line;
	size_t len;

	(void)t;
	while (!c->dead && (line = evbuffer_readln(in, &len,
	    EVBUFFER_EOL_LF)) != NULL) {
		if (len < ACQ_LINE_MAX)
			handle_line(c->a, c, line);
		free(line);
	}
	if (!c->dead && evbuffer_get_length(in) > ACQ_LINE_MAX)
		tls_conn_close_after_flush(c->conn);
}

static void
conn_free_cb(evutil_socket_t fd, short what, void *arg)
{
	struct acq_conn *c = arg;

	(void)fd;
	(void)what;
	tls_conn_free(c->conn);
	free(c);
}

static void
conn_open_cb(struct tls_conn *t, void *arg)
{
	(void)t;
	(void)arg;
}

/* Freed on the next loop turn: the TLS code may still be on the stack. */
static void
conn_close_cb(struct tls_conn *t, const char *reason, void *arg)
{
	struct acq_conn *c = arg;
	struct timeval zero = {0, 0};

	(void)t;
	if (strcmp(reason, "peer closed the connection") != 0)
		fprintf(stderr, "acquirer: connection refused or closed: %s\n",
		    reason);
	c->dead = 1;
	c->a->conns--;
	event_base_once(c->a->base, -1, EV_TIMEOUT, conn_free_cb, c, &zero);
}

static const struct tls_conn_cbs acq_cbs = {
	conn_open_cb, conn_data_cb, conn_close_cb,
};

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int len, void *arg)
{
	struct acquirer *a = arg;
	struct acq_conn *c;

	(void)l;
	(void)sa;
	(void)len;
	if (a->conns >= ACQ_CONNS_MAX || (c = calloc(1, sizeof *c)) == NULL) {
		evutil_closesocket(fd);
		return;
	}
	c->a = a;
	if ((c->conn = tls_conn_new(a->tls, a->base, fd, &acq_cbs, c)) ==
	    NULL) {
		evutil_closesocket(fd);
		free(c);
		return;
	}
	a->conns++;
}

static void
stop_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

/* --decline ACCOUNT: one more account declined by name. */
static int
acq_decline_cb(void *dst, const char *v, const char **why)
{
	if (strtab_intern(dst, v, strlen(v), NULL) == STRTAB_NONE) {
		*why = "out of memory";
		return -1;
	}
	return 0;
}

/* The options into a: OPT_RUN, or the exit status. */
static int
acq_args(int argc, char **argv, struct acquirer *a, const char **listen,
    const char **journal, const char **certs, struct sockaddr_in *sin)
{
	static const struct opt_cmd cmd = {"terminal-sim acquirer", "", 0, 0,
	    "The acquirer simulator (docs/protocol.md, \"Acquirer\"): "
	    "deterministic declines,\nlatency, dropped and duplicated "
	    "answers, a crash after N decisions, and a\njournal of every "
	    "decision so that its answers survive its own crash."};
	int first, rc;
	const struct opt o[] = {
		{.name = "listen", .kind = OPT_STR, .dst = listen,
		    .arg = "HOST:PORT", .help = "where settlement connects",
		    .flags = OPT_REQUIRED},
		{.name = "journal", .kind = OPT_STR, .dst = journal,
		    .arg = "FILE", .help = "every decision, appended",
		    .flags = OPT_REQUIRED},
		{.name = "certs", .kind = OPT_STR, .dst = certs, .arg = "DIR",
		    .help = "acquirer.crt/key, ca.crt and engine.crt (pinned): "
		    "mutual TLS", .flags = OPT_REQUIRED},
		{.name = "lie", .kind = OPT_FLAG, .dst = &a->lie,
		    .help = "echo a wrong amount in every answer (tests: the "
		    "engine must not book it)"},
		{.name = "seed", .kind = OPT_U64, .dst = &a->seed, .arg = "N",
		    .lo = 0, .hi = INT64_C(1) << 53, .help = "which accounts "
		    "decline, which answers drop (default 1)"},
		{.name = "decline", .kind = OPT_FN, .dst = a->deny_named,
		    .fn = acq_decline_cb, .arg = "ACCOUNT",
		    .flags = OPT_REPEAT, .help = "decline this account"},
		{.name = "decline-pct", .kind = OPT_INT, .dst = &a->decline_pct,
		    .arg = "P", .lo = 0, .hi = 100, .help = "decline this "
		    "share of accounts"},
		{.name = "decline-times", .kind = OPT_INT,
		    .dst = &a->decline_times, .arg = "K", .lo = 0,
		    .hi = 1000000, .help = "for their first K requests "
		    "(default 1)"},
		{.name = "latency-ms", .kind = OPT_INT, .dst = &a->latency_ms,
		    .arg = "MS", .lo = 0, .hi = 60000, .help = "before each "
		    "answer"},
		{.name = "drop-pct", .kind = OPT_INT, .dst = &a->drop_pct,
		    .arg = "P", .lo = 0, .hi = 100, .help = "answers never "
		    "sent"},
		{.name = "dup-pct", .kind = OPT_INT, .dst = &a->dup_pct,
		    .arg = "P", .lo = 0, .hi = 100, .help = "answers sent "
		    "twice"},
		{.name = "crash-after", .kind = OPT_LONG, .dst = &a->crash_after,
		    .arg = "N", .lo = 0, .hi = INT64_C(1) << 53,
		    .help = "exit after N decisions (0: never)"},
		{.name = "report-dir", .kind = OPT_STR, .dst = &a->report_dir,
		    .arg = "DIR", .help = "write the daily settlement reports "
		    "(settlement-DAY.csv) there"},
		{.name = NULL},
	};

	if ((rc = opt_parse(&cmd, o, argc, argv, &first)) != OPT_RUN)
		return rc;
	if (wire_parse_addr(*listen, sin) == -1)
		return opt_fail(&cmd, "--listen '%s': not HOST:PORT", *listen);
	return OPT_RUN;
}

/* "s" for a count other than one. */
static const char *
plural(uint64_t n)
{
	return n == 1 ? "" : "s";
}

static void
acq_report(const struct acquirer *a)
{
	char cap[MONEY_TEXT_MAX], ref[MONEY_TEXT_MAX];

	money_text(a->currency, a->captured_cents, cap);
	money_text(a->currency, a->refunded_cents, ref);
	printf("acquirer: %llu request%s (%llu repeated key%s answered from "
	    "the journal): %llu capture%s %s, %llu refund%s %s, %llu "
	    "decline%s\n",
	    (unsigned long long)a->requests, plural(a->requests),
	    (unsigned long long)a->repeats, plural(a->repeats),
	    (unsigned long long)a->captures, plural(a->captures), cap,
	    (unsigned long long)a->refunds, plural(a->refunds), ref,
	    (unsigned long long)a->declines_n, plural(a->declines_n));
}

int
sim_acquirer(int argc, char **argv)
{
	struct acquirer a;
	struct sockaddr_in sin;
	struct evconnlistener *l = NULL;
	struct event *sig1 = NULL, *sig2 = NULL;
	const char *listen = NULL, *journal = NULL, *certs = NULL;
	char err[512];
	int rc = 1;

	memset(&a, 0, sizeof a);
	memcpy(a.currency, "EUR", 4);
	a.decline_times = 1;
	a.seed = 1;
	a.keys = strtab_new();
	a.declined_acc = strtab_new();
	a.deny_named = strtab_new();
	if (a.keys == NULL || a.declined_acc == NULL || a.deny_named == NULL)
		goto out;
	if ((rc = acq_args(argc, argv, &a, &listen, &journal, &certs,
	    &sin)) != OPT_RUN)
		goto out;
	rc = 1;
	if ((a.tls = tls_acquirer_server_new(certs, err, sizeof err)) == NULL) {
		fprintf(stderr, "acquirer: %s\n", err);
		goto out;
	}
	a.rng = a.seed;
	if (load_journal(&a, journal) == -1 ||
	    (a.journal = fopen(journal, "a")) == NULL) {
		fprintf(stderr, "acquirer: %s: %s\n", journal, strerror(errno));
		goto out;
	}
	if ((a.base = event_base_new()) == NULL)
		goto out;
	l = evconnlistener_new_bind(a.base, accept_cb, &a,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 64,
	    (struct sockaddr *)&sin, sizeof sin);
	sig1 = evsignal_new(a.base, SIGTERM, stop_cb, a.base);
	sig2 = evsignal_new(a.base, SIGINT, stop_cb, a.base);
	if (l == NULL || sig1 == NULL || sig2 == NULL) {
		fprintf(stderr, "acquirer: cannot listen on %s\n", listen);
		goto out;
	}
	evsignal_add(sig1, NULL);
	evsignal_add(sig2, NULL);
	fprintf(stderr, "acquirer: listening on %s, mutual TLS (declines: %d%% of "
	    "accounts and %u named, %d time(s) each; latency %d ms, drop %d%%, "
	    "dup %d%%)\n", listen, a.decline_pct, strtab_count(a.deny_named),
	    a.decline_times, a.latency_ms, a.drop_pct, a.dup_pct);
	event_base_dispatch(a.base);
	acq_report(&a);
	rc = 0;
out:
	if (l != NULL)
		evconnlistener_free(l);
	if (sig1 != NULL)
		event_free(sig1);
	if (sig2 != NULL)
		event_free(sig2);
	if (a.base != NULL)
		event_base_free(a.base);
	if (a.journal != NULL)
		fclose(a.journal);
	tls_ctx_free(a.tls);
	strtab_free(a.keys);
	strtab_free(a.declined_acc);
	strtab_free(a.deny_named);
	free(a.dec);
	free(a.declines);
	return rc;
}
