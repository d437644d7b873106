/*
 * Reconciliation (SPEC §6): the engine's settlements against the
 * acquirer's settlement reports.  A report is CSV with the header
 *
 *   reference,key,account,service_day,amount_cents,outcome,time_utc
 *
 * one row per request the acquirer decided (outcome approved or
 * declined; time_utc when it decided, YYYY-MM-DDTHH:MM:SSZ); the
 * simulator writes one file per service day (terminal-sim acquirer
 * --report-dir).  Rows match settlements by idempotency key.
 */
#ifndef ONECITY_RECONCILE_H
#define ONECITY_RECONCILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <sqlite3.h>

#define RECONCILE_HEADER \
	"reference,key,account,service_day,amount_cents,outcome,time_utc"
#define RECONCILE_ROWS_MAX	50000000	/* a report beyond is a mistake */
#define RECONCILE_LINE_MAX	512

struct reconcile_stats {
	size_t		 engine, approved, report;
	int64_t		 net_cents;	/* approved, net of refunds */
};

/*
 * Compares the settlements the engine sent and saw decided (capture,
 * refund, recovery; approved or declined) with the rows of the reports,
 * for one service day (day "YYYY-MM-DD") or all (NULL).  Prints each
 * difference to out: a settlement missing on either side, a different
 * amount, outcome, account, day or reference.  Returns how many.
 */
size_t	reconcile_reports(sqlite3 *, const char *const *reports, size_t n,
	    const char *day, FILE *out, struct reconcile_stats *);

#endif
