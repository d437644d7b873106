/*
 * fare-engine audit verify DB: proves the ledger is sound (every
 * transaction sums to 0, the hash chain is intact, nothing removed or
 * reordered, postings equal charges and shares).  Exit 0 or 1.
 */
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "cmd.h"
#include "ledger.h"

int
cmd_audit(int argc, char **argv)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s;
	size_t bad;
	long long entries = 0, txns = 0;

	if (argc != 3 || strcmp(argv[1], "verify") != 0) {
		fprintf(stderr, "usage: fare-engine audit verify DB\n");
		return 2;
	}
	if (sqlite3_open_v2(argv[2], &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		fprintf(stderr, "fare-engine: %s: %s\n", argv[2],
		    db ? sqlite3_errmsg(db) : "cannot open");
		sqlite3_close(db);
		return 1;
	}
	bad = ledger_verify(db, stdout);
	if (sqlite3_prepare_v2(db, "SELECT count(*), count(DISTINCT txn_id) "
	    "FROM ledger", -1, &s, NULL) == SQLITE_OK) {
		if (sqlite3_step(s) == SQLITE_ROW) {
			entries = sqlite3_column_int64(s, 0);
			txns = sqlite3_column_int64(s, 1);
		}
		sqlite3_finalize(s);
	}
	sqlite3_close(db);
	if (bad > 0) {
		printf("%s: ledger NOT sound: %zu problem%s\n", argv[2], bad,
		    bad == 1 ? "" : "s");
		return 1;
	}
	printf("%s: ledger sound: %lld entries in %lld balanced transactions, "
	    "hash chain intact, postings equal charges and revenue\n",
	    argv[2], entries, txns);
	return 0;
}
