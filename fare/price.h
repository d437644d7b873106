/*
 * The pricing library (SPEC §4): a pure function from one account's taps
 * to its legs, journeys, daily charges and per-operator shares.  No I/O,
 * no clock, no globals: `price`, the engine and the tests all call
 * price_account() and get the same answer for the same input.
 */
#ifndef ONECITY_PRICE_H
#define ONECITY_PRICE_H

#include <stddef.h>
#include <stdint.h>

#include "tariff.h"

#define PRICE_NO_TIME	INT64_MIN
#define PRICE_END_OF_TIME INT64_MAX

enum price_kind { PRICE_IN, PRICE_OUT };

/* One tap of an account, its ids resolved against the tariff. */
struct price_tap {
	int64_t		 time;		/* UTC seconds */
	uint32_t	 network;
	uint32_t	 stop;
	uint8_t		 kind;		/* enum price_kind */
};

enum price_status {
	LEG_COMPLETE, LEG_AUTOCOMPLETED, LEG_INCOMPLETE, LEG_CANCELLED,
	LEG_UNPRICED, LEG_OPEN,
};

struct price_leg {
	uint32_t	 network;
	uint32_t	 from_stop, to_stop;	/* TARIFF_NONE: null */
	int64_t		 checkin, checkout;	/* PRICE_NO_TIME: null */
	int64_t		 fare_cents;
	int64_t		 contribution_cents;
	int32_t		 service_day;		/* days since 1970-01-01 */
	uint8_t		 status;		/* enum price_status */
	uint32_t	 rule;		/* leg rule that priced it, or NONE */
	uint32_t	 leg_group;	/* NONE: no leg group */
	uint32_t	 transfer;	/* transfer rule that joined it, or NONE */
	uint32_t	 journey;	/* journey number within the account */
	int64_t		 distance_m;	/* -1 when no distance part */
	int8_t		 cap;		/* cap that covers it, or -1 */
};

struct price_share {
	uint32_t	 network;
	int64_t		 cents;
};

struct price_day {
	int32_t		 service_day;
	uint32_t	 legs_off, nlegs;
	uint32_t	 shares_off, nshares;	/* non-zero shares, by network */
	int64_t		 charge_cents;
	int64_t		 uncapped_cents;
	int64_t		 incomplete_cents;
	int64_t		 capped_cents;	/* the day's capped total */
	int64_t		 week_total_cents;	/* week_total(D) */
	uint32_t	 day_caps;	/* chosen day caps (bits of cap index) */
	uint32_t	 week_caps;	/* chosen week caps for week_total(D) */
};

/* Reusable output buffers: one per thread, cleared by each call. */
struct price_result {
	struct price_leg	*leg;
	size_t			 nlegs, leg_cap;
	struct price_day	*day;
	size_t			 ndays, day_cap;
	struct price_share	*share;
	size_t			 nshares, share_cap;
	uint32_t		*kept;		/* scratch: taps after doubles */
	size_t			 kept_cap;
	void			*memo;		/* scratch: week caps */
	size_t			 memo_cap;
};

void	price_result_init(struct price_result *);
void	price_result_free(struct price_result *);

/*
 * Prices one account.  taps must be sorted by (time, tap_id) with tap_id
 * duplicates removed.  now is the engine's clock (PRICE_END_OF_TIME for
 * offline pricing): an open leg no older than its network's max_leg_minutes
 * at now is LEG_OPEN and priced 0.  Returns 0, or -1 when out of memory.
 */
int	price_account(const struct tariff *, const struct price_tap *taps,
	    size_t ntaps, int64_t now, struct price_result *);

/*
 * What the day caps chosen for a day amount to (cents; 0 when no day cap
 * lowered it): what a gate shows as "capped at".  Week caps are not in it.
 */
int64_t	price_day_caps_cents(const struct tariff *, const struct price_day *);

/* Service day (days since the epoch) of a UTC time under the tariff. */
int32_t	price_service_day(const struct tariff *, int64_t utc);

const char *price_status_name(enum price_status);

/*
 * Repricing windows (SPEC §6; price-window.c).  price_link_s: the longest
 * time across which pricing state reaches from one tap to the next (open
 * legs, double taps, transfer duration limits), in seconds.
 * price_week_start: the Monday of a service day's service week (days since
 * the epoch).  price_window_cut: for taps[0..n) in time order, the index of
 * the latest clean cut at or before the first tap on or after from_day
 * (pricing taps[cut..n) gives the same days from from_day's week on as
 * pricing all n); *found is 0 when no such cut is within the taps given
 * (then the caller reads further back, or prices from the account's very
 * first tap, index 0).
 */
/*
 * price_window_end: for taps[0..n) in time order (the window read from
 * the cut on) and to_day, the latest changed service day, the index of
 * the first tap not to price (a clean cut, or n) and, in *last_day, the
 * last service day to write (INT32_MAX: through the end); the days after
 * it stay as stored.
 */
size_t	price_window_end(const struct tariff *, const struct price_tap *taps,
	    size_t n, int32_t to_day, int32_t *last_day);
/*
 * price_window_start: for taps[0..n) in time order and changed_day, the
 * earliest service day a change touches, the first tap to price and, in
 * *week, the Monday of the first service week to write: the week of the
 * first tap after the clean cut before the change (a tap can close a leg
 * opened the day before, or join a journey that began earlier, but never
 * across a clean cut).  *found as for price_window_cut.
 */
size_t	price_window_start(const struct tariff *, const struct price_tap *taps,
	    size_t n, int32_t changed_day, int32_t *week, int *found);
int64_t	price_link_s(const struct tariff *);
int32_t	price_week_start(int32_t service_day);
size_t	price_window_cut(const struct tariff *, const struct price_tap *taps,
	    size_t n, int32_t from_day, int *found);

#endif
