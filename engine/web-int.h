/*
 * The web side's internals, shared by web.c (the context, routing, rate
 * limit), web-data.c (the queries: a day's summary, its taps per minute,
 * a rider's day), web-api.c (JSON) and web-html.c (the pages).  Nothing
 * outside engine/web*.c includes it.
 */
#ifndef ONECITY_WEB_INT_H
#define ONECITY_WEB_INT_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "buf.h"
#include "limits.h"
#include "tariff.h"
#include "web.h"

/* Keyed rows of the summary: reasons, statuses, operators (each bounded:
 * refusal reasons and leg statuses are fixed enums, networks LIMIT_NETWORKS). */
#define WEB_KEYS_MAX		LIMIT_NETWORKS
/* Validators counted in a day (a country's, with room). */
#define WEB_DEVICES_MAX		1000000
/* Validators listed as silent (the count is always whole). */
#define WEB_SILENT_LISTED	20
/* Minutes of a service day: 1440, 1380 or 1500 across a clock change. */
#define WEB_MINUTES_MAX		1500
/* A rider's day: legs shown (LIMIT_CARD_TAPS_PER_DAY taps make at most
 * that many legs) and settlement rows. */
#define WEB_TRIP_LEGS_MAX	LIMIT_CARD_TAPS_PER_DAY
#define WEB_TRIP_SETTLE_MAX	32
/* Naming the caps of a rider's day reprices its service week from the
 * stored taps, read from this long before the week (journeys and
 * transfers that reach into it), at most this many taps. */
#define WEB_TRIP_LOOKBACK_S	(2 * 86400)
#define WEB_TRIP_TAPS_MAX	(8 * LIMIT_CARD_TAPS_PER_DAY)
#define WEB_TRIP_CAPS_MAX	4
/* A settlement reference: printable ASCII the rider types (SPEC §6). */
#define WEB_REF_MAX		64
/* Rider lookups per client per minute (no enumeration), and the clients
 * remembered for it (the least recently seen is forgotten first). */
#define WEB_LOOKUPS_PER_MIN	10
#define WEB_CLIENTS		4096
/* The read-only connection's page cache and file mapping (strings for
 * the PRAGMAs): a demo day's legs, shares and charges fit. */
#define WEB_DB_CACHE_KIB	"32768"
#define WEB_DB_MMAP_BYTES	"268435456"
/* The summary and the series are computed at most once per this many
 * seconds per day, however many dashboards refresh. */
#define WEB_CACHE_S		2

struct web_count {
	char		 key[LIMIT_ID_LEN + 1];
	int64_t		 n;
	int64_t		 cents;
};

/* One service day at a glance (GET /api/v1/day). */
struct web_day {
	char		 day[11];		/* YYYY-MM-DD */
	int32_t		 service_day;		/* days since the epoch */
	int64_t		 start_utc, end_utc;	/* [start, end) */
	int64_t		 now;
	int64_t		 taps;			/* acknowledged (stored) */
	int64_t		 refused;
	struct web_count refused_by[WEB_KEYS_MAX];
	size_t		 nrefused_by;
	struct web_count status[WEB_KEYS_MAX];	/* legs and fares by status */
	size_t		 nstatus;
	struct web_count revenue[WEB_KEYS_MAX];	/* per operator */
	size_t		 nrevenue;
	int64_t		 revenue_cents, charged_cents, uncapped_cents;
	int64_t		 travellers, capped_cards, saved_cents;
	int64_t		 open_days, closed_days;	/* account-days */
	int64_t		 validators_seen, validators_silent;
	struct web_count silent[WEB_SILENT_LISTED];	/* n: last UTC */
	size_t		 nsilent;
	/* Settlement of the day: captured, declined, recovered, refunded,
	 * refunds pending, debts open (n and cents each). */
	struct web_count settle[6];
	int64_t		 deny_entries;
	int		 has_crl;
	int64_t		 crl_next_update_utc;
	int		 has_live;
	struct web_live	 live;
};

