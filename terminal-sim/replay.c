/*
 * terminal-sim replay: sends every row of a SPEC §3 tap file through
 * simulated validators over mutual TLS and waits for each tap's ack or
 * refusal.  So that the engine prices exactly what `fare-engine price`
 * prices, rows that repeat a tap_id are sent as resends of the row price
 * keeps, all taps of one account go through one validator, and sequence
 * numbers follow the file's tap_id order (fixed width, so "device:seq"
 * sorts like the original ids).
 *
 * The same machinery sends `day`'s tourists (sim-day.c): there each row's
 * tap_id already names its validator ("<device>:<seq>"), rows may come in
 * two phases (a validator offline for an hour forwards its taps after the
 * rest), and every validator decides at the gate from its copy of the
 * deny list (D frames), sending refused cards flagged `denied`.  `replay`
 * does not: a tap file records taps whose gates decided long ago.
 *
 * With --queue FILE the validators' store and forward survives a restart
 * of the simulator: each tap is appended ("T tap_id") and synced before it
 * leaves, each acknowledgement appended ("A tap_id"); a restarted run
 * skips what was acknowledged and resends the rest.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "certs.h"
#include "replay.h"
#include "csv.h"
#include "explain.h"
#include "opt.h"
#include "parse.h"
#include "strtab.h"
#include "tap.h"
#include "tls.h"
#include "wire.h"
#include "sim.h"

#define REPLAY_DEVICES		4
#define REPLAY_DEVICES_MAX	4096
#define REPLAY_WINDOW		512	/* taps in flight per validator */
#define REPLAY_SEQ_BASE		1000000000LL
#define REPLAY_RETRIES		30	/* reconnects in a row, ~1 s apart */
#define REPLAY_ROWS_MAX		20000000
#define REPLAY_SILENCE_S	15	/* taps in flight, no answer: reconnect */

struct device {
	struct replay	*rp;
	size_t		 answered_here;	/* on this connection */
	char		 id[64];
	struct tls_ctx	*ctx;
	struct tls_conn	*conn;
	uint32_t	*rows;		/* rows to send through this device */
	size_t		 nrows, next, inflight, answered;
	int		 retries;
	unsigned	 connects;	/* attempts: which engine address */
	int		 open;
	int		 list_ready;	/* the deny list arrived whole */
	struct event	*watch;		/* half-open link detector */
	time_t		 last_rx;
};

static int
row_less(const struct row *a, const struct row *b)
{
	int i, c;

	if (a->time != b->time)
		return a->time < b->time;
	for (i = 2; i < 7; i++)
		if ((c = strcmp(a->f[i], b->f[i])) != 0)
			return c < 0;
	return 0;
}

int
replay_add_row(struct replay *rp, const char *const f[7])
{
	static size_t cap;	/* one replay per process */
	const char *why;
	struct row *w;
	size_t i;

	if (rp->nrows == REPLAY_ROWS_MAX)
		return -1;
	if (rp->nrows == cap || rp->row == NULL) {
		size_t nc = cap && rp->row ? cap * 2 : 1024;
		if ((w = realloc(rp->row, nc * sizeof *w)) == NULL)
			return -1;
		rp->row = w;
		cap = nc;
	}
	w = &rp->row[rp->nrows++];
	memset(w, 0, sizeof *w);
	for (i = 0; i < 7; i++)
		if ((w->f[i] = strdup(f[i])) == NULL)
			return -1;
	if (parse_rfc3339(w->f[1], &w->time, &why) == -1)
		w->time = INT64_MIN;
	return 0;
}

/* The first field of a tap row holding a comma, or -1. */
static int
field_with_comma(const struct csv_record *rec)
{
	size_t i;

	for (i = 0; i < rec->nfields && i < 7; i++)
		if (strchr(rec->field[i], ',') != NULL)
			return (int)i;
	return -1;
}

