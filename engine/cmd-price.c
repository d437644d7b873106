/*
 * fare-engine price --tariff DIR TAPS.csv: prices a tap file offline and
 * prints SPEC §5's JSON lines (or, with --explain, the same days in plain
 * words).  A bad row fails the run unless --skip-bad.
 */
#include <stdarg.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "cmd.h"
#include "explain.h"
#include "limits.h"
#include "opt.h"
#include "tapset.h"

/* Totals for --summary: what a person wants to know about a day. */
struct summary {
	uint64_t	 accounts, account_days, legs[LEG_OPEN + 1];
	uint64_t	 transfers, capped_days;
	int64_t		 charged, uncapped, saved, incomplete;
	int64_t		 revenue[LIMIT_NETWORKS], fares[LIMIT_NETWORKS];
	int64_t		 missing[LIMIT_NETWORKS];
	char		 last_account[160];
};

/* What a person watching a long run sees on a terminal (stderr). */
struct progress {
	int		 on;		/* stderr is a terminal */
	double		 start, last;	/* now_s() of the phase, of the line */
	uint64_t	 days;		/* account-days priced */
};

struct emit_ctx {
	const struct tariff	*t;
	struct buf		 out;
	int			 explain;
	struct summary		*sum;
	struct progress		 pg;
};

static double	now_s(void);

