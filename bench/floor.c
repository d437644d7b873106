/*
 * bench/floor: the physical floor for the engine's journal on this disk.
 * Inserts N rows shaped like the engine's `taps` rows (same table, same
 * index, same key shape) in transactions of 1,000 rows, with the engine's
 * durability settings (WAL, synchronous=FULL), and prints rows per second.
 * Nothing else: no TLS, no parsing, no pricing, no ledger.
 *
 *   floor DB [N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "clock.h"
#include "rng.h"

static double
now_s(void)
{
	return (double)clock_mono_us() / 1e6;
}

int
main(int argc, char **argv)
{
	sqlite3 *db;
	sqlite3_stmt *ins;
	long n = argc > 2 ? strtol(argv[2], NULL, 10) : 500000, i;
	uint64_t r = 7;
	double t0, dt;

	if (argc < 2 || n < 1000) {
		fprintf(stderr, "usage: floor DB [ROWS >= 1000]\n");
		return 2;
	}
	remove(argv[1]);
	if (sqlite3_open(argv[1], &db) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
	    "CREATE TABLE taps (tap_id TEXT PRIMARY KEY, device_id TEXT NOT "
	    "NULL, seq INTEGER NOT NULL, time_utc INTEGER NOT NULL, token TEXT "
	    "NOT NULL, par TEXT, network_id TEXT NOT NULL, stop_id TEXT NOT "
	    "NULL, kind TEXT NOT NULL, received_utc INTEGER NOT NULL) WITHOUT "
	    "ROWID; CREATE INDEX taps_token ON taps(token, time_utc);", NULL,
	    NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO taps VALUES "
	    "(?,?,?,?,?,?,?,?,?,?)", -1, &ins, NULL) != SQLITE_OK) {
		fprintf(stderr, "floor: %s\n", sqlite3_errmsg(db));
		return 1;
	}
	t0 = now_s();
	for (i = 0; i < n; i++) {
		char id[48], dev[16], tok[33];
		uint64_t card = rng_next(&r) % 100000;
		if (i % 1000 == 0)
			sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
		snprintf(dev, sizeof dev, "load-%ld", i % 50);
		snprintf(id, sizeof id, "%s:%ld", dev, 1000000000L + i / 50);
		snprintf(tok, sizeof tok, "%016llx%016llx",
		    (unsigned long long)(card * 0x9e3779b97f4a7c15ULL),
		    (unsigned long long)card);
		sqlite3_bind_text(ins, 1, id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(ins, 2, dev, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(ins, 3, 1000000000L + i / 50);
		sqlite3_bind_int64(ins, 4, 1796000000L + i / 100);
		sqlite3_bind_text(ins, 5, tok, -1, SQLITE_TRANSIENT);
		sqlite3_bind_null(ins, 6);
		sqlite3_bind_text(ins, 7, "GVB", -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 8, "gvb-dam", -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 9, i % 2 ? "out" : "in", -1,
		    SQLITE_STATIC);
		sqlite3_bind_int64(ins, 10, 1796000000L + i / 100);
		if (sqlite3_step(ins) != SQLITE_DONE) {
			fprintf(stderr, "floor: %s\n", sqlite3_errmsg(db));
			return 1;
		}
		sqlite3_reset(ins);
		if (i % 1000 == 999 &&
		    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
			fprintf(stderr, "floor: %s\n", sqlite3_errmsg(db));
			return 1;
		}
	}
	if (n % 1000 != 0)
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	dt = now_s() - t0;
	printf("floor: %ld rows in %.3f s: %.0f rows/s (1,000-row "
	    "transactions, WAL, synchronous=FULL)\n", n, dt, (double)n / dt);
	sqlite3_finalize(ins);
	sqlite3_close(db);
	return 0;
}