static int
read_rows(struct replay *rp, const char *path)
{
	struct csv *c = csv_open(path);
	struct csv_record rec;
	int r, k;

	if (c == NULL) {
		fprintf(stderr, "terminal-sim replay: %s: %s\n", path,
		    strerror(errno));
		return -1;
	}
	if (csv_next(c, &rec) != 1) {
		fprintf(stderr, "terminal-sim replay: %s: not a tap file (no "
		    "header line)\n", path);
		csv_close(c);
		return -1;
	}
	if (!tap_header_ok(rec.field, rec.nfields)) {
		fprintf(stderr, "terminal-sim: %s:1: the header must be "
		    TAP_HEADER "\n", path);
		csv_close(c);
		return -1;
	}
	while ((r = csv_next(c, &rec)) != 0) {
		if (r == -1 || rec.nfields != 7) {
			fprintf(stderr, "terminal-sim: %s:%lu: %s (not sent)\n",
			    path, rec.line, r == -1 ? csv_error(c) :
			    "expected 7 fields");
			rp->failed = 1;
			continue;
		}
		/* A tap frame's fields are split at commas (docs/protocol.md):
		 * a quoted comma would move every field after it. */
		if ((k = field_with_comma(&rec)) >= 0) {
			fprintf(stderr, "terminal-sim: %s:%lu: %s holds a comma, "
			    "which a tap frame cannot carry (not sent)\n",
			    path, rec.line, tap_field_name[k]);
			rp->failed = 1;
			continue;
		}
		if (replay_add_row(rp, rec.field) == -1) {
			fprintf(stderr, "terminal-sim: %s:%lu: out of memory or "
			    "more than %d rows\n", path, rec.line,
			    REPLAY_ROWS_MAX);
			csv_close(c);
			return -1;
		}
	}
	csv_close(c);
	return 0;
}

static int
id_cmp(const void *a, const void *b, void *arg)
{
	const struct replay *rp = arg;

	return strcmp(rp->row[*(const uint32_t *)a].f[0],
	    rp->row[*(const uint32_t *)b].f[0]);
}

/* The device named id, added if new. */
static int
device_index(struct replay *rp, struct strtab *names, const char *id,
    size_t len, uint32_t *out)
{
	int added;
	uint32_t d = strtab_intern(names, id, len, &added);

	if (d == STRTAB_NONE || d >= REPLAY_DEVICES_MAX)
		return -1;
	if (added) {
		struct device *nd = realloc(rp->dev, (d + 1) * sizeof *nd);
		if (nd == NULL)
			return -1;
		rp->dev = nd;
		memset(&nd[d], 0, sizeof nd[d]);
		snprintf(nd[d].id, sizeof nd[d].id, "%.*s", (int)len, id);
		rp->ndev = d + 1;
	}
	*out = d;
	return 0;
}

/* plan()'s working set: tap ids, cards and device names, row indexes. */
struct plan {
	struct strtab	*ids, *cards, *names;
	uint32_t	*best;		/* per tap id: the row kept */
	uint32_t	*order;		/* kept rows by tap id */
	uint32_t	*card_par;	/* per card: the row of its least PAR */
};

/* Keeps one row per tap id (row_less decides); every row points to it. */
static int
plan_keep(struct replay *rp, struct plan *pl)
{
	size_t i, n = rp->nrows;
	uint32_t id;

	for (i = 0; i < n; i++) {
		int added;
		id = strtab_intern(pl->ids, rp->row[i].f[0],
		    strlen(rp->row[i].f[0]), &added);
		if (id == STRTAB_NONE)
			return -1;
		if (added || row_less(&rp->row[i], &rp->row[pl->best[id]]))
			pl->best[id] = (uint32_t)i;
	}
	for (i = 0; i < n; i++) {
		rp->row[i].kept = pl->best[strtab_find(pl->ids,
		    rp->row[i].f[0], strlen(rp->row[i].f[0]))];
		pl->card_par[i] = UINT32_MAX;
	}
	return 0;
}

/* Each card's least PAR among kept rows, as price decides it. */
static int
plan_pars(struct replay *rp, struct plan *pl)
{
	size_t i;

	for (i = 0; i < strtab_count(pl->ids); i++) {
		const struct row *w = &rp->row[pl->best[i]];
		uint32_t c = strtab_intern(pl->cards, w->f[2], strlen(w->f[2]),
		    NULL);
		if (c == STRTAB_NONE)
			return -1;
		if (w->f[3][0] != '\0' && (pl->card_par[c] == UINT32_MAX ||
		    strcmp(w->f[3], rp->row[pl->card_par[c]].f[3]) < 0))
			pl->card_par[c] = pl->best[i];
	}
	return 0;
}

/*
 * The device and sequence number of each kept row: by account over
 * REPLAY_DEVICES, or as its tap id names them.
 */
