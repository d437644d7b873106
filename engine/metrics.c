/*
 * /metrics (metrics.h): the exposition, and the thread that gathers what
 * needs the database into a snapshot, swapped in under a mutex, so that a
 * scrape on the event loop only copies numbers.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <mbedtls/version.h>
#include <sqlite3.h>

#include "http.h"
#include "journal.h"
#include "limits.h"
#include "log.h"
#include "metrics.h"
#include "parse.h"
#include "server-int.h"
#include "settle.h"
#include "strtab.h"
#include "tls.h"
#include "writer.h"

#ifndef ONECITY_VERSION
#define ONECITY_VERSION "unknown"
#endif

struct mnet {
	char id[65];
	int64_t taps, revenue_cents;
};

struct mdev {
	char id[65];
	int64_t last_seen_utc;
};

/* What one refresh read from the database. */
struct msnap {
	int32_t day;
	int64_t day_start;
	struct mnet net[LIMIT_NETWORKS];
	size_t nnet;
	struct mdev *dev;
	size_t ndev;
	uint64_t dev_unlisted;
	int64_t backlog_n, backlog_cents;
	int64_t pending_n, pending_cents;
	int64_t refunds_old_n, refunds_old_cents;
	int64_t debts_n, debts_cents;
	double took_s;
	int64_t at_utc;
};

struct metrics {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop, refresh_s;
	sqlite3 *db;
	/* From the event loop's tick, under mu. */
	int32_t day;
	int64_t day_start, day_end, now;
	struct msnap *snap; /* under mu; NULL before the first */
	/* The refresh thread's own: every validator seen and its last tap,
	 * fed by the writer (writer_take_seen) after one scan of the taps;
	 * DEVS_SCAN when there are more than METRICS_DEVICES_KEPT. */
	struct writer *writer;
	struct strtab *devs;
	int64_t *devs_last;
	enum { DEVS_UNREAD, DEVS_KEPT, DEVS_SCAN } devs_state;
	uint64_t errors; /* under mu */
	int interval_s; /* under mu: refresh_s, or more when slow */
};

static void
snap_free(struct msnap *n)
{
	if (n != NULL)
		free(n->dev);
	free(n);
}

/* The network's row in n, added if new; NULL beyond the limit. */
static struct mnet *
snap_net(struct msnap *n, const char *id)
{
	size_t i;

	for (i = 0; i < n->nnet; i++)
		if (strcmp(n->net[i].id, id) == 0)
			return &n->net[i];
	if (n->nnet == LIMIT_NETWORKS)
		return NULL;
	snprintf(n->net[n->nnet].id, sizeof n->net[0].id, "%s", id);
	return &n->net[n->nnet++];
}

/* Runs sql with parameters ?1, ?2 (integers) and ?3 (text) where it
 * has them; calls row_cb per row. */
