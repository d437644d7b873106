/*
 * terminal-sim load: a load generator.  N validators, each on its own
 * mutual-TLS connection, send random valid taps on a tariff at a total
 * rate R for S seconds; a progress line each second, then a report of
 * taps/s acknowledged, ack latency p50/p99/max, refusals, errors and
 * reconnects.  Seeded: the same seed sends the same taps.
 *
 * --storm: a reconnect storm instead.  All N validators connect at once
 * and each sends one tap; the time until every one has its ack is the
 * first figure (full handshakes).  Then all drop their links and
 * reconnect at once with the TLS sessions they saved (resumption): the
 * second figure.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "certs.h"
#include "clock.h"
#include "opt.h"
#include "rng.h"
#include "tap.h"
#include "sim.h"
#include "limits.h"
#include "tariff.h"
#include "tls.h"
#include "wire.h"

#define LOAD_SEQ_EPOCH	1767225600	/* 2026-01-01T00:00:00Z */
#define LOAD_VALIDATORS_MAX	20000
#define LOAD_INFLIGHT_MAX	4096	/* per validator, then it waits */
#define LOAD_CONNECT_WAIT_S	60.0	/* for every validator to connect */
#define LOAD_LAT_MAX		20000000	/* latency samples kept */
#define LOAD_CARDS		100000

struct lv {
	struct load	*ld;
	char		 id[32];
	struct tls_ctx	*ctx;
	struct tls_conn	*conn;
	int		 open, retries;
	unsigned	 connects;	/* attempts: which engine address */
	int		 storm_acked;	/* this wave */
	uint64_t	 next_seq, acked_seq;
	double		*sent_at;	/* ring of LOAD_INFLIGHT_MAX */
};

struct load {
	struct event_base *base;
	const char	*engine, *certs;
	const struct tariff *t;
	struct lv	*v;
	long		 nv;
	double		 rate, duration, t0, last_answer;
	uint64_t	 rng;
	uint64_t	 sent, acked, refused, errors, reconnects, backlog;
	double		*lat;
	size_t		 nlat;
	struct event	*tick, *second;
	double		 credit;
	long		 rr;
	FILE		*acklog;
	int		 stopping;
	int		 storm;		/* 0 off, 1 first wave, 2 second */
	long		 storm_done, storm_resumed;
	double		 storm_t0, storm_s[2];
	double		 storm_cpu0;	/* this process's CPU s at the start */
};

static double
now_s(void)
{
	return (double)clock_mono_us() / 1e6;
}

/* This process's CPU seconds (user and system) so far. */
static double
cpu_s(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) == -1)
		return 0;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static uint64_t
rnd(struct load *ld)
{
	return rng_next(&ld->rng);
}

static void lv_connect(struct lv *);

