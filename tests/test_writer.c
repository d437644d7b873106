/*
 * The writer in-process (engine/writer.c) against price_account: commuters'
 * taps submitted one batch at a time, a week of one rider after another
 * with some taps held back and sent weeks late; after every batch the
 * rider's stored days equal price_account over all its taps so far (SPEC
 * §6), whether the account cache holds every account, a few (evicting and
 * reading back all through the run) or none.
 */
#include <event2/event.h>
#include <event2/thread.h>
#include <sqlite3.h>

#include "testutil.h"
#include "account-cache.h"
#include "limits.h"
#include "parse.h"
#include "writer.h"

#define RIDERS	6
#define DAYS	28
#define TAPS	(RIDERS * DAYS * 4)
#define DAY	86400
#define MON	((int64_t)20783 * DAY)	/* Monday 2026-11-23 */

struct run {
	struct event_base	*base;
	int			 done;
	enum refusal		 refused;
	uint64_t		 conn_id[16];	/* the first results' */
};

struct wtap {
	struct jtap	 j;
	int		 rider;
	int		 sent;
};

static void
done_cb(const struct jresult *r, size_t n, void *arg)
{
	struct run *run = arg;
	size_t i;

	for (i = 0; i < n; i++) {
		if (run->done < 16)
			run->conn_id[run->done] = r[i].conn_id;
		run->done++;
		run->refused = r[i].refused;
	}
}

/* A commuter's day: out at 07:00-ish UTC, back in the afternoon; each
 * rider a few minutes apart, between two of four NS stations. */
static void
make_taps(struct wtap *w)
{
	static const char *const st[] = {"ut", "asd", "alm", "dvd"};
	int r, d, k, n = 0;

	for (r = 0; r < RIDERS; r++)
		for (d = 0; d < DAYS; d++)
			for (k = 0; k < 4; k++, n++) {
				struct jtap *j = &w[n].j;
				int64_t t = MON - 7 * DAY + (int64_t)d * DAY +
				    (k < 2 ? 7 * 3600 : 16 * 3600) +
				    (k % 2) * 1800 + r * 60;
				memset(j, 0, sizeof *j);
				snprintf(j->tap_id, sizeof j->tap_id, "w-%d", n);
				snprintf(j->device_id, sizeof j->device_id,
				    "dev-%d", r);
				snprintf(j->token, sizeof j->token, "%032x",
				    0xabc00 + r);
				snprintf(j->network_id, sizeof j->network_id,
				    "NS");
				snprintf(j->stop_id, sizeof j->stop_id, "%s",
				    st[(r + (k == 1 || k == 2)) % 4]);
				j->time_utc = j->received_utc = t;
				j->kind = (uint8_t)(k % 2);
				j->seq = (uint64_t)n;
				w[n].rider = r;
				w[n].sent = 0;
			}
}

/* The arrival order: each week of each rider in turn, one tap in seven
 * held back until two to five weeks' worth of other taps later. */
static void
make_order(int *order)
{
	int held[TAPS], nheld = 0, n = 0, week, r, d, k, i;
	unsigned seed = 7;

	for (week = 0; week < DAYS / 7; week++)
		for (r = 0; r < RIDERS; r++) {
			for (d = week * 7; d < week * 7 + 7; d++)
				for (k = 0; k < 4; k++) {
					int tap = (r * DAYS + d) * 4 + k;
					seed = seed * 1103515245u + 12345u;
					if (seed >> 16 & 1 && (seed >> 17) % 7 == 0)
						held[nheld++] = tap;
					else
						order[n++] = tap;
				}
			/* Release the oldest held tap now and then. */
			for (i = 0; i < nheld && (week + r) % 3 == 0; i++) {
				order[n++] = held[i];
				memmove(&held[i], &held[i + 1],
				    (size_t)(nheld - i - 1) * sizeof *held);
				nheld--;
				break;
			}
		}
	for (i = 0; i < nheld; i++)
		order[n++] = held[i];
	assert_int_equal(n, TAPS);
}

