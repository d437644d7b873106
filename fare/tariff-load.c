/*
 * Reads a tariff directory (SPEC §2) into the tables of tariff-int.h.
 * Each file has one loader; each loader validates its rows and reports
 * every problem with its file and line, then the cross-file checks run.
 * Nothing is returned unless everything is sound: no half-loaded tariff.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "csv.h"
#include "limits.h"
#include "parse.h"
#include "price-int.h"
#include "tariff-int.h"

/* Where a network is defined (SPEC §2): networks.txt, else the distinct
 * routes.txt network_id values, else one network per agency_id. */
enum net_src { NET_SRC_NETWORKS, NET_SRC_ROUTES, NET_SRC_AGENCY, NET_SRC_MAX };

static const char *const net_src_file[NET_SRC_MAX] = {
	"networks.txt", "routes.txt", "agency.txt",
};

struct net_row {
	char		*id, *name;
	unsigned long	 row;
	enum net_src	 src;
};

struct cur_row {
	uint8_t		 cur;	/* index into loader.cur */
	uint8_t		 caps;	/* fare_caps.txt, else fare_products.txt */
	unsigned long	 line;
};

struct loader {
	struct tariff	*t;
	struct diag	*d;
	const struct tariff_mem *mem;	/* files in memory, or NULL */
	const char	*file;		/* current file's path */
	char		 path[4096];
	int		 oom;
	/* stops.txt: parent names, resolved once all stops are read */
	struct strtab	*parent_names;
	uint32_t	*parent_of;	/* index into parent_names or NONE */
	unsigned long	*stop_row;
	/* stop_areas.txt rows, grouped per stop at the end */
	uint32_t	*sa_stop, *sa_area;
	size_t		 nsa, sa_cap;
	/* fare_media.txt */
	struct strtab	*media_ids;
	int		*media_type;
	/* rider_categories.txt: is_default_fare_category per category */
	struct strtab	*rider_ids;
	uint8_t		*rider_default;
	size_t		 rider_cap;
	int		 have_riders;
	/* rules left out and listed so far (leg, transfer) */
	size_t		 left_out_listed[2];
	/* fare_products.txt rows ignored for a bank card, and which */
	size_t		 ignored_rider, ignored_media;
	struct strtab	*ignored_rider_ids, *ignored_media_ids;

	/* the currencies of amounts, and each amount's row */
	struct {
		char		 code[4];
		char		 where[4200];
		size_t		 count;
	}		 cur[LIMIT_CURRENCIES];
	size_t		 ncur;
	struct cur_row	*cur_rows;
	size_t		 ncur_rows, cur_rows_cap;
	/* networks seen in network_policies.txt, and where */
	unsigned long	*policy_row;
	/* fare_caps.txt raw rows */
	struct strtab	*cap_ids;
	/* fare_distance_rules.txt raw rows */
	struct {
		uint32_t	 net;
		int64_t		 from_m, rate;
		unsigned long	 row;
	}		*bands;
	size_t		 nbands, bands_cap;
	/* timeframes.txt rows before grouping */
	struct t_tf_row	*tfr;
	uint32_t	*tfr_group;
	size_t		 ntfr, tfr_cap;
	size_t		 nrows;		/* rows of the current file */
	int		 header_failed;	/* the last load_file's header was bad */
	int		 stops_broken;	/* no stop references are checked */
	size_t		 stop_cap, service_cap, exc_cap, media_cap;
	size_t		 product_cap, leg_rule_cap, transfer_cap;
	struct net_row	*net_rows;
	size_t		 nnet_rows, net_rows_cap;
	enum net_src	 net_src;	/* the source in use */
	/* where each network is defined, for warnings naming it */
	unsigned long	*net_row_of;
	enum net_src	*net_src_of;
	/* agency.txt: agency_id and agency_name of each row */
	struct net_row	*agencies;
	size_t		 nagencies, agencies_cap;
};

typedef void	(*row_fn)(struct loader *, const struct csv_record *,
		    const int *col);

struct column {
	const char	*name;
	int		 required;
};

#define ERR(L, rec, ...) diag_error((L)->d, (L)->file, (rec)->line, __VA_ARGS__)

static void *
grow(struct loader *L, void *p, size_t *cap, size_t n, size_t size)
{
	size_t ncap;
	void *q;

	if (n < *cap)
		return p;
	ncap = *cap ? *cap * 2 : 64;
	if ((q = realloc(p, ncap * size)) == NULL) {
		L->oom = 1;
		return NULL;
	}
	*cap = ncap;
	return q;
}

/* DIR/NAME, as diagnostics name files. */
static const char *
tpath(struct loader *L, const char *name)
{
	snprintf(L->path, sizeof L->path, "%s/%s", L->t->dir, name);
	return L->path;
}

/* A file of the tariff in memory, or NULL. */
static const struct tariff_file *
mem_file(const struct loader *L, const char *name)
{
	size_t i;

	for (i = 0; i < L->mem->nfiles; i++)
		if (strcmp(L->mem->files[i].name, name) == 0)
			return &L->mem->files[i];
	return NULL;
}

static int
file_exists(const struct loader *L, const char *name)
{
	char path[4096];

	if (L->mem != NULL)
		return mem_file(L, name) != NULL;
	snprintf(path, sizeof path, "%s/%s", L->t->dir, name);
	return access(path, F_OK) == 0;
}

/* One file of the tariff as CSV, from its directory or from memory; NULL
 * with errno (ENOENT: no such file). */
static struct csv *
open_file(const struct loader *L, const char *name)
{
	const struct tariff_file *f;
	char path[4096];

	if (L->mem == NULL) {
		snprintf(path, sizeof path, "%s/%s", L->t->dir, name);
		return csv_open(path);
	}
	if ((f = mem_file(L, name)) == NULL) {
		errno = ENOENT;
		return NULL;
	}
	return csv_open_mem(f->data, f->len);
}

/*
 * Every field the loader reads is UTF-8 text without control characters
 * (SPEC §2: GTFS forbids tabs and line breaks in fields); a row with one
 * that is not is reported at its line and skipped.  Unknown columns are
 * not looked at.
 */
static int
check_text(struct loader *L, const struct csv_record *rec,
    const struct column *cols, const int *col, size_t ncols)
{
	const char *why;
	size_t i, at;
	int bad = 0;

	for (i = 0; i < ncols; i++) {
		const char *f;
		if (col[i] < 0 || (size_t)col[i] >= rec->nfields)
			continue;
		f = rec->field[col[i]];
		if (utf8_check(f, rec->len[col[i]], &at, &why) == 0)
			continue;
		if ((unsigned char)f[at] < 0x20)
			ERR(L, rec, "%s has a control character (U+%04X) at "
			    "byte %zu: GTFS forbids tabs and line breaks in "
			    "fields", cols[i].name, (unsigned char)f[at],
			    at + 1);
		else
			ERR(L, rec, "%s is not valid UTF-8 text: %s at byte %zu",
			    cols[i].name, why, at + 1);
		bad = 1;
	}
	return bad ? -1 : 0;
}

/* The columns of the header (rec) in col; -1 after reporting a required
 * column missing or a column named twice. */
static int
map_header(struct loader *L, const struct csv_record *rec,
    const struct column *cols, size_t ncols, int *col)
{
	const char *names[32];
	int dup, bad = 0;
	size_t i;

	for (i = 0; i < ncols; i++)
		names[i] = cols[i].name;
	if ((dup = csv_header_map(rec, names, col, ncols)) != -1) {
		diag_error(L->d, L->file, 1, "column '%s' appears twice",
		    rec->field[dup]);
		bad = 1;
	}
	for (i = 0; i < ncols; i++) {
		if (cols[i].required && col[i] == -1) {
			diag_error(L->d, L->file, 1,
			    "missing required column '%s'", cols[i].name);
			bad = 1;
		}
	}
	return bad ? -1 : 0;
}

/*
 * Reads one file: checks the header for the required columns, then hands
 * each record to fn.  Returns 0 when the file was read, -1 when it is
 * missing (an error only when required).
 */
static int
load_file(struct loader *L, const char *name, int required,
    const struct column *cols, size_t ncols, size_t max_rows, row_fn fn)
{
	struct csv *c;
	struct csv_record rec;
	int col[32], r;

	L->nrows = 0;
	L->header_failed = 0;
	c = open_file(L, name);
	name = L->file = tpath(L, name);
	if (c == NULL) {
		if (errno == ENOENT && !required)
			return -1;
		diag_error(L->d, name, 0, errno == ENOENT ?
		    "required file is missing" : "cannot open: %s",
		    strerror(errno));
		return -1;
	}
	r = csv_next(c, &rec);
	if (r == 0 && !required) {
		/* Published feeds ship empty optional files: as absent. */
		diag_warn(L->d, name, 1, "empty file: no header; read as "
		    "absent");
		csv_close(c);
		return -1;
	}
	if (r <= 0) {
		diag_error(L->d, name, r == 0 ? 1 : rec.line, "%s",
		    r == 0 ? "empty file: no header" : csv_error(c));
		csv_close(c);
		return 0;
	}
	if (map_header(L, &rec, cols, ncols, col) == -1) {
		L->header_failed = 1;
		csv_close(c);
		return 0;
	}
	while ((r = csv_next(c, &rec)) != 0 && !L->oom) {
		if (r == -1) {
			diag_error(L->d, name, rec.line, "%s", csv_error(c));
			if (csv_error_ends(c))
				break;
			continue;
		}
		if (++L->nrows > max_rows) {
			diag_error(L->d, name, rec.line,
			    "more than %zu rows: over the limit", max_rows);
			break;
		}
		if (check_text(L, &rec, cols, col, ncols) == -1)
			continue;
		fn(L, &rec, col);
	}
	csv_close(c);
	return 0;
}

/* Checks an id field: non-empty when required, bounded (load_file has
 * checked that it is UTF-8 text). */
static int
check_id(struct loader *L, const struct csv_record *rec, const char *what,
    const char *s, int required)
{
	size_t len = strlen(s);

	if (len == 0) {
		if (required)
			ERR(L, rec, "%s is empty", what);
		return required ? -1 : 0;
	}
	if (len > LIMIT_ID_LEN) {
		ERR(L, rec, "%s is longer than %d bytes", what, LIMIT_ID_LEN);
		return -1;
	}
	return 0;
}

