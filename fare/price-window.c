/*
 * The repricing window of one account (SPEC §6: a tap re-prices only what
 * it can affect).  Pricing walks an account's taps from its first; to
 * re-price from a later point and get exactly what the whole walk gives,
 * the walk must start at a *clean cut*: a gap between two consecutive taps
 * across which no state of the walk reaches.  The state is the open leg
 * (closed at the next tap once older than max_leg_minutes), the previous
 * kept tap (a double tap is within 60 s), and the journey (a transfer rule
 * joins a leg within its duration_limit of an earlier one, or, without a
 * limit, on the journey's first service day).  So a gap is clean when it
 * is longer than all of these and, where a transfer rule has no limit, the
 * two taps lie on different service days.  Days are then re-priced whole weeks at a time (week caps), from
 * the Monday of the earliest changed day.
 */
#include "price-int.h"
#include "parse.h"
#include "tariff-int.h"

void
price_window_setup(struct tariff *t)
{
	int64_t link = 60;
	size_t k;
	uint32_t n;

	t->link_by_day = 0;
	for (n = 0; n < t->nnetworks; n++)
		if (t->network[n].max_leg_s > link)
			link = t->network[n].max_leg_s;
	for (k = 0; k < t->ntransfers; k++) {
		if (t->transfer[k].left_out)
			continue;
		if (t->transfer[k].duration_s > link)
			link = t->transfer[k].duration_s;
		if (t->transfer[k].duration_s < 0)
			t->link_by_day = 1;
	}
	t->link_s = link;
}

int64_t
price_link_s(const struct tariff *t)
{
	return t->link_s;
}

int32_t
price_week_start(int32_t service_day)
{
	return service_day - (int32_t)civil_weekday(service_day);
}

/* Whether nothing of the walk reaches from tap a to the next tap b. */
static int
clean_gap(const struct tariff *t, int64_t link, int by_day,
    const struct price_tap *a, const struct price_tap *b)
{
	return b->time - a->time > link && (!by_day ||
	    price_service_day(t, b->time) > price_service_day(t, a->time));
}

size_t
price_window_end(const struct tariff *t, const struct price_tap *taps,
    size_t n, int32_t to_day, int32_t *last_day)
{
	int64_t link = t->link_s;
	int by_day = t->link_by_day;
	int32_t next_week = price_week_start(to_day) + 7;
	size_t e, c;

	for (e = 0; e < n && price_service_day(t, taps[e].time) < next_week;
	    e++)
		;
	for (c = e > 0 ? e : 1; c < n; c++)
		if (clean_gap(t, link, by_day, &taps[c - 1], &taps[c]))
			break;
	if (c >= n) {
		*last_day = INT32_MAX;
		return n;
	}
	/* Legs from tap c on are what they were; the week of the last leg
	 * before it may still total differently (week caps). */
	*last_day = price_week_start(price_service_day(t, taps[c - 1].time))
	    + 6;
	/* Price through that week and on to the next clean cut: a leg
	 * begun on its Sunday may end, or be joined, after 04:00 Monday. */
	for (e = c; e < n && price_service_day(t, taps[e].time) <= *last_day;
	    e++)
		;
	for (; e < n; e++)
		if (clean_gap(t, link, by_day, &taps[e - 1], &taps[e]))
			break;
	return e;
}

size_t
price_window_cut(const struct tariff *t, const struct price_tap *taps,
    size_t n, int32_t from_day, int *found)
{
	int64_t link = t->link_s;
	int by_day = t->link_by_day;
	size_t i0, i;

	*found = 0;
	for (i0 = 0; i0 < n && price_service_day(t, taps[i0].time) < from_day;
	    i0++)
		;
	if (i0 == n) {
		/* No tap from from_day on: nothing before reaches it. */
		*found = 1;
		return n;
	}
	for (i = i0; i > 0; i--) {
		if (clean_gap(t, link, by_day, &taps[i - 1], &taps[i])) {
			*found = 1;
			return i;
		}
	}
	return 0;
}

size_t
price_window_start(const struct tariff *t, const struct price_tap *taps,
    size_t n, int32_t changed_day, int32_t *week, int *found)
{
	size_t cut0 = price_window_cut(t, taps, n, changed_day, found);

	/* The legs from cut0 on may change (a leg the changed tap closes,
	 * the first leg of a journey it joins): from their week on. */
	if (!*found)
		return 0;
	*week = price_week_start(cut0 < n ?
	    price_service_day(t, taps[cut0].time) : changed_day);
	if (cut0 < n && price_service_day(t, taps[cut0].time) > changed_day)
		*week = price_week_start(changed_day);
	return price_window_cut(t, taps, n, *week, found);
}
