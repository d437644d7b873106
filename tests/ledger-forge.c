/*
 * ledger-forge: what an insider with write access to the database file
 * does after editing it with sqlite3 (tests/forgery.test.sh), so that
 * the tests show what catches such a forgery and what does not.
 *
 *   ledger-forge unlock DB    drops the append-only triggers;
 *   ledger-forge rechain DB   renumbers the entries (1, 2, ... in entry
 *                             order) and the transactions (in order of
 *                             their first entry), recomputes every
 *                             prev_hash and hash with the chain's public
 *                             rule (ledger_entry_hash), and puts the
 *                             triggers back: the file looks untouched.
 *
 * A test tool: it is never linked into the engine.
 */
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "ledger.h"

static int
exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return 0;
	fprintf(stderr, "ledger-forge: %s\n", msg ? msg : "?");
	sqlite3_free(msg);
	return -1;
}

/* Entry ids 1.. in order, then transaction ids 1.. in order. */
static int
renumber(sqlite3 *db)
{
	return exec(db, "CREATE TEMP TABLE e AS SELECT entry_id AS old, "
	    "row_number() OVER (ORDER BY entry_id) AS new FROM ledger;"
	    "UPDATE ledger SET entry_id = -(SELECT new FROM e WHERE old = "
	    "ledger.entry_id);"
	    "UPDATE ledger SET entry_id = -entry_id;"
	    "CREATE TEMP TABLE t AS SELECT txn_id AS old, row_number() OVER "
	    "(ORDER BY min(entry_id)) AS new FROM ledger GROUP BY txn_id;"
	    "UPDATE ledger SET txn_id = (SELECT new FROM t WHERE old = "
	    "ledger.txn_id);");
}

static int
rehash(sqlite3 *db)
{
	sqlite3_stmt *sel, *up;
	char prev[65] = "genesis", hash[65];
	int rc;

	if (sqlite3_prepare_v2(db, "SELECT entry_id, txn_id, posted_utc, "
	    "ledger_account, amount_cents, service_day, rider_account, reason "
	    "FROM ledger ORDER BY entry_id", -1, &sel, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "UPDATE ledger SET prev_hash = ?, hash = ? "
	    "WHERE entry_id = ?", -1, &up, NULL) != SQLITE_OK) {
		fprintf(stderr, "ledger-forge: %s\n", sqlite3_errmsg(db));
		return -1;
	}
	while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
		ledger_entry_hash(prev, sqlite3_column_int64(sel, 0),
		    sqlite3_column_int64(sel, 1), sqlite3_column_int64(sel, 2),
		    (const char *)sqlite3_column_text(sel, 3),
		    sqlite3_column_int64(sel, 4),
		    (const char *)sqlite3_column_text(sel, 5),
		    (const char *)sqlite3_column_text(sel, 6),
		    (const char *)sqlite3_column_text(sel, 7), hash);
		sqlite3_bind_text(up, 1, prev, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(up, 2, hash, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(up, 3, sqlite3_column_int64(sel, 0));
		if (sqlite3_step(up) != SQLITE_DONE)
			break;
		sqlite3_reset(up);
		memcpy(prev, hash, sizeof prev);
	}
	sqlite3_finalize(sel);
	sqlite3_finalize(up);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
main(int argc, char **argv)
{
	struct ledger *l;
	char err[256];
	sqlite3 *db;
	int rc = 1;

	if (argc != 3 || (strcmp(argv[1], "unlock") != 0 &&
	    strcmp(argv[1], "rechain") != 0)) {
		fprintf(stderr, "usage: ledger-forge unlock|rechain DB\n");
		return 2;
	}
	if (sqlite3_open_v2(argv[2], &db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		fprintf(stderr, "ledger-forge: %s: %s\n", argv[2],
		    sqlite3_errmsg(db));
		return 1;
	}
	if (exec(db, "BEGIN; DROP TRIGGER IF EXISTS ledger_no_update; "
	    "DROP TRIGGER IF EXISTS ledger_no_delete") == -1)
		goto out;
	if (strcmp(argv[1], "rechain") == 0) {
		if (renumber(db) == -1 || rehash(db) == -1)
			goto out;
		/* The triggers back, as ledger_open creates them. */
		if ((l = ledger_open(db, err, sizeof err)) == NULL) {
			fprintf(stderr, "ledger-forge: %s\n", err);
			goto out;
		}
		ledger_close(l);
	}
	rc = exec(db, "COMMIT") == 0 ? 0 : 1;
out:
	sqlite3_close(db);
	return rc;
}
