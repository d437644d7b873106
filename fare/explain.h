/*
 * Plain-words explanation of one priced account-day: each leg and the rule
 * that priced it, each transfer, every cap combination and why the chosen
 * one is cheapest, the charge and its apportionment, all in cents that add
 * up.  Used by `price --explain` and `audit explain`.
 */
#ifndef ONECITY_EXPLAIN_H
#define ONECITY_EXPLAIN_H

#include "buf.h"
#include "price.h"
#include "tariff.h"

void	explain_day(const struct tariff *, const char *account,
	    const struct price_result *, const struct price_day *,
	    struct buf *out);
/* Money as a person reads it: bytes enough for any int64_t of cents. */
#define MONEY_TEXT_MAX	32	/* "-USD 92,233,720,368,547,758.08" */
/* Local times as a person reads them ("2026-11-28 08:01 +01:00"). */
#define EXPLAIN_TIME_MAX	32

/*
 * The one way money is shown to a person: "€1,234.56" (or "-€1.08") for
 * euros (currency "EUR", "" or NULL), "USD 2.90" for another ISO 4217
 * code; commas group thousands.  Machine outputs (CSV, JSON, views) keep
 * integer cents or money_plain().
 */
void	money_text(const char *currency, int64_t cents,
	    char buf[MONEY_TEXT_MAX]);
/* A count as a person reads it: "1,234,567". */
void	count_text(uint64_t n, char buf[32]);
/* "1234.56" / "-1.08": no symbol, no grouping (CSV for spreadsheets). */
void	money_plain(int64_t cents, char buf[MONEY_TEXT_MAX]);
/* money_text() in the tariff's currency (euros when t is NULL). */
void	explain_money(const struct tariff *, int64_t cents,
	    char buf[MONEY_TEXT_MAX]);
/*
 * utc (seconds; PRICE_NO_TIME gives "--:--", or "" with the date) as the
 * feed's local wall-clock time: "08:01", or with_date "2026-11-28 08:01
 * +01:00" (the offset in force, so both sides of a clock change read
 * apart).  t NULL: UTC.
 */
void	explain_local_time(const struct tariff *, int64_t utc, int with_date,
	    char buf[EXPLAIN_TIME_MAX]);
/*
 * utc as a person reads it on a row of service_day (days since
 * 1970-01-01): "08:01" when it falls on that local date with the clock
 * as it stood at the day's midday, else the full explain_local_time()
 * form ("2026-10-25 02:10 +01:00"), so that a time past midnight or on
 * the other side of a clock change cannot be read as another moment
 * (the rows are grouped by service day, SPEC §4).  PRICE_NO_TIME: "".
 */
void	explain_day_time(const struct tariff *, int64_t utc,
	    int32_t service_day, char buf[EXPLAIN_TIME_MAX]);

#endif
