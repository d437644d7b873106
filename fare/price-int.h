/* Internals shared by price.c and price-caps.c. */
#ifndef ONECITY_PRICE_INT_H
#define ONECITY_PRICE_INT_H

#include "price.h"

/* Grows *p to hold need elements; 0 or -1 when out of memory. */
int	price_reserve(void **p, size_t *cap, size_t need, size_t size);
/*
 * The fare of a leg from -> to on network net (SPEC §4 "Leg fare"): 0 with
 * the fare, the rule and the distance used (-1 when none), or -1 when no
 * rule prices it.
 */
int	price_leg_fare(const struct tariff *, uint32_t net, uint32_t from,
	    uint32_t to, int64_t checkin, int64_t checkout, int64_t *fare,
	    uint32_t *rule, int64_t *distance_m);
/* Days, caps, charges and shares of the legs in r (SPEC §4 "Caps"). */
int	price_caps(const struct tariff *, struct price_result *r);
/* The cheapest subset of the caps in `caps` over per-network sums. */
int64_t	price_best_subset(const struct tariff *, uint32_t caps,
	    const int64_t *netsum, uint64_t nets, uint32_t *chosen);

/* Derives the tariff's repricing-window constants (link_s, link_by_day);
 * called once by the loader. */
void	price_window_setup(struct tariff *);

#endif