static int
plan_devices(struct replay *rp, struct plan *pl)
{
	size_t i, nid = strtab_count(pl->ids);
	int64_t next[REPLAY_DEVICES] = {0};
	const char *why;

	for (i = 0; i < nid; i++)
		pl->order[i] = pl->best[i];
	qsort_r(pl->order, nid, sizeof *pl->order, id_cmp, rp);
	for (i = 0; i < nid; i++) {
		struct row *w = &rp->row[pl->order[i]];
		uint32_t c = strtab_find(pl->cards, w->f[2], strlen(w->f[2]));
		const char *acct = pl->card_par[c] != UINT32_MAX ?
		    rp->row[pl->card_par[c]].f[3] : w->f[2];
		const char *colon = strrchr(w->f[0], ':');
		if (!rp->ids_name_devices) {
			w->device = (uint32_t)(strtab_hash(acct, strlen(acct)) %
			    REPLAY_DEVICES);
			/* Each device numbers its taps without gaps, as a
			 * validator does (audit verify reports gaps). */
			w->seq = REPLAY_SEQ_BASE + next[w->device]++;
			continue;
		}
		if (colon == NULL || parse_int(colon + 1, 1, TAP_SEQ_MAX,
		    &w->seq, &why) == -1 || device_index(rp, pl->names,
		    w->f[0], (size_t)(colon - w->f[0]), &w->device) == -1) {
			fprintf(stderr, "terminal-sim: tap_id '%s' is not "
			    "<device>:<seq> (or too many devices)\n", w->f[0]);
			return -1;
		}
	}
	return 0;
}

/*
 * Every row is sent: duplicates as resends of the kept row; phase-1 rows
 * after all of phase 0.
 */
static int
plan_queue(struct replay *rp)
{
	size_t i, k;

	for (k = 0; k < 2; k++)
		for (i = 0; i < rp->nrows; i++) {
			struct row *w = &rp->row[i];
			struct device *d = &rp->dev[rp->row[w->kept].device];
			uint32_t *v;
			if (w->phase != k)
				continue;
			if ((v = realloc(d->rows, (d->nrows + 1) *
			    sizeof *v)) == NULL)
				return -1;
			d->rows = v;
			d->rows[d->nrows++] = (uint32_t)i;
			if (k == 0)
				rp->phase0_left++;
		}
	return 0;
}

/* A seeded shuffle of each validator's sending order. */
static void
plan_shuffle(struct replay *rp)
{
	uint64_t x = rp->shuffle_seed;
	size_t i, k;

	for (k = 0; k < rp->ndev; k++) {
		struct device *d = &rp->dev[k];
		for (i = d->nrows; i > 1; i--) {
			size_t r;
			uint32_t tmp;
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			r = (size_t)(x >> 33) % i;
			tmp = d->rows[i - 1];
			d->rows[i - 1] = d->rows[r];
			d->rows[r] = tmp;
		}
	}
}

/* Kept rows, accounts, devices and sequence numbers (see the top). */
static int
plan(struct replay *rp)
{
	struct plan pl = {strtab_new(), strtab_new(), strtab_new(), NULL,
	    NULL, NULL};
	size_t i, n = rp->nrows;
	uint32_t id;
	int rc = -1;

	if (pl.ids == NULL || pl.cards == NULL || pl.names == NULL)
		goto out;
	pl.best = malloc((n + 1) * sizeof *pl.best);
	pl.order = malloc((n + 1) * sizeof *pl.order);
	pl.card_par = malloc((n + 1) * sizeof *pl.card_par);
	if (pl.best == NULL || pl.order == NULL || pl.card_par == NULL)
		goto out;
	if (!rp->ids_name_devices)
		for (i = 0; i < REPLAY_DEVICES; i++) {
			char name[32];
			int len = snprintf(name, sizeof name, "replay-%zu", i);
			if (device_index(rp, pl.names, name, (size_t)len,
			    &id) == -1)
				goto out;
		}
	if (plan_keep(rp, &pl) == -1 || plan_pars(rp, &pl) == -1 ||
	    plan_devices(rp, &pl) == -1 || plan_queue(rp) == -1)
		goto out;
	if (rp->shuffle_seed != 0)
		plan_shuffle(rp);
	rp->total = n;
	rc = 0;
out:
	strtab_free(pl.ids);
	strtab_free(pl.cards);
	strtab_free(pl.names);
	free(pl.best);
	free(pl.order);
	free(pl.card_par);
	return rc;
}

