/*
 * gen-taps: a seeded synthetic day of taps on a tariff, for the demo and
 * the benchmarks.  Each account makes a few journeys on one or more
 * networks, checking in and out at that network's stops, with a small
 * rate of realistic mistakes (a forgotten check-out, a double tap).  The
 * same seed always gives the same file.
 *
 *   gen-taps --tariff DIR --accounts N [--seed S] [--day YYYY-MM-DD]
 *   gen-taps --tariff DIR --commuters N --days D [--first K] [--day ...]
 *
 * The second form: N commuters (accounts K.. K+N-1, cards of their own)
 * each riding NS from home to work and back every day for the D days
 * ending on --day, day by day: the shape of an old account (ISSUE 14).
 *
 * Stops are grouped by network from their id prefix in tariffs/nl
 * ("gvb-", "ret-", ...; plain codes are railway stations); on another
 * tariff every network uses every stop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "rng.h"
#include "tap.h"
#include "tariff-int.h"

struct rng {
	uint64_t	 s;
};

static uint64_t
rnd(struct rng *r)
{
	return rng_next(&r->s);
}

static uint32_t
below(struct rng *r, uint32_t n)
{
	return n ? (uint32_t)(rnd(r) % n) : 0;
}

static const struct {
	const char	*prefix, *network;
} prefixes[] = {
	{"gvb-", "GVB"}, {"ret-", "RET"}, {"htm-", "HTM"}, {"qb-", "QBUZZ"},
	{"arr-", "ARRIVABUS"}, {"keo-", "KEOLIS"}, {"ebs-", "EBS"},
	{"cxx-", "CXX"}, {"ferry-", "FERRY"},
};

/* Which network a stop belongs to, by prefix; NS for plain codes. */
static const char *
stop_network(const char *id)
{
	size_t i;

	for (i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
		if (strncmp(id, prefixes[i].prefix,
		    strlen(prefixes[i].prefix)) == 0)
			return prefixes[i].network;
	return strchr(id, '-') == NULL ? "NS" : NULL;
}

struct netstops {
	uint32_t	*stop;
	uint32_t	 n;
};

static void
emit(FILE *f, uint64_t *tap_no, int64_t t, const char *pan, const char *par,
    const struct tariff *tr, uint32_t net, uint32_t stop, const char *kind)
{
	char ts[21];

	civil_format_utc(t, ts);
	fprintf(f, "g%llu,%s,%s,%s,%s,%s,%s\n", (unsigned long long)(*tap_no)++,
	    ts, pan, par, tariff_network_id(tr, net), tariff_stop_id(tr, stop),
	    kind);
}

/* Commuters: D days of four NS taps each, written day by day. */
static void
commuters(const struct tariff *t, const struct netstops *rail, uint32_t nsnet,
    unsigned long long first, unsigned long long n, int days, int64_t day0,
    uint64_t seed)
{
	unsigned long long a;
	int d;

	for (d = days - 1; d >= 0; d--) {
		int64_t base = day0 - (int64_t)d * 86400 + 2 * 3600;
		for (a = first; a < first + n; a++) {
			struct rng r = {seed ^ (a * 0x9e3779b97f4a7c15ULL)};
			uint32_t home = rail->stop[below(&r, rail->n)];
			uint32_t work = rail->stop[below(&r, rail->n)];
			int64_t go = base + below(&r, 3600);
			int64_t back = base + 9 * 3600 + below(&r, 3600);
			char pan[17], ts[21];
			int k;
			struct {
				int64_t t;
				uint32_t stop;
				const char *kind;
			} tp[4] = {{go, home, "in"}, {go + 1800 + below(&r, 1800),
			    work, "out"}, {back, work, "in"}, {back + 1800 +
			    below(&r, 1800), home, "out"}};
			tap_make_pan('5', a, pan);
			for (k = 0; k < 4; k++) {
				/* "<device>:<seq>", unique over every file made
				 * this way (replay --keep-ids): the device is
				 * a % 16, so a / 16 keeps seq within the 11
				 * digits a sequence number may have (SPEC §7;
				 * accounts below 4,000,000). */
				unsigned long long seq = (a / 16 * 100000ULL +
				    (unsigned long long)(tp[k].t / 86400)) * 4 +
				    (unsigned long long)k;
				civil_format_utc(tp[k].t, ts);
				printf("commute-%llu:%llu,%s,%s,,%s,%s,%s\n", a % 16,
				    seq, ts, pan, tariff_network_id(t, nsnet),
				    tariff_stop_id(t, tp[k].stop), tp[k].kind);
			}
		}
	}
}

struct gen_args {
	const char		*dir, *day;
	unsigned long long	 accounts, seed;
	unsigned long long	 commuters, first;	/* --commuters mode */
	int			 days;
};

/* Parses the options; -1 (after saying why) when they are bad. */
static int
gen_args(int argc, char **argv, struct gen_args *g)
{
	int ai;

	for (ai = 1; ai < argc; ai++) {
		if (strcmp(argv[ai], "--tariff") == 0 && ai + 1 < argc)
			g->dir = argv[++ai];
		else if (strcmp(argv[ai], "--accounts") == 0 && ai + 1 < argc)
			g->accounts = strtoull(argv[++ai], NULL, 10);
		else if (strcmp(argv[ai], "--seed") == 0 && ai + 1 < argc)
			g->seed = strtoull(argv[++ai], NULL, 10);
		else if (strcmp(argv[ai], "--day") == 0 && ai + 1 < argc)
			g->day = argv[++ai];
		else if (strcmp(argv[ai], "--commuters") == 0 && ai + 1 < argc)
			g->commuters = strtoull(argv[++ai], NULL, 10);
		else if (strcmp(argv[ai], "--first") == 0 && ai + 1 < argc)
			g->first = strtoull(argv[++ai], NULL, 10);
		else if (strcmp(argv[ai], "--days") == 0 && ai + 1 < argc)
			g->days = atoi(argv[++ai]);
		else {
			fprintf(stderr, "usage: gen-taps --tariff DIR --accounts "
			    "N [--seed S] [--day YYYY-MM-DD]\n"
			    "       gen-taps --tariff DIR --commuters N --days D "
			    "[--first K] [--seed S] [--day YYYY-MM-DD]\n");
			return -1;
		}
	}
	if (g->dir == NULL) {
		fprintf(stderr, "gen-taps: --tariff is required\n");
		return -1;
	}
	return 0;
}

/*
 * The stops of each network (a stop of no known network counts for all),
 * and the networks with at least two: where a leg can go.
 */
static int
gen_networks(const struct tariff *t, struct netstops *ns, uint32_t *usable,
    uint32_t *nusable)
{
	uint32_t i, n;

	memset(ns, 0, 64 * sizeof *ns);
	for (n = 0; n < t->nnetworks; n++) {
		ns[n].stop = malloc(tariff_nstops(t) * sizeof(uint32_t));
		if (ns[n].stop == NULL)
			return -1;
	}
	for (i = 0; i < tariff_nstops(t); i++) {
		const char *net = stop_network(tariff_stop_id(t, i));
		uint32_t k = net ? tariff_network(t, net, strlen(net)) :
		    TARIFF_NONE;
		/* Station parents (location_type 1) have no validators. */
		if (strncmp(tariff_stop_id(t, i), "station-", 8) == 0)
			continue;
		for (n = 0; n < t->nnetworks; n++)
			if (k == n || k == TARIFF_NONE)
				ns[n].stop[ns[n].n++] = i;
	}
	*nusable = 0;
	for (n = 0; n < t->nnetworks; n++)
		if (ns[n].n >= 2)
			usable[(*nusable)++] = n;
	return 0;
}

/* One leg of a visitor: its taps, drawn in a fixed order (seeds replay). */
static int64_t
gen_leg(struct rng *r, int64_t now, const char *pan, const char *pan2,
    const char *par, const struct tariff *t, const struct netstops *ns,
    const uint32_t *usable, uint32_t nusable, uint64_t *tap_no)
{
	uint32_t net = usable[below(r, nusable)];
	const struct netstops *s = &ns[net];
	uint32_t from = s->stop[below(r, s->n)];
	uint32_t to = s->stop[below(r, s->n)];
	const char *card = *par && below(r, 2) ? pan2 : pan;

	emit(stdout, tap_no, now, card, par, t, net, from, "in");
	if (below(r, 50) == 0)	/* a double tap */
		emit(stdout, tap_no, now + 3, card, par, t, net, from, "in");
	now += 300 + below(r, 3600);
	if (t->network[net].checkout_required &&
	    below(r, 30) != 0)	/* a forgotten check-out */
		emit(stdout, tap_no, now, card, par, t, net, to, "out");
	return now + 60 + below(r, 2400);
}

/* The --commuters mode on the tariff's NS stops; -1 (said why) if none. */
static int
gen_commuters(const struct tariff *t, const struct netstops *ns,
    const struct gen_args *g, int64_t day0)
{
	uint32_t rail = tariff_network(t, "NS", 2);

	if (rail == TARIFF_NONE || g->days < 1 || g->days > 3650 ||
	    ns[rail].n < 2) {
		fprintf(stderr, "gen-taps: --commuters needs NS stops and 1 to "
		    "3650 --days\n");
		return -1;
	}
	commuters(t, &ns[rail], rail, g->first, g->commuters, g->days, day0,
	    g->seed);
	return 0;
}

int
main(int argc, char **argv)
{
	struct gen_args g = {NULL, "2026-11-28", 1000, 1, 0, 0, 0};
	const char *why;
	unsigned long long accounts, seed, a;
	struct netstops ns[64];
	struct tariff *t;
	struct diag d;
	struct rng r;
	uint64_t tap_no = 0;
	int64_t day0;
	uint32_t n, usable[64], nusable = 0;
	static char obuf[1 << 20];

	if (gen_args(argc, argv, &g) == -1)
		return 2;
	accounts = g.accounts;
	seed = g.seed;
	{
		char ts[32];
		snprintf(ts, sizeof ts, "%sT05:00:00Z", g.day);
		if (parse_rfc3339(ts, &day0, &why) == -1) {
			fprintf(stderr, "gen-taps: bad --day: %s\n", why);
			return 2;
		}
	}
	diag_init(&d);
	if ((t = tariff_load(g.dir, &d)) == NULL) {
		diag_print(&d, stderr);
		return 1;
	}
	diag_free(&d);
	if (gen_networks(t, ns, usable, &nusable) == -1)
		return 1;
	setvbuf(stdout, obuf, _IOFBF, sizeof obuf);
	printf("tap_id,time,card,par,network_id,stop_id,kind\n");
	if (g.commuters > 0) {
		if (gen_commuters(t, ns, &g, day0) == -1)
			return 2;
		accounts = 0;
	}
	r.s = seed;
	for (a = 0; a < accounts && nusable > 0; a++) {
		char pan[17], pan2[17], par[30] = "";
		int64_t now = day0 + below(&r, 10 * 3600);
		uint32_t legs = 1 + below(&r, 5), l;
		tap_make_pan('4', a * 2 + seed * 1000003ULL, pan);
		tap_make_pan('4', a * 2 + 1 + seed * 1000003ULL, pan2);
		/* One visitor in four pays with phone and card of one account. */
		if (below(&r, 4) == 0) {
			/* EMVCo PAR: a 4-character BIN controller, 25 more. */
			static const char an[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
			int k;
			memcpy(par, "V001", 4);
			for (k = 4; k < 29; k++)
				par[k] = an[below(&r, 36)];
			par[29] = '\0';
		}
		for (l = 0; l < legs; l++)
			now = gen_leg(&r, now, pan, pan2, par, t, ns, usable,
			    nusable, &tap_no);
	}
	for (n = 0; n < t->nnetworks; n++)
		free(ns[n].stop);
	tariff_free(t);
	return fflush(stdout) == 0 ? 0 : 1;
}