/* Looks up an id that must exist; reports a dangling one. */
static uint32_t
ref(struct loader *L, const struct csv_record *rec, const struct strtab *tab,
    const char *what, const char *s)
{
	uint32_t id;

	if (*s == '\0' || (tab == L->t->stop_ids && L->stops_broken))
		return TARIFF_NONE;
	id = tab != NULL ? strtab_find(tab, s, strlen(s)) : STRTAB_NONE;
	if (id == STRTAB_NONE)
		ERR(L, rec, "unknown %s '%s'", what, s);
	return id;
}

static int
parse_flag(struct loader *L, const struct csv_record *rec, const char *what,
    const char *s, int dflt)
{
	if (*s == '\0')
		return dflt;
	if (strcmp(s, "0") == 0 || strcmp(s, "1") == 0)
		return *s - '0';
	ERR(L, rec, "%s '%s' must be 0 or 1", what, s);
	return -1;
}

static int64_t
parse_num(struct loader *L, const struct csv_record *rec, const char *what,
    const char *s, int64_t lo, int64_t hi, int64_t dflt)
{
	const char *why;
	int64_t v;

	if (*s == '\0')
		return dflt;
	if (parse_int(s, lo, hi, &v, &why) == -1) {
		ERR(L, rec, "%s '%s': %s (%lld to %lld)", what, s, why,
		    (long long)lo, (long long)hi);
		return dflt;
	}
	return v;
}

static int
parse_money(struct loader *L, const struct csv_record *rec, const char *what,
    const char *s, int64_t *cents)
{
	const char *why;

	if (*s == '\0') {
		ERR(L, rec, "%s is empty", what);
		return -1;
	}
	if (parse_decimal(s, 2, LIMIT_AMOUNT_CENTS, cents, &why) == -1) {
		ERR(L, rec, "%s '%s': %s", what, s, why);
		return -1;
	}
	return 0;
}

/*
 * One currency per feed (SPEC §2).  Every amount's row is kept; once all
 * are read, the currency of most rows (the first seen on a tie) is the
 * feed's, and each row of another is reported: the odd line out, not
 * every line after an odd first one.
 */
static int
check_currency_code(struct loader *L, const struct csv_record *rec,
    const char *s)
{
	if (strlen(s) != 3 || s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' ||
	    s[1] > 'Z' || s[2] < 'A' || s[2] > 'Z') {
		ERR(L, rec, "currency '%s' is not an ISO 4217 code", s);
		return -1;
	}
	return 0;
}

/* Counts a row that is used (a bank-card product row, a cap). */
static void
check_currency(struct loader *L, const struct csv_record *rec, const char *s)
{
	struct cur_row *v;
	size_t c;

	if (check_currency_code(L, rec, s) == -1)
		return;
	for (c = 0; c < L->ncur && strcmp(L->cur[c].code, s) != 0; c++)
		;
	if (c == L->ncur) {
		if (L->ncur == LIMIT_CURRENCIES) {
			ERR(L, rec, "mixed currencies: %s is the %dth currency",
			    s, LIMIT_CURRENCIES + 1);
			return;
		}
		memcpy(L->cur[c].code, s, 4);
		snprintf(L->cur[c].where, sizeof L->cur[c].where, "%s:%lu",
		    L->file, rec->line);
		L->cur[c].count = 0;
		L->ncur++;
	}
	L->cur[c].count++;
	if ((v = grow(L, L->cur_rows, &L->cur_rows_cap, L->ncur_rows,
	    sizeof *v)) == NULL)
		return;
	L->cur_rows = v;
	v[L->ncur_rows].cur = (uint8_t)c;
	v[L->ncur_rows].caps = strstr(L->file, "fare_caps.txt") != NULL;
	v[L->ncur_rows].line = rec->line;
	L->ncur_rows++;
}

static void
finish_currencies(struct loader *L)
{
	size_t c, best = 0, k;

	if (L->ncur == 0)
		return;
	for (c = 1; c < L->ncur; c++)
		if (L->cur[c].count > L->cur[best].count)
			best = c;
	memcpy(L->t->currency, L->cur[best].code, 4);
	for (k = 0; k < L->ncur_rows && L->ncur > 1; k++) {
		const struct cur_row *r = &L->cur_rows[k];
		if (r->cur != best)
			diag_error(L->d, tpath(L, r->caps ? "fare_caps.txt" :
			    "fare_products.txt"), r->line, "mixed currencies: "
			    "%s here, %s at %s", L->cur[r->cur].code,
			    L->cur[best].code, L->cur[best].where);
	}
}

/* agency.txt */

/* Keeps a row's id and name for the networks (net_rows or agencies). */
static void
keep_net_row(struct loader *L, struct net_row **rows, size_t *n, size_t *cap,
    const struct csv_record *rec, const char *id, const char *name,
    enum net_src src)
{
	struct net_row *v;

	if ((v = grow(L, *rows, cap, *n, sizeof *v)) == NULL)
		return;
	*rows = v;
	v[*n].id = strdup(id);
	v[*n].name = strdup(name);
	v[*n].row = rec->line;
	v[*n].src = src;
	if (v[*n].id == NULL || v[*n].name == NULL)
		L->oom = 1;
	(*n)++;
}

static void
row_agency(struct loader *L, const struct csv_record *rec, const int *col)
{
	const char *tzname = csv_field(rec, col[0]);
	char err[256];

	if (check_id(L, rec, "agency_id", csv_field(rec, col[1]), 0) == 0)
		keep_net_row(L, &L->agencies, &L->nagencies, &L->agencies_cap,
		    rec, csv_field(rec, col[1]), csv_field(rec, col[2]),
		    NET_SRC_AGENCY);

	if (*tzname == '\0') {
		ERR(L, rec, "agency_timezone is empty");
		return;
	}
	if (L->t->tz_name == NULL) {
		if (L->mem != NULL && L->mem->tzif != NULL) {
			/* Any valid zone name reads the TZif given. */
			L->t->tz = tz_name_ok(tzname) ? tz_parse(L->mem->tzif,
			    L->mem->tzif_len, err, sizeof err) : NULL;
			if (L->t->tz == NULL && !tz_name_ok(tzname))
				snprintf(err, sizeof err, "'%s' is not an IANA "
				    "time zone name", tzname);
		} else
			L->t->tz = tz_load(tzname, err, sizeof err);
		if (L->t->tz == NULL) {
			ERR(L, rec, "%s", err);
			return;
		}
		if ((L->t->tz_name = strdup(tzname)) == NULL)
			L->oom = 1;
	} else if (strcmp(L->t->tz_name, tzname) != 0)
		ERR(L, rec, "agency_timezone '%s' differs from '%s': one "
		    "timezone per feed", tzname, L->t->tz_name);
}

static void
load_agency(struct loader *L)
{
	static const struct column cols[] = {
		{"agency_timezone", 1}, {"agency_id", 0}, {"agency_name", 0},
	};

	if (load_file(L, "agency.txt", 1, cols, 3, LIMIT_RULES, row_agency) == 0 &&
	    L->t->tz_name == NULL && L->d->nerrors == 0)
		diag_error(L->d, tpath(L, "agency.txt"), 1, "no agency rows: the feed "
		    "has no timezone");
}

/* feed_info.txt */

static void
row_feed_info(struct loader *L, const struct csv_record *rec, const int *col)
{
	const char *s = csv_field(rec, col[0]), *why;
	int32_t v;

	if (*s == '\0')
		return;
	if (parse_hms(s, 23, &v, &why) == -1) {
		ERR(L, rec, "service_day_start '%s': %s", s, why);
		return;
	}
	L->t->day_start_s = v;
	if (L->t->tz != NULL && tz_tod_unstable(L->t->tz, v))
		ERR(L, rec, "service_day_start %s falls in an hour that "
		    "daylight saving skips or repeats in %s", s,
		    L->t->tz_name);
}

static void
load_feed_info(struct loader *L)
{
	static const struct column cols[] = {{"service_day_start", 0}};

	L->t->day_start_s = 4 * 3600;
	load_file(L, "feed_info.txt", 0, cols, 1, 1, row_feed_info);
}

/* stops.txt */

static double
parse_coord(struct loader *L, const struct csv_record *rec, const char *what,
    const char *s, double lim)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (*s == '\0' || *end != '\0' || errno != 0 || !(v >= -lim && v <= lim)) {
		ERR(L, rec, "%s '%s' is not a coordinate in [-%g, %g]", what, s,
		    lim, lim);
		return 0;
	}
	return v;
}

/*
 * stop_lat and stop_lon: required, except that GTFS lets generic nodes and
 * boarding areas (location_type 3 and 4) go without (SPEC §2); such a stop
 * has no great-circle distance to another.
 */
static void
stop_coords(struct loader *L, const struct csv_record *rec, const int *col,
    struct t_stop *st)
{
	const char *lat = csv_field(rec, col[2]), *lon = csv_field(rec, col[3]);
	int64_t type = parse_num(L, rec, "location_type", csv_field(rec, col[5]),
	    0, 4, 0);

	st->lat = st->lon = 0;
	st->has_coords = 0;
	if (*lat == '\0' && *lon == '\0' && (type == 3 || type == 4))
		return;
	if (*lat == '\0' || *lon == '\0') {
		ERR(L, rec, "%s is empty: only generic nodes and boarding areas "
		    "(location_type 3 and 4) may go without coordinates",
		    *lat == '\0' ? "stop_lat" : "stop_lon");
		return;
	}
	st->lat = parse_coord(L, rec, "stop_lat", lat, 90);
	st->lon = parse_coord(L, rec, "stop_lon", lon, 180);
	st->has_coords = 1;
}

static void
row_stop(struct loader *L, const struct csv_record *rec, const int *col)
{
	struct tariff *t = L->t;
	const char *id = csv_field(rec, col[0]), *parent = csv_field(rec, col[4]);
	const char *name = csv_field(rec, col[1]);
	uint32_t s, n;
	int added;

	if (check_id(L, rec, "stop_id", id, 1) == -1)
		return;
	if (strtab_count(t->stop_ids) >= LIMIT_STOPS) {
		ERR(L, rec, "more than %d stops: over the limit", LIMIT_STOPS);
		return;
	}
	s = strtab_intern(t->stop_ids, id, strlen(id), &added);
	if (s == STRTAB_NONE) {
		L->oom = 1;
		return;
	}
	if (!added) {
		ERR(L, rec, "stop_id '%s' is listed twice (first at line %lu)",
		    id, L->stop_row[s]);
		return;
	}
	if (s >= L->stop_cap) {
		size_t ncap = L->stop_cap ? L->stop_cap * 2 : 1024;
		struct t_stop *st = realloc(t->stop, ncap * sizeof *st);
		uint32_t *po = realloc(L->parent_of, ncap * sizeof *po);
		unsigned long *sr;
		if (st != NULL)
			t->stop = st;
		if (po != NULL)
			L->parent_of = po;
		sr = realloc(L->stop_row, ncap * sizeof *sr);
		if (sr != NULL)
			L->stop_row = sr;
		if (st == NULL || po == NULL || sr == NULL) {
			L->oom = 1;
			return;
		}
		L->stop_cap = ncap;
	}
	if ((n = strtab_intern(t->stop_names, name, strlen(name), NULL)) ==
	    STRTAB_NONE) {
		L->oom = 1;
		return;
	}
	t->stop[s].name = n;
	L->stop_row[s] = rec->line;
	stop_coords(L, rec, col, &t->stop[s]);
	t->stop[s].parent = TARIFF_NONE;
	t->stop[s].nareas = 0;
	L->parent_of[s] = STRTAB_NONE;
	if (*parent != '\0')
		L->parent_of[s] = strtab_intern(L->parent_names, parent,
		    strlen(parent), NULL);
}