/* Rewrites the progress line in place, at most 4 times a second. */
static void
progress_line(struct progress *pg, int done, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
progress_line(struct progress *pg, int done, const char *fmt, ...)
{
	double now = now_s();
	va_list ap;

	if (!pg->on || (!done && now - pg->last < 0.25))
		return;
	pg->last = now;
	fputs("\rprice: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (%.1f s)\033[K%s", now - pg->start, done ? "\n" :
	    "");
	fflush(stderr);
}

static const char *
grouped(uint64_t v, char buf[32])
{
	count_text(v, buf);
	return buf;
}

static void
read_progress_cb(void *arg, uint64_t rows, uint64_t bytes, uint64_t size,
    int done)
{
	struct progress *pg = arg;
	char n[32];

	if (done)
		progress_line(pg, 1, "read %s rows", grouped(rows, n));
	else if (size > 0)
		progress_line(pg, 0, "reading: %s rows, %d%%", grouped(rows, n),
		    (int)(bytes * 100 / size > 99 ? 99 : bytes * 100 / size));
	else
		progress_line(pg, 0, "reading: %s rows", grouped(rows, n));
}

static int
flush(struct emit_ctx *e)
{
	if (e->out.oom)
		return -1;
	if (e->out.len > 0 && fwrite(e->out.p, 1, e->out.len, stdout) !=
	    e->out.len)
		return -1;
	e->out.len = 0;
	return 0;
}

static void
summary_add(struct summary *s, const char *account,
    const struct price_result *r, const struct price_day *d)
{
	uint32_t i;

	if (strcmp(account, s->last_account) != 0) {
		s->accounts++;
		snprintf(s->last_account, sizeof s->last_account, "%s",
		    account);
	}
	s->account_days++;
	s->charged += d->charge_cents;
	s->uncapped += d->uncapped_cents;
	s->incomplete += d->incomplete_cents;
	if (d->charge_cents < d->uncapped_cents) {
		s->capped_days++;
		s->saved += d->uncapped_cents - d->charge_cents;
	}
	for (i = 0; i < d->nlegs; i++) {
		const struct price_leg *l = &r->leg[d->legs_off + i];
		s->legs[l->status]++;
		s->transfers += l->transfer != TARIFF_NONE;
		if (l->status == LEG_INCOMPLETE)
			s->missing[l->network] += l->fare_cents;
		else
			s->fares[l->network] += l->contribution_cents;
	}
	for (i = 0; i < d->nshares; i++)
		s->revenue[r->share[d->shares_off + i].network] +=
		    r->share[d->shares_off + i].cents;
}

static void
summary_print(const struct tariff *t, const struct summary *s, size_t ntaps)
{
	char a[32], b[32], c[32];
	uint32_t n;

	printf("OneCity day summary on %s\n", tariff_timezone(t));
	printf("  taps priced          %zu\n", ntaps);
	printf("  travellers           %llu (account-days %llu)\n",
	    (unsigned long long)s->accounts,
	    (unsigned long long)s->account_days);
	printf("  legs                 %llu complete, %llu autocompleted, "
	    "%llu incomplete, %llu cancelled, %llu unpriced\n",
	    (unsigned long long)s->legs[LEG_COMPLETE],
	    (unsigned long long)s->legs[LEG_AUTOCOMPLETED],
	    (unsigned long long)s->legs[LEG_INCOMPLETE],
	    (unsigned long long)s->legs[LEG_CANCELLED],
	    (unsigned long long)s->legs[LEG_UNPRICED]);
	printf("  transfers            %llu legs joined a journey "
	    "(boarding fare waived)\n", (unsigned long long)s->transfers);
	explain_money(t, s->charged, a);
	explain_money(t, s->uncapped, b);
	printf("  charged              %s (without caps: %s)\n", a, b);
	explain_money(t, s->saved, a);
	printf("  reached a cap        %llu travellers, who saved %s\n",
	    (unsigned long long)s->capped_days, a);
	explain_money(t, s->incomplete, a);
	printf("  missing check-outs   %llu legs, %s charged at the "
	    "incomplete fare\n", (unsigned long long)s->legs[LEG_INCOMPLETE],
	    a);
	printf("  revenue per operator (fares; cap discount; missing "
	    "check-outs):\n");
	for (n = 0; n < tariff_nnetworks(t); n++) {
		if (s->revenue[n] == 0 && s->fares[n] == 0)
			continue;
		explain_money(t, s->revenue[n], a);
		explain_money(t, s->fares[n] - (s->revenue[n] - s->missing[n]), b);
		explain_money(t, s->missing[n], c);
		printf("    %-10s %12s   (cap discount %s; missing "
		    "check-outs %s)  %s\n", tariff_network_id(t, n), a, b, c,
		    tariff_network_name(t, n));
	}
}

static int
emit_cb(void *arg, const char *account, const struct price_result *r,
    const struct price_day *d)
{
	struct emit_ctx *e = arg;
	char n[32];

	if (++e->pg.days % 4096 == 0)
		progress_line(&e->pg, 0, "pricing: %s account-days",
		    grouped(e->pg.days, n));
	if (e->sum != NULL) {
		summary_add(e->sum, account, r, d);
		return 0;
	}
	if (e->explain)
		explain_day(e->t, account, r, d, &e->out);
	else
		price_json_day(e->t, account, r, d, &e->out);
	return e->out.len >= (1u << 20) ? flush(e) : 0;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --stats: phase times and peak memory on stderr, for the benchmarks. */
static void
print_stats(size_t ntaps, double t0, double t1, double t2, double t3)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	fprintf(stderr, "stats: taps=%zu tariff_s=%.3f read_s=%.3f "
	    "price_s=%.3f total_s=%.3f taps_per_s=%.0f peak_rss_kib=%ld\n",
	    ntaps, t1 - t0, t2 - t1, t3 - t2, t3 - t0,
	    t3 > t0 ? (double)ntaps / (t3 - t0) : 0.0, ru.ru_maxrss);
}

int
cmd_price(int argc, char **argv)
{
	const char *dir = NULL, *path = NULL, *keyfile = NULL;
	struct emit_ctx e = {NULL, {NULL, 0, 0, 0}, 0, NULL, {0, 0, 0, 0}};
	struct summary sum;
	struct tap_tokenizer *tk = NULL;
	struct tapset *s = NULL;
	struct tariff *t = NULL;
	struct diag d;
	int skip_bad = 0, rc = 1, stats = 0, explain = 0, summary = 0, first;
	double t0 = now_s(), t1, t2;
	char err[256];
	static const struct opt_cmd cmd = {"fare-engine price", "TAPS.csv", 1,
	    1, "Prices a tap file offline: one JSON line per (account, service "
	    "day) as SPEC\nsection 5 gives, or the same days in plain words "
	    "(--explain), or the day's\ntotals (--summary).  A bad row is "
	    "FILE:LINE: message and exit 1."};
	const struct opt o[] = {
		{.name = "tariff", .kind = OPT_STR, .dst = &dir, .arg = "DIR",
		    .help = "the tariff (a GTFS directory)",
		    .flags = OPT_REQUIRED},
		{.name = "skip-bad", .kind = OPT_FLAG, .dst = &skip_bad,
		    .help = "report bad rows and price the others"},
		{.name = "explain", .kind = OPT_FLAG, .dst = &explain,
		    .help = "each day in plain words", .group = 1},
		{.name = "summary", .kind = OPT_FLAG, .dst = &summary,
		    .help = "the totals of all days", .group = 1},
		{.name = "token-key-file", .kind = OPT_STR, .dst = &keyfile,
		    .arg = "FILE", .help = "the card token key (default: the "
		    "development key)"},
		{.name = "stats", .kind = OPT_FLAG, .dst = &stats,
		    .help = "phase times and peak memory on stderr"},
		{.name = NULL},
	};

	if ((rc = opt_parse(&cmd, o, argc, argv, &first)) != OPT_RUN)
		return rc;
	rc = 1;
	path = argv[first];
	e.explain = explain;
	if (summary)
		e.sum = &sum;
	diag_init(&d);
	if ((t = tariff_load(dir, &d)) == NULL)
		goto out;
	if (keyfile != NULL)
		tk = tap_tokenizer_from_file(keyfile, err, sizeof err);
	else
		tk = tap_tokenizer_new((const unsigned char *)TAP_DEV_TOKEN_KEY,
		    strlen(TAP_DEV_TOKEN_KEY));
	if (tk == NULL) {
		fprintf(stderr, "fare-engine: %s\n", keyfile ? err :
		    "cannot set up the token key");
		goto out;
	}
	if ((s = tapset_new(t, tk)) == NULL)
		goto oom;
	t1 = now_s();
	/* Progress only for a person at a terminal: logs and pipes get
	 * nothing more than before. */
	e.pg.on = isatty(STDERR_FILENO);
	e.pg.start = t1;
	tapset_set_progress(s, read_progress_cb, &e.pg);
	if (tapset_read(s, path, &d) == -1)
		goto out;
	t2 = now_s();
	if (d.nerrors > 0 && !skip_bad)
		goto out;
	e.t = t;
	memset(&sum, 0, sizeof sum);
	e.pg.start = now_s();
	if (tapset_price(s, emit_cb, &e) == -1 || flush(&e) == -1)
		goto oom;
	{
		char n[32];
		progress_line(&e.pg, 1, "priced %s account-days",
		    grouped(e.pg.days, n));
	}
	if (e.sum != NULL)
		summary_print(t, &sum, tapset_count(s));
	if (stats)
		print_stats(tapset_count(s), t0, t1, t2, now_s());
	rc = 0;
	goto out;
oom:
	fprintf(stderr, "fare-engine: out of memory or output error\n");
out:
	diag_print(&d, stderr);
	if (skip_bad && d.nerrors > 0 && rc == 0)
		fprintf(stderr, "fare-engine: skipped %zu bad rows\n",
		    d.nerrors);
	diag_free(&d);
	buf_free(&e.out);
	tapset_free(s);
	tap_tokenizer_free(tk);
	tariff_free(t);
	return rc;
}
