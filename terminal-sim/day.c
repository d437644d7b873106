/*
 * terminal-sim day: a seeded, reproducible day of tourists over
 * tariffs/nl, tapped at simulated validators (a gate or pole per stop and
 * operator, each its own device with its own certificate) and sent to the
 * engine over mutual TLS by replay.c's machinery.
 *
 * A visitor arrives at Schiphol (or starts from a hotel in Amsterdam),
 * rides trams and metro in Amsterdam, takes one day trip (Zaanse Schans,
 * Keukenhof, Delft and Den Haag, Rotterdam and Kinderdijk, Utrecht,
 * Giethoorn, Volendam and Marken, Haarlem and Zandvoort) and returns in
 * the evening.  Cards: plastic bank cards, phone wallets (with a PAR), and
 * some visitors who use both phone and plastic card of one account (same
 * PAR).  Mistakes at set rates: a forgotten check-out, a double tap, a
 * card clash (the other card in the wallet answers), a check-in at the
 * wrong operator's pole at a shared station, and one validator offline for
 * an hour (its taps are forwarded after the others').
 *
 * The same --seed gives the same visitors and cards on every --date, and
 * the same taps for the same date.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opt.h"
#include "parse.h"
#include "replay.h"
#include "rng.h"
#include "sim.h"
#include "strtab.h"
#include "tap.h"

#define DAY_TOURISTS_MAX	1000000

/* Mistake rates, in per mille. */
#define RATE_NO_CHECKOUT	25	/* of legs that need a check-out */
#define RATE_DOUBLE_TAP		20	/* of taps */
#define RATE_CARD_CLASH		30	/* of check-outs, two-card wallets */
#define RATE_WRONG_POLE		40	/* of NS legs at shared stations */

struct leg {
	const char	*net, *from, *to;
	int		 minutes;
};

/* A trip: legs out, then the same legs back in reverse. */
struct trip {
	const char	*name;
	struct leg	 legs[3];
	int		 nlegs;
	int		 stay_min;	/* time spent there */
};

static const struct trip trips[] = {
	{"Zaanse Schans", {{"NS", "asd", "kzd", 17}}, 1, 150},
	{"Keukenhof", {{"NS", "asd", "shl", 15},
	    {"CXX", "cxx-schiphol", "cxx-keukenhof", 35}}, 2, 180},
	{"Delft and Den Haag", {{"NS", "asd", "dt", 60},
	    {"HTM", "htm-delft-station", "htm-centraal", 30},
	    {"HTM", "htm-centraal", "htm-kurhaus", 20}}, 3, 200},
	{"Rotterdam and Kinderdijk", {{"NS", "asd", "rtd", 42},
	    {"RET", "ret-centraal", "ret-leuvehaven", 8},
	    {"FERRY", "ferry-erasmusbrug", "ferry-kinderdijk", 40}}, 3, 150},
	{"Utrecht", {{"NS", "asd", "ut", 27},
	    {"QBUZZ", "qb-utrecht-cs", "qb-utrecht-domplein", 8}}, 2, 180},
	{"Giethoorn", {{"NS", "asd", "stv", 95},
	    {"KEOLIS", "keo-steenwijk", "keo-giethoorn", 20}}, 2, 180},
	{"Volendam and Marken", {{"EBS", "ebs-amsterdam-cs", "ebs-volendam",
	    30}, {"EBS", "ebs-volendam", "ebs-marken", 35}}, 2, 180},
	{"Haarlem and Zandvoort", {{"NS", "asd", "hlm", 15},
	    {"NS", "hlm", "ztm", 13}}, 2, 210},
};
#define NTRIPS	(sizeof trips / sizeof trips[0])

static const char *const city[] = {"gvb-centraal", "gvb-dam",
    "gvb-leidseplein", "gvb-rijksmuseum", "gvb-museumplein",
    "gvb-westermarkt", "gvb-nieuwmarkt", "gvb-waterlooplein", "gvb-artis",
    "gvb-depijp", "gvb-vondelpark", "gvb-rembrandtplein", "gvb-spui"};