/*
 * Each stop's station: the topmost parent_station above it.  GTFS nests
 * at most three deep (boarding area, platform, station); a deeper chain
 * is a cycle or a mistake, reported at the stop where it starts.
 */
static void
resolve_stations(struct loader *L)
{
	struct tariff *t = L->t;
	uint32_t i, s, n = strtab_count(t->stop_ids);
	int depth;

	for (i = 0; i < n; i++) {
		for (s = i, depth = 0; t->stop[s].parent != TARIFF_NONE &&
		    depth < 3; depth++)
			s = t->stop[s].parent;
		if (t->stop[s].parent != TARIFF_NONE) {
			diag_error(L->d, tpath(L, "stops.txt"), L->stop_row[i],
			    "parent_station of '%s' leads to a cycle or nests "
			    "more than three deep", strtab_name(t->stop_ids, i));
			s = i;
		}
		t->stop[i].station = s;
		t->stop[i].area_stop = i;
	}
}

static void
load_stops(struct loader *L)
{
	static const struct column cols[] = {
		{"stop_id", 1}, {"stop_name", 0}, {"stop_lat", 1},
		{"stop_lon", 1}, {"parent_station", 0}, {"location_type", 0},
	};
	struct tariff *t = L->t;
	uint32_t i, n;

	if (load_file(L, "stops.txt", 1, cols, 6, LIMIT_STOPS + 1, row_stop) ||
	    L->header_failed) {
		L->stops_broken = 1;
		return;
	}
	n = strtab_count(t->stop_ids);
	for (i = 0; i < n && !L->oom; i++) {
		const char *p;
		if (L->parent_of[i] == STRTAB_NONE)
			continue;
		p = strtab_name(L->parent_names, L->parent_of[i]);
		t->stop[i].parent = strtab_find(t->stop_ids, p, strlen(p));
		if (t->stop[i].parent == STRTAB_NONE) {
			diag_error(L->d, tpath(L, "stops.txt"), L->stop_row[i],
			    "unknown parent_station '%s'", p);
			t->stop[i].parent = TARIFF_NONE;
		} else if (t->stop[i].parent == i) {
			diag_error(L->d, tpath(L, "stops.txt"), L->stop_row[i],
			    "stop '%s' is its own parent_station", p);
			t->stop[i].parent = TARIFF_NONE;
		}
	}
	resolve_stations(L);
	if (n == 0 && L->d->nerrors == 0)
		diag_error(L->d, tpath(L, "stops.txt"), 1, "no stops");
}

/*
 * networks.txt, or routes.txt's network_id, or agency.txt (SPEC §2).  The
 * rows are collected, sorted and interned in byte order of their ids.
 */

static void
row_network(struct loader *L, const struct csv_record *rec, const int *col)
{
	const char *id = csv_field(rec, col[0]);

	if (check_id(L, rec, "network_id", id, 1) == -1)
		return;
	keep_net_row(L, &L->net_rows, &L->nnet_rows, &L->net_rows_cap, rec,
	    id, csv_field(rec, col[1]), NET_SRC_NETWORKS);
}

/* routes.txt: each distinct non-empty network_id is a network. */
static void
row_route(struct loader *L, const struct csv_record *rec, const int *col)
{
	const char *id = csv_field(rec, col[0]);

	if (*id == '\0' || check_id(L, rec, "network_id", id, 0) == -1)
		return;
	keep_net_row(L, &L->net_rows, &L->nnet_rows, &L->net_rows_cap, rec,
	    id, "", NET_SRC_ROUTES);
}

static int
net_row_cmp(const void *a, const void *b)
{
	const struct net_row *x = a, *y = b;
	int c = strcmp(x->id, y->id);

	if (c != 0)
		return c;
	if (x->src != y->src)
		return x->src < y->src ? -1 : 1;
	return (x->row > y->row) - (x->row < y->row);
}

static void
net_rows_free(struct net_row *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].id);
		free(v[i].name);
	}
	free(v);
}

/* Collects the network rows from the first source that has any. */
static void
collect_networks(struct loader *L)
{
	static const struct column ncols[] = {
		{"network_id", 1}, {"network_name", 0},
	};
	static const struct column rcols[] = {{"network_id", 0}};
	size_t i, from_networks;
	int have_networks;

	L->nnet_rows = 0;
	have_networks = load_file(L, "networks.txt", 0, ncols, 2, LIMIT_RULES,
	    row_network) == 0;
	from_networks = L->nnet_rows;
	load_file(L, "routes.txt", 0, rcols, 1, LIMIT_TARIFF_ROWS, row_route);
	L->net_src = NET_SRC_NETWORKS;
	if (have_networks && L->nnet_rows > from_networks) {
		/* GTFS forbids this; take both, and say so. */
		diag_warn(L->d, tpath(L, "routes.txt"),
		    L->net_rows[from_networks].row, "routes.txt has network_id "
		    "although the feed has networks.txt, which GTFS forbids; "
		    "the networks of both are used");
	} else if (!have_networks && L->nnet_rows > 0)
		L->net_src = NET_SRC_ROUTES;
	else if (!have_networks) {
		L->net_src = NET_SRC_AGENCY;
		for (i = 0; i < L->nagencies; i++) {
			struct net_row *a = &L->agencies[i];
			struct csv_record rec;
			if (*a->id == '\0' && L->nagencies == 1 &&
			    *a->name != '\0' && strlen(a->name) <= LIMIT_ID_LEN) {
				/* GTFS lets a one-agency feed omit agency_id. */
				diag_warn(L->d, tpath(L, "agency.txt"), a->row,
				    "the feed's only agency has no agency_id: "
				    "its network is named after agency_name "
				    "'%s', and taps must name it so", a->name);
				free(a->id);
				if ((a->id = strdup(a->name)) == NULL) {
					L->oom = 1;
					return;
				}
			}
			if (*a->id == '\0') {
				diag_error(L->d, tpath(L, "agency.txt"), a->row,
				    "agency_id is empty: a feed with neither "
				    "networks.txt nor network_id in routes.txt "
				    "has a network per agency_id");
				continue;
			}
			rec.line = a->row;
			keep_net_row(L, &L->net_rows, &L->nnet_rows,
			    &L->net_rows_cap, &rec, a->id, a->name,
			    NET_SRC_AGENCY);
		}
	}
}

static int
net_row_line_cmp(const void *a, const void *b)
{
	const struct net_row *x = a, *y = b;

	if (x->src != y->src)
		return x->src < y->src ? -1 : 1;
	return (x->row > y->row) - (x->row < y->row);
}

/* Names the line where the (LIMIT_NETWORKS + 1)th distinct id appears. */
static void
over_network_limit(struct loader *L)
{
	struct net_row *v = malloc(L->nnet_rows * sizeof *v);
	size_t i, k = 0;

	if (v == NULL) {
		L->oom = 1;
		return;
	}
	/* The first row of each id (rows are sorted by id, then line). */
	for (i = 0; i < L->nnet_rows; i++)
		if (i == 0 || strcmp(L->net_rows[i].id, L->net_rows[i - 1].id))
			v[k++] = L->net_rows[i];
	qsort(v, k, sizeof *v, net_row_line_cmp);
	diag_error(L->d, tpath(L, net_src_file[v[LIMIT_NETWORKS].src]),
	    v[LIMIT_NETWORKS].row, "more than %d networks: over the limit",
	    LIMIT_NETWORKS);
	free(v);
}

static void
load_networks(struct loader *L)
{
	struct tariff *t = L->t;
	size_t i;

	collect_networks(L);
	if (L->nnet_rows > 0)
		qsort(L->net_rows, L->nnet_rows, sizeof *L->net_rows,
		    net_row_cmp);
	t->network = calloc(L->nnet_rows + 1, sizeof *t->network);
	L->net_row_of = calloc(L->nnet_rows + 1, sizeof *L->net_row_of);
	L->net_src_of = calloc(L->nnet_rows + 1, sizeof *L->net_src_of);
	if (t->network == NULL || L->net_row_of == NULL ||
	    L->net_src_of == NULL) {
		L->oom = 1;
		return;
	}
	for (i = 0; i < L->nnet_rows; i++) {
		struct net_row *v = &L->net_rows[i];
		const char *file = tpath(L, net_src_file[v->src]);
		uint32_t n;
		if (i > 0 && strcmp(v->id, v[-1].id) == 0) {
			/* A network has many routes; networks.txt names one
			 * once (and agency.txt an agency). */
			if (v->src == v[-1].src && v->src != NET_SRC_ROUTES)
				diag_error(L->d, file, v->row, "%s '%s' is "
				    "listed twice (first at line %lu)",
				    v->src == NET_SRC_AGENCY ? "agency_id" :
				    "network_id", v->id, v[-1].row);
			continue;
		}
		if (strtab_count(t->network_ids) >= LIMIT_NETWORKS) {
			over_network_limit(L);
			break;
		}
		n = strtab_intern(t->network_ids, v->id, strlen(v->id), NULL);
		if (n == STRTAB_NONE) {
			L->oom = 1;
			break;
		}
		t->network[n].name = v->name;
		v->name = NULL;
		L->net_row_of[n] = v->row;
		L->net_src_of[n] = v->src;
	}
	t->nnetworks = strtab_count(t->network_ids);
	net_rows_free(L->net_rows, L->nnet_rows);
	L->net_rows = NULL;
	L->nnet_rows = L->net_rows_cap = 0;
	if (t->nnetworks == 0 && L->d->nerrors == 0)
		diag_error(L->d, tpath(L, net_src_file[L->net_src]), 1,
		    "no networks: the feed needs networks.txt, network_id in "
		    "routes.txt, or agency_id in agency.txt");
	if (L->policy_row == NULL &&
	    (L->policy_row = calloc(t->nnetworks + 1,
	    sizeof *L->policy_row)) == NULL)
		L->oom = 1;
}

