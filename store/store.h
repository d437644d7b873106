/*
 * What every store module does the same way: create its tables, prepare
 * its statements for the life of the connection, run a write, and name an
 * enum value for the tables (each table of names asserted complete).
 */
#ifndef ONECITY_STORE_H
#define ONECITY_STORE_H

#include <assert.h>
#include <stddef.h>

#include <sqlite3.h>

/* Runs a module's schema; on failure says what in err.  0 or -1. */
int	store_schema(sqlite3 *, const char *schema, const char *what,
	    char *err, size_t errlen);
/* Prepares a statement kept until the module closes; an SQLite code. */
int	store_prep(sqlite3 *, sqlite3_stmt **, const char *sql);
/*
 * Opens a database read-only for a command that reads it (audit, card):
 * waits up to 5 s on a writer's lock.  NULL after saying on stderr
 * "fare-engine: PATH: why".
 */
sqlite3	*store_open_ro(const char *path);
/* Steps a write to its end and resets it: 0, or -1 if it failed. */
int	store_step_done(sqlite3_stmt *);

/*
 * Free text from outside (a refusal's detail, a deny reason) as it may be
 * stored: control characters and invalid UTF-8 as \xNN (no ANSI escape
 * reaches an operator's terminal), digit runs of a PAN's length masked
 * but their last four (tap_mask_pans).  out (len bytes) is always
 * terminated; four times the input's size never truncates.
 */
void	store_clean_text(const char *in, char *out, size_t len);

/*
 * Makes SQLite wipe every block of its memory when it frees it (page
 * cache, statement values, sort buffers): a row it held (a refusal's
 * text, an account) does not linger in freed heap (issue 16 item 8).
 * Process-wide, and only before SQLite initialises (before the first
 * connection opens) or after sqlite3_shutdown(): 0, or -1 when too late.
 * Pages still cached by an open connection are not freed, so not wiped.
 */
int	store_wipe_freed_memory(void);

/* The name of v in a table of max names. */
static inline const char *
store_name(const char *const *names, int max, int v)
{
	assert(v >= 0 && v < max && names[v] != NULL);
	return names[v];
}

#endif