#define NCITY	(sizeof city / sizeof city[0])

struct day {
	struct replay	*rp;
	struct strtab	*devices;	/* "<stop>.<net>" -> seq so far */
	int64_t		*seq;
	size_t		 seqcap;
	int64_t		 base;		/* 00:00 UTC of the date */
	uint64_t	 rng;
	FILE		*out;
	FILE		*late;		/* held-back check-outs, sent later */
	int		 late_pct;
	/* The offline validator and its hour. */
	char		 offline[96];
	int64_t		 off_from, off_to;
	/* Report. */
	size_t		 taps, legs, no_checkout, double_taps, clashes;
	size_t		 wrong_pole, offline_taps, phones, both, plastic;
	size_t		 late_taps;
};

struct card {
	char		 pan[17], pan2[17];	/* pan2: the other card */
	char		 par[30];
	int		 phone_and_card;
};

static int
chance(struct day *d, int per_mille)
{
	return (int)(rng_next(&d->rng) % 1000) < per_mille;
}

static int
between(struct day *d, int lo, int hi)
{
	return lo + (int)(rng_next(&d->rng) % (uint64_t)(hi - lo + 1));
}

static const char *
lower_net(const char *net, char *buf, size_t len)
{
	size_t i;

	for (i = 0; net[i] != '\0' && i + 1 < len; i++)
		buf[i] = (char)(net[i] >= 'A' && net[i] <= 'Z' ? net[i] + 32 :
		    net[i]);
	buf[i] = '\0';
	return buf;
}

/* One tap at the validator of (stop, network). */
static int
tap(struct day *d, int64_t t, const char *pan, const char *par,
    const char *net, const char *stop, const char *kind)
{
	char dev[96], id[128], when[21], low[16];
	const char *f[7];
	uint32_t k;
	int added;

	snprintf(dev, sizeof dev, "%s.%s", stop, lower_net(net, low,
	    sizeof low));
	k = strtab_intern(d->devices, dev, strlen(dev), &added);
	if (k == STRTAB_NONE)
		return -1;
	if (k >= d->seqcap) {
		size_t nc = d->seqcap ? d->seqcap * 2 : 256;
		int64_t *v = realloc(d->seq, nc * sizeof *v);
		if (v == NULL)
			return -1;
		memset(v + d->seqcap, 0, (nc - d->seqcap) * sizeof *v);
		d->seq = v;
		d->seqcap = nc;
	}
	/* Sequence numbers go on from day to day: date * 10^6 + n. */
	snprintf(id, sizeof id, "%s:%lld", dev, (long long)(d->base / 86400 *
	    1000000 + ++d->seq[k]));
	civil_format_utc(t, when);
	/* Held back: a validator that forwards this tap days later. */
	if (d->late != NULL && strcmp(kind, "out") == 0 &&
	    (int)(strtab_hash(id, strlen(id)) % 100) < d->late_pct) {
		fprintf(d->late, "%s,%s,%s,%s,%s,%s,%s\n", id, when, pan, par,
		    net, stop, kind);
		d->late_taps++;
		return 0;
	}
	f[0] = id;
	f[1] = when;
	f[2] = pan;
	f[3] = par;
	f[4] = net;
	f[5] = stop;
	f[6] = kind;
	if (replay_add_row(d->rp, f) == -1)
		return -1;
	/* The offline validator forwards this hour's taps late. */
	if (strcmp(dev, d->offline) == 0 && t >= d->off_from &&
	    t < d->off_to) {
		d->rp->row[d->rp->nrows - 1].phase = 1;
		d->offline_taps++;
	}
	d->taps++;
	if (d->out != NULL)
		fprintf(d->out, "%s,%s,%s,%s,%s,%s,%s\n", id, when, pan, par,
		    net, stop, kind);
	return 0;
}

