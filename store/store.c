/* Helpers shared by the store modules (see store.h). */
#include <stdio.h>

#include "parse.h"
#include "store.h"
#include "tap.h"

int
store_schema(sqlite3 *db, const char *schema, const char *what, char *err,
    size_t errlen)
{
	if (sqlite3_exec(db, schema, NULL, NULL, NULL) == SQLITE_OK)
		return 0;
	snprintf(err, errlen, "%s: %s", what, sqlite3_errmsg(db));
	return -1;
}

int
store_prep(sqlite3 *db, sqlite3_stmt **st, const char *sql)
{
	return sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st,
	    NULL);
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
