/*
 * The tariff's tables, shared by the loader and the pricing code only
 * (as SQLite pairs btree.h with btreeInt.h).  Everything is indexed by
 * dense ids; TARIFF_NONE marks an empty field.  Networks and caps are
 * sorted by their id's bytes, so index order is id order.
 */
#ifndef ONECITY_TARIFF_INT_H
#define ONECITY_TARIFF_INT_H

#include "strtab.h"
#include "tariff.h"
#include "tz.h"

struct t_stop {
	double		 lat, lon;	/* valid only where has_coords */
	uint8_t		 has_coords;	/* generic nodes may lack them (GTFS) */
	uint32_t	 parent;
	/* Its station: the topmost parent_station above it (a boarding
	 * area's platform's station), or itself. */
	uint32_t	 station;
	/* The stop whose stop_areas rows it takes: itself, else the
	 * nearest parent_station above it that has some (SPEC §2). */
	uint32_t	 area_stop;
	uint32_t	 name;		/* in tariff.stop_names */
	uint32_t	 areas_off;	/* into tariff.stop_area_list */
	uint32_t	 nareas;
};

struct t_band {
	int64_t		 from_m;
	int64_t		 rate_1e5;	/* per_km_amount in 1e-5 EUR */
};

struct t_network {
	char		*name;
	uint8_t		 checkout_required;
	uint8_t		 autocomplete;
	uint32_t	 incomplete_product;
	int32_t		 max_leg_s;
	int32_t		 cancel_s;
	uint32_t	 bands_off, nbands;
	uint32_t	 rules_off, nrules;	/* into tariff.net_rules */
};

struct t_product {
	int64_t		 amount_cents;
	uint8_t		 usable;	/* has a row for contactless EMV */
	unsigned long	 row;
	uint8_t		 level;		/* 2: EMV medium row, 1: no medium */
};

struct t_tf_row {
	int32_t		 start_s, end_s;
	uint32_t	 service;
};

struct t_service {
	uint8_t		 has_calendar;
	uint8_t		 weekdays;	/* bit 0 Monday ... bit 6 Sunday */
	int32_t		 start_day, end_day;
};

struct t_exception {
	uint32_t	 service;
	int32_t		 day;
	uint8_t		 added;
};

struct t_leg_rule {
	uint32_t	 leg_group, network, from_area, to_area;
	uint32_t	 from_tf, to_tf, product;
	int64_t		 priority;
	unsigned long	 row;
	/* Its product has no bank-card row: left out of pricing, but it
	 * still names its network and areas (SPEC §2, §4). */
	uint8_t		 left_out;
};

#define T_COUNT_EMPTY	(-2)
#define T_COUNT_ANY	(-1)

struct t_transfer_rule {
	uint32_t	 from_lg, to_lg, product;
	int32_t		 transfer_count;	/* T_COUNT_* or >= 1 */
	int32_t		 duration_s;		/* -1: none */
	int8_t		 duration_type;
	int8_t		 transfer_type;
	/* ext duration_limit_from (SPEC §2): 0 `first` (GTFS: from the
	 * first leg of the run), 1 `previous` (OVpay: from the leg before). */
	uint8_t		 from_previous;
	/* As t_leg_rule.left_out: names its leg groups, never matches. */
	uint8_t		 left_out;
	unsigned long	 row;
};

enum t_period { T_PERIOD_DAY, T_PERIOD_WEEK };

struct t_cap {
	char		*id;
	char		*name;
	int64_t		 amount_cents;
	enum t_period	 period;
	uint64_t	 networks;	/* mask; all bits when empty network */
	unsigned long	 row;
};

struct t_dist {
	uint64_t	 key;		/* low stop << 32 | high stop, +1 */
	int32_t		 metres;
};

struct tariff {
	char		*dir;
	char		*tz_name;
	struct tz	*tz;
	int32_t		 day_start_s;

	struct strtab	*stop_ids;
	struct strtab	*stop_names;	/* distinct stop names */
	struct t_stop	*stop;
	uint32_t	*stop_area_list;

	struct strtab	*network_ids;
	struct t_network *network;
	uint32_t	 nnetworks;
	struct t_band	*band;

	struct strtab	*area_ids;
	struct strtab	*product_ids;
	struct t_product *product;
	struct strtab	*service_ids;
	struct t_service *service;
	struct t_exception *exception;	/* sorted by (service, day) */
	size_t		 nexceptions;
	struct strtab	*tf_ids;
	uint32_t	*tf_off, *tf_count;	/* per timeframe group */
	struct t_tf_row	*tf_row;	/* grouped by timeframe group */

	struct strtab	*leg_group_ids;
	struct t_leg_rule *leg_rule;
	size_t		 nleg_rules;	/* left-out rules included */
	size_t		 nleg_left_out;
	uint32_t	*net_rules;	/* candidate rules per network */
	int		 has_priority;
	uint8_t		*from_area_named, *to_area_named;

	struct t_transfer_rule *transfer;
	size_t		 ntransfers;	/* left-out rules included */
	size_t		 ntransfers_left_out;
	uint8_t		*from_lg_named, *to_lg_named;

	struct t_dist	*dist;		/* open addressing, power of two */
	size_t		 ndist_slots, ndist;

	/* Repricing windows (price-window.c), derived once at load: the
	 * longest time pricing state reaches across, and whether a transfer
	 * rule without a duration_limit makes service days matter too. */
	int64_t		 link_s;
	int		 link_by_day;
	struct t_cap	 cap[16];
	uint32_t	 ncaps;
	/* Ids pre-escaped for JSON output: stops first, then networks. */
	char		*json;
	uint32_t	*json_off;	/* nstops + nnetworks + 1 offsets */
	/* For every subset of caps (bit k: cap k): networks and amount. */
	uint64_t	*subset_mask;
	int64_t		*subset_amount;
	char		 currency[4];
};

/* Builds the pre-escaped JSON ids; 0 or -1 when out of memory. */
int	tariff_build_json(struct tariff *);
/*
 * Metres from a to b: stop_distances.txt, else great-circle; -1 when
 * neither gives one (a stop without coordinates, SPEC §4).
 */
int64_t	tariff_distance_m(const struct tariff *, uint32_t a, uint32_t b);
/* Whether the stop lies in area (its own areas, else its parent's). */
int	tariff_stop_in_area(const struct tariff *, uint32_t stop,
	    uint32_t area);
/*
 * Whether stop b is at the station of stop a (SPEC §4 "own station"): the
 * same stop, two stops with one parent_station, or a stop and its parent;
 * a boarding area (location_type 4) is at its platform's station.
 */
int	tariff_same_station(const struct tariff *, uint32_t a, uint32_t b);
/* Whether a service runs on a day (days since the epoch). */
int	tariff_service_runs(const struct tariff *, uint32_t service,
	    int32_t day);
/* Whether local day/time of day falls in a timeframe group. */
int	tariff_timeframe_has(const struct tariff *, uint32_t tf,
	    int32_t local_day, int32_t tod_s);
/* Great-circle distance as SPEC §4 defines it, rounded half up. */
int64_t	tariff_haversine_m(double lat1, double lon1, double lat2, double lon2);

#endif
