/* Cards moved to another shard (see moves.h). */
#include <stdio.h>
#include <string.h>

#include "moves.h"
#include "store.h"

static const char schema[] =
"CREATE TABLE IF NOT EXISTS moved_cards (token TEXT PRIMARY KEY,"
"  par TEXT NOT NULL, moved_utc INTEGER NOT NULL) WITHOUT ROWID;"
"CREATE VIEW IF NOT EXISTS v_moved_cards AS SELECT token, 'par:' || par"
"  AS account, strftime('%Y-%m-%dT%H:%M:%SZ', moved_utc, 'unixepoch')"
"  AS moved_utc FROM moved_cards;";

int
moves_schema(sqlite3 *db, char *err, size_t errlen)
{
	return store_schema(db, schema, "moved cards", err, errlen);
}

int
moves_forget_card(sqlite3 *db, const char *token, const char *par,
    int64_t now)
{
	sqlite3_stmt *s = NULL;
	int rc = -1;

	if (sqlite3_prepare_v2(db, "DELETE FROM taps WHERE token = ?", -1, &s,
	    NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_text(s, 1, token, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE)
		goto out;
	sqlite3_finalize(s);
	s = NULL;
	if (sqlite3_prepare_v2(db, "INSERT INTO moved_cards VALUES (?, ?, ?) "
	    "ON CONFLICT(token) DO NOTHING", -1, &s, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_text(s, 1, token, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, par, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, now);
	if (sqlite3_step(s) == SQLITE_DONE)
		rc = 0;
out:
	sqlite3_finalize(s);
	return rc;
}

int
moves_lookup_kept(sqlite3 *db, sqlite3_stmt **st, const char *token,
    char *par, size_t len)
{
	int rc = -1;

	if (*st == NULL && sqlite3_prepare_v2(db, "SELECT par FROM "
	    "moved_cards WHERE token = ?", -1, st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(*st, 1, token, -1, SQLITE_STATIC);
	switch (sqlite3_step(*st)) {
	case SQLITE_ROW:
		snprintf(par, len, "%s", (const char *)sqlite3_column_text(*st,
		    0));
		rc = 1;
		break;
	case SQLITE_DONE:
		rc = 0;
		break;
	}
	sqlite3_reset(*st);
	sqlite3_clear_bindings(*st);
	return rc;
}

int
moves_lookup(sqlite3 *db, const char *token, char *par, size_t len)
{
	sqlite3_stmt *s = NULL;
	int rc = moves_lookup_kept(db, &s, token, par, len);

	sqlite3_finalize(s);
	return rc;
}
