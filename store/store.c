/* Helpers shared by the store modules (see store.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/platform_util.h>

#include "parse.h"
#include "store.h"
#include "tap.h"

/*
 * All of a schema or none: its statements in one savepoint.  Run one by
 * one, a failure after a DROP VIEW (a full disk at start, a kill -9) left
 * the database without that view until the next start.
 */
int
store_schema(sqlite3 *db, const char *schema, const char *what, char *err,
    size_t errlen)
{
	if (sqlite3_exec(db, "SAVEPOINT store_schema", NULL, NULL, NULL) ==
	    SQLITE_OK && sqlite3_exec(db, schema, NULL, NULL, NULL) ==
	    SQLITE_OK && sqlite3_exec(db, "RELEASE store_schema", NULL, NULL,
	    NULL) == SQLITE_OK)
		return 0;
	snprintf(err, errlen, "%s: %s", what, sqlite3_errmsg(db));
	/* (A full disk may have rolled back the whole transaction: then
	 * there is no savepoint left, and nothing to undo.) */
	if (!sqlite3_get_autocommit(db)) {
		sqlite3_exec(db, "ROLLBACK TO store_schema", NULL, NULL, NULL);
		sqlite3_exec(db, "RELEASE store_schema", NULL, NULL, NULL);
	}
	return -1;
}

int
store_prep(sqlite3 *db, sqlite3_stmt **st, const char *sql)
{
	return sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st,
	    NULL);
}

sqlite3 *
store_open_ro(const char *path)
{
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		fprintf(stderr, "fare-engine: %s: %s\n", path,
		    db ? sqlite3_errmsg(db) : "cannot open");
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 5000);
	return db;
}

int
store_step_done(sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

void
store_clean_text(const char *in, char *out, size_t len)
{
	utf8_printable(in, out, len);
	tap_mask_pans(out);
}

/*
 * SQLite's allocator, wiping each block when it is freed: a 16-byte
 * header (malloc's alignment) in front holds the block's size.  Realloc
 * never grows in place: the old block is copied, wiped and freed.
 */
#define WIPE_HDR	16

static void *
wipe_malloc(int n)
{
	unsigned char *p;
	int64_t size = n;

	if (n <= 0 || (p = malloc((size_t)n + WIPE_HDR)) == NULL)
		return NULL;
	memcpy(p, &size, sizeof size);
	return p + WIPE_HDR;
}

static int
wipe_size(void *q)
{
	int64_t size;

	if (q == NULL)
		return 0;
	memcpy(&size, (unsigned char *)q - WIPE_HDR, sizeof size);
	return (int)size;
}

static void
wipe_free(void *q)
{
	if (q == NULL)
		return;
	mbedtls_platform_zeroize(q, (size_t)wipe_size(q));
	free((unsigned char *)q - WIPE_HDR);
}

static void *
wipe_realloc(void *q, int n)
{
	void *r;
	int old = wipe_size(q);

	if (q == NULL)
		return wipe_malloc(n);
	if ((r = wipe_malloc(n)) == NULL)
		return NULL;
	memcpy(r, q, (size_t)(old < n ? old : n));
	wipe_free(q);
	return r;
}

static int
wipe_roundup(int n)
{
	return n > INT32_MAX - 15 ? n : (n + 15) & ~15;
}

static int
wipe_init(void *arg)
{
	(void)arg;
	return SQLITE_OK;
}

static void
wipe_shutdown(void *arg)
{
	(void)arg;
}

int
store_wipe_freed_memory(void)
{
	static const sqlite3_mem_methods m = {wipe_malloc, wipe_free,
	    wipe_realloc, wipe_size, wipe_roundup, wipe_init, wipe_shutdown,
	    NULL};

	return sqlite3_config(SQLITE_CONFIG_MALLOC, &m) == SQLITE_OK ? 0 : -1;
}