static int
query(sqlite3 *db, const char *sql, int64_t p1, int64_t p2, const char *p3,
    void (*row_cb)(sqlite3_stmt *, struct msnap *), struct msnap *n)
{
	sqlite3_stmt *st;
	int rc, np;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	np = sqlite3_bind_parameter_count(st);
	if (np >= 1)
		sqlite3_bind_int64(st, 1, p1);
	if (np >= 2)
		sqlite3_bind_int64(st, 2, p2);
	if (np >= 3)
		sqlite3_bind_text(st, 3, p3, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		row_cb(st, n);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static const char *
text(sqlite3_stmt *st, int i)
{
	const unsigned char *v = sqlite3_column_text(st, i);

	return v != NULL ? (const char *)v : "";
}

static void
taps_cb(sqlite3_stmt *st, struct msnap *n)
{
	struct mnet *x = snap_net(n, text(st, 0));

	if (x != NULL)
		x->taps = sqlite3_column_int64(st, 1);
}

static void
revenue_cb(sqlite3_stmt *st, struct msnap *n)
{
	struct mnet *x = snap_net(n, text(st, 0));

	if (x != NULL)
		x->revenue_cents = sqlite3_column_int64(st, 1);
}

static void
device_cb(sqlite3_stmt *st, struct msnap *n)
{
	if (n->ndev == LIMIT_METRICS_DEVICES) {
		n->dev_unlisted++;
		return;
	}
	snprintf(n->dev[n->ndev].id, sizeof n->dev[0].id, "%s", text(st, 0));
	n->dev[n->ndev++].last_seen_utc = sqlite3_column_int64(st, 1);
}

/* A validator's tap received at t, into the kept list (DEVS_SCAN once
 * it is full). */
static void
dev_note(struct metrics *m, const char *id, size_t len, int64_t t)
{
	uint32_t k;
	int added;

	if (m->devs_state == DEVS_SCAN)
		return;
	if (strtab_count(m->devs) == METRICS_DEVICES_KEPT &&
	    strtab_find(m->devs, id, len) == STRTAB_NONE) {
		m->devs_state = DEVS_SCAN;
		return;
	}
	if ((k = strtab_intern(m->devs, id, len, &added)) == STRTAB_NONE) {
		m->devs_state = DEVS_SCAN;
		return;
	}
	if (added || t > m->devs_last[k])
		m->devs_last[k] = t;
}

static void
seen_cb(const char *id, size_t len, int64_t received_utc, void *arg)
{
	dev_note(arg, id, len, received_utc);
}

static int
dev_cmp(const void *a, const void *b)
{
	return strcmp(
	    ((const struct mdev *)a)->id, ((const struct mdev *)b)->id);
}

/*
 * The validators last seen, from the kept list: in id order (as the
 * query's ORDER BY), the first LIMIT_METRICS_DEVICES listed.
 */
static int
devs_list(struct metrics *m, struct msnap *n)
{
	uint32_t k, count = strtab_count(m->devs);
	struct mdev *all = malloc((count + 1) * sizeof *all);

	if (all == NULL)
		return -1;
	for (k = 0; k < count; k++) {
		snprintf(
		    all[k].id, sizeof all[k].id, "%s", strtab_name(m->devs, k));
		all[k].last_seen_utc = m->devs_last[k];
	}
	qsort(all, count, sizeof *all, dev_cmp);
	n->ndev = count < LIMIT_METRICS_DEVICES ? count : LIMIT_METRICS_DEVICES;
	n->dev_unlisted = count - n->ndev;
	memcpy(n->dev, all, n->ndev * sizeof *all);
	free(all);
	return 0;
}

static void
backlog_cb(sqlite3_stmt *st, struct msnap *n)
{
	n->backlog_n = sqlite3_column_int64(st, 0);
	n->backlog_cents = sqlite3_column_int64(st, 1);
}

static void
pending_cb(sqlite3_stmt *st, struct msnap *n)
{
	n->pending_n = sqlite3_column_int64(st, 0);
	n->pending_cents = sqlite3_column_int64(st, 1);
}

static void
refunds_cb(sqlite3_stmt *st, struct msnap *n)
{
	n->refunds_old_n = sqlite3_column_int64(st, 0);
	n->refunds_old_cents = sqlite3_column_int64(st, 1);
}

static void
debts_cb(sqlite3_stmt *st, struct msnap *n)
{
	n->debts_n = sqlite3_column_int64(st, 0);
	n->debts_cents = sqlite3_column_int64(st, 1);
}

static const char devices_sql[] =
    "SELECT device_id, max(received_utc) FROM taps GROUP BY device_id "
    "ORDER BY device_id";

/* Each row of devices_sql into the kept list. */
static int
devs_scan(struct metrics *m)
{
	sqlite3_stmt *st;
	int rc = SQLITE_DONE;

	if (sqlite3_prepare_v2(m->db, devices_sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	while (
	    m->devs_state != DEVS_SCAN && (rc = sqlite3_step(st)) == SQLITE_ROW)
		dev_note(m, text(st, 0), (size_t)sqlite3_column_bytes(st, 0),
		    sqlite3_column_int64(st, 1));
	sqlite3_finalize(st);
	return m->devs_state == DEVS_SCAN || rc == SQLITE_DONE ? 0 : -1;
}

/*
 * The validators last seen.  The taps are scanned once (no index by
 * device: one would cost every tap's insert); after that the writer
 * passes on the validators of what it commits, merged by the latest
 * time (what the scan read and the writer passed on may overlap), so a
 * refresh reads no taps however long the history (ISSUE 14).  Again when
 * the writer kept fewer than tapped; every refresh when there are more
 * validators than METRICS_DEVICES_KEPT.  Inside the refresh's
 * transaction: the scan sees every commit the writer did not pass on.
 */
static int
refresh_devices(struct metrics *m, struct msnap *n)
{
	int over =
	    m->writer == NULL || writer_take_seen(m->writer, seen_cb, m) != 0;

	if (m->devs_state != DEVS_SCAN &&
	    (over || m->devs_state == DEVS_UNREAD)) {
		if (devs_scan(m) == -1)
			return -1;
		if (m->devs_state == DEVS_UNREAD)
			m->devs_state = DEVS_KEPT;
	}
	if (m->devs_state == DEVS_KEPT)
		return devs_list(m, n);
	strtab_clear(m->devs);
	return query(m->db, devices_sql, 0, 0, NULL, device_cb, n);
}

/*
 * One refresh.  The day's taps per network through the taps_day index;
 * the validators from the kept list (refresh_devices); revenue comes
 * from the open days' partial index (charges_unposted); the settlement
 * and debt counts from their state indexes; the backlog scans the closed
 * days' charges.
 */
static int
refresh(struct metrics *m, struct msnap *n, int64_t end, int64_t now)
{
	char day[11];
	int rc;

	civil_format_day(n->day, day);
	if (sqlite3_exec(m->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	rc = query(m->db,
	    "SELECT network_id, count(*) FROM taps WHERE "
	    "time_utc >= ?1 AND time_utc < ?2 GROUP BY network_id",
	    n->day_start, end, NULL, taps_cb, n);
	rc = rc || refresh_devices(m, n);
	rc = rc ||
	    query(m->db,
		"SELECT s.network_id, sum(s.cents) FROM "
		"charges c JOIN shares s ON s.account = c.account AND "
		"s.service_day = c.service_day WHERE c.posted = 0 AND "
		"c.service_day = ?3 GROUP BY s.network_id",
		0, 0, day, revenue_cb, n);
	rc = rc ||
	    query(m->db,
		"SELECT count(*), coalesce(sum(charge_cents - "
		"coalesce((SELECT sum(s.amount_cents) FROM settlements s WHERE "
		"s.account = v.account AND s.service_day = v.service_day AND "
		"s.state = 'approved'), 0)), 0) FROM v_charges v WHERE closed "
		"= 1 "
		"AND settled = 0 AND NOT EXISTS (SELECT 1 FROM debts d WHERE "
		"d.account = v.account AND d.service_day = v.service_day AND "
		"d.state != 'recovered')",
		0, 0, NULL, backlog_cb, n);
	rc = rc ||
	    query(m->db,
		"SELECT count(*), coalesce(sum(amount_cents), "
		"0) FROM settlements WHERE state = 'pending'",
		0, 0, NULL, pending_cb, n);
	rc = rc ||
	    query(m->db,
		"SELECT count(*), coalesce(sum(amount_cents), "
		"0) FROM settlements WHERE state = 'pending' AND kind = "
		"'refund' "
		"AND created_utc < ?1",
		now - 86400, 0, NULL, refunds_cb, n);
	rc = rc ||
	    query(m->db,
		"SELECT count(*), coalesce(sum(amount_cents), "
		"0) FROM debts WHERE state = 'open'",
		0, 0, NULL, debts_cb, n);
	sqlite3_exec(m->db, "COMMIT", NULL, NULL, NULL);
	return rc ? -1 : 0;
}

static double
mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One snapshot, built outside the lock and swapped in. */
static void
metrics_refresh(struct metrics *m)
{
	struct msnap *n = calloc(1, sizeof *n), *old;
	int64_t end, now;
	double t0 = mono_s();

	if (n == NULL ||
	    (n->dev = calloc(LIMIT_METRICS_DEVICES, sizeof *n->dev)) == NULL) {
		snap_free(n);
		return;
	}
	pthread_mutex_lock(&m->mu);
	n->day = m->day;
	n->day_start = m->day_start;
	end = m->day_end;
	now = m->now;
	pthread_mutex_unlock(&m->mu);
	if (refresh(m, n, end, now) == -1) {
		log_warning("metrics_refresh_failed", "error=%s",
		    LOGQ(sqlite3_errmsg(m->db)));
		pthread_mutex_lock(&m->mu);
		m->errors++;
		pthread_mutex_unlock(&m->mu);
		snap_free(n);
		return;
	}
	n->took_s = mono_s() - t0;
	n->at_utc = now;
	pthread_mutex_lock(&m->mu);
	old = m->snap;
	m->snap = n;
	pthread_mutex_unlock(&m->mu);
	snap_free(old);
}

/*
 * Seconds until the next refresh: refresh_s, or more where a refresh is
 * slow (it scans the taps), so that the refreshes never take more than
 * 1/METRICS_REFRESH_SHARE of one core's time.
 */
static int
metrics_interval(struct metrics *m)
{
	double took = 0;
	int s = m->refresh_s;

	pthread_mutex_lock(&m->mu);
	if (m->snap != NULL)
		took = m->snap->took_s;
	if (took * METRICS_REFRESH_SHARE > s)
		s = (int)(took * METRICS_REFRESH_SHARE) + 1;
	m->interval_s = s;
	pthread_mutex_unlock(&m->mu);
	return s;
}

static void *
metrics_main(void *arg)
{
	struct metrics *m = arg;
	struct timespec until;
	int stop, have_day;

	pthread_setname_np(pthread_self(), "fe-metrics");
	for (;;) {
		pthread_mutex_lock(&m->mu);
		/* The first refresh waits for the tick to name the day. */
		while (!m->stop && m->day_end == 0)
			pthread_cond_wait(&m->cv, &m->mu);
		stop = m->stop;
		have_day = m->day_end != 0;
		pthread_mutex_unlock(&m->mu);
		if (stop)
			break;
		if (have_day)
			metrics_refresh(m);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += metrics_interval(m);
		pthread_mutex_lock(&m->mu);
		while (!m->stop &&
		    pthread_cond_timedwait(&m->cv, &m->mu, &until) == 0)
			;
		stop = m->stop;
		pthread_mutex_unlock(&m->mu);
		if (stop)
			break;
	}
	return NULL;
}

struct metrics *
metrics_start(
    const char *db, struct writer *w, int refresh_s, char *err, size_t errlen)
{
	struct metrics *m = calloc(1, sizeof *m);

	if (m == NULL || (m->devs = strtab_new()) == NULL ||
	    (m->devs_last = malloc(
		 METRICS_DEVICES_KEPT * sizeof *m->devs_last)) == NULL) {
		if (m != NULL)
			strtab_free(m->devs);
		free(m);
		snprintf(err, errlen, "metrics: out of memory");
		return NULL;
	}
	m->writer = w;
	m->refresh_s = refresh_s;
	if (sqlite3_open_v2(db, &m->db,
		SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
		NULL) != SQLITE_OK) {
		snprintf(err, errlen, "metrics: %s: %s", db,
		    m->db ? sqlite3_errmsg(m->db) : "cannot open");
		sqlite3_close(m->db);
		strtab_free(m->devs);
		free(m->devs_last);
		free(m);
		return NULL;
	}
	sqlite3_busy_timeout(m->db, 5000);
	pthread_mutex_init(&m->mu, NULL);
	pthread_cond_init(&m->cv, NULL);
	if (pthread_create(&m->thread, NULL, metrics_main, m) != 0) {
		snprintf(err, errlen, "metrics: cannot start its thread");
		sqlite3_close(m->db);
		pthread_mutex_destroy(&m->mu);
		pthread_cond_destroy(&m->cv);
		strtab_free(m->devs);
		free(m->devs_last);
		free(m);
		return NULL;
	}
	return m;
}

void
metrics_stop(struct metrics *m)
{
	if (m == NULL)
		return;
	pthread_mutex_lock(&m->mu);
	m->stop = 1;
	pthread_cond_signal(&m->cv);
	pthread_mutex_unlock(&m->mu);
	/* A refresh under way ends first; the interrupt cuts a long scan. */
	sqlite3_interrupt(m->db);
	pthread_join(m->thread, NULL);
	sqlite3_close(m->db);
	snap_free(m->snap);
	strtab_free(m->devs);
	free(m->devs_last);
	pthread_mutex_destroy(&m->mu);
	pthread_cond_destroy(&m->cv);
	free(m);
}

void
metrics_set_day(struct metrics *m, int32_t day, int64_t start_utc,
    int64_t end_utc, int64_t now)
{
	pthread_mutex_lock(&m->mu);
	if (m->day_end == 0)
		pthread_cond_signal(&m->cv);
	m->day = day;
	m->day_start = start_utc;
	m->day_end = end_utc;
	m->now = now;
	pthread_mutex_unlock(&m->mu);
}

/* ---- the exposition ------------------------------------------------ */

/* A label value as the text format wants it: \\, \" and \n escaped. */
static void
label(struct evbuffer *b, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			evbuffer_add_printf(b, "\\%c", *v);
		else if (*v == '\n')
			evbuffer_add(b, "\\n", 2);
		else
			evbuffer_add(b, v, 1);
	}
}

static void
family(struct evbuffer *b, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(
	    b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
metric_i(struct evbuffer *b, const char *name, const char *type,
    const char *help, long long v)
{
	family(b, name, type, help);
	evbuffer_add_printf(b, "%s %lld\n", name, v);
}

static void
metric_f(struct evbuffer *b, const char *name, const char *type,
    const char *help, double v)
{
	family(b, name, type, help);
	evbuffer_add_printf(b, "%s %.6f\n", name, v);
}

/* /proc/self: resident and virtual memory, open descriptors. */
static void
write_process(struct evbuffer *b)
{
	long pages_virt = 0, pages_res = 0, psz = sysconf(_SC_PAGESIZE);
	struct rusage ru;
	struct rlimit rl;
	struct dirent *e;
	long fds = 0;
	FILE *f;
	DIR *d;
	static int64_t start_s;

	if (start_s == 0) {
		FILE *st = fopen("/proc/self/stat", "r");
		unsigned long long ticks = 0;
		char line[1024], *p;
		double up = 0;
		FILE *u = fopen("/proc/uptime", "r");
		/* Field 22 of stat, after the parenthesised command name. */
		if (st != NULL && fgets(line, sizeof line, st) != NULL &&
		    (p = strrchr(line, ')')) != NULL &&
		    sscanf(p + 2,
			"%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
			"%*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
			&ticks) == 1 &&
		    u != NULL && fscanf(u, "%lf", &up) == 1)
			start_s = (int64_t)time(NULL) - (int64_t)up +
			    (int64_t)(ticks /
				(unsigned long long)sysconf(_SC_CLK_TCK));
		if (st != NULL)
			fclose(st);
		if (u != NULL)
			fclose(u);
	}
	if ((f = fopen("/proc/self/statm", "r")) != NULL) {
		if (fscanf(f, "%ld %ld", &pages_virt, &pages_res) != 2)
			pages_virt = pages_res = 0;
		fclose(f);
	}
	if ((d = opendir("/proc/self/fd")) != NULL) {
		while ((e = readdir(d)) != NULL)
			fds += e->d_name[0] != '.';
		closedir(d);
		fds--; /* the directory's own descriptor */
	}
	getrusage(RUSAGE_SELF, &ru);
	getrlimit(RLIMIT_NOFILE, &rl);
	metric_f(b, "process_cpu_seconds_total", "counter",
	    "Total user and system CPU time spent in seconds.",
	    (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
		((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) /
		    1e6);
	metric_i(b, "process_resident_memory_bytes", "gauge",
	    "Resident memory size in bytes.", (long long)pages_res * psz);
	metric_i(b, "process_virtual_memory_bytes", "gauge",
	    "Virtual memory size in bytes.", (long long)pages_virt * psz);
	metric_i(b, "process_open_fds", "gauge",
	    "Number of open file descriptors.", fds);
	metric_i(b, "process_max_fds", "gauge",
	    "Maximum number of open file descriptors.",
	    rl.rlim_cur == RLIM_INFINITY ? -1 : (long long)rl.rlim_cur);
	metric_i(b, "process_start_time_seconds", "gauge",
	    "Start time of the process since unix epoch in seconds.",
	    (long long)start_s);
}

static void
write_build(struct evbuffer *b)
{
	family(b, "onecity_build_info", "gauge",
	    "The engine's version and "
	    "the libraries it runs on; always 1.");
	evbuffer_add_printf(b, "onecity_build_info{version=\"");
	label(b, ONECITY_VERSION);
	evbuffer_add_printf(b,
	    "\",sqlite=\"%s\",libevent=\"%s\","
	    "mbedtls=\"%s\"} 1\n",
	    sqlite3_libversion(), event_get_version(), MBEDTLS_VERSION_STRING);
}

/* Validators: connections, taps and their refusals by reason. */
static void
write_server(struct server *s, struct evbuffer *b)
{
	int r;

	metric_i(b, "onecity_connections", "gauge",
	    "Validator connections open now.", s->nconns);
	metric_i(b, "onecity_connections_max", "gauge",
	    "The connection limit (max_connections, or less where the "
	    "descriptor limit is short).",
	    s->max_conns);
	metric_i(b, "onecity_accepting", "gauge",
	    "1 while the engine accepts connections.", s->accepting);
	metric_i(b, "onecity_connections_accepted_total", "counter",
	    "Validator connections accepted.", (long long)s->n_accepted_conns);
	metric_i(b, "onecity_connections_closed_total", "counter",
	    "Validator connections closed.", (long long)s->n_closed_conns);
	metric_i(b, "onecity_taps_received_total", "counter",
	    "Tap frames received.", (long long)s->n_taps);
	metric_i(b, "onecity_taps_acked_total", "counter",
	    "Taps acknowledged (committed, or a stored tap resent).",
	    (long long)s->n_acked);
	family(b, "onecity_taps_refused_total", "counter",
	    "Taps refused, by reason (kept in v_refused_taps).");
	for (r = REFUSAL_NONE + 1; r < REFUSAL_MAX; r++)
		evbuffer_add_printf(b,
		    "onecity_taps_refused_total{reason=\"%s\"}"
		    " %llu\n",
		    refusal_name((enum refusal)r),
		    (unsigned long long)s->n_refused_by[r]);
	metric_i(b, "onecity_frames_broken_total", "counter",
	    "Broken frames (the connection was closed).",
	    (long long)s->n_broken);
	metric_i(b, "onecity_journal_queue_taps", "gauge",
	    "Taps queued for the writer.", (long long)writer_queued(s->writer));
}

/* The HTTP listener's own counters (http.c). */
static void
write_http(struct server *s, struct evbuffer *b)
{
	struct http_stats st;

	if (s->http == NULL)
		return;
	http_get_stats(s->http, &st);
	metric_i(b, "onecity_http_connections", "gauge",
	    "Open HTTP connections.", st.connections);
	metric_i(b, "onecity_http_requests_total", "counter",
	    "HTTP requests answered by a handler.", (long long)st.requests);
	metric_i(b, "onecity_http_refused_total", "counter",
	    "Requests the "
	    "HTTP listener refused itself (method, size, malformed, unknown "
	    "path).",
	    (long long)st.refused);
	family(b, "onecity_http_closed_total", "counter",
	    "HTTP connections "
	    "closed by the listener: timed out, or evicted at the cap.");
	evbuffer_add_printf(b,
	    "onecity_http_closed_total{why=\"timeout\"} "
	    "%llu\nonecity_http_closed_total{why=\"evicted\"} %llu\n",
	    (unsigned long long)st.timeouts, (unsigned long long)st.evicted);
	metric_i(b, "onecity_http_accept_errors_total", "counter",
	    "Accept errors of the HTTP listener (EMFILE and friends).",
	    (long long)st.accept_errors);
}

/* The writer thread: commits and their cost. */
static void
write_writer(struct server *s, struct evbuffer *b)
{
	struct writer_stats ws;
	char why[256];

	writer_get_stats(s->writer, &ws);
	metric_i(b, "onecity_journal_up", "gauge",
	    "1 while the journal "
	    "commits (0: taps are not acknowledged; see /healthz).",
	    writer_health(s->writer, why, sizeof why) == NULL);
	metric_i(b, "onecity_taps_committed_total", "counter",
	    "Taps committed to the journal.", (long long)ws.committed);
	family(b, "onecity_commit_seconds", "summary",
	    "Batch commit time (store, price, fsync).");
	evbuffer_add_printf(b,
	    "onecity_commit_seconds_count %llu\n"
	    "onecity_commit_seconds_sum %.6f\n",
	    (unsigned long long)ws.batches, (double)ws.commit_us / 1e6);
	metric_f(b, "onecity_commit_max_seconds", "gauge",
	    "The slowest batch commit since the start.",
	    (double)ws.commit_us_max / 1e6);
	family(b, "onecity_batch_seconds_total", "counter",
	    "Batch time by phase: storing the taps, pricing and posting their "
	    "accounts, and the COMMIT.");
	evbuffer_add_printf(b,
	    "onecity_batch_seconds_total{phase=\"store\"} "
	    "%.6f\nonecity_batch_seconds_total{phase=\"price\"} %.6f\n"
	    "onecity_batch_seconds_total{phase=\"commit\"} %.6f\n",
	    (double)ws.store_us / 1e6, (double)ws.price_us / 1e6,
	    (double)ws.sync_us / 1e6);
	metric_i(b, "onecity_rows_written_total", "counter",
	    "Database rows "
	    "the writer inserted, updated or deleted (taps, results, ledger).",
	    (long long)ws.rows_written);
	metric_i(b, "onecity_wal_pages_written_total", "counter",
	    "Database pages the commits of tap batches wrote to the WAL.",
	    (long long)ws.wal_pages);
	metric_i(b, "onecity_taps_read_total", "counter",
	    "Stored taps read "
	    "back to reprice accounts (SPEC 6: only their open window).",
	    (long long)ws.taps_read);
	family(b, "onecity_account_cache_total", "counter",
	    "The writer's "
	    "account cache: repricing reads it served, those read from "
	    "SQLite, evictions.");
	evbuffer_add_printf(b,
	    "onecity_account_cache_total{outcome=\"hit\"} %llu\n"
	    "onecity_account_cache_total{outcome=\"miss\"} %llu\n"
	    "onecity_account_cache_total{outcome=\"evicted\"} %llu\n",
	    (unsigned long long)ws.cache_hits,
	    (unsigned long long)ws.cache_misses,
	    (unsigned long long)ws.cache_evictions);
	metric_i(b, "onecity_account_cache_accounts", "gauge",
	    "Accounts whose open weeks the writer keeps in memory.",
	    (long long)ws.cache_accounts);
	metric_i(b, "onecity_account_cache_taps", "gauge",
	    "Taps held by the account cache.", (long long)ws.cache_taps);
}

/* The settlement thread's counters. */
static void
write_settle(struct server *s, struct evbuffer *b)
{
	struct settle_stats st;

	if (s->settle == NULL)
		return;
	settle_get_stats(s->settle, &st);
	family(b, "onecity_settlements_total", "counter",
	    "Acquirer outcomes of settlement requests.");
	evbuffer_add_printf(b,
	    "onecity_settlements_total{outcome=\"approved\"} %llu\n"
	    "onecity_settlements_total{outcome=\"declined\"} %llu\n"
	    "onecity_settlements_total{outcome=\"recovered\"} %llu\n"
	    "onecity_settlements_total{outcome=\"unanswered\"} %llu\n",
	    (unsigned long long)st.approved, (unsigned long long)st.declined,
	    (unsigned long long)st.recovered, (unsigned long long)st.failures);
	family(b, "onecity_settled_cents_total", "counter",
	    "Money moved through the acquirer, in euro cents.");
	evbuffer_add_printf(b,
	    "onecity_settled_cents_total{kind=\"captured\"} %lld\n"
	    "onecity_settled_cents_total{kind=\"refunded\"} %lld\n",
	    (long long)st.captured_cents, (long long)st.refunded_cents);
	metric_i(b, "onecity_settlement_passes_total", "counter",
	    "Settlement passes run.", (long long)st.passes);
	metric_i(b, "onecity_acquirer_up", "gauge",
	    "1 when the acquirer answered the last request.", st.acquirer_ok);
}

static void
write_crl(struct server *s, struct evbuffer *b, int64_t now)
{
	int64_t next = tls_ctx_crl_next_update(s->tls);

	if (next == 0)
		return;
	metric_i(b, "onecity_crl_next_update_timestamp_seconds", "gauge",
	    "The loaded CRL's nextUpdate (renew it before: fare-engine certs "
	    "crl).",
	    (long long)next);
	metric_i(b, "onecity_crl_expiry_seconds", "gauge",
	    "Seconds until "
	    "the loaded CRL's nextUpdate (negative: expired).",
	    (long long)(next - now));
}

/* What the refresh thread read: per network, per validator, money owed. */
static void
write_snapshot(const struct msnap *n, struct evbuffer *b)
{
	size_t i;

	metric_i(b, "onecity_service_day_start_timestamp_seconds", "gauge",
	    "Start of the current service day (the tariff's timezone and "
	    "service_day_start).",
	    (long long)n->day_start);
	family(b, "onecity_service_day_taps", "gauge",
	    "Taps stored for the current service day, by network.");
	for (i = 0; i < n->nnet; i++) {
		evbuffer_add_printf(b, "onecity_service_day_taps{network=\"");
		label(b, n->net[i].id);
		evbuffer_add_printf(b, "\"} %lld\n", (long long)n->net[i].taps);
	}
	family(b, "onecity_service_day_revenue_cents", "gauge",
	    "Revenue of the current service day so far (provisional), by "
	    "network, in euro cents.");
	for (i = 0; i < n->nnet; i++) {
		evbuffer_add_printf(
		    b, "onecity_service_day_revenue_cents{network=\"");
		label(b, n->net[i].id);
		evbuffer_add_printf(
		    b, "\"} %lld\n", (long long)n->net[i].revenue_cents);
	}
	family(b, "onecity_validator_last_seen_timestamp_seconds", "gauge",
	    "When the engine last received a tap from each validator.");
	for (i = 0; i < n->ndev; i++) {
		evbuffer_add_printf(b,
		    "onecity_validator_last_seen_timestamp_seconds{device=\"");
		label(b, n->dev[i].id);
		evbuffer_add_printf(
		    b, "\"} %lld\n", (long long)n->dev[i].last_seen_utc);
	}
	metric_i(b, "onecity_validators_unlisted", "gauge",
	    "Validators beyond the listing limit (counted, not listed).",
	    (long long)n->dev_unlisted);
	metric_i(b, "onecity_settlement_backlog_account_days", "gauge",
	    "Closed account-days not yet settled (no open debt).",
	    (long long)n->backlog_n);
	metric_i(b, "onecity_settlement_backlog_cents", "gauge",
	    "What those account-days still have to collect, in euro cents.",
	    (long long)n->backlog_cents);
	metric_i(b, "onecity_settlement_pending_requests", "gauge",
	    "Requests sent to the acquirer and not yet answered.",
	    (long long)n->pending_n);
	metric_i(b, "onecity_settlement_pending_cents", "gauge",
	    "Their amounts, in euro cents.", (long long)n->pending_cents);
	metric_i(b, "onecity_refunds_pending_over_1d", "gauge",
	    "Refunds pending for more than a day.",
	    (long long)n->refunds_old_n);
	metric_i(b, "onecity_refunds_pending_over_1d_cents", "gauge",
	    "Their amounts, in euro cents.", (long long)n->refunds_old_cents);
	metric_i(b, "onecity_debts_open", "gauge",
	    "Declined charges still owed (open debts).", (long long)n->debts_n);
	metric_i(b, "onecity_debts_open_cents", "gauge",
	    "What they owe, in euro cents.", (long long)n->debts_cents);
	metric_f(b, "onecity_metrics_refresh_seconds", "gauge",
	    "How long the last refresh from the database took.", n->took_s);
	metric_i(b, "onecity_metrics_refresh_timestamp_seconds", "gauge",
	    "When the database figures above were read (engine clock).",
	    (long long)n->at_utc);
}

void
metrics_write(struct server *s, struct evbuffer *b)
{
	struct metrics *m = s->metrics;
	uint64_t errors = 0;
	int interval = 0;

	write_build(b);
	write_process(b);
	write_server(s, b);
	write_writer(s, b);
	write_settle(s, b);
	write_http(s, b);
	write_crl(s, b, writer_now(s->writer));
	if (m == NULL)
		return;
	pthread_mutex_lock(&m->mu);
	if (m->snap != NULL)
		write_snapshot(m->snap, b);
	errors = m->errors;
	interval = m->interval_s;
	pthread_mutex_unlock(&m->mu);
	metric_i(b, "onecity_metrics_refresh_interval_seconds", "gauge",
	    "Seconds between refreshes: metrics_refresh_s, or more where a "
	    "refresh is slow.",
	    interval);
	metric_i(b, "onecity_metrics_refresh_errors_total", "counter",
	    "Refreshes from the database that failed (see the log).",
	    (long long)errors);
}
