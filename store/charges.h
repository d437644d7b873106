/*
 * Pricing results (SPEC §5): legs, charges and operators' shares of each
 * account-day, as the writer's last repricing left them, with v_legs and
 * v_operator_revenue.  Rewritten from the first day a repricing can change
 * (SPEC §6); the ledger keeps the history.
 */
#ifndef ONECITY_CHARGES_H
#define ONECITY_CHARGES_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "price.h"
#include "strtab.h"
#include "tariff.h"

struct charges;

/* Creates the tables and views in db; prepares the statements. */
struct charges	*charges_open(sqlite3 *db, char *err, size_t errlen);
void		 charges_close(struct charges *);

/*
 * Writes one priced day of an account: its legs, shares and charge;
 * posted says whether the ledger holds it (a closed day, SPEC §6
 * "Provisional, then posted"); digest (62 bits) identifies the results;
 * tariff_version is the id of the tariff version that priced it
 * (store/tariff-version.h; 0: unknown).  stored says the day has rows
 * already: they are replaced in place (legs by number, the charge by its
 * key; the legs beyond the new count and the shares deleted first), not
 * deleted and written again (ISSUE 14: fewer rows a tap).
 */
int		 charges_write_day(struct charges *, const struct tariff *,
		    const char *account, const struct price_result *,
		    const struct price_day *, int posted, int64_t digest,
		    int64_t tariff_version, int stored);
/*
 * Calls fn for each stored day of an account from from_day through
 * to_day: the digest of its results (has_digest 0 for rows written before
 * digests) and whether it is posted; a repricing rewrites only the days
 * whose digest changed (SPEC §6).  -1 when fn or SQLite failed.
 */
int		 charges_stored_days(struct charges *, const char *account,
		    const char *from_day, const char *to_day,
		    int (*fn)(const char *day, int64_t digest, int has_digest,
		    int posted, void *), void *arg);
/*
 * Calls fn for up to max account-days not yet posted whose service day
 * is last_day or before ("YYYY-MM-DD"), oldest first; returns how many,
 * or -1 when fn or SQLite failed.
 */
int		 charges_unposted(struct charges *, const char *last_day,
		    int max, int (*fn)(const char *account, const char *day,
		    int64_t charge_cents, void *), void *arg);
/* The operators' shares of an account-day: ids and cents, at most max;
 * returns how many. */
int		 charges_day_shares(struct charges *, const char *account,
		    const char *day, char ids[][128], int64_t *cents,
		    size_t max);
/* Marks an account-day posted. */
int		 charges_set_posted(struct charges *, const char *account,
		    const char *day);
/*
 * Deletes an account's rows of the service days from from_day through
 * to_day ("YYYY-MM-DD"; "" and "9999-12-31" for all), before they are
 * written again: a tap re-prices only the days it can change (SPEC §6).
 */
int		 charges_clear(struct charges *, const char *account,
		    const char *from_day, const char *to_day);
/* Adds up to max "ACCOUNT YYYY-MM-DD" entries to accounts, in account
 * order after the account `after` ("" from the first): each account with
 * a leg still open that was checked in before checkin_before (UTC
 * seconds; through the partial index legs_open, so it reads only open
 * legs) and the first service day it has those on. */
int		 charges_open_accounts(struct charges *,
		    int64_t checkin_before, const char *after,
		    struct strtab *accounts, int max);

#endif
