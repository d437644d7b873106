/*
 * Cards moved to another shard (cluster mode, engine/worker.c): when a
 * card first shows a PAR, the shard that held its taps under its token
 * hands them to the PAR's shard and forgets them, so that a PAR account is
 * priced whole on one shard (SPEC §3).  Table moved_cards (token, par,
 * moved_utc), with view v_moved_cards; a moved card's later taps are
 * forwarded, not stored.
 */
#ifndef ONECITY_MOVES_H
#define ONECITY_MOVES_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

/* Creates the table and its view. */
int	moves_schema(sqlite3 *, char *err, size_t errlen);

/*
 * Inside the caller's transaction: deletes the token's taps (they are
 * stored on the PAR's shard by now) and records the move.  -1 on an
 * SQLite error.
 */
int	moves_forget_card(sqlite3 *, const char *token, const char *par,
	    int64_t now);

/* The PAR a card moved to: 1 (par filled), 0 not moved, -1 on error. */
int	moves_lookup(sqlite3 *, const char *token, char *par, size_t len);
/*
 * The same with the statement kept in *st between calls (prepared on the
 * first; the caller finalizes it): the worker asks once per message, and
 * preparing each time was half its fetch thread's CPU.  One thread per
 * *st.
 */
int	moves_lookup_kept(sqlite3 *, sqlite3_stmt **st, const char *token,
	    char *par, size_t len);

#endif
