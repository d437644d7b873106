/*
 * Repricing from the taps (SPEC §6): audit verify prices every closed
 * account-day again from its stored taps, with the tariff version that
 * priced it (store/tariff-version.h), and compares the legs, the charge
 * and every operator's share with what the database holds.  Pricing is a
 * pure function of (tariff, taps), so a forged share, charge or leg shows
 * unless the taps were forged too (which sequence gaps and checkpoints
 * show).
 */
#ifndef ONECITY_REPRICE_H
#define ONECITY_REPRICE_H

#include <stddef.h>
#include <stdio.h>

#include <sqlite3.h>

/* Tariff versions kept loaded at once while verifying. */
#define REPRICE_VERSIONS_MAX	16
/* Differences printed per account-day (all are counted). */
#define REPRICE_LINES_PER_DAY	6

struct reprice_stats {
	size_t	 accounts;	/* accounts looked at */
	size_t	 repriced;	/* closed account-days repriced and equal */
	size_t	 unversioned;	/* closed days priced before versions */
	size_t	 open_legs;	/* closed days with a leg still open */
};

/*
 * Reprices the database at path (db: a read-only connection to it).
 * Prints each difference to out, naming the account-day, and returns how
 * many account-days differ (or could not be repriced).
 */
size_t	reprice_verify(const char *path, sqlite3 *db, FILE *out,
	    struct reprice_stats *);

#endif