/* areas.txt and stop_areas.txt */

static void
row_area(struct loader *L, const struct csv_record *rec, const int *col)
{
	const char *id = csv_field(rec, col[0]);
	int added;

	if (check_id(L, rec, "area_id", id, 1) == -1)
		return;
	if (strtab_intern(L->t->area_ids, id, strlen(id), &added) ==
	    STRTAB_NONE)
		L->oom = 1;
	else if (!added)
		ERR(L, rec, "area_id '%s' is listed twice", id);
}

static void
row_stop_area(struct loader *L, const struct csv_record *rec, const int *col)
{
	uint32_t a = ref(L, rec, L->t->area_ids, "area_id",
	    csv_field(rec, col[0]));
	uint32_t s = ref(L, rec, L->t->stop_ids, "stop_id",
	    csv_field(rec, col[1]));
	void *p;

	if (*csv_field(rec, col[0]) == '\0')
		ERR(L, rec, "area_id is empty");
	if (*csv_field(rec, col[1]) == '\0')
		ERR(L, rec, "stop_id is empty");
	if (a == TARIFF_NONE || s == TARIFF_NONE)
		return;
	if ((p = grow(L, L->sa_stop, &L->sa_cap, L->nsa, sizeof(uint32_t)))
	    == NULL)
		return;
	L->sa_stop = p;
	if ((p = realloc(L->sa_area, L->sa_cap * sizeof(uint32_t))) == NULL) {
		L->oom = 1;
		return;
	}
	L->sa_area = p;
	L->sa_stop[L->nsa] = s;
	L->sa_area[L->nsa] = a;
	L->nsa++;
}

/* Groups stop_areas rows per stop; a stop without rows takes its parent's. */
static void
group_stop_areas(struct loader *L)
{
	struct tariff *t = L->t;
	uint32_t i, n = strtab_count(t->stop_ids), *cnt;
	size_t k;

	t->stop_area_list = malloc((L->nsa + 1) * sizeof(uint32_t));
	cnt = calloc((size_t)n + 1, sizeof *cnt);
	if (t->stop_area_list == NULL || cnt == NULL) {
		free(cnt);
		L->oom = 1;
		return;
	}
	for (k = 0; k < L->nsa; k++)
		cnt[L->sa_stop[k]]++;
	for (i = 0, k = 0; i < n; i++) {
		t->stop[i].areas_off = (uint32_t)k;
		t->stop[i].nareas = 0;
		k += cnt[i];
	}
	for (k = 0; k < L->nsa; k++) {
		struct t_stop *s = &t->stop[L->sa_stop[k]];
		t->stop_area_list[s->areas_off + s->nareas++] = L->sa_area[k];
	}
	free(cnt);
	/* A stop without areas takes its nearest parent's that has some
	 * (a boarding area its platform's, else its station's). */
	for (i = 0; i < n; i++) {
		uint32_t a = i;
		int depth;
		for (depth = 0; t->stop[a].nareas == 0 &&
		    t->stop[a].parent != TARIFF_NONE && depth < 3; depth++)
			a = t->stop[a].parent;
		t->stop[i].area_stop = t->stop[a].nareas > 0 ? a : i;
	}
}

static void
load_areas(struct loader *L)
{
	static const struct column acols[] = {{"area_id", 1}};
	static const struct column scols[] = {{"area_id", 1}, {"stop_id", 1}};

	load_file(L, "areas.txt", 0, acols, 1, LIMIT_TARIFF_ROWS, row_area);
	load_file(L, "stop_areas.txt", 0, scols, 2, LIMIT_TARIFF_ROWS,
	    row_stop_area);
	if (L->t->stop != NULL)
		group_stop_areas(L);
}

/* calendar.txt and calendar_dates.txt */

static struct t_service *
service_slot(struct loader *L, uint32_t id)
{
	struct tariff *t = L->t;
	size_t cap = L->service_cap;

	if (id >= cap) {
		size_t ncap = cap ? cap * 2 : 64;
		struct t_service *v = realloc(t->service, ncap * sizeof *v);
		if (v == NULL) {
			L->oom = 1;
			return NULL;
		}
		memset(v + cap, 0, (ncap - cap) * sizeof *v);
		t->service = v;
		L->service_cap = ncap;
	}
	return &t->service[id];
}

static void
row_calendar(struct loader *L, const struct csv_record *rec, const int *col)
{
	static const char *const days[] = {"monday", "tuesday", "wednesday",
	    "thursday", "friday", "saturday", "sunday"};
	const char *id = csv_field(rec, col[0]), *why;
	struct t_service *sv;
	uint32_t s;
	int added, i;

	if (check_id(L, rec, "service_id", id, 1) == -1)
		return;
	s = strtab_intern(L->t->service_ids, id, strlen(id), &added);
	if (s == STRTAB_NONE || (sv = service_slot(L, s)) == NULL)
		return;
	if (!added && sv->has_calendar) {
		ERR(L, rec, "service_id '%s' is listed twice", id);
		return;
	}
	sv->has_calendar = 1;
	for (i = 0; i < 7; i++) {
		const char *f = csv_field(rec, col[1 + i]);
		if (strcmp(f, "0") != 0 && strcmp(f, "1") != 0)
			ERR(L, rec, "%s '%s' must be 0 or 1", days[i], f);
		else if (*f == '1')
			sv->weekdays |= (uint8_t)(1u << i);
	}
	if (parse_yyyymmdd(csv_field(rec, col[8]), &sv->start_day, &why) == -1)
		ERR(L, rec, "start_date '%s': %s", csv_field(rec, col[8]), why);
	if (parse_yyyymmdd(csv_field(rec, col[9]), &sv->end_day, &why) == -1)
		ERR(L, rec, "end_date '%s': %s", csv_field(rec, col[9]), why);
	else if (sv->end_day < sv->start_day)
		ERR(L, rec, "end_date is before start_date");
}

static void
row_calendar_date(struct loader *L, const struct csv_record *rec,
    const int *col)
{
	struct tariff *t = L->t;
	const char *id = csv_field(rec, col[0]), *why;
	const char *type = csv_field(rec, col[2]);
	struct t_exception *v;
	int32_t day;
	uint32_t s;

	if (check_id(L, rec, "service_id", id, 1) == -1)
		return;
	if (parse_yyyymmdd(csv_field(rec, col[1]), &day, &why) == -1) {
		ERR(L, rec, "date '%s': %s", csv_field(rec, col[1]), why);
		return;
	}
	if (strcmp(type, "1") != 0 && strcmp(type, "2") != 0) {
		ERR(L, rec, "exception_type '%s' must be 1 or 2", type);
		return;
	}
	s = strtab_intern(t->service_ids, id, strlen(id), NULL);
	if (s == STRTAB_NONE || service_slot(L, s) == NULL)
		return;
	if ((v = grow(L, t->exception, &L->exc_cap, t->nexceptions, sizeof *v))
	    == NULL)
		return;
	t->exception = v;
	v[t->nexceptions].service = s;
	v[t->nexceptions].day = day;
	v[t->nexceptions].added = *type == '1';
	t->nexceptions++;
}

static int
exception_cmp(const void *a, const void *b)
{
	const struct t_exception *x = a, *y = b;

	if (x->service != y->service)
		return x->service < y->service ? -1 : 1;
	return (x->day > y->day) - (x->day < y->day);
}

static void
load_calendar(struct loader *L)
{
	static const struct column cols[] = {
		{"service_id", 1}, {"monday", 1}, {"tuesday", 1},
		{"wednesday", 1}, {"thursday", 1}, {"friday", 1},
		{"saturday", 1}, {"sunday", 1}, {"start_date", 1},
		{"end_date", 1},
	};
	static const struct column dcols[] = {
		{"service_id", 1}, {"date", 1}, {"exception_type", 1},
	};

	load_file(L, "calendar.txt", 0, cols, 10, LIMIT_TARIFF_ROWS,
	    row_calendar);
	load_file(L, "calendar_dates.txt", 0, dcols, 3, LIMIT_TARIFF_ROWS,
	    row_calendar_date);
	if (L->t->nexceptions > 0)
		qsort(L->t->exception, L->t->nexceptions,
		    sizeof *L->t->exception, exception_cmp);
}

/* timeframes.txt */

static void
row_timeframe(struct loader *L, const struct csv_record *rec, const int *col)
{
	const char *id = csv_field(rec, col[0]), *why;
	const char *st = csv_field(rec, col[1]), *en = csv_field(rec, col[2]);
	struct t_tf_row r = {0, 86400, TARIFF_NONE};
	uint32_t g;
	void *p;

	if (check_id(L, rec, "timeframe_group_id", id, 1) == -1)
		return;
	if ((*st == '\0') != (*en == '\0'))
		ERR(L, rec, "start_time and end_time must both be set or both "
		    "be empty");
	if (*st != '\0' && parse_hms(st, 24, &r.start_s, &why) == -1)
		ERR(L, rec, "start_time '%s': %s", st, why);
	if (*en != '\0' && parse_hms(en, 24, &r.end_s, &why) == -1)
		ERR(L, rec, "end_time '%s': %s", en, why);
	if (r.start_s >= r.end_s)
		ERR(L, rec, "start_time must be before end_time");
	if (*csv_field(rec, col[3]) == '\0') {
		ERR(L, rec, "service_id is empty");
		return;
	}
	r.service = ref(L, rec, L->t->service_ids, "service_id",
	    csv_field(rec, col[3]));
	g = strtab_intern(L->t->tf_ids, id, strlen(id), NULL);
	if (g == STRTAB_NONE) {
		L->oom = 1;
		return;
	}
	if ((p = grow(L, L->tfr, &L->tfr_cap, L->ntfr, sizeof *L->tfr)) == NULL)
		return;
	L->tfr = p;
	if ((p = realloc(L->tfr_group, L->tfr_cap * sizeof(uint32_t))) == NULL) {
		L->oom = 1;
		return;
	}
	L->tfr_group = p;
	L->tfr[L->ntfr] = r;
	L->tfr_group[L->ntfr] = g;
	L->ntfr++;
}

