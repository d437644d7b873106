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
/* "€12.34" (or "-€1.08") into buf (32 bytes); "12.34 USD" in a feed of
 * another currency. */
void	explain_money(const struct tariff *, int64_t cents, char buf[32]);

#endif