int
replay_gate_denies(struct replay *rp, const char *pan, const char *par)
{
	char acc[ACCOUNT_TEXT_MAX], tok[TAP_TOKEN_HEX + 1];
	struct account_key key;
	uint32_t id;

	if (rp->deny == NULL || strtab_count(rp->deny) == 0)
		return 0;
	if (par[0] != '\0' && account_from(&key, ACCOUNT_PAR, par) == 0)
		account_format(&key, acc, sizeof acc);
	else if (par[0] == '\0' && rp->tk != NULL &&
	    tap_token(rp->tk, pan, strlen(pan), tok) == 0 &&
	    account_from(&key, ACCOUNT_TOKEN, tok) == 0)
		account_format(&key, acc, sizeof acc);
	else
		return 0;
	id = strtab_find(rp->deny, acc, strlen(acc));
	return id != STRTAB_NONE && rp->deny_on[id];
}

static void
deny_update(struct replay *rp, const char *body)
{
	struct account_key key;
	const char *acc;
	uint32_t id;
	int change = wire_deny_body(body, &acc);

	/* A D frame is "+" or "-" and one whole account, nothing else. */
	if ((change != '+' && change != '-') || rp->deny == NULL ||
	    account_parse(&key, acc) == -1) {
		fprintf(stderr, "terminal-sim: a deny-list frame that is not "
		    "+/- and an account: ignored\n");
		return;
	}
	id = strtab_intern(rp->deny, body + 1, strlen(body + 1), NULL);
	if (id == STRTAB_NONE)
		return;
	if (id >= rp->deny_cap) {
		size_t nc = rp->deny_cap ? rp->deny_cap * 2 : 256;
		uint8_t *v;
		while (nc <= id)
			nc *= 2;
		if ((v = realloc(rp->deny_on, nc)) == NULL)
			return;
		memset(v + rp->deny_cap, 0, nc - rp->deny_cap);
		rp->deny_on = v;
		rp->deny_cap = nc;
	}
	rp->deny_on[id] = body[0] == '+';
}

static void device_connect(struct device *d);

static void
send_more(struct device *d)
{
	struct replay *rp = d->rp;
	unsigned char buf[WIRE_HEADER + WIRE_BODY_MAX];
	char body[WIRE_BODY_MAX];
	size_t n, queued = 0;

	/* The gate decides from a whole deny list, never a partial one. */
	if (rp->deny != NULL && !d->list_ready)
		return;
	while (d->open && d->next < d->nrows && d->inflight < REPLAY_WINDOW) {
		struct row *w = &rp->row[d->rows[d->next]];
		const struct row *k = &rp->row[w->kept];
		int len;
		if (w->phase == 1 && rp->phase0_left > 0)
			break;		/* still offline */
		d->next++;
		if (w->state == 2)
			continue;
		if (w->gate == 0)
			w->gate = rp->gate && replay_gate_denies(rp, k->f[2],
			    k->f[3]) ? 2 : 1;
		len = snprintf(body, sizeof body, "%s:%lld,%s,%s,%s,%s,%s,%s%s",
		    rp->dev[k->device].id, (long long)k->seq, k->f[1], k->f[2],
		    k->f[3], k->f[4], k->f[5], k->f[6], w->gate == 2 ?
		    ",denied" : "");
		if (len < 0 || (size_t)len >= sizeof body || wire_encode('T',
		    body, (size_t)len, buf, sizeof buf, &n) == -1) {
			fprintf(stderr, "terminal-sim: tap %s too long, not "
			    "sent\n", w->f[0]);
			w->state = 2;
			w->refused = 1;
			rp->answered++;
			rp->refused++;
			if (w->phase == 0)
				rp->phase0_left--;
			continue;
		}
		/* Store, then forward: the tap is on disk before it leaves. */
		if (rp->queue != NULL && w->state == 0) {
			fprintf(rp->queue, "T %s\n", w->f[0]);
			queued++;
		}
		w->state = 1;
		d->inflight++;
		tls_conn_write(d->conn, buf, n);
	}
	if (queued > 0 && (fflush(rp->queue) != 0 ||
	    fsync(fileno(rp->queue)) != 0)) {
		perror("terminal-sim: queue");
		rp->failed = 1;
	}
}

static void
kick_all(struct replay *rp)
{
	size_t i;

	for (i = 0; i < rp->ndev; i++)
		send_more(&rp->dev[i]);
}