static void
load_timeframes(struct loader *L)
{
	static const struct column cols[] = {
		{"timeframe_group_id", 1}, {"start_time", 0}, {"end_time", 0},
		{"service_id", 1},
	};
	struct tariff *t = L->t;
	uint32_t n, g;
	size_t k;

	load_file(L, "timeframes.txt", 0, cols, 4, LIMIT_RULES, row_timeframe);
	n = strtab_count(t->tf_ids);
	t->tf_off = calloc((size_t)n + 1, sizeof(uint32_t));
	t->tf_count = calloc((size_t)n + 1, sizeof(uint32_t));
	t->tf_row = malloc((L->ntfr + 1) * sizeof *t->tf_row);
	if (t->tf_off == NULL || t->tf_count == NULL || t->tf_row == NULL) {
		L->oom = 1;
		return;
	}
	for (k = 0; k < L->ntfr; k++)
		t->tf_count[L->tfr_group[k]]++;
	for (g = 1; g < n; g++)
		t->tf_off[g] = t->tf_off[g - 1] + t->tf_count[g - 1];
	memset(t->tf_count, 0, ((size_t)n + 1) * sizeof(uint32_t));
	for (k = 0; k < L->ntfr; k++) {
		g = L->tfr_group[k];
		t->tf_row[t->tf_off[g] + t->tf_count[g]++] = L->tfr[k];
	}
}

/* fare_media.txt and fare_products.txt */

static void
row_media(struct loader *L, const struct csv_record *rec, const int *col)
{
	const char *id = csv_field(rec, col[0]);
	int64_t type = parse_num(L, rec, "fare_media_type",
	    csv_field(rec, col[1]), 0, 4, -1);
	uint32_t m;
	int added;
	void *p;

	if (check_id(L, rec, "fare_media_id", id, 1) == -1)
		return;
	if (*csv_field(rec, col[1]) == '\0')
		ERR(L, rec, "fare_media_type is empty");
	m = strtab_intern(L->media_ids, id, strlen(id), &added);
	if (m == STRTAB_NONE) {
		L->oom = 1;
		return;
	}
	if (!added) {
		ERR(L, rec, "fare_media_id '%s' is listed twice", id);
		return;
	}
	if ((p = grow(L, L->media_type, &L->media_cap, m, sizeof(int))) == NULL)
		return;
	L->media_type = p;
	L->media_type[m] = (int)type;
}

/* rider_categories.txt (GTFS, optional) */
static void
row_rider(struct loader *L, const struct csv_record *rec, const int *col)
{
	const char *id = csv_field(rec, col[0]);
	int dflt = parse_flag(L, rec, "is_default_fare_category",
	    csv_field(rec, col[1]), 0);
	uint32_t r;
	int added;
	void *p;

	if (check_id(L, rec, "rider_category_id", id, 1) == -1)
		return;
	if ((r = strtab_intern(L->rider_ids, id, strlen(id), &added)) ==
	    STRTAB_NONE) {
		L->oom = 1;
		return;
	}
	if (!added) {
		ERR(L, rec, "rider_category_id '%s' is listed twice", id);
		return;
	}
	if ((p = grow(L, L->rider_default, &L->rider_cap, r, 1)) == NULL)
		return;
	L->rider_default = p;
	L->rider_default[r] = dflt == 1;
}

/*
 * Whether a fare_products row with this rider_category_id is for a bank
 * card: an empty category or the feed's default one (SPEC §2).  0 when
 * the row is to be ignored, -1 on a dangling id.
 */
static int
rider_for_card(struct loader *L, const struct csv_record *rec,
    const char *rider)
{
	uint32_t r;

	if (*rider == '\0')
		return 1;
	if (L->have_riders) {
		r = ref(L, rec, L->rider_ids, "rider_category_id", rider);
		if (r == TARIFF_NONE)
			return -1;
		if (L->rider_default[r])
			return 1;
	}
	L->ignored_rider++;
	if (strtab_intern(L->ignored_rider_ids, rider, strlen(rider), NULL) ==
	    STRTAB_NONE)
		L->oom = 1;
	return 0;
}

static void
row_product(struct loader *L, const struct csv_record *rec, const int *col)
{
	struct tariff *t = L->t;
	const char *id = csv_field(rec, col[0]);
	const char *media = csv_field(rec, col[3]);
	const char *rider = csv_field(rec, col[4]);
	struct t_product *pr;
	int64_t cents = 0;
	int added, level, card;
	uint32_t p, m;
	void *v;

	if (check_id(L, rec, "fare_product_id", id, 1) == -1)
		return;
	p = strtab_intern(t->product_ids, id, strlen(id), &added);
	if (p == STRTAB_NONE) {
		L->oom = 1;
		return;
	}
	if (added) {
		if ((v = grow(L, t->product, &L->product_cap, p, sizeof *pr)) ==
		    NULL)
			return;
		t->product = v;
		memset(&t->product[p], 0, sizeof *pr);
	}
	pr = &t->product[p];
	/* A product with a bad amount is known, so rules naming it are quiet. */
	if (parse_money(L, rec, "amount", csv_field(rec, col[1]), &cents) == -1 ||
	    check_currency_code(L, rec, csv_field(rec, col[2])) == -1)
		return;
	/* A bank card has the default rider category (or none) and is fare
	 * medium type 3, contactless EMV. */
	level = 1;
	if (*media != '\0') {
		m = ref(L, rec, L->media_ids, "fare_media_id", media);
		if (m == TARIFF_NONE)
			return;
		level = L->media_type[m] == 3 ? 2 : 0;
	}
	if ((card = rider_for_card(L, rec, rider)) != 1)
		return;
	if (level == 0) {
		L->ignored_media++;
		if (strtab_intern(L->ignored_media_ids, media, strlen(media),
		    NULL) == STRTAB_NONE)
			L->oom = 1;
		return;
	}
	/* One currency per feed, among the rows a bank card uses. */
	check_currency(L, rec, csv_field(rec, col[2]));
	if (level == pr->level) {
		ERR(L, rec, "fare product '%s' has two rows that apply to a "
		    "contactless bank card (the other at line %lu)", id,
		    pr->row);
		return;
	}
	if (level > pr->level) {
		pr->level = (uint8_t)level;
		pr->usable = 1;
		pr->amount_cents = cents;
		pr->row = rec->line;
	}
}

/* "a, b, c and 4 more" of the first ids of tab, into buf. */
static const char *
id_list(const struct strtab *tab, char *buf, size_t len)
{
	uint32_t i, n = strtab_count(tab);
	size_t o = 0;

	buf[0] = '\0';
	for (i = 0; i < n && i < 5 && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? ", " : "",
		    strtab_name(tab, i));
	if (n > 5 && o < len)
		snprintf(buf + o, len - o, " and %u more", n - 5);
	return buf;
}

/* Never lose fares in silence (SPEC §2): what a bank card does not see. */
static void
warn_ignored_products(struct loader *L)
{
	char a[256], b[256];

	if (L->ignored_rider > 0)
		diag_warn(L->d, tpath(L, "fare_products.txt"), 1, "%zu row%s "
		    "ignored for a bank card: rider category not the "
		    "default one (%s)%s", L->ignored_rider,
		    L->ignored_rider == 1 ? "" : "s",
		    id_list(L->ignored_rider_ids, a, sizeof a),
		    L->have_riders ? "" : "; the feed has no "
		    "rider_categories.txt to name a default");
	if (L->ignored_media > 0)
		diag_warn(L->d, tpath(L, "fare_products.txt"), 1, "%zu row%s "
		    "ignored for a bank card: fare medium not "
		    "contactless EMV, fare_media_type 3 (%s)", L->ignored_media,
		    L->ignored_media == 1 ? "" : "s",
		    id_list(L->ignored_media_ids, b, sizeof b));
}

static void
load_products(struct loader *L)
{
	static const struct column mcols[] = {
		{"fare_media_id", 1}, {"fare_media_type", 1},
	};
	static const struct column rcols[] = {
		{"rider_category_id", 1}, {"is_default_fare_category", 0},
	};
	static const struct column cols[] = {
		{"fare_product_id", 1}, {"amount", 1}, {"currency", 1},
		{"fare_media_id", 0}, {"rider_category_id", 0},
		{"fare_product_name", 0},
	};

	load_file(L, "fare_media.txt", 0, mcols, 2, LIMIT_RULES, row_media);
	L->have_riders = load_file(L, "rider_categories.txt", 0, rcols, 2,
	    LIMIT_RULES, row_rider) == 0 && !L->header_failed;
	load_file(L, "fare_products.txt", 1, cols, 6, LIMIT_RULES, row_product);
	warn_ignored_products(L);
}

/*
 * A product named by a rule: NONE when empty, error when unknown; a product
 * with no row for a bank card makes the rule not apply (*skip).
 */
static uint32_t
ref_product(struct loader *L, const struct csv_record *rec, const char *s,
    int *skip)
{
	uint32_t p = ref(L, rec, L->t->product_ids, "fare_product_id", s);

	*skip = p != TARIFF_NONE && !L->t->product[p].usable;
	return p;
}

/* fare_leg_rules.txt */

static void
row_leg_rule(struct loader *L, const struct csv_record *rec, const int *col)
{
	struct tariff *t = L->t;
	const char *lg = csv_field(rec, col[0]), *pid = csv_field(rec, col[6]);
	struct t_leg_rule r;
	int skip;
	void *v;

	if (check_id(L, rec, "leg_group_id", lg, 0) == -1)
		return;
	r.leg_group = TARIFF_NONE;
	if (*lg != '\0' && (r.leg_group = strtab_intern(t->leg_group_ids, lg,
	    strlen(lg), NULL)) == STRTAB_NONE) {
		L->oom = 1;
		return;
	}
	r.network = ref(L, rec, t->network_ids, "network_id",
	    csv_field(rec, col[1]));
	r.from_area = ref(L, rec, t->area_ids, "area_id",
	    csv_field(rec, col[2]));
	r.to_area = ref(L, rec, t->area_ids, "area_id", csv_field(rec, col[3]));
	r.from_tf = ref(L, rec, t->tf_ids, "timeframe_group_id",
	    csv_field(rec, col[4]));
	r.to_tf = ref(L, rec, t->tf_ids, "timeframe_group_id",
	    csv_field(rec, col[5]));
	r.priority = parse_num(L, rec, "rule_priority", csv_field(rec, col[7]),
	    0, 1000000000, 0);
	r.row = rec->line;
	if (*pid == '\0') {
		ERR(L, rec, "fare_product_id is empty");
		return;
	}
	r.product = ref_product(L, rec, pid, &skip);
	r.left_out = (uint8_t)skip;
	if (r.product == TARIFF_NONE)
		return;
	if (skip && L->left_out_listed[0]++ < LIMIT_LEFT_OUT_LISTED)
		diag_warn(L->d, L->file, rec->line, "rule left out of pricing: "
		    "fare product '%s' has no row for a contactless bank card "
		    "(it still names its network and areas)", pid);
	else if (t->product[r.product].amount_cents < 0) {
		ERR(L, rec, "fare product '%s' has a negative amount: a leg "
		    "fare cannot be negative", pid);
		return;
	}
	if ((*csv_field(rec, col[1]) != '\0' && r.network == TARIFF_NONE) ||
	    (*csv_field(rec, col[2]) != '\0' && r.from_area == TARIFF_NONE) ||
	    (*csv_field(rec, col[3]) != '\0' && r.to_area == TARIFF_NONE) ||
	    (*csv_field(rec, col[4]) != '\0' && r.from_tf == TARIFF_NONE) ||
	    (*csv_field(rec, col[5]) != '\0' && r.to_tf == TARIFF_NONE))
		return;
	if ((v = grow(L, t->leg_rule, &L->leg_rule_cap, t->nleg_rules, sizeof r))
	    == NULL)
		return;
	t->leg_rule = v;
	t->leg_rule[t->nleg_rules++] = r;
	t->nleg_left_out += r.left_out;
}