static int
lv_send(struct lv *v)
{
	struct load *ld = v->ld;
	unsigned char buf[WIRE_HEADER + 512];
	char body[512], pan[17], ts[21];
	uint32_t net = (uint32_t)(rnd(ld) % tariff_nnetworks(ld->t));
	uint32_t stop = (uint32_t)(rnd(ld) % tariff_nstops(ld->t));
	size_t n;
	int len;

	if (!v->open || v->next_seq - v->acked_seq >= LOAD_INFLIGHT_MAX)
		return -1;
	tap_make_pan('5', rnd(ld) % LOAD_CARDS, pan);
	/* Tap times: now, on the engine's side of the clock check. */
	{
		time_t wall = time(NULL);
		struct tm tm;
		gmtime_r(&wall, &tm);
		strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
	len = snprintf(body, sizeof body, "%s:%llu,%s,%s,,%s,%s,%s", v->id,
	    (unsigned long long)v->next_seq, ts, pan,
	    tariff_network_id(ld->t, net), tariff_stop_id(ld->t, stop),
	    rnd(ld) % 2 ? "in" : "out");
	if (len < 0 || wire_encode('T', body, (size_t)len, buf, sizeof buf,
	    &n) == -1)
		return -1;
	v->sent_at[v->next_seq % LOAD_INFLIGHT_MAX] = now_s();
	v->next_seq++;
	ld->sent++;
	tls_conn_write(v->conn, buf, n);
	return 0;
}

static void lv_connect(struct lv *);

/* Every validator of this wave has its ack: time it, start the next. */
static void
storm_wave_done(struct load *ld)
{
	long i;

	ld->storm_s[ld->storm - 1] = now_s() - ld->storm_t0;
	/* The simulator's own CPU time: on one machine with the engine, it
	 * shares the cores (issue 14: both sides measured). */
	fprintf(stderr, "storm: wave %d: %ld validators connected and "
	    "acknowledged in %.2f s (the simulator's CPU %.2f s, %llu "
	    "reconnects)\n", ld->storm, ld->nv, ld->storm_s[ld->storm - 1],
	    cpu_s() - ld->storm_cpu0, (unsigned long long)ld->reconnects);
	if (ld->storm == 2) {
		ld->stopping = 1;
		event_base_loopbreak(ld->base);
		return;
	}
	/* Everyone drops the link, then all come back at once. */
	ld->storm = 2;
	ld->storm_done = 0;
	ld->stopping = 1;	/* the closes are on purpose */
	for (i = 0; i < ld->nv; i++) {
		tls_conn_free(ld->v[i].conn);
		ld->v[i].conn = NULL;
		ld->v[i].open = 0;
		ld->v[i].storm_acked = 0;
		ld->v[i].acked_seq = ld->v[i].next_seq;
	}
	ld->stopping = 0;
	ld->storm_t0 = now_s();
	ld->storm_cpu0 = cpu_s();
	for (i = 0; i < ld->nv; i++)
		lv_connect(&ld->v[i]);
}

static void
lv_data(struct tls_conn *c, struct evbuffer *in, void *arg)
{
	struct lv *v = arg;
	struct load *ld = v->ld;
	static struct wire_frame f;
	const char *why;
	size_t used;

	(void)c;
	while (wire_parse(evbuffer_pullup(in, -1), evbuffer_get_length(in), &f,
	    &used, &why) == 1) {
		char *fld[3];
		uint64_t seq;
		evbuffer_drain(in, used);
		if (f.type == 'D')
			continue;	/* deny list: load cards are never on it */
		if (f.type != 'A' && f.type != 'R') {
			ld->errors++;
			continue;
		}
		wire_fields(f.body, fld, 3);
		seq = strtoull(fld[0], NULL, 10);
		if (seq >= v->acked_seq && seq < v->next_seq) {
			if (ld->nlat < LOAD_LAT_MAX)
				ld->lat[ld->nlat++] = now_s() -
				    v->sent_at[seq % LOAD_INFLIGHT_MAX];
			v->acked_seq = seq + 1;
		}
		ld->last_answer = now_s();
		if (ld->storm && !v->storm_acked) {
			v->storm_acked = 1;
			if (++ld->storm_done == ld->nv)
				storm_wave_done(ld);
		}
		if (f.type == 'A') {
			ld->acked++;
			if (ld->acklog != NULL)
				fprintf(ld->acklog, "%s:%llu\n", v->id,
				    (unsigned long long)seq);
		} else
			ld->refused++;
	}
}

static void
lv_open(struct tls_conn *c, void *arg)
{
	struct lv *v = arg;

	(void)c;
	v->open = 1;
	v->retries = 0;
	tls_conn_save_session(v->conn);
	if (v->ld->storm) {
		if (tls_conn_resumed(v->conn))
			v->ld->storm_resumed++;
		lv_send(v);
	}
}

static void
lv_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	lv_connect(arg);
}

static void
lv_close(struct tls_conn *c, const char *reason, void *arg)
{
	struct lv *v = arg;
	struct timeval tv = {0, 200000};

	(void)c;
	(void)reason;
	v->open = 0;
	if (v->ld->stopping)
		return;
	v->ld->reconnects++;
	/* Unanswered taps are counted lost here: load does not resend. */
	v->acked_seq = v->next_seq;
	if (++v->retries > 20)
		return;
	tv.tv_usec = 100000 * (v->retries < 9 ? v->retries : 9) +
	    (long)(rnd(v->ld) % 100000);
	event_base_once(v->ld->base, -1, EV_TIMEOUT, lv_retry, v, &tv);
}

static const struct tls_conn_cbs lv_cbs = {lv_open, lv_data, lv_close};

/*
 * The address a validator connects to: --engine may list several gateways
 * (HOST:PORT,HOST:PORT,...); each validator starts at its own (its index
 * modulo the count, spreading the load) and moves to the next one on
 * every reconnect, as replay's devices do.
 */