/* One ride, with the mistakes a visitor makes. */
static int
ride(struct day *d, const struct card *c, int64_t *t, const char *net,
    const char *from, const char *to, int minutes)
{
	const char *pan = c->pan, *in_net = net;
	int rc = 0;

	/* Phone and card of one account: sometimes the card today. */
	if (c->phone_and_card && chance(d, 300))
		pan = c->pan2;
	/* Shared stations: the other operator's pole by mistake. */
	if (strcmp(net, "NS") == 0 && (strcmp(from, "rtd") == 0 ||
	    strcmp(from, "ut") == 0 || strcmp(from, "asd") == 0) &&
	    chance(d, RATE_WRONG_POLE)) {
		in_net = "ARRIVA";
		d->wrong_pole++;
	}
	rc |= tap(d, *t, pan, c->par, in_net, from, "in");
	if (chance(d, RATE_DOUBLE_TAP)) {
		rc |= tap(d, *t + between(d, 3, 20), pan, c->par, in_net, from,
		    "in");
		d->double_taps++;
	}
	*t += minutes * 60 + between(d, 0, 180);
	d->legs++;
	if (strcmp(net, "FERRY") == 0)
		return rc;	/* tap in only */
	if (chance(d, RATE_NO_CHECKOUT)) {
		d->no_checkout++;
		return rc;
	}
	if (!c->phone_and_card && c->pan2[0] != '\0' &&
	    chance(d, RATE_CARD_CLASH)) {
		/* The other card in the wallet answers the reader. */
		d->clashes++;
		return rc | tap(d, *t, c->pan2, "", net, to, "out");
	}
	return rc | tap(d, *t, pan, c->par, net, to, "out");
}

static int
city_hops(struct day *d, const struct card *c, int64_t *t, int n,
    const char **at)
{
	int rc = 0;

	while (n-- > 0 && rc == 0) {
		const char *to = city[rng_next(&d->rng) % NCITY];
		if (strcmp(to, *at) == 0)
			continue;
		rc = ride(d, c, t, "GVB", *at, to, between(d, 8, 20));
		*at = to;
		*t += between(d, 30, 120) * 60;
	}
	return rc;
}

static int
tourist(struct day *d, uint64_t seed, size_t i, int32_t date)
{
	uint64_t who = seed * 1000003 + i;
	struct card c;
	const struct trip *tr;
	const char *at = "gvb-centraal";
	int64_t t;
	int k, rc = 0;

	/* The visitor and cards: the same on every date. */
	memset(&c, 0, sizeof c);
	tap_make_pan(i % 3 == 0 ? '5' : '4', rng_next(&who), c.pan);
	if (rng_next(&who) % 100 < 35) {
		/* A phone wallet: device PAN, and the account's PAR. */
		snprintf(c.par, sizeof c.par, "V001DAY%022llu",
		    (unsigned long long)(seed * 1000003 + i));
		c.phone_and_card = rng_next(&who) % 100 < 30;
		if (c.phone_and_card) {
			tap_make_pan('4', rng_next(&who), c.pan2);
			d->both++;
		} else
			d->phones++;
	} else {
		d->plastic++;
		/* Some wallets hold a second contactless card. */
		if (rng_next(&who) % 100 < 20)
			tap_make_pan('5', rng_next(&who), c.pan2);
	}
	/* The day's plan: seeded by visitor and date. */
	d->rng = who ^ ((uint64_t)date * 0x9e3779b97f4a7c15ULL);
	t = d->base + between(d, 6 * 60, 10 * 60) * 60;	/* 07:00-11:00 CET */
	if (chance(d, 400)) {
		/* Landing at Schiphol: the train into town. */
		rc |= ride(d, &c, &t, "NS", "shl", "asd", 15);
		t += between(d, 20, 60) * 60;
	}
	rc |= city_hops(d, &c, &t, between(d, 0, 2), &at);
	tr = &trips[rng_next(&d->rng) % NTRIPS];
	if (strcmp(at, "gvb-centraal") != 0) {
		rc |= ride(d, &c, &t, "GVB", at, "gvb-centraal", 12);
		at = "gvb-centraal";
	}
	t += between(d, 5, 20) * 60;
	for (k = 0; k < tr->nlegs; k++) {
		rc |= ride(d, &c, &t, tr->legs[k].net, tr->legs[k].from,
		    tr->legs[k].to, tr->legs[k].minutes);
		t += between(d, 5, 25) * 60;
	}
	t += tr->stay_min * 60 + between(d, 0, 60) * 60;
	for (k = tr->nlegs - 1; k >= 0; k--) {
		rc |= ride(d, &c, &t, tr->legs[k].net, tr->legs[k].to,
		    tr->legs[k].from, tr->legs[k].minutes);
		t += between(d, 5, 25) * 60;
	}
	/* Evening in town, then back to the hotel. */
	rc |= city_hops(d, &c, &t, between(d, 1, 2), &at);
	return rc;
}