/* Whether network n matches rule r's network field (SPEC §4). */
static int
rule_network_matches(const struct tariff *t, const struct t_leg_rule *r,
    uint32_t n, uint64_t named)
{
	if (r->left_out)
		return 0;
	if (r->network != TARIFF_NONE)
		return r->network == n;
	return t->has_priority || !(named >> n & 1);
}

/* More left-out rules than were listed: say how many in all. */
static void
warn_left_out_total(struct loader *L, const char *file, size_t listed,
    size_t total)
{
	if (listed > LIMIT_LEFT_OUT_LISTED)
		diag_warn(L->d, tpath(L, file), 1, "%zu rules left out of "
		    "pricing in all (their products have no row for a "
		    "contactless bank card); the first %d are listed", total,
		    LIMIT_LEFT_OUT_LISTED);
}

/* Never lose fares in silence (SPEC §2): each network no rule prices. */
static void
warn_networks_unpriced(struct loader *L)
{
	struct tariff *t = L->t;
	uint32_t n;

	for (n = 0; n < t->nnetworks; n++)
		if (t->network[n].nrules == 0)
			diag_warn(L->d, tpath(L, net_src_file[L->net_src_of[n]]),
			    L->net_row_of[n], "network '%s' has no leg rule "
			    "for a bank card: its legs will be unpriced",
			    strtab_name(t->network_ids, n));
}

static void
index_leg_rules(struct loader *L)
{
	struct tariff *t = L->t;
	uint64_t named = 0;
	uint32_t n, na = strtab_count(t->area_ids);
	size_t k, total = 0, pos = 0;
	int warned = 0, any_named;

	t->from_area_named = calloc((size_t)na + 1, 1);
	t->to_area_named = calloc((size_t)na + 1, 1);
	if (t->from_area_named == NULL || t->to_area_named == NULL) {
		L->oom = 1;
		return;
	}
	for (k = 0; k < t->nleg_rules; k++) {
		const struct t_leg_rule *r = &t->leg_rule[k];
		if (r->network != TARIFF_NONE)
			named |= (uint64_t)1 << r->network;
		if (r->from_area != TARIFF_NONE)
			t->from_area_named[r->from_area] = 1;
		if (r->to_area != TARIFF_NONE)
			t->to_area_named[r->to_area] = 1;
	}
	for (k = 0, any_named = 0; k < na; k++)
		any_named |= t->from_area_named[k] | t->to_area_named[k];
	for (k = 0; k < t->nleg_rules && !t->has_priority && !warned &&
	    any_named; k++) {
		const struct t_leg_rule *r = &t->leg_rule[k];
		if ((r->from_area == TARIFF_NONE || r->to_area == TARIFF_NONE) &&
		    na > 0) {
			diag_warn(L->d, tpath(L, "fare_leg_rules.txt"), r->row,
			    "a rule with an empty area field in a file whose "
			    "other rules name areas matches only the stops in "
			    "no named area (GTFS: every area but those named)");
			warned = 1;
		}
	}
	for (n = 0; n < t->nnetworks; n++)
		for (k = 0; k < t->nleg_rules; k++)
			total += rule_network_matches(t, &t->leg_rule[k], n,
			    named);
	if ((t->net_rules = malloc((total + 1) * sizeof(uint32_t))) == NULL) {
		L->oom = 1;
		return;
	}
	for (n = 0; n < t->nnetworks; n++) {
		t->network[n].rules_off = (uint32_t)pos;
		for (k = 0; k < t->nleg_rules; k++)
			if (rule_network_matches(t, &t->leg_rule[k], n, named))
				t->net_rules[pos++] = (uint32_t)k;
		t->network[n].nrules = (uint32_t)(pos - t->network[n].rules_off);
	}
	warn_left_out_total(L, "fare_leg_rules.txt", L->left_out_listed[0],
	    t->nleg_left_out);
	warn_networks_unpriced(L);
}

static void
load_leg_rules(struct loader *L)
{
	static const struct column cols[] = {
		{"leg_group_id", 0}, {"network_id", 0}, {"from_area_id", 0},
		{"to_area_id", 0}, {"from_timeframe_group_id", 0},
		{"to_timeframe_group_id", 0}, {"fare_product_id", 1},
		{"rule_priority", 0},
	};
	struct csv *c;
	struct csv_record hdr;

	if ((c = open_file(L, "fare_leg_rules.txt")) != NULL) {
		if (csv_next(c, &hdr) == 1) {
			const char *n[] = {"rule_priority"};
			int idx;
			csv_header_map(&hdr, n, &idx, 1);
			L->t->has_priority = idx != -1;
		}
		csv_close(c);
	}
	if (load_file(L, "fare_leg_rules.txt", 1, cols, 8, LIMIT_RULES,
	    row_leg_rule) == 0 && L->t->network != NULL)
		index_leg_rules(L);
}

/* fare_transfer_rules.txt */

static uint32_t
ref_leg_group(struct loader *L, const struct csv_record *rec, const char *s)
{
	return ref(L, rec, L->t->leg_group_ids, "leg_group_id", s);
}

/*
 * transfer_count (GTFS): set exactly when the leg groups are equal, -1 or
 * at least 1.  1 when the row is bad (reported), else 0.
 */
static int
transfer_count(struct loader *L, const struct csv_record *rec,
    const char *from, const char *to, const char *cnt, int32_t *out)
{
	*out = T_COUNT_EMPTY;
	if (strcmp(from, to) != 0 && *cnt != '\0') {
		ERR(L, rec, "transfer_count is set but the leg groups differ");
		return 1;
	}
	if (strcmp(from, to) == 0 && *cnt == '\0') {
		ERR(L, rec, "transfer_count is missing but the leg groups are "
		    "equal");
		return 1;
	}
	if (*cnt == '\0')
		return 0;
	*out = (int32_t)parse_num(L, rec, "transfer_count", cnt, -1,
	    LIMIT_RULES, T_COUNT_EMPTY);
	if (*out == 0) {
		ERR(L, rec, "transfer_count must be -1 or at least 1");
		return 1;
	}
	return *out == T_COUNT_EMPTY;
}

static void
row_transfer(struct loader *L, const struct csv_record *rec, const int *col)
{
	struct tariff *t = L->t;
	const char *from = csv_field(rec, col[0]), *to = csv_field(rec, col[1]);
	const char *cnt = csv_field(rec, col[2]), *lim = csv_field(rec, col[3]);
	const char *ltype = csv_field(rec, col[4]), *pid = csv_field(rec, col[6]);
	const char *ftype = csv_field(rec, col[5]), *dfrom = csv_field(rec, col[7]);
	struct t_transfer_rule r;
	int skip = 0, bad = 0;
	void *v;

	r.from_lg = ref_leg_group(L, rec, from);
	r.to_lg = ref_leg_group(L, rec, to);
	bad |= (*from != '\0' && r.from_lg == TARIFF_NONE) ||
	    (*to != '\0' && r.to_lg == TARIFF_NONE);
	bad |= transfer_count(L, rec, from, to, cnt, &r.transfer_count);
	if ((*lim == '\0') != (*ltype == '\0')) {
		ERR(L, rec, *lim == '\0' ? "duration_limit_type is set without "
		    "duration_limit" : "duration_limit is set without "
		    "duration_limit_type");
		bad = 1;
	}
	r.duration_s = (int32_t)parse_num(L, rec, "duration_limit", lim, 1,
	    LIMIT_DURATION_S, -1);
	if (strcmp(dfrom, "") == 0 || strcmp(dfrom, "first") == 0 ||
	    strcmp(dfrom, "previous") == 0)
		r.from_previous = strcmp(dfrom, "previous") == 0;
	else {
		ERR(L, rec, "duration_limit_from '%s' must be 'first' or "
		    "'previous'", dfrom);
		bad = 1;
	}
	r.duration_type = (int8_t)parse_num(L, rec, "duration_limit_type",
	    ltype, 0, 3, -1);
	if (*ftype == '\0') {
		ERR(L, rec, "fare_transfer_type is empty");
		bad = 1;
	}
	r.transfer_type = (int8_t)parse_num(L, rec, "fare_transfer_type", ftype,
	    0, 2, -1);
	r.product = ref_product(L, rec, pid, &skip);
	bad |= (*pid != '\0' && r.product == TARIFF_NONE) ||
	    (*lim != '\0' && r.duration_s == -1) ||
	    (*ltype != '\0' && r.duration_type == -1) || r.transfer_type == -1;
	r.row = rec->line;
	r.left_out = (uint8_t)skip;
	if (bad)
		return;
	if (skip && L->left_out_listed[1]++ < LIMIT_LEFT_OUT_LISTED)
		diag_warn(L->d, L->file, rec->line, "rule left out of pricing: "
		    "fare product '%s' has no row for a contactless bank card "
		    "(it still names its leg groups)", pid);
	if ((v = grow(L, t->transfer, &L->transfer_cap, t->ntransfers, sizeof r))
	    == NULL)
		return;
	t->transfer = v;
	t->transfer[t->ntransfers++] = r;
	t->ntransfers_left_out += r.left_out;
}