/* Taps per minute of a service day (GET /api/v1/series). */
struct web_series {
	char		 day[11];
	int64_t		 start_utc;
	size_t		 nmin;
	uint32_t	 taps[WEB_MINUTES_MAX];
};

struct web_trip_leg {
	char		 network[LIMIT_ID_LEN + 1];
	char		 from[LIMIT_ID_LEN + 1], to[LIMIT_ID_LEN + 1];
	int64_t		 checkin, checkout;	/* INT64_MIN: none */
	char		 status[16];
	int64_t		 fare_cents, contribution_cents;
};

struct web_trip_settle {
	char		 kind[16], state[16];
	int64_t		 amount_cents;
	int64_t		 at_utc;
};

/* A rider's day, found by its settlement reference. */
struct web_trip {
	char		 day[11];
	int64_t		 charge_cents, uncapped_cents;
	int		 closed;
	struct web_trip_leg leg[WEB_TRIP_LEGS_MAX];
	size_t		 nlegs;
	struct web_trip_settle settle[WEB_TRIP_SETTLE_MAX];
	size_t		 nsettle;
	int64_t		 debt_open_cents;
	int		 denied;		/* on the deny list now */
	/* The caps that brought the day down, when repricing the stored
	 * taps gives the stored charge (else none are named). */
	const char	*cap[WEB_TRIP_CAPS_MAX];
	size_t		 ncaps;
};

struct web_client {
	char		 addr[48];
	int64_t		 minute;		/* the minute counted */
	int		 lookups;
	uint64_t	 seen;			/* for eviction */
};

struct web {
	sqlite3			*db;
	char			 db_path[512];
	char			 crl_path[512];
	web_live_fn		 live;
	void			*live_arg;
	char			 default_day[11];
	struct web_client	*clients;	/* WEB_CLIENTS */
	uint64_t		 tick;
	/* The last summary and series computed, reused for WEB_CACHE_S. */
	struct web_day		 day_cache;
	int64_t			 day_cache_at;
	struct web_series	 series_cache;	/* the same day's */
	const struct tariff	*cache_tariff;
	struct tz		*tz;		/* the tariff's, for local times */
	char			 tz_name[64];
};

/* web-data.c: 0, or -1 when the database cannot answer. */
int	web_day_bounds(const struct tariff *, int32_t service_day,
	    int64_t *start_utc, int64_t *end_utc);
/* The day's summary and its taps per minute, from one pass over its
 * taps. */
int	web_day_load(struct web *, const struct tariff *, const char *day,
	    int64_t now, struct web_day *, struct web_series *);
/* 1 found, 0 not found (any reason), -1 the database cannot answer. */
int	web_trip_load(struct web *, const struct tariff *, const char *ref,
	    int64_t now, struct web_trip *);
/* The day the dashboard shows when a request names none. */
void	web_default_day(struct web *, const struct tariff *, int64_t now,
	    char day[11]);

/* web-api.c */
void	web_api_day(const struct tariff *, const struct web_day *,
	    struct buf *);
void	web_api_series(const struct web_series *, struct buf *);
void	web_api_trip(const struct tariff *, const struct web_trip *,
	    struct buf *);

/* web-html.c: lang "en" or "nl". */
/* web-dash.c */
void	web_html_dashboard(const struct tariff *, const struct tz *,
	    const struct web_day *, const struct web_series *, struct buf *);
struct tz;
void	web_html_trip(const struct tariff *, const struct tz *,
	    const char *lang, const char *ref, const struct web_trip *,
	    struct buf *);
void	web_html_form(const char *lang, int status, struct buf *);
/* web-static.c: the stylesheet and the dashboard's script. */
extern const char web_css[];
extern const char web_js[];

/* Text helpers (web-html.c). */
void	web_add_html(struct buf *, const char *s);
void	web_money(const struct tariff *, int64_t cents, char out[32]);

#endif