struct day_args {
	const char	*ack, *out, *date, *queue, *late;
	long		 tourists, stop_after;
	int		 generate_only;
	uint64_t	 seed;
	int32_t		 days;
};

/* Parses the options into a, rp and d: OPT_RUN, or the exit status. */
static int
day_args(int argc, char **argv, struct day_args *a, struct replay *rp,
    struct day *d)
{
	static const struct opt_cmd cmd = {"terminal-sim day", "", 0, 0,
	    "A seeded day of tourists (arrivals at Schiphol, trams, day "
	    "trips, the mistakes\nvisitors make) tapping through simulated "
	    "validators over mutual TLS.  The same\n--seed is the same "
	    "visitors on every date and the same taps on the same date."};
	const char *why;
	int first, rc;
	const struct opt o[] = {
		{.name = "engine", .kind = OPT_STR, .dst = &rp->engine,
		    .arg = "HOST:PORT", .help = "the engine (not needed with "
		    "--generate-only)"},
		{.name = "certs", .kind = OPT_STR, .dst = &rp->certs,
		    .arg = "DIR", .help = "the CA directory"},
		{.name = "tourists", .kind = OPT_LONG, .dst = &a->tourists,
		    .arg = "N", .lo = 1, .hi = DAY_TOURISTS_MAX,
		    .help = "visitors (default 1000)"},
		{.name = "seed", .kind = OPT_U64, .dst = &a->seed, .arg = "S",
		    .lo = 0, .hi = INT64_C(1) << 53, .help = "the visitors "
		    "and their cards (default 1)"},
		{.name = "date", .kind = OPT_DAY, .dst = &a->date,
		    .arg = "YYYY-MM-DD", .help = "the service day (default "
		    "2026-11-28)"},
		{.name = "taps-out", .kind = OPT_STR, .dst = &a->out,
		    .arg = "FILE", .help = "write the taps as a tap file"},
		{.name = "ack-log", .kind = OPT_STR, .dst = &a->ack,
		    .arg = "FILE", .help = "append each acknowledged tap_id"},
		{.name = "queue", .kind = OPT_STR, .dst = &a->queue,
		    .arg = "FILE", .help = "durable store and forward"},
		{.name = "late-out", .kind = OPT_STR, .dst = &a->late,
		    .arg = "FILE", .help = "hold back check-outs into this "
		    "tap file (late taps)"},
		{.name = "late-pct", .kind = OPT_INT, .dst = &d->late_pct,
		    .arg = "P", .lo = 0, .hi = 100, .help = "percent of "
		    "devices whose check-outs are held back"},
		{.name = "stop-after", .kind = OPT_LONG, .dst = &a->stop_after,
		    .arg = "N", .lo = 0, .hi = INT64_C(1) << 53,
		    .help = "exit after N answers (tests)"},
		{.name = "generate-only", .kind = OPT_FLAG,
		    .dst = &a->generate_only, .help = "generate (and "
		    "--taps-out), send nothing"},
		{.name = NULL},
	};