/*
 * A transfer product that is also a leg product: "cheapest product wins"
 * then prices a plain ride at the transfer price (seen in a real feed).
 */
static void
warn_transfer_products_on_legs(struct loader *L)
{
	struct tariff *t = L->t;
	size_t k, np = strtab_count(t->product_ids);
	unsigned long *first;

	if ((first = calloc(np + 1, sizeof *first)) == NULL) {
		L->oom = 1;
		return;
	}
	for (k = t->ntransfers; k-- > 0;)
		if (t->transfer[k].product != TARIFF_NONE)
			first[t->transfer[k].product] = t->transfer[k].row;
	for (k = 0; k < t->nleg_rules; k++) {
		const struct t_leg_rule *r = &t->leg_rule[k];
		if (first[r->product] != 0)
			diag_warn(L->d, tpath(L, "fare_leg_rules.txt"), r->row,
			    "fare product '%s' is also a transfer product "
			    "(fare_transfer_rules.txt:%lu): as a leg product "
			    "the cheapest product wins, which may price a "
			    "plain ride at the transfer price",
			    strtab_name(t->product_ids, r->product),
			    first[r->product]);
	}
	free(first);
}

static void
load_transfers(struct loader *L)
{
	static const struct column cols[] = {
		{"from_leg_group_id", 0}, {"to_leg_group_id", 0},
		{"transfer_count", 0}, {"duration_limit", 0},
		{"duration_limit_type", 0}, {"fare_transfer_type", 1},
		{"fare_product_id", 0}, {"duration_limit_from", 0},
	};
	struct tariff *t = L->t;
	uint32_t n = strtab_count(t->leg_group_ids);
	size_t k;

	if (file_exists(L, "fare_leg_join_rules.txt"))
		diag_error(L->d, tpath(L, "fare_leg_join_rules.txt"), 0, "not supported: "
		    "a tariff with leg join rules is rejected");
	load_file(L, "fare_transfer_rules.txt", 0, cols, 8, LIMIT_RULES,
	    row_transfer);
	warn_left_out_total(L, "fare_transfer_rules.txt", L->left_out_listed[1],
	    t->ntransfers_left_out);
	if (t->leg_rule != NULL)
		warn_transfer_products_on_legs(L);
	t->from_lg_named = calloc((size_t)n + 1, 1);
	t->to_lg_named = calloc((size_t)n + 1, 1);
	if (t->from_lg_named == NULL || t->to_lg_named == NULL) {
		L->oom = 1;
		return;
	}
	for (k = 0; k < t->ntransfers; k++) {
		if (t->transfer[k].from_lg != TARIFF_NONE)
			t->from_lg_named[t->transfer[k].from_lg] = 1;
		if (t->transfer[k].to_lg != TARIFF_NONE)
			t->to_lg_named[t->transfer[k].to_lg] = 1;
	}
}

/* network_policies.txt */

static void
row_policy(struct loader *L, const struct csv_record *rec, const int *col)
{
	struct tariff *t = L->t;
	const char *id = csv_field(rec, col[0]), *inc = csv_field(rec, col[2]);
	struct t_network *nw;
	uint32_t n;
	int skip, flag;

	if (*id == '\0') {
		ERR(L, rec, "network_id is empty");
		return;
	}
	if ((n = ref(L, rec, t->network_ids, "network_id", id)) == TARIFF_NONE)
		return;
	if (L->policy_row[n] != 0) {
		ERR(L, rec, "network '%s' has two policy rows (the other at "
		    "line %lu)", id, L->policy_row[n]);
		return;
	}
	L->policy_row[n] = rec->line;
	nw = &t->network[n];
	flag = parse_flag(L, rec, "checkout_required", csv_field(rec, col[1]),
	    1);
	nw->checkout_required = flag != 0;
	nw->max_leg_s = (int32_t)parse_num(L, rec, "max_leg_minutes",
	    csv_field(rec, col[3]), 1, LIMIT_MAX_LEG_MINUTES, 360) * 60;
	nw->cancel_s = (int32_t)parse_num(L, rec, "cancel_minutes",
	    csv_field(rec, col[4]), 0, LIMIT_MAX_LEG_MINUTES, 30) * 60;
	nw->autocomplete = parse_flag(L, rec, "autocomplete",
	    csv_field(rec, col[5]), 1) == 1;
	nw->incomplete_product = ref_product(L, rec, inc, &skip);
	if (skip) {
		ERR(L, rec, "incomplete fare product '%s' has no row for a "
		    "contactless bank card", inc);
		nw->incomplete_product = TARIFF_NONE;
	} else if (nw->incomplete_product != TARIFF_NONE &&
	    t->product[nw->incomplete_product].amount_cents < 0)
		ERR(L, rec, "incomplete fare product '%s' has a negative "
		    "amount", inc);
	if (flag == 1 && *inc == '\0')
		ERR(L, rec, "network '%s' requires check-out but has no "
		    "incomplete_fare_product_id", id);
}

/*
 * On a network without check-out a leg starts and ends at its boarding
 * stop, so a rule from one area to another matches only a stop in both:
 * a zonal feed without network_policies.txt prices every trip as a trip
 * within its boarding zone.  Said once per network.
 */
static void
warn_zonal_without_checkout(struct loader *L)
{
	struct tariff *t = L->t;
	uint64_t warned = 0;
	size_t k;

	for (k = 0; k < t->nleg_rules; k++) {
		const struct t_leg_rule *r = &t->leg_rule[k];
		if (r->left_out || r->network == TARIFF_NONE ||
		    t->network[r->network].checkout_required ||
		    r->to_area == TARIFF_NONE || r->to_area == r->from_area ||
		    (warned >> r->network & 1))
			continue;
		warned |= (uint64_t)1 << r->network;
		diag_warn(L->d, tpath(L, "fare_leg_rules.txt"), r->row,
		    "network '%s' has no check-out (no network_policies.txt "
		    "row), so its legs start and end at the boarding stop: "
		    "this rule to area '%s' matches only stops in both areas",
		    strtab_name(t->network_ids, r->network),
		    strtab_name(t->area_ids, r->to_area));
	}
}

static void
load_policies(struct loader *L)
{
	static const struct column cols[] = {
		{"network_id", 1}, {"checkout_required", 0},
		{"incomplete_fare_product_id", 0}, {"max_leg_minutes", 0},
		{"cancel_minutes", 0}, {"autocomplete", 0},
	};
	struct tariff *t = L->t;
	uint32_t n;

	/* A network without a row is plain GTFS (SPEC §2): each tap-in is
	 * a complete leg; a row's checkout_required defaults to 1. */
	for (n = 0; n < t->nnetworks; n++) {
		t->network[n].checkout_required = 0;
		t->network[n].autocomplete = 1;
		t->network[n].max_leg_s = 360 * 60;
		t->network[n].cancel_s = 30 * 60;
		t->network[n].incomplete_product = TARIFF_NONE;
	}
	load_file(L, "network_policies.txt", 0, cols, 6, LIMIT_RULES,
	    row_policy);
	warn_zonal_without_checkout(L);
}

/* fare_distance_rules.txt */

static void
row_band(struct loader *L, const struct csv_record *rec, const int *col)
{
	const char *id = csv_field(rec, col[0]), *rate = csv_field(rec, col[2]);
	const char *why;
	uint32_t n;
	int64_t from, r = 0;
	void *v;

	if (*id == '\0') {
		ERR(L, rec, "network_id is empty");
		return;
	}
	n = ref(L, rec, L->t->network_ids, "network_id", id);
	if (*csv_field(rec, col[1]) == '\0')
		ERR(L, rec, "from_distance_m is empty");
	from = parse_num(L, rec, "from_distance_m", csv_field(rec, col[1]), 0,
	    LIMIT_DISTANCE_M, -1);
	if (*rate == '\0')
		ERR(L, rec, "per_km_amount is empty");
	else if (parse_decimal(rate, 5, LIMIT_PER_KM_1E5, &r, &why) == -1 ||
	    r < 0) {
		ERR(L, rec, "per_km_amount '%s': %s", rate,
		    r < 0 ? "negative" : why);
		r = -1;
	}
	if (n == TARIFF_NONE || from < 0 || r < 0 || *rate == '\0')
		return;
	if ((v = grow(L, L->bands, &L->bands_cap, L->nbands,
	    sizeof *L->bands)) == NULL)
		return;
	L->bands = v;
	L->bands[L->nbands].net = n;
	L->bands[L->nbands].from_m = from;
	L->bands[L->nbands].rate = r;
	L->bands[L->nbands].row = rec->line;
	L->nbands++;
}

static int
band_cmp(const void *a, const void *b)
{
	const struct t_band *x = a, *y = b;

	return (x->from_m > y->from_m) - (x->from_m < y->from_m);
}

static void
load_bands(struct loader *L)
{
	static const struct column cols[] = {
		{"network_id", 1}, {"from_distance_m", 1}, {"per_km_amount", 1},
	};
	struct tariff *t = L->t;
	uint32_t n;
	size_t k, pos = 0, i;

	load_file(L, "fare_distance_rules.txt", 0, cols, 3, LIMIT_RULES,
	    row_band);
	if ((t->band = malloc((L->nbands + 1) * sizeof *t->band)) == NULL) {
		L->oom = 1;
		return;
	}
	for (n = 0; n < t->nnetworks; n++) {
		struct t_network *nw = &t->network[n];
		unsigned long first_row = 0;
		nw->bands_off = (uint32_t)pos;
		for (k = 0; k < L->nbands; k++) {
			if (L->bands[k].net != n)
				continue;
			if (first_row == 0)
				first_row = L->bands[k].row;
			t->band[pos].from_m = L->bands[k].from_m;
			t->band[pos].rate_1e5 = L->bands[k].rate;
			pos++;
		}
		nw->nbands = (uint32_t)(pos - nw->bands_off);
		if (nw->nbands == 0)
			continue;
		qsort(t->band + nw->bands_off, nw->nbands, sizeof *t->band,
		    band_cmp);
		if (t->band[nw->bands_off].from_m != 0)
			diag_error(L->d, tpath(L, "fare_distance_rules.txt"), first_row,
			    "distance bands of network '%s' do not start at 0",
			    strtab_name(t->network_ids, n));
		for (i = 1; i < nw->nbands; i++) {
			if (t->band[nw->bands_off + i].from_m ==
			    t->band[nw->bands_off + i - 1].from_m)
				diag_error(L->d, tpath(L, "fare_distance_rules.txt"),
				    first_row, "distance bands of network '%s' "
				    "overlap: two bands start at %lld m",
				    strtab_name(t->network_ids, n),
				    (long long)t->band[nw->bands_off + i].from_m);
		}
	}
}

