/*
 * Every fixed upper bound of the engine and its tools, in one place, each
 * with the reason for its number (SQLite's sqliteLimit.h, TigerBeetle's
 * "put a limit on everything").
 */
#ifndef ONECITY_LIMITS_H
#define ONECITY_LIMITS_H

/* SPEC §2: a tariff beyond these is rejected. */
#define LIMIT_CAPS		16	/* 2^16 cap subsets stay cheap */
#define LIMIT_NETWORKS		64	/* network sets fit one uint64_t */
#define LIMIT_STOPS		1000000
#define LIMIT_RULES		100000	/* rows of each rule file */

/* Rows of the other tariff files: generous, but not unbounded. */
#define LIMIT_TARIFF_ROWS	4000000

/* One CSV record: a tap row is under 200 bytes; a tariff row far less. */
#define LIMIT_CSV_RECORD	65536
#define LIMIT_CSV_FIELDS	64

/* Ids are short in practice (GTFS ids, device:seq); bound them. */
#define LIMIT_ID_LEN		128

/* Problems reported for one tariff or tap file before we stop listing. */
#define LIMIT_DIAGNOSTICS	1000

/* Timezone files: Europe/Amsterdam has ~180 transitions. */
#define LIMIT_TZ_TRANSITIONS	2000
#define LIMIT_TZ_FILE		65536

/* A leg longer than a week is not a journey. */
#define LIMIT_MAX_LEG_MINUTES	10080
/* Transfer rule durations: a day is the longest sensible transfer. */
#define LIMIT_DURATION_S	86400
/* Distances: no leg is longer than the earth's circumference. */
#define LIMIT_DISTANCE_M	40075000
/* per_km_amount in 1e-5 EUR: up to 1000 EUR per km keeps sums in int64. */
#define LIMIT_PER_KM_1E5	100000000LL
/* Any single amount: a million euro is not a fare. */
#define LIMIT_AMOUNT_CENTS	100000000LL

/* Taps in one offline price run (the national day is 6 M). */
#define LIMIT_PRICE_TAPS	50000000
/* Taps of one account in one price run: a validator flood is bounded. */
#define LIMIT_ACCOUNT_TAPS	1000000

_Static_assert(LIMIT_NETWORKS <= 64, "network sets are uint64_t masks");
_Static_assert(LIMIT_CAPS <= 20, "cap subsets are enumerated exhaustively");
_Static_assert(LIMIT_PER_KM_1E5 * (long long)LIMIT_DISTANCE_M < 9000000000000000000LL,
    "distance sums must fit int64_t");

#endif