	if ((rc = opt_parse(&cmd, o, argc, argv, &first)) != OPT_RUN)
		return rc;
	if ((rp->engine == NULL || rp->certs == NULL) && !a->generate_only)
		return opt_fail(&cmd, "missing --engine and --certs (or "
		    "--generate-only)");
	if (parse_day(a->date, &a->days, &why) == -1)
		return opt_fail(&cmd, "--date '%s': %s", a->date, why);
	return OPT_RUN;
}

/* Opens a tap file for writing, with its header; -1 if it cannot. */
static int
open_taps_out(const char *path, FILE **f)
{
	if (path == NULL)
		return 0;
	if ((*f = fopen(path, "w")) == NULL) {
		perror(path);
		return -1;
	}
	fprintf(*f, "tap_id,time,card,par,network_id,stop_id,kind\n");
	return 0;
}

static void
day_summary(const struct day *d, const struct day_args *a)
{
	fprintf(stderr, "terminal-sim: day %s, seed %llu: %ld visitors "
	    "(%zu plastic cards, %zu phones, %zu with phone and card of one "
	    "account), %zu legs, %zu taps at %u validators\n"
	    "terminal-sim: mistakes: %zu forgotten check-outs, %zu double taps, "
	    "%zu card clashes, %zu wrong operator's pole; validator %s offline "
	    "for an hour (%zu taps forwarded late)\n", a->date,
	    (unsigned long long)a->seed, a->tourists, d->plastic, d->phones,
	    d->both, d->legs, d->taps, strtab_count(d->devices),
	    d->no_checkout, d->double_taps, d->clashes, d->wrong_pole,
	    d->offline, d->offline_taps);
	if (d->late_taps > 0)
		fprintf(stderr, "terminal-sim: %zu check-outs held back in %s "
		    "(late taps)\n", d->late_taps, a->late);
}

int
sim_day(int argc, char **argv)
{
	struct day_args a = {NULL, NULL, "2026-11-28", NULL, NULL, 1000, 0, 0,
	    1, 0};
	struct replay rp;
	struct day d;
	size_t i;
	int rc;

	memset(&rp, 0, sizeof rp);
	memset(&d, 0, sizeof d);
	if ((rc = day_args(argc, argv, &a, &rp, &d)) != OPT_RUN)
		return rc;
	d.rp = &rp;
	d.base = (int64_t)a.days * 86400;
	if ((d.devices = strtab_new()) == NULL)
		return 2;
	if (open_taps_out(a.out, &d.out) == -1 ||
	    open_taps_out(a.late, &d.late) == -1)
		return 2;
	/* The offline validator: a GVB pole in the centre, 12:00-13:00 CET. */
	snprintf(d.offline, sizeof d.offline, "gvb-dam.gvb");
	d.off_from = d.base + 11 * 3600;
	d.off_to = d.off_from + 3600;
	rc = 0;
	for (i = 0; i < (size_t)a.tourists && rc == 0; i++)
		rc = tourist(&d, a.seed, i, a.days);
	if (d.out != NULL && fclose(d.out) != 0)
		rc = -1;
	if (d.late != NULL && fclose(d.late) != 0)
		rc = -1;
	if (rc != 0) {
		fprintf(stderr, "terminal-sim: day: out of memory\n");
		strtab_free(d.devices);
		free(d.seq);
		return 2;
	}
	day_summary(&d, &a);
	strtab_free(d.devices);
	free(d.seq);
	if (a.generate_only) {
		replay_free_rows(&rp);
		return 0;
	}
	rp.ids_name_devices = 1;
	rp.gate = 1;		/* live taps: the gates decide now */
	rp.stop_after = (size_t)a.stop_after;
	return replay_run(&rp, a.ack, a.queue);
}
