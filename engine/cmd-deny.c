/*
 * fare-engine deny add DB ACCOUNT REASON | deny remove DB ACCOUNT: an
 * operator's change to the deny list; a running engine pushes it to every
 * validator within a second.
 */
#include <stdio.h>
#include <time.h>

#include <sqlite3.h>

#include "cmd.h"
#include "deny.h"
#include "opt.h"
#include "tap.h"

/* Adds (add = 1) or lifts the entry of argv[0]'s account; an exit status. */
static int
deny_change(const struct opt_cmd *cmd, int add, char **argv)
{
	const char *path = argv[0], *account = argv[1];
	struct account_key key;
	sqlite3 *db = NULL;
	char err[256];
	int rc = 1;

	if (account_parse(&key, account) == -1)
		return opt_fail(cmd, "'%s': an account is par:<PAR> (29 letters "
		    "and digits) or tok:<token> (32 lowercase hex)", account);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		fprintf(stderr, "fare-engine: %s: %s\n", path,
		    db ? sqlite3_errmsg(db) : "cannot open");
		goto out;
	}
	sqlite3_busy_timeout(db, 5000);
	/* A database the engine has not opened since deny_log.reason. */
	if (deny_schema(db, err, sizeof err) != 0) {
		fprintf(stderr, "fare-engine: %s: %s\n", path, err);
		goto out;
	}
	if (deny_set(db, account, add, add ? argv[2] : "removed by an "
	    "operator (fare-engine deny remove)", (int64_t)time(NULL)) != 0) {
		fprintf(stderr, "fare-engine: %s: %s\n", path,
		    sqlite3_errmsg(db));
		goto out;
	}
	printf("%s %s the deny list\n", account, add ? "added to" :
	    "removed from");
	rc = 0;
out:
	sqlite3_close(db);
	return rc;
}

int
cmd_deny_add(int argc, char **argv)
{
	static const struct opt_cmd cmd = {"fare-engine deny add",
	    "DB ACCOUNT REASON", 3, 3, "Puts ACCOUNT (par:<PAR> or "
	    "tok:<token>) on the deny list of database DB;\na running engine "
	    "pushes the change to every validator within a second."};
	const struct opt o[] = {{.name = NULL}};
	int first, rc;

	if ((rc = opt_parse(&cmd, o, argc, argv, &first)) != OPT_RUN)
		return rc;
	return deny_change(&cmd, 1, argv + first);
}

int
cmd_deny_remove(int argc, char **argv)
{
	static const struct opt_cmd cmd = {"fare-engine deny remove",
	    "DB ACCOUNT", 2, 2, "Lifts ACCOUNT's deny entry in database DB."};
	const struct opt o[] = {{.name = NULL}};
	int first, rc;

	if ((rc = opt_parse(&cmd, o, argc, argv, &first)) != OPT_RUN)
		return rc;
	return deny_change(&cmd, 0, argv + first);
}
