/*
 * The deny list (SPEC §6): accounts refused at the gate.  Kept in the
 * engine's database (deny, deny_log, v_deny_list); changes are written
 * by deny_set() (operators' `fare-engine deny`, and settlement later) and
 * pushed by the engine to every connected validator.
 */
#ifndef ONECITY_DENY_H
#define ONECITY_DENY_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

/* Creates the tables, v_deny_list and v_deny_log (the history). */
int	deny_schema(sqlite3 *, char *err, size_t errlen);

/* Adds (on = 1) or lifts an account's entry; logs the change and why
 * (reason; "" or NULL: none given). */
int	deny_set(sqlite3 *, const char *account, int on, const char *reason,
	    int64_t now);

/* The same inside the caller's transaction (settlement). */
int	deny_set_in(sqlite3 *, const char *account, int on,
	    const char *reason, int64_t now);

/* Whether settlement put the account on the list (a declined charge). */
int	deny_declined(sqlite3 *, const char *account);

/* Calls fn for every listed account, or for changes after *last_id. */
int	deny_each(sqlite3 *, void (*fn)(const char *account, int on,
	    void *arg), void *arg);
int	deny_changes(sqlite3 *, int64_t *last_id,
	    void (*fn)(const char *account, int on, void *arg), void *arg);

#endif