static const char *
lv_addr(const struct lv *v, char *buf, size_t len)
{
	if (sim_engine_addr(v->ld->engine, (size_t)(v - v->ld->v) +
	    v->connects, buf, len) == -1)
		buf[0] = '\0';	/* checked at start: cannot happen */
	return buf;
}

static void
lv_connect(struct lv *v)
{
	struct sockaddr_in sin;
	char addr[128];
	int fd;

	if (v->conn != NULL) {
		tls_conn_free(v->conn);
		v->conn = NULL;
	}
	lv_addr(v, addr, sizeof addr);
	v->connects++;
	if (wire_parse_addr(addr, &sin) == -1 ||
	    (fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return;
	if (connect(fd, (struct sockaddr *)&sin, sizeof sin) == -1) {
		close(fd);
		v->ld->errors++;
		lv_close(NULL, "cannot connect", v);
		return;
	}
	if ((v->conn = tls_conn_new(v->ctx, v->ld->base, fd, &lv_cbs, v)) ==
	    NULL)
		close(fd);
}

/* Every 10 ms: send this slice's share of the rate, round robin. */
static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct load *ld = arg;
	long tries;

	(void)fd;
	(void)what;
	if (now_s() - ld->t0 >= ld->duration) {
		long i, waiting = 0;
		for (i = 0; i < ld->nv; i++)
			waiting += ld->v[i].open &&
			    ld->v[i].next_seq != ld->v[i].acked_seq;
		/* Wait (at most 5 s) for the last answers. */
		if (waiting == 0 || now_s() - ld->t0 >= ld->duration + 5) {
			ld->stopping = 1;
			event_base_loopbreak(ld->base);
		}
		return;
	}
	ld->credit += ld->rate / 100.0;
	for (tries = 0; ld->credit >= 1.0 && tries < ld->nv * 2; tries++) {
		struct lv *v = &ld->v[ld->rr++ % ld->nv];
		if (lv_send(v) == 0)
			ld->credit -= 1.0;
	}
	/* What could not be sent now is a backlog, not a burst later. */
	if (ld->credit > ld->rate) {
		ld->backlog += (uint64_t)(ld->credit - ld->rate);
		ld->credit = ld->rate;
	}
}

static int
dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
pct(double *v, size_t n, double p)
{
	return n == 0 ? 0 : v[(size_t)((double)(n - 1) * p)];
}

static void
second_cb(evutil_socket_t fd, short what, void *arg)
{
	struct load *ld = arg;
	static uint64_t last;

	(void)fd;
	(void)what;
	fprintf(stderr, "\rload: %5.0fs sent %llu acked %llu (%llu/s) refused "
	    "%llu errors %llu reconnects %llu   ", now_s() - ld->t0,
	    (unsigned long long)ld->sent, (unsigned long long)ld->acked,
	    (unsigned long long)(ld->acked - last),
	    (unsigned long long)ld->refused, (unsigned long long)ld->errors,
	    (unsigned long long)ld->reconnects);
	last = ld->acked;
}

/*
 * --engine HOST:PORT[,HOST:PORT...]: every address must parse (an IPv4
 * address and a port), or it is bad usage (exit 2) naming the address,
 * not a run that fails to connect.
 */
static int
load_check_engine(const struct opt_cmd *cmd, const char *list)
{
	struct sockaddr_in sin;
	char one[128];
	size_t k, n;

	if (list == NULL)
		return OPT_RUN;
	for (k = 0, n = sim_engine_count(list); k < n; k++) {
		if (sim_engine_addr(list, k, one, sizeof one) == -1)
			return opt_fail(cmd, "--engine '%s': an empty or too long "
			    "address", list);
		if (wire_parse_addr(one, &sin) == -1)
			return opt_fail(cmd, "--engine '%s': not HOST:PORT", one);
	}
	return OPT_RUN;
}

/* Parses the options into ld: OPT_RUN, or the exit status. */
static int
load_args(int argc, char **argv, struct load *ld, const char **tdir,
    const char **ack)
{
	static const struct opt_cmd cmd = {"terminal-sim load", "", 0, 0,
	    "A load generator: N validators send taps at a steady rate for a "
	    "duration,\nwith a progress line and an ack latency report "
	    "(--storm: a reconnect storm)."};
	int first, rc;
	const struct opt o[] = {
		{.name = "engine", .kind = OPT_STR, .dst = &ld->engine,
		    .arg = "HOST:PORT[,...]", .help = "the engine's validator "
		    "port (several: gateways, validators spread over them)",
		    .flags = OPT_REQUIRED},
		{.name = "certs", .kind = OPT_STR, .dst = &ld->certs,
		    .arg = "DIR", .help = "the CA directory",
		    .flags = OPT_REQUIRED},
		{.name = "tariff", .kind = OPT_STR, .dst = tdir, .arg = "DIR",
		    .help = "stops and networks to tap at (default "
		    "tariffs/nl)"},
		{.name = "validators", .kind = OPT_LONG, .dst = &ld->nv,
		    .arg = "N", .lo = 1, .hi = LOAD_VALIDATORS_MAX,
		    .help = "simulated validators (default 10)"},
		{.name = "rate", .kind = OPT_DOUBLE, .dst = &ld->rate,
		    .arg = "TAPS_PER_S", .lo = 1, .hi = 10000000,
		    .help = "taps per second in all (default 1000)"},
		{.name = "duration", .kind = OPT_DOUBLE, .dst = &ld->duration,
		    .arg = "S", .lo = 0, .hi = 86400, .help = "seconds "
		    "(default 10)"},
		{.name = "seed", .kind = OPT_U64, .dst = &ld->rng, .arg = "N",
		    .lo = 0, .hi = INT64_C(1) << 53, .help = "the random "
		    "taps (default 1)"},
		{.name = "ack-log", .kind = OPT_STR, .dst = ack, .arg = "FILE",
		    .help = "append each acknowledged tap_id"},
		{.name = "storm", .kind = OPT_FLAG, .dst = &ld->storm,
		    .help = "a reconnect storm instead of steady taps"},
		{.name = NULL},
	};

	ld->nv = 10;
	ld->rate = 1000;
	ld->duration = 10;
	ld->rng = 1;
	if ((rc = opt_parse(&cmd, o, argc, argv, &first)) != OPT_RUN)
		return rc;
	if (!(ld->duration > 0))
		return opt_fail(&cmd, "--duration must be more than 0");
	return load_check_engine(&cmd, ld->engine);
}

/* Each validator's certificate, TLS context and sequence numbers. */
static int
load_validators(struct load *ld)
{
	char err[256];
	long i;

	for (i = 0; i < ld->nv; i++) {
		struct lv *v = &ld->v[i];
		v->ld = ld;
		snprintf(v->id, sizeof v->id, "load-%ld", i);
		/* Sequence numbers continue across runs (a validator never
		 * reuses one): 1,000 per second of wall clock since 2026,
		 * within the 11 digits a sequence number may have (a tap_id
		 * never carries a PAN), for 2.8 years before they wrap. */
		v->next_seq = v->acked_seq = 1 + (uint64_t)(time(NULL) -
		    LOAD_SEQ_EPOCH) % (TAP_SEQ_MAX / 1000) * 1000;
		v->sent_at = calloc(LOAD_INFLIGHT_MAX, sizeof *v->sent_at);
		if (v->sent_at == NULL || certs_device(ld->certs, v->id, NULL,
		    NULL, 1, 0, err, sizeof err) == -1 ||
		    (v->ctx = tls_client_new(ld->certs, v->id, err,
		    sizeof err)) == NULL) {
			fprintf(stderr, "terminal-sim: %s: %s\n", v->id, err);
			return -1;
		}
		if (!ld->storm)
			lv_connect(v);
	}
	return 0;
}

/* Certificates and keys are ready: now all at once, twice. */
static int
load_storm(struct load *ld)
{
	long i;

	ld->storm_t0 = now_s();
	ld->storm_cpu0 = cpu_s();
	for (i = 0; i < ld->nv; i++)
		lv_connect(&ld->v[i]);
	event_base_dispatch(ld->base);
	printf("storm: %ld validators: first connection (full handshakes) "
	    "%.2f s; all again with session resumption %.2f s (%ld "
	    "resumed)\n", ld->nv, ld->storm_s[0], ld->storm_s[1],
	    ld->storm_resumed);
	return ld->storm_s[1] > 0 ? 0 : 1;
}

/* Before the steady load: every 10 ms, whether all validators are
 * connected (or LOAD_CONNECT_WAIT_S has passed). */
static void
ready_cb(evutil_socket_t fd, short what, void *arg)
{
	struct load *ld = arg;
	long i, open = 0;

	(void)fd;
	(void)what;
	for (i = 0; i < ld->nv; i++)
		open += ld->v[i].open;
	if (open == ld->nv || now_s() - ld->t0 >= LOAD_CONNECT_WAIT_S)
		event_base_loopbreak(ld->base);
}

/* The steady load for the duration, then its numbers. */
static int
load_steady(struct load *ld)
{
	struct timeval ten = {0, 10000}, one = {1, 0};
	struct event *ready;
	double elapsed;

	/* The clock starts once the validators are connected: their
	 * handshakes are the storm's figure, and taps acknowledged behind
	 * them are not the steady latency (ISSUE 14).  Validators that do
	 * not connect in time are waited for no longer. */
	ld->t0 = now_s();
	if ((ready = event_new(ld->base, -1, EV_PERSIST, ready_cb, ld)) !=
	    NULL) {
		event_add(ready, &ten);
		event_base_dispatch(ld->base);
		event_free(ready);
	}
	ld->t0 = now_s();
	ld->tick = event_new(ld->base, -1, EV_PERSIST, tick_cb, ld);
	ld->second = event_new(ld->base, -1, EV_PERSIST, second_cb, ld);
	event_add(ld->tick, &ten);
	event_add(ld->second, &one);
	event_base_dispatch(ld->base);
	elapsed = (ld->last_answer > ld->t0 ? ld->last_answer : now_s()) -
	    ld->t0;
	qsort(ld->lat, ld->nlat, sizeof *ld->lat, dbl_cmp);
	fprintf(stderr, "\n");
	printf("load: %ld validators, target %.0f taps/s for %.0f s\n",
	    ld->nv, ld->rate, ld->duration);
	printf("load: sent %llu, acknowledged %llu (%.0f taps/s), refused %llu, "
	    "errors %llu, reconnects %llu, not sent in time %llu\n",
	    (unsigned long long)ld->sent, (unsigned long long)ld->acked,
	    (double)ld->acked / elapsed, (unsigned long long)ld->refused,
	    (unsigned long long)ld->errors, (unsigned long long)ld->reconnects,
	    (unsigned long long)ld->backlog);
	printf("load: ack latency p50 %.2f ms, p99 %.2f ms, max %.2f ms "
	    "(%zu samples)\n", pct(ld->lat, ld->nlat, 0.5) * 1e3,
	    pct(ld->lat, ld->nlat, 0.99) * 1e3,
	    ld->nlat ? ld->lat[ld->nlat - 1] * 1e3 : 0.0, ld->nlat);
	return ld->errors > 0 || ld->acked == 0 ? 1 : 0;
}

int
sim_load(int argc, char **argv)
{
	struct load ld;
	const char *tdir = "tariffs/nl", *ack = NULL;
	struct diag d;
	struct tariff *t;
	long i;
	int rc = 1;

	memset(&ld, 0, sizeof ld);
	if ((rc = load_args(argc, argv, &ld, &tdir, &ack)) != OPT_RUN)
		return rc;
	rc = 1;
	diag_init(&d);
	t = tariff_load(tdir, &d);
	diag_print(&d, stderr);
	diag_free(&d);
	if (t == NULL)
		return 1;
	ld.t = t;
	ld.v = calloc((size_t)ld.nv, sizeof *ld.v);
	ld.lat = malloc(LOAD_LAT_MAX * sizeof *ld.lat);
	ld.base = event_base_new();
	if (ld.v == NULL || ld.lat == NULL || ld.base == NULL)
		goto out;
	if (ack != NULL && (ld.acklog = fopen(ack, "w")) == NULL) {
		perror(ack);
		goto out;
	}
	if (load_validators(&ld) == -1)
		goto out;
	rc = ld.storm ? load_storm(&ld) : load_steady(&ld);
out:
	if (ld.acklog != NULL)
		fclose(ld.acklog);
	for (i = 0; ld.v != NULL && i < ld.nv; i++) {
		tls_conn_free(ld.v[i].conn);
		tls_ctx_free(ld.v[i].ctx);
		free(ld.v[i].sent_at);
	}
	if (ld.tick != NULL)
		event_free(ld.tick);
	if (ld.second != NULL)
		event_free(ld.second);
	if (ld.base != NULL)
		event_base_free(ld.base);
	free(ld.v);
	free(ld.lat);
	tariff_free(t);
	return rc;
}
