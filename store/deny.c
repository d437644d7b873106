/* Deny-list storage and change feed (see deny.h). */
#include <stdio.h>
#include <string.h>

#include "deny.h"
#include "store.h"
#include "tap.h"

static const char schema[] =
"CREATE TABLE IF NOT EXISTS deny (account TEXT PRIMARY KEY,"
"  since_utc INTEGER NOT NULL, reason TEXT NOT NULL) WITHOUT ROWID;"
"CREATE TABLE IF NOT EXISTS deny_log (id INTEGER PRIMARY KEY,"
"  account TEXT NOT NULL, action TEXT NOT NULL, at_utc INTEGER NOT NULL);"
"CREATE VIEW IF NOT EXISTS v_deny_list AS SELECT account,"
"  strftime('%Y-%m-%dT%H:%M:%SZ', since_utc, 'unixepoch') AS since_utc,"
"  reason FROM deny;";

/*
 * The history of the list for auditors: every change, when, and why
 * (deny_log.reason came later: older databases gain it as they open, and
 * their earlier rows read NULL).
 */
static const char log_view[] =
"DROP VIEW IF EXISTS v_deny_log;"
"CREATE VIEW v_deny_log AS SELECT id,"
"  strftime('%Y-%m-%dT%H:%M:%SZ', at_utc, 'unixepoch') AS at_utc, account,"
"  CASE action WHEN '+' THEN 'added' ELSE 'lifted' END AS action, reason"
"  FROM deny_log;";

int
deny_schema(sqlite3 *db, char *err, size_t errlen)
{
	sqlite3_stmt *s;
	int has;

	if (store_schema(db, schema, "deny list", err, errlen) == -1)
		return -1;
	if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info("
	    "'deny_log') WHERE name = 'reason'", -1, &s, NULL) != SQLITE_OK)
		goto fail;
	has = sqlite3_step(s) == SQLITE_ROW;
	sqlite3_finalize(s);
	if (!has && sqlite3_exec(db, "ALTER TABLE deny_log ADD COLUMN reason "
	    "TEXT", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	return store_schema(db, log_view, "deny log", err, errlen);
fail:
	snprintf(err, errlen, "deny log: %s", sqlite3_errmsg(db));
	return -1;
}

int
deny_set_in(sqlite3 *db, const char *account, int on, const char *reason,
    int64_t now)
{
	sqlite3_stmt *s = NULL;
	struct account_key key;
	char acc[ACCOUNT_TEXT_MAX], why[256];
	int rc = -1;

	/* Only an account enters the list (and goes out in D frames),
	 * spelt one way; a reason never carries a PAN or an escape. */
	if (account_parse(&key, account) == -1)
		return -1;
	account_format(&key, acc, sizeof acc);
	account = acc;
	store_clean_text(reason != NULL ? reason : "", why, sizeof why);
	reason = why;
	if (sqlite3_prepare_v2(db, on ? "INSERT INTO deny VALUES (?1, ?2, ?3) "
	    "ON CONFLICT(account) DO UPDATE SET reason = excluded.reason" :
	    "DELETE FROM deny WHERE account = ?1", -1, &s, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_text(s, 1, account, -1, SQLITE_STATIC);
	if (on) {
		sqlite3_bind_int64(s, 2, now);
		sqlite3_bind_text(s, 3, reason, -1, SQLITE_STATIC);
	}
	if (sqlite3_step(s) != SQLITE_DONE)
		goto out;
	sqlite3_finalize(s);
	s = NULL;
	if (sqlite3_prepare_v2(db, "INSERT INTO deny_log (account, action, "
	    "at_utc, reason) VALUES (?, ?, ?, nullif(?, ''))", -1, &s, NULL) !=
	    SQLITE_OK)
		goto out;
	sqlite3_bind_text(s, 1, account, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, on ? "+" : "-", 1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, now);
	sqlite3_bind_text(s, 4, reason != NULL ? reason : "", -1,
	    SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_DONE)
		rc = 0;
out:
	sqlite3_finalize(s);
	return rc;
}

int
deny_set(sqlite3 *db, const char *account, int on, const char *reason,
    int64_t now)
{
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	if (deny_set_in(db, account, on, reason, now) == 0 &&
	    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
		return 0;
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

int
deny_each(sqlite3 *db, void (*fn)(const char *, int, void *), void *arg)
{
	sqlite3_stmt *s;

	if (sqlite3_prepare_v2(db, "SELECT account FROM deny ORDER BY account",
	    -1, &s, NULL) != SQLITE_OK)
		return -1;
	while (sqlite3_step(s) == SQLITE_ROW)
		fn((const char *)sqlite3_column_text(s, 0), 1, arg);
	sqlite3_finalize(s);
	return 0;
}

int
deny_changes(sqlite3 *db, int64_t *last, void (*fn)(const char *, int,
    void *), void *arg)
{
	sqlite3_stmt *s;

	if (sqlite3_prepare_v2(db, "SELECT id, account, action FROM deny_log "
	    "WHERE id > ? ORDER BY id LIMIT 10000", -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(s, 1, *last);
	while (sqlite3_step(s) == SQLITE_ROW) {
		*last = sqlite3_column_int64(s, 0);
		fn((const char *)sqlite3_column_text(s, 1),
		    strcmp((const char *)sqlite3_column_text(s, 2), "+") == 0,
		    arg);
	}
	sqlite3_finalize(s);
	return 0;
}

int
deny_declined(sqlite3 *db, const char *account)
{
	sqlite3_stmt *s;
	int64_t n = 0;

	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM deny WHERE account = "
	    "? AND reason LIKE 'declined%'", -1, &s, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(s, 1, account, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return n > 0;
}