/*
 * What a gate's display shows for an ack (docs/protocol.md: the leg's
 * fare, the day's running charge, the day caps holding it): "€1.23 ride,
 * €6.40 today, capped at €9.00".  day's tourists ride tariffs/nl: euros.
 */
static void
gate_display(const char *const *fare, char *buf, size_t len)
{
	char leg[MONEY_TEXT_MAX], day[MONEY_TEXT_MAX], cap[MONEY_TEXT_MAX];
	char more[MONEY_TEXT_MAX + 32] = "";
	int64_t leg_c = strtoll(fare[0], NULL, 10);
	int64_t day_c = strtoll(fare[1], NULL, 10);
	int64_t cap_c = strtoll(fare[2], NULL, 10);

	money_text("EUR", leg_c, leg);
	money_text("EUR", day_c, day);
	money_text("EUR", cap_c, cap);
	/* Rides outside the caps and maximum fares come on top of them. */
	if (cap_c > 0 && day_c > cap_c) {
		char extra[MONEY_TEXT_MAX];
		money_text("EUR", day_c - cap_c, extra);
		snprintf(more, sizeof more, ", plus %s outside it", extra);
	}
	if (snprintf(buf, len, "%s%s%s today%s%s%s", leg_c > 0 ? leg : "",
	    leg_c > 0 ? " ride, " : "checked in, ", day,
	    cap_c > 0 ? ", capped at " : "", cap_c > 0 ? cap : "", more) >=
	    (int)len)
		buf[len - 1] = '\0';	/* a display line: cut is fine */
}

/*
 * In `day`, a sample of the gates' displays on stderr: every 100th ack of
 * every 8th validator (and of gvb-dam.gvb, the one that goes offline),
 * at most GATE_SHOWN_MAX lines in all.
 */
#define GATE_SHOWN_MAX	10
static void
gate_sample(struct device *d, const char *const *fare)
{
	struct replay *rp = d->rp;
	char shown[160];

	if (!rp->gate || rp->gate_shown >= GATE_SHOWN_MAX ||
	    d->answered % 100 != 1 || ((d - rp->dev) % 8 != 0 &&
	    strcmp(d->id, "gvb-dam.gvb") != 0))
		return;
	gate_display(fare, shown, sizeof shown);
	fprintf(stderr, "terminal-sim: %s: %s\n", d->id, shown);
	rp->gate_shown++;
}

/*
 * An answer for seq: the oldest sent, unanswered row with that seq.  An
 * ack's fare feedback (leg fare, day charge, day caps; "-" where the
 * engine sent none) goes to the ack log after the row's ids.
 */
static void
answer(struct device *d, int64_t seq, int refused, const char *what,
    const char *const *fare)
{
	struct replay *rp = d->rp;
	size_t i;

	for (i = 0; i < d->next; i++) {
		struct row *w = &rp->row[d->rows[i]];
		if (w->state != 1 || rp->row[w->kept].seq != seq)
			continue;
		w->state = 2;
		d->inflight--;
		d->answered++;
		d->answered_here++;
		rp->answered++;
		if (refused && strcmp(what, "denied-at-gate") == 0)
			rp->gate_denied++;
		else if (refused) {
			w->refused = 1;
			rp->refused++;
			fprintf(stderr, "terminal-sim: tap %s refused: %s\n",
			    w->f[0], what);
		} else {
			if (rp->acklog != NULL)
				fprintf(rp->acklog, "%s:%lld %s %s %s %s\n",
				    d->id, (long long)seq, w->f[0], fare[0],
				    fare[1], fare[2]);
			gate_sample(d, fare);
		}
		if (rp->queue != NULL)
			fprintf(rp->queue, "A %s\n", w->f[0]);
		if (rp->stop_after > 0 && rp->answered - rp->resumed >=
		    rp->stop_after) {
			/* A crash on purpose: what is on disk is all. */
			if (rp->queue != NULL)
				fflush(rp->queue);
			if (rp->acklog != NULL)
				fflush(rp->acklog);
			fprintf(stderr, "terminal-sim: stopping abruptly after "
			    "%zu answers (--stop-after)\n", rp->stop_after);
			_exit(3);
		}
		if (w->phase == 0 && --rp->phase0_left == 0)
			kick_all(rp);	/* the offline validator is back */
		return;
	}
}