/* The rider's stored days equal price_account over its taps sent. */
static void
check_rider(sqlite3 *db, const struct tariff *t, struct wtap *w, int rider,
    int64_t now)
{
	struct price_tap pt[DAYS * 4];
	struct price_result pr;
	sqlite3_stmt *s;
	char account[80];
	size_t n = 0, d = 0;
	int i;

	for (i = 0; i < TAPS; i++)
		if (w[i].rider == rider && w[i].sent) {
			pt[n].time = w[i].j.time_utc;
			pt[n].network = tariff_network(t, "NS", 2);
			pt[n].stop = tariff_stop(t, w[i].j.stop_id,
			    strlen(w[i].j.stop_id));
			pt[n].kind = w[i].j.kind ? PRICE_OUT : PRICE_IN;
			n++;
		}
	price_result_init(&pr);
	assert_int_equal(price_account(t, pt, n, now, &pr), 0);
	snprintf(account, sizeof account, "tok:%032x", 0xabc00 + rider);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT service_day, "
	    "charge_cents, uncapped_cents, (SELECT count(*) FROM legs l "
	    "WHERE l.account = c.account AND l.service_day = c.service_day) "
	    "FROM charges c WHERE account = ? ORDER BY service_day", -1, &s,
	    NULL), SQLITE_OK);
	sqlite3_bind_text(s, 1, account, -1, SQLITE_STATIC);
	while (sqlite3_step(s) == SQLITE_ROW) {
		char day[11];
		assert_true(d < pr.ndays);
		civil_format_day(pr.day[d].service_day, day);
		assert_string_equal((const char *)sqlite3_column_text(s, 0),
		    day);
		assert_int_equal(sqlite3_column_int64(s, 1),
		    pr.day[d].charge_cents);
		assert_int_equal(sqlite3_column_int64(s, 2),
		    pr.day[d].uncapped_cents);
		assert_int_equal(sqlite3_column_int64(s, 3), pr.day[d].nlegs);
		d++;
	}
	assert_int_equal(d, pr.ndays);
	sqlite3_finalize(s);
	price_result_free(&pr);
}

/* Every posted day's postings sum to its charge, and days closed at
 * the engine clock are posted (SPEC §6). */
static void
check_postings(sqlite3 *db)
{
	sqlite3_stmt *s;

	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*), "
	    "sum(c.posted), sum(c.posted AND c.charge_cents = coalesce(("
	    "SELECT sum(amount_cents) FROM ledger l WHERE l.rider_account = "
	    "c.account AND l.service_day = c.service_day AND "
	    "l.ledger_account = 'rider:' || c.account), 0)) FROM charges c "
	    "WHERE c.service_day < '2026-12-14'", -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_true(sqlite3_column_int(s, 0) > 100);
	assert_int_equal(sqlite3_column_int(s, 1), sqlite3_column_int(s, 0));
	assert_int_equal(sqlite3_column_int(s, 2), sqlite3_column_int(s, 0));
	sqlite3_finalize(s);
}

/* Sends every tap, one batch each, checking its rider after each. */
static void
run_writer(size_t cache, struct writer_stats *st)
{
	static struct wtap w[TAPS];
	static int order[TAPS];
	char dir[] = "/tmp/test_writer.XXXXXX", path[64], err[256];
	struct run run = {0};
	struct tariff *t = tu_load(TU_NL), *tw = tu_load(TU_NL);
	/* The engine clock: two days after the last tap (every leg closed,
	 * every day but the last two closed and posted). */
	int64_t now = MON + (DAYS - 5) * (int64_t)DAY;
	struct writer_opts o = {path, 0, now - (int64_t)time(NULL), 3600,
	    3 * 3600, cache, NULL, NULL};
	struct tariff_files *files = tariff_files_read(TU_NL, err,
	    sizeof err);
	struct writer *wr;
	sqlite3 *db;
	int i, k;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/engine.db", dir);
	make_taps(w);
	make_order(order);
	run.base = event_base_new();
	assert_non_null(files);
	wr = writer_open(&o, tw, files, run.base, done_cb, &run, err,
	    sizeof err);
	assert_non_null(wr);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	for (i = 0; i < TAPS; i++) {
		struct wtap *x = &w[order[i]];
		int want = run.done + 1;
		assert_int_equal(writer_submit(wr, &x->j), 0);
		for (k = 0; run.done < want && k < 100000; k++)
			event_base_loop(run.base, EVLOOP_ONCE |
			    EVLOOP_NO_EXIT_ON_EMPTY);
		assert_int_equal(run.done, want);
		assert_int_equal(run.refused, REFUSAL_NONE);
		x->sent = 1;
		check_rider(db, t, w, x->rider, writer_now(wr));
	}
	writer_get_stats(wr, st);
	check_postings(db);
	sqlite3_close(db);
	writer_close(wr);
	tariff_free(t);
	event_base_free(run.base);
	snprintf(path, sizeof path, "rm -rf %s", dir);
	assert_int_equal(system(path), 0);
}