/* stop_distances.txt */

static struct t_dist *
dist_slot(struct t_dist *tab, size_t nslots, uint64_t key)
{
	size_t mask = nslots - 1, i = (size_t)(strtab_hash((const char *)&key,
	    sizeof key) & mask);

	while (tab[i].key != 0 && tab[i].key != key)
		i = (i + 1) & mask;
	return &tab[i];
}

static int
dist_grow(struct loader *L)
{
	struct tariff *t = L->t;
	size_t n = t->ndist_slots ? t->ndist_slots * 2 : 1024, i;
	struct t_dist *tab = calloc(n, sizeof *tab);

	if (tab == NULL) {
		L->oom = 1;
		return -1;
	}
	for (i = 0; i < t->ndist_slots; i++)
		if (t->dist[i].key != 0)
			*dist_slot(tab, n, t->dist[i].key) = t->dist[i];
	free(t->dist);
	t->dist = tab;
	t->ndist_slots = n;
	return 0;
}

static uint64_t
dist_key(uint32_t a, uint32_t b)
{
	if (a > b) {
		uint32_t x = a;
		a = b;
		b = x;
	}
	return ((uint64_t)a << 32 | b) + 1;
}

static void
row_distance(struct loader *L, const struct csv_record *rec, const int *col)
{
	struct tariff *t = L->t;
	const char *fa = csv_field(rec, col[0]), *fb = csv_field(rec, col[1]);
	uint32_t a = ref(L, rec, t->stop_ids, "stop_id", fa);
	uint32_t b = ref(L, rec, t->stop_ids, "stop_id", fb);
	int64_t m;
	struct t_dist *d;

	if (*fa == '\0' || *fb == '\0')
		ERR(L, rec, "stop id is empty");
	if (*csv_field(rec, col[2]) == '\0')
		ERR(L, rec, "distance_m is empty");
	m = parse_num(L, rec, "distance_m", csv_field(rec, col[2]), 0,
	    LIMIT_DISTANCE_M, -1);
	if (a == TARIFF_NONE || b == TARIFF_NONE || m < 0)
		return;
	if ((t->ndist + 1) * 2 > t->ndist_slots && dist_grow(L) == -1)
		return;
	d = dist_slot(t->dist, t->ndist_slots, dist_key(a, b));
	if (d->key != 0) {
		if (d->metres != m)
			ERR(L, rec, "stops '%s' and '%s' are listed again with "
			    "another distance (%lld m, before %d m)", fa, fb,
			    (long long)m, d->metres);
		return;
	}
	d->key = dist_key(a, b);
	d->metres = (int32_t)m;
	t->ndist++;
}

static void
load_distances(struct loader *L)
{
	static const struct column cols[] = {
		{"from_stop_id", 1}, {"to_stop_id", 1}, {"distance_m", 1},
	};

	load_file(L, "stop_distances.txt", 0, cols, 3, LIMIT_TARIFF_ROWS,
	    row_distance);
}

/* fare_caps.txt */

static void
row_cap(struct loader *L, const struct csv_record *rec, const int *col)
{
	struct tariff *t = L->t;
	const char *id = csv_field(rec, col[0]), *per = csv_field(rec, col[4]);
	const char *net = csv_field(rec, col[5]);
	struct t_cap *c;
	int64_t cents;
	enum t_period period;
	uint32_t k, n = TARIFF_NONE;
	int added;

	if (check_id(L, rec, "cap_id", id, 1) == -1)
		return;
	if (parse_money(L, rec, "amount", csv_field(rec, col[2]), &cents) == -1)
		return;
	check_currency(L, rec, csv_field(rec, col[3]));
	if (cents < 0) {
		ERR(L, rec, "cap '%s' has a negative amount", id);
		return;
	}
	if (strcmp(per, "day") == 0)
		period = T_PERIOD_DAY;
	else if (strcmp(per, "week") == 0)
		period = T_PERIOD_WEEK;
	else {
		ERR(L, rec, "unknown period '%s' (day or week)", per);
		return;
	}
	if (*net != '\0' && (n = ref(L, rec, t->network_ids, "network_id",
	    net)) == TARIFF_NONE)
		return;
	k = strtab_intern(L->cap_ids, id, strlen(id), &added);
	if (k == STRTAB_NONE) {
		L->oom = 1;
		return;
	}
	if (added && k >= LIMIT_CAPS) {
		ERR(L, rec, "more than %d caps: over the limit", LIMIT_CAPS);
		return;
	}
	if (k >= LIMIT_CAPS)
		return;
	c = &t->cap[k];
	if (added) {
		c->id = strdup(id);
		c->name = strdup(csv_field(rec, col[1]));
		if (c->id == NULL || c->name == NULL)
			L->oom = 1;
		c->amount_cents = cents;
		c->period = period;
		c->row = rec->line;
		c->networks = n == TARIFF_NONE ? ~(uint64_t)0 :
		    (uint64_t)1 << n;
		t->ncaps = k + 1;
		return;
	}
	if (c->amount_cents != cents || c->period != period) {
		ERR(L, rec, "cap '%s' is inconsistent: amount and period must "
		    "be equal on every row (see line %lu)", id, c->row);
		return;
	}
	if (n == TARIFF_NONE || c->networks == ~(uint64_t)0) {
		ERR(L, rec, "cap '%s' is inconsistent: a row with an empty "
		    "network_id (all networks) mixed with other rows", id);
		return;
	}
	c->networks |= (uint64_t)1 << n;
}

static int
cap_cmp(const void *a, const void *b)
{
	const struct t_cap *x = a, *y = b;

	return strcmp(x->id, y->id);
}

static void
load_caps(struct loader *L)
{
	static const struct column cols[] = {
		{"cap_id", 1}, {"cap_name", 0}, {"amount", 1}, {"currency", 1},
		{"period", 1}, {"network_id", 0},
	};
	struct tariff *t = L->t;
	uint32_t k, s;
	uint64_t all = t->nnetworks >= 64 ? ~(uint64_t)0 :
	    ((uint64_t)1 << t->nnetworks) - 1;

	load_file(L, "fare_caps.txt", 0, cols, 6, LIMIT_RULES, row_cap);
	for (k = 0; k < t->ncaps; k++)
		t->cap[k].networks &= all;
	if (L->oom)
		return;
	if (t->ncaps > 0)
		qsort(t->cap, t->ncaps, sizeof *t->cap, cap_cmp);
	t->subset_mask = calloc((size_t)1 << t->ncaps, sizeof *t->subset_mask);
	t->subset_amount = calloc((size_t)1 << t->ncaps,
	    sizeof *t->subset_amount);
	if (t->subset_mask == NULL || t->subset_amount == NULL) {
		L->oom = 1;
		return;
	}
	for (s = 1; s < (uint32_t)1 << t->ncaps; s++) {
		k = (uint32_t)__builtin_ctz(s);
		t->subset_mask[s] = t->subset_mask[s & (s - 1)] |
		    t->cap[k].networks;
		t->subset_amount[s] = t->subset_amount[s & (s - 1)] +
		    t->cap[k].amount_cents;
	}
}

static void
loader_free(struct loader *L)
{
	strtab_free(L->parent_names);
	strtab_free(L->media_ids);
	strtab_free(L->cap_ids);
	strtab_free(L->rider_ids);
	strtab_free(L->ignored_rider_ids);
	strtab_free(L->ignored_media_ids);
	free(L->rider_default);
	free(L->parent_of);
	free(L->stop_row);
	free(L->sa_stop);
	free(L->sa_area);
	free(L->media_type);
	free(L->policy_row);
	free(L->cur_rows);
	free(L->net_row_of);
	free(L->net_src_of);
	net_rows_free(L->agencies, L->nagencies);
	free(L->bands);
	free(L->tfr);
	free(L->tfr_group);
}

struct tariff *
tariff_load(const char *dir, struct diag *d)
{
	return tariff_load_mem(dir, NULL, d);
}

struct tariff *
tariff_load_mem(const char *dir, const struct tariff_mem *mem,
    struct diag *d)
{
	struct loader L;
	struct tariff *t = calloc(1, sizeof *t);
	size_t errors0 = d->nerrors;

	memset(&L, 0, sizeof L);
	L.d = d;
	L.t = t;
	L.mem = mem;
	if (t == NULL || (t->dir = strdup(dir)) == NULL)
		goto nomem;
	t->stop_ids = strtab_new();
	t->stop_names = strtab_new();
	t->network_ids = strtab_new();
	t->area_ids = strtab_new();
	t->product_ids = strtab_new();
	t->service_ids = strtab_new();
	t->tf_ids = strtab_new();
	t->leg_group_ids = strtab_new();
	L.parent_names = strtab_new();
	L.media_ids = strtab_new();
	L.cap_ids = strtab_new();
	L.rider_ids = strtab_new();
	L.ignored_rider_ids = strtab_new();
	L.ignored_media_ids = strtab_new();
	if (!L.rider_ids || !L.ignored_rider_ids || !L.ignored_media_ids)
		goto nomem;
	if (!t->stop_ids || !t->stop_names || !t->network_ids ||
	    !t->area_ids || !t->product_ids || !t->service_ids || !t->tf_ids ||
	    !t->leg_group_ids || !L.parent_names || !L.media_ids || !L.cap_ids)
		goto nomem;
	load_agency(&L);
	load_feed_info(&L);
	load_stops(&L);
	load_networks(&L);
	load_areas(&L);
	load_calendar(&L);
	load_timeframes(&L);
	load_products(&L);
	if (t->product == NULL && d->nerrors == errors0)
		diag_error(d, tpath(&L, "fare_products.txt"), 1,
		    "no fare products");
	if (L.oom || t->network == NULL || t->stop == NULL ||
	    t->tf_off == NULL || t->product == NULL) {
		if (L.oom)
			goto nomem;
		goto fail;
	}
	load_leg_rules(&L);
	load_transfers(&L);
	load_policies(&L);
	load_bands(&L);
	load_distances(&L);
	load_caps(&L);
	finish_currencies(&L);
	if (L.oom)
		goto nomem;
	if (d->nerrors > errors0)
		goto fail;
	if (tariff_build_json(t) == -1)
		goto nomem;
	price_window_setup(t);
	loader_free(&L);
	return t;
nomem:
	diag_error(d, dir, 0, "out of memory while loading the tariff");
fail:
	loader_free(&L);
	tariff_free(t);
	return NULL;
}