static void
data_cb(struct tls_conn *c, struct evbuffer *in, void *arg)
{
	struct device *d = arg;
	struct wire_frame f;
	const char *why;
	size_t used;
	int r;

	(void)c;
	d->last_rx = time(NULL);
	while ((r = wire_parse(evbuffer_pullup(in, -1),
	    evbuffer_get_length(in), &f, &used, &why)) == 1) {
		static char none[] = "-";
		char *fld[5];
		size_t nf, k;
		evbuffer_drain(in, used);
		if (f.type == 'D') {
			const char *acc;
			if (wire_deny_body(f.body, &acc) == '=')
				d->list_ready = 1;
			else
				deny_update(d->rp, f.body);
			continue;
		}
		nf = wire_fields(f.body, fld, 5);
		for (k = nf; k < 4; k++)
			fld[k] = none;	/* an engine without fare feedback */
		if (f.type == 'A' && nf >= 1)
			answer(d, strtoll(fld[0], NULL, 10), 0, NULL,
			    (const char *const *)fld + 1);
		else if (f.type == 'R' && nf >= 2)
			answer(d, strtoll(fld[0], NULL, 10), 1, fld[1], NULL);
		else if (f.type == 'E')
			fprintf(stderr, "terminal-sim: %s: engine error: %s\n",
			    d->id, f.body);
	}
	if (d->rp->queue != NULL)
		fflush(d->rp->queue);
	if (d->rp->acklog != NULL)
		fflush(d->rp->acklog);	/* readable while it runs */
	if (r == -1) {
		fprintf(stderr, "terminal-sim: %s: %s\n", d->id, why);
		tls_conn_close_after_flush(d->conn);
		return;
	}
	if (d->rp->answered == d->rp->total) {
		event_base_loopbreak(d->rp->base);
		return;
	}
	/* Tests of store and forward: drop the link now and then. */
	if (d->rp->reconnect_every > 0 &&
	    d->answered_here >= d->rp->reconnect_every) {
		d->answered_here = 0;
		d->retries = -1;	/* on purpose: not a failure */
		tls_conn_close_after_flush(d->conn);
		return;
	}
	send_more(d);
}

static void
open_cb(struct tls_conn *c, void *arg)
{
	struct device *d = arg;

	(void)c;
	d->open = 1;
	d->retries = 0;
	d->answered_here = 0;
	d->list_ready = 0;
	d->last_rx = time(NULL);
	tls_conn_save_session(d->conn);
	send_more(d);
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct device *d = arg;

	(void)fd;
	(void)what;
	device_connect(d);
}

static void
close_cb(struct tls_conn *c, const char *reason, void *arg)
{
	struct device *d = arg;
	struct timeval tv = {0, 200000};
	size_t i;

	(void)c;
	d->open = 0;
	if (d->answered == d->nrows)
		return;
	/* Store and forward: everything unanswered goes again. */
	for (i = 0; i < d->next; i++)
		if (d->rp->row[d->rows[i]].state == 1)
			d->rp->row[d->rows[i]].state = 0;
	d->next = 0;
	d->inflight = 0;
	if (++d->retries > REPLAY_RETRIES) {
		fprintf(stderr, "terminal-sim: %s: giving up: %s\n", d->id,
		    reason);
		d->rp->failed = 1;
		event_base_loopbreak(d->rp->base);
		return;
	}
	fprintf(stderr, "terminal-sim: %s: %s; reconnecting\n", d->id,
	    reason);
	/* Jittered back-off, 0.2 s growing to 1 s. */
	tv.tv_usec = 200000 * (d->retries < 5 ? d->retries : 5) +
	    (long)(strtab_hash(d->id, strlen(d->id)) % 50000);
	event_base_once(d->rp->base, -1, EV_TIMEOUT, retry_cb, d, &tv);
}

static const struct tls_conn_cbs device_cbs = {open_cb, data_cb, close_cb};

/*
 * A link that went silent with taps in flight (half-open: the engine or
 * the network vanished without closing it): drop it and reconnect; the
 * taps in flight are resent.
 */
static void
watch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct device *d = arg;

	(void)fd;
	(void)what;
	if (!d->open || d->inflight == 0 ||
	    time(NULL) - d->last_rx < REPLAY_SILENCE_S)
		return;
	tls_conn_free(d->conn);
	d->conn = NULL;
	close_cb(NULL, "no answer for 15 s with taps in flight", d);
}