/* A cache of every account: most batches read nothing back. */
/*
 * A batch that cannot commit (another connection holds the write lock)
 * while the writer stops: each tap's result is REFUSAL_NOT_COMMITTED
 * under its own conn_id, never the previous batch's (the worker naks and
 * frees the message in the slot the conn_id names: a stale one is
 * another tap's message).
 */
static void
test_writer_not_committed_names_its_taps(void **state)
{
	static struct wtap w[TAPS];
	char dir[] = "/tmp/test_writer.XXXXXX", path[64], err[256];
	struct run run = {0};
	struct tariff *tw = tu_load(TU_NL);
	struct writer_opts o = {path, 0, 0, 3600, 3 * 3600, 0, NULL, NULL};
	struct tariff_files *files = tariff_files_read(TU_NL, err,
	    sizeof err);
	struct writer *wr;
	sqlite3 *db;
	int i, k;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/engine.db", dir);
	make_taps(w);
	run.base = event_base_new();
	assert_non_null(files);
	wr = writer_open(&o, tw, files, run.base, done_cb, &run, err,
	    sizeof err);
	assert_non_null(wr);
	/* Taps 0-2 as conn_ids 1-3: committed. */
	for (i = 0; i < 3; i++) {
		w[i].j.conn_id = (uint64_t)(1 + i);
		assert_int_equal(writer_submit(wr, &w[i].j), 0);
	}
	for (k = 0; run.done < 3 && k < 100000; k++)
		event_base_loop(run.base, EVLOOP_ONCE |
		    EVLOOP_NO_EXIT_ON_EMPTY);
	assert_int_equal(run.done, 3);
	assert_int_equal(run.refused, REFUSAL_NONE);
	/* Taps 3-5 as conn_ids 11-13, the database locked: not committed
	 * (after the writer's busy timeout), and the writer stops. */
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL,
	    NULL), SQLITE_OK);
	for (i = 3; i < 6; i++) {
		w[i].j.conn_id = (uint64_t)(8 + i);
		assert_int_equal(writer_submit(wr, &w[i].j), 0);
	}
	writer_close(wr);	/* delivers the last results */
	assert_int_equal(run.done, 6);
	assert_int_equal(run.refused, REFUSAL_NOT_COMMITTED);
	for (i = 3; i < 6; i++)
		assert_int_equal(run.conn_id[i], 8 + i);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(db);
	event_base_free(run.base);
	snprintf(path, sizeof path, "rm -rf %s", dir);
	assert_int_equal(system(path), 0);
}

static void
test_writer_cache_all_accounts_exact(void **state)
{
	struct writer_stats st;

	(void)state;
	run_writer(ACCOUNT_CACHE_ACCOUNTS, &st);
	assert_true(st.cache_hits > st.cache_misses * 4);
	assert_int_equal(st.cache_evictions, 0);
}

/* Two accounts' room for six riders: evicted and read back, still exact. */
static void
test_writer_cache_evicting_exact(void **state)
{
	struct writer_stats st;

	(void)state;
	run_writer(2, &st);
	assert_true(st.cache_evictions > 10);
	assert_true(st.cache_hits > 0);
	assert_true(st.cache_accounts <= 2);
}

/* No cache: every batch reads its accounts back. */
static void
test_writer_no_cache_exact(void **state)
{
	struct writer_stats st;

	(void)state;
	run_writer(0, &st);
	assert_int_equal(st.cache_hits, 0);
	assert_int_equal(st.cache_accounts, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_writer_not_committed_names_its_taps),
		cmocka_unit_test(test_writer_cache_all_accounts_exact),
		cmocka_unit_test(test_writer_cache_evicting_exact),
		cmocka_unit_test(test_writer_no_cache_exact),
	};

	evthread_use_pthreads();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
