/*
 * A tariff: a GTFS directory (SPEC §2) loaded into immutable in-memory
 * tables.  Loading validates everything and reports every problem; a
 * tariff that loads is safe to price with and is never changed after.
 */
#ifndef ONECITY_TARIFF_H
#define ONECITY_TARIFF_H

#include <stddef.h>
#include <stdint.h>

#include "diag.h"

#define TARIFF_NONE	UINT32_MAX

struct tariff;

/* NULL when the tariff has errors; every problem is in diag. */
struct tariff	*tariff_load(const char *dir, struct diag *);

/* A tariff's files in memory: each file's name ("stops.txt") and bytes. */
struct tariff_file {
	const char	*name;
	const char	*data;
	size_t		 len;
};
struct tariff_mem {
	const struct tariff_file *files;
	size_t		 nfiles;
	/* The time zone as TZif bytes, for any zone name agency.txt gives;
	 * NULL: read from the system's zoneinfo as tariff_load does. */
	const unsigned char *tzif;
	size_t		 tzif_len;
};
/*
 * tariff_load over files in memory (the fuzzers: no file per run); dir
 * only names the files in messages.  A file not in mem is missing.
 */
struct tariff	*tariff_load_mem(const char *dir, const struct tariff_mem *,
		    struct diag *);
void		 tariff_free(struct tariff *);
/* "N stops, N networks, ..." for tariff check and logs. */
void		 tariff_summary(const struct tariff *, char *buf, size_t len);

uint32_t	 tariff_stop(const struct tariff *, const char *id, size_t len);
uint32_t	 tariff_network(const struct tariff *, const char *id,
		    size_t len);
const char	*tariff_stop_id(const struct tariff *, uint32_t stop);
const char	*tariff_stop_name(const struct tariff *, uint32_t stop);
const char	*tariff_network_id(const struct tariff *, uint32_t net);
/* The ISO 4217 currency of the tariff's fares ("EUR"). */
const char	*tariff_currency(const struct tariff *);
const char	*tariff_network_name(const struct tariff *, uint32_t net);
/* The id as a JSON string, quotes included, escaped as SPEC §5 says. */
const char	*tariff_stop_json(const struct tariff *, uint32_t stop,
		    size_t *len);
const char	*tariff_network_json(const struct tariff *, uint32_t net,
		    size_t *len);
uint32_t	 tariff_nstops(const struct tariff *);
uint32_t	 tariff_nnetworks(const struct tariff *);
/* The shortest max_leg_minutes of any network, in seconds (0 with none):
 * an open leg checked in more recently is not ended by the clock. */
int64_t		 tariff_min_max_leg_s(const struct tariff *);
int		 tariff_checkout_required(const struct tariff *, uint32_t net);
const char	*tariff_timezone(const struct tariff *);
/* Caps (fare_caps.txt), numbered as price_day's cap bits: how many, and
 * a cap's cap_name (its cap_id where the name is empty). */
uint32_t	 tariff_ncaps(const struct tariff *);
const char	*tariff_cap_name(const struct tariff *, uint32_t cap);

#endif
