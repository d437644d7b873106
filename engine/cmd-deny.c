/*
 * fare-engine deny add DB ACCOUNT REASON | deny remove DB ACCOUNT: an
 * operator's change to the deny list; a running engine pushes it to every
 * validator within a second.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "cmd.h"
#include "tap.h"
#include "deny.h"

int
cmd_deny(int argc, char **argv)
{
	sqlite3 *db = NULL;
	int add = argc == 5 && strcmp(argv[1], "add") == 0;
	int rm = argc == 4 && strcmp(argv[1], "remove") == 0;
	struct account_key key;
	char err[256];
	int rc = 1;

	if (!add && !rm) {
		fprintf(stderr, "usage: fare-engine deny add DB ACCOUNT REASON\n"
		    "       fare-engine deny remove DB ACCOUNT\n");
		return 2;
	}
	if (account_parse(&key, argv[3]) == -1) {
		fprintf(stderr, "fare-engine: an account is par:<PAR> (29 "
		    "letters and digits) or tok:<token> (32 lowercase hex)\n");
		return 2;
	}
	if (sqlite3_open_v2(argv[2], &db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		fprintf(stderr, "fare-engine: %s: %s\n", argv[2],
		    db ? sqlite3_errmsg(db) : "cannot open");
		goto out;
	}
	sqlite3_busy_timeout(db, 5000);
	/* A database the engine has not opened since deny_log.reason. */
	if (deny_schema(db, err, sizeof err) != 0) {
		fprintf(stderr, "fare-engine: %s: %s\n", argv[2], err);
		goto out;
	}
	if (deny_set(db, argv[3], add, add ? argv[4] : "removed by an "
	    "operator (fare-engine deny remove)", (int64_t)time(NULL)) != 0) {
		fprintf(stderr, "fare-engine: %s: %s\n", argv[2],
		    sqlite3_errmsg(db));
		goto out;
	}
	printf("%s %s the deny list\n", argv[3], add ? "added to" :
	    "removed from");
	rc = 0;
out:
	sqlite3_close(db);
	return rc;
}