/*
 * The address a device connects to: --engine may list several gateways
 * (HOST:PORT,HOST:PORT,...); each device starts at its own (device index
 * modulo the count, spreading validators) and moves to the next one on
 * every reconnect, as validators fail over along their address list.
 */
static const char *
engine_addr(const struct device *d, char *buf, size_t len)
{
	if (sim_engine_addr(d->rp->engine, (size_t)(d - d->rp->dev) +
	    d->connects, buf, len) == -1)
		buf[0] = '\0';	/* wire_parse_addr refuses it */
	return buf;
}

static void
device_connect(struct device *d)
{
	struct sockaddr_in sin;
	char addr[128];
	int fd;

	if (d->conn != NULL) {
		tls_conn_free(d->conn);
		d->conn = NULL;
	}
	engine_addr(d, addr, sizeof addr);
	d->connects++;
	if (wire_parse_addr(addr, &sin) == -1 ||
	    (fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return;
	if (connect(fd, (struct sockaddr *)&sin, sizeof sin) == -1) {
		close(fd);
		close_cb(NULL, "cannot connect", d);
		return;
	}
	d->conn = tls_conn_new(d->ctx, d->rp->base, fd, &device_cbs, d);
	if (d->conn == NULL)
		close(fd);
}

/*
 * A restarted simulator: what its queue says was acknowledged is done
 * (and listed in the new ack log again); the rest is resent.
 */
static int
load_queue(struct replay *rp, const char *path)
{
	struct strtab *acked = strtab_new();
	char line[512];
	size_t tapped = 0, i;
	FILE *f;

	if (acked == NULL)
		return -1;
	if ((f = fopen(path, "r")) != NULL) {
		while (fgets(line, sizeof line, f) != NULL) {
			size_t len = strcspn(line, "\n");
			if (line[len] != '\n' || len < 3)
				continue;	/* a torn last line */
			line[len] = '\0';
			if (line[0] == 'T')
				tapped++;
			else if (line[0] == 'A' && strtab_intern(acked,
			    line + 2, len - 2, NULL) == STRTAB_NONE) {
				fclose(f);
				strtab_free(acked);
				return -1;
			}
		}
		fclose(f);
	}
	for (i = 0; i < rp->nrows; i++) {
		struct row *w = &rp->row[i];
		if (strtab_find(acked, w->f[0], strlen(w->f[0])) ==
		    STRTAB_NONE)
			continue;
		w->state = 2;
		rp->answered++;
		rp->resumed++;
		rp->dev[rp->row[w->kept].device].answered++;
		if (w->phase == 0)
			rp->phase0_left--;
		if (rp->acklog != NULL)	/* its fare went with the old run */
			fprintf(rp->acklog, "%s:%lld %s - - -\n",
			    rp->dev[rp->row[w->kept].device].id,
			    (long long)rp->row[w->kept].seq, w->f[0]);
	}
	if (tapped > 0)
		fprintf(stderr, "terminal-sim: queue %s: %zu taps stored, %zu "
		    "answered before; sending the other %zu\n", path, tapped,
		    rp->resumed, rp->total - rp->resumed);
	strtab_free(acked);
	return (rp->queue = fopen(path, "a")) == NULL ? -1 : 0;
}

/* Every device with taps left: its certificate, watch and connection. */
static int
start_devices(struct replay *rp)
{
	struct timeval tv = {2, 0};
	char err[256];
	size_t i;

	for (i = 0; i < rp->ndev; i++) {
		struct device *d = &rp->dev[i];
		d->rp = rp;
		if (d->nrows == 0 || d->answered == d->nrows)
			continue;
		if (certs_device(rp->certs, d->id, NULL, NULL, 1, 0, err,
		    sizeof err) == -1 || (d->ctx = tls_client_new(rp->certs,
		    d->id, err, sizeof err)) == NULL) {
			fprintf(stderr, "terminal-sim: %s: %s\n", d->id, err);
			return -1;
		}
		d->watch = event_new(rp->base, -1, EV_PERSIST, watch_cb, d);
		if (d->watch != NULL)
			event_add(d->watch, &tv);
		device_connect(d);
	}
	return 0;
}

void
replay_free_rows(struct replay *rp)
{
	size_t r;
	int k;

	for (r = 0; r < rp->nrows; r++)
		for (k = 0; k < 7; k++)
			free(rp->row[r].f[k]);
	free(rp->row);
}

int
replay_run(struct replay *rp, const char *ack, const char *queue)
{
	size_t i;
	int rc = 2;

	if (plan(rp) == -1)
		goto out;
	if (ack != NULL && (rp->acklog = fopen(ack, "w")) == NULL) {
		perror(ack);
		goto out;
	}
	if (queue != NULL && load_queue(rp, queue) == -1) {
		perror(queue);
		goto out;
	}
	if ((rp->deny = strtab_new()) == NULL ||
	    (rp->tk = tap_tokenizer_new((const unsigned char *)
	    TAP_DEV_TOKEN_KEY, strlen(TAP_DEV_TOKEN_KEY))) == NULL)
		goto out;
	rp->base = event_base_new();
	if (start_devices(rp) == -1)
		goto out;
	if (rp->total > 0 && rp->answered < rp->total)
		event_base_dispatch(rp->base);
	if (rp->answered < rp->total) {
		fprintf(stderr, "terminal-sim: %zu of %zu taps unanswered\n",
		    rp->total - rp->answered, rp->total);
		goto out;
	}
	fprintf(stderr, "terminal-sim: %zu taps sent, %zu acknowledged, %zu "
	    "refused%s", rp->total, rp->total - rp->refused - rp->gate_denied,
	    rp->refused, rp->gate_denied ? "" : "\n");
	if (rp->gate_denied)
		fprintf(stderr, ", %zu refused at the gate (deny list)\n",
		    rp->gate_denied);
	rc = rp->refused > 0 || rp->failed ? 1 : 0;
out:
	if (rp->acklog != NULL && fclose(rp->acklog) != 0)
		rc = 2;
	if (rp->queue != NULL && fclose(rp->queue) != 0)
		rc = 2;
	for (i = 0; i < rp->ndev; i++) {
		if (rp->dev[i].watch != NULL)
			event_free(rp->dev[i].watch);
		tls_conn_free(rp->dev[i].conn);
		tls_ctx_free(rp->dev[i].ctx);
		free(rp->dev[i].rows);
	}
	free(rp->dev);
	replay_free_rows(rp);
	strtab_free(rp->deny);
	free(rp->deny_on);
	tap_tokenizer_free(rp->tk);
	if (rp->base != NULL)
		event_base_free(rp->base);
	return rc;
}

int
sim_replay(int argc, char **argv)
{
	static const struct opt_cmd cmd = {"terminal-sim replay", "TAPS.csv",
	    1, 1, "Sends every row of a tap file (SPEC section 3) through "
	    "simulated validators\nover mutual TLS, waits until each is "
	    "acknowledged or refused; exit 0, or 1 if\nany tap was refused."};
	struct replay rp;
	const char *ack = NULL, *queue = NULL;
	uint64_t reconnect = 0;
	int first, rc;
	const struct opt o[] = {
		{.name = "engine", .kind = OPT_STR, .dst = &rp.engine,
		    .arg = "HOST:PORT", .help = "the engine's validator port",
		    .flags = OPT_REQUIRED},
		{.name = "certs", .kind = OPT_STR, .dst = &rp.certs,
		    .arg = "DIR", .help = "the CA directory (device "
		    "certificates made as needed)", .flags = OPT_REQUIRED},
		{.name = "ack-log", .kind = OPT_STR, .dst = &ack,
		    .arg = "FILE", .help = "append each acknowledged tap_id"},
		{.name = "queue", .kind = OPT_STR, .dst = &queue,
		    .arg = "FILE", .help = "durable store and forward"},
		{.name = "shuffle", .kind = OPT_U64, .dst = &rp.shuffle_seed,
		    .arg = "SEED", .lo = 0, .hi = INT64_C(1) << 53,
		    .help = "send in a seeded random order (0: file order)"},
		{.name = "reconnect-every", .kind = OPT_U64, .dst = &reconnect,
		    .arg = "N", .lo = 0, .hi = INT64_C(1) << 53,
		    .help = "drop and reopen each link every N taps"},
		{.name = "keep-ids", .kind = OPT_FLAG,
		    .dst = &rp.ids_name_devices, .help = "tap_id names its "
		    "device (<device>:<seq>)"},
		{.name = NULL},
	};

	memset(&rp, 0, sizeof rp);
	if ((rc = opt_parse(&cmd, o, argc, argv, &first)) != OPT_RUN)
		return rc;
	rp.reconnect_every = (size_t)reconnect;
	if (read_rows(&rp, argv[first]) == -1)
		return 2;
	return replay_run(&rp, ack, queue);
}
