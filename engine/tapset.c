/*
 * Tap sets: the glue between tap files and the pricing library.  Taps are
 * stored compactly (ids interned), deduplicated by tap_id keeping the least
 * by SPEC §4's order, grouped into accounts, and priced account by account
 * so that memory beyond the taps themselves is one account's worth.
 */
#include <stdlib.h>
#include <string.h>

#include <mbedtls/platform_util.h>

#include "buf.h"
#include "csv.h"
#include "limits.h"
#include "parse.h"
#include "price-int.h"
#include "strtab.h"
#include "tapset.h"
#include "tariff-int.h"

#define NONE STRTAB_NONE

struct stap {
	int64_t		 time;
	uint32_t	 tap_id;
	uint32_t	 card;		/* in cards: the PAN */
	uint32_t	 par;		/* in pars, or NONE */
	uint32_t	 network, stop;
	uint8_t		 kind;
};

struct tapset {
	const struct tariff	*t;
	struct tap_tokenizer	*tk;
	struct strtab		*tap_ids, *cards, *pars;
	struct stap		*tap;
	size_t			 ntaps, cap;
};

struct tapset *
tapset_new(const struct tariff *t, struct tap_tokenizer *tk)
{
	struct tapset *s = calloc(1, sizeof *s);

	if (s == NULL)
		return NULL;
	s->t = t;
	s->tk = tk;
	s->tap_ids = strtab_new();
	s->cards = strtab_new();
	s->pars = strtab_new();
	if (s->tap_ids == NULL || s->cards == NULL || s->pars == NULL) {
		tapset_free(s);
		return NULL;
	}
	return s;
}

static void
wipe_cards(struct strtab *cards)
{
	uint32_t i, n = strtab_count(cards);

	for (i = 0; i < n; i++)
		mbedtls_platform_zeroize((void *)(uintptr_t)strtab_name(cards,
		    i), strtab_len(cards, i));
}

void
tapset_free(struct tapset *s)
{
	if (s == NULL)
		return;
	if (s->cards != NULL)
		wipe_cards(s->cards);
	strtab_free(s->tap_ids);
	strtab_free(s->cards);
	strtab_free(s->pars);
	free(s->tap);
	free(s);
}

size_t
tapset_count(const struct tapset *s)
{
	return s->ntaps;
}

static int
check_tap_id(const char *id, const char **why)
{
	const unsigned char *p = (const unsigned char *)id;

	if (*p == '\0') {
		*why = "tap_id is empty";
		return -1;
	}
	if (strlen(id) > LIMIT_ID_LEN) {
		*why = "tap_id is longer than 128 bytes";
		return -1;
	}
	for (; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f) {
			*why = "tap_id has a control character";
			return -1;
		}
	return 0;
}

int
tapset_add(struct tapset *s, const char *tap_id, const char *time,
    const char *pan, const char *par, const char *network_id,
    const char *stop_id, const char *kind, const char **why)
{
	struct stap tp;
	int k;

	if (check_tap_id(tap_id, why) == -1 ||
	    parse_rfc3339(time, &tp.time, why) == -1 ||
	    tap_check_pan(pan, why) == -1 || tap_check_par(par, why) == -1)
		return -1;
	tp.network = tariff_network(s->t, network_id, strlen(network_id));
	if (tp.network == TARIFF_NONE) {
		*why = "unknown network_id";
		return -1;
	}
	tp.stop = tariff_stop(s->t, stop_id, strlen(stop_id));
	if (tp.stop == TARIFF_NONE) {
		*why = "unknown stop_id";
		return -1;
	}
	if ((k = tap_parse_kind(kind)) == -1) {
		*why = "kind must be 'in' or 'out'";
		return -1;
	}
	tp.kind = (uint8_t)k;
	if (s->ntaps >= LIMIT_PRICE_TAPS) {
		*why = "too many taps in one file";
		return -1;
	}
	*why = "out of memory";
	tp.tap_id = strtab_intern(s->tap_ids, tap_id, strlen(tap_id), NULL);
	tp.card = strtab_intern(s->cards, pan, strlen(pan), NULL);
	tp.par = *par == '\0' ? NONE : strtab_intern(s->pars, par, strlen(par),
	    NULL);
	if (tp.tap_id == NONE || tp.card == NONE || (*par && tp.par == NONE) ||
	    price_reserve((void **)&s->tap, &s->cap, s->ntaps + 1,
	    sizeof *s->tap) == -1)
		return -1;
	s->tap[s->ntaps++] = tp;
	return 0;
}

static const char *const tap_header[] = {
	"tap_id", "time", "card", "par", "network_id", "stop_id", "kind",
};

int
tapset_read(struct tapset *s, const char *path, struct diag *d)
{
	struct csv *c = csv_open(path);
	struct csv_record rec;
	const char *why;
	size_t i;
	int r;

	if (c == NULL) {
		diag_error(d, path, 0, "cannot open the tap file");
		return -1;
	}
	r = csv_next(c, &rec);
	if (r != 1 || rec.nfields != 7) {
		diag_error(d, path, 1, "the header must be exactly "
		    "tap_id,time,card,par,network_id,stop_id,kind");
		csv_close(c);
		return -1;
	}
	for (i = 0; i < 7; i++)
		if (strcmp(rec.field[i], tap_header[i]) != 0) {
			diag_error(d, path, 1, "the header must be exactly "
			    "tap_id,time,card,par,network_id,stop_id,kind");
			csv_close(c);
			return -1;
		}
	while ((r = csv_next(c, &rec)) != 0) {
		if (r == -1) {
			diag_error(d, path, rec.line, "%s", csv_error(c));
			if (strncmp(csv_error(c), "read error", 10) == 0)
				break;
			continue;
		}
		if (rec.nfields != 7) {
			diag_error(d, path, rec.line, "expected 7 fields, found "
			    "%zu", rec.nfields);
			continue;
		}
		if (tapset_add(s, rec.field[0], rec.field[1], rec.field[2],
		    rec.field[3], rec.field[4], rec.field[5], rec.field[6],
		    &why) == -1) {
			if (strcmp(why, "out of memory") == 0 ||
			    strcmp(why, "too many taps in one file") == 0) {
				diag_error(d, path, rec.line, "%s", why);
				break;
			}
			diag_error(d, path, rec.line, "%s", why);
		}
	}
	csv_close(c);
	return 0;
}

/* SPEC §4: the least tap in (time, card, par, network_id, stop_id, kind). */
static int
stap_less(const struct tapset *s, const struct stap *a, const struct stap *b)
{
	const struct tariff *t = s->t;
	int c;

	if (a->time != b->time)
		return a->time < b->time;
	if (a->card != b->card)
		return strcmp(strtab_name(s->cards, a->card),
		    strtab_name(s->cards, b->card)) < 0;
	if (a->par != b->par)
		return strcmp(a->par == NONE ? "" : strtab_name(s->pars, a->par),
		    b->par == NONE ? "" : strtab_name(s->pars, b->par)) < 0;
	if (a->network != b->network)
		return a->network < b->network;	/* index order is id order */
	if (a->stop != b->stop &&
	    (c = strcmp(tariff_stop_id(t, a->stop),
	    tariff_stop_id(t, b->stop))) != 0)
		return c < 0;
	return a->kind < b->kind;
}

/* Keeps one tap per tap_id; returns the kept taps' indexes in *kept. */
static size_t
dedup(struct tapset *s, uint32_t *best)
{
	uint32_t n = strtab_count(s->tap_ids), i;
	size_t k;

	for (i = 0; i < n; i++)
		best[i] = NONE;
	for (k = 0; k < s->ntaps; k++) {
		uint32_t id = s->tap[k].tap_id;
		if (best[id] == NONE ||
		    stap_less(s, &s->tap[k], &s->tap[best[id]]))
			best[id] = (uint32_t)k;
	}
	return n;
}

static int
account_cmp(const void *a, const void *b, void *names)
{
	return strcmp(strtab_name(names, *(const uint32_t *)a),
	    strtab_name(names, *(const uint32_t *)b));
}

static int
account_tap_cmp(const void *a, const void *b, void *set)
{
	const struct tapset *s = set;
	const struct stap *x = &s->tap[*(const uint32_t *)a];
	const struct stap *y = &s->tap[*(const uint32_t *)b];

	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	return strcmp(strtab_name(s->tap_ids, x->tap_id),
	    strtab_name(s->tap_ids, y->tap_id));
}

/* Insertion sort: an account's taps mostly arrive in time order. */
static void
sort_account_taps(struct tapset *s, uint32_t *taps, uint32_t n)
{
	uint32_t i, j;

	if (n > 64) {
		qsort_r(taps, n, sizeof *taps, account_tap_cmp, s);
		return;
	}
	for (i = 1; i < n; i++) {
		uint32_t x = taps[i];
		for (j = i; j > 0 && account_tap_cmp(&taps[j - 1], &x, s) > 0;
		    j--)
			taps[j] = taps[j - 1];
		taps[j] = x;
	}
}

/* Account of each card: its least PAR, else its token. */
static int
card_accounts(struct tapset *s, const uint32_t *best, uint32_t nbest,
    struct strtab *accounts, uint32_t *card_account)
{
	uint32_t ncards = strtab_count(s->cards), i, *card_par;
	char key[4 + 128 + 1], hex[TAP_TOKEN_HEX + 1];
	int rc = -1;

	if ((card_par = malloc(((size_t)ncards + 1) * sizeof *card_par)) == NULL)
		return -1;
	for (i = 0; i < ncards; i++)
		card_par[i] = NONE;
	for (i = 0; i < nbest; i++) {
		const struct stap *tp = &s->tap[best[i]];
		uint32_t *cp = &card_par[tp->card];
		if (tp->par != NONE && (*cp == NONE ||
		    strcmp(strtab_name(s->pars, tp->par),
		    strtab_name(s->pars, *cp)) < 0))
			*cp = tp->par;
	}
	for (i = 0; i < ncards; i++) {
		if (card_par[i] != NONE)
			snprintf(key, sizeof key, "par:%s",
			    strtab_name(s->pars, card_par[i]));
		else {
			if (tap_token(s->tk, strtab_name(s->cards, i),
			    strtab_len(s->cards, i), hex) == -1)
				goto out;
			snprintf(key, sizeof key, "tok:%s", hex);
		}
		card_account[i] = strtab_intern(accounts, key, strlen(key),
		    NULL);
		if (card_account[i] == NONE)
			goto out;
	}
	rc = 0;
out:
	free(card_par);
	return rc;
}

static int
price_accounts(struct tapset *s, struct strtab *accounts,
    const uint32_t *tap_account, const uint32_t *kept, size_t nkept,
    tapset_emit_fn emit, void *arg)
{
	uint32_t na = strtab_count(accounts), a, *order, *start, *bucket;
	struct price_tap *pt = NULL;
	struct price_result r;
	size_t k, pt_cap = 0;
	int rc = -1;

	price_result_init(&r);
	order = malloc(((size_t)na + 1) * sizeof *order);
	start = calloc((size_t)na + 2, sizeof *start);
	bucket = malloc((nkept + 1) * sizeof *bucket);
	if (order == NULL || start == NULL || bucket == NULL)
		goto out;
	for (a = 0; a < na; a++)
		order[a] = a;
	qsort_r(order, na, sizeof *order, account_cmp, accounts);
	for (k = 0; k < nkept; k++)
		start[tap_account[k] + 1]++;
	for (a = 0; a < na; a++)
		start[a + 1] += start[a];
	for (k = 0; k < nkept; k++)
		bucket[start[tap_account[k]]++] = kept[k];
	for (a = na; a > 0; a--)
		start[a] = start[a - 1];
	start[0] = 0;
	for (a = 0; a < na; a++) {
		uint32_t id = order[a], n = start[id + 1] - start[id], i;
		uint32_t *taps = bucket + start[id];
		size_t dd;
		sort_account_taps(s, taps, n);
		if (price_reserve((void **)&pt, &pt_cap, n, sizeof *pt) == -1)
			goto out;
		for (i = 0; i < n; i++) {
			const struct stap *tp = &s->tap[taps[i]];
			pt[i].time = tp->time;
			pt[i].tap_id = strtab_name(s->tap_ids, tp->tap_id);
			pt[i].network = tp->network;
			pt[i].stop = tp->stop;
			pt[i].kind = tp->kind;
		}
		if (price_account(s->t, pt, n, PRICE_END_OF_TIME, &r) == -1)
			goto out;
		for (dd = 0; dd < r.ndays; dd++)
			if (emit(arg, strtab_name(accounts, id), &r,
			    &r.day[dd]) == -1)
				goto out;
	}
	rc = 0;
out:
	price_result_free(&r);
	free(pt);
	free(order);
	free(start);
	free(bucket);
	return rc;
}

int
tapset_price(struct tapset *s, tapset_emit_fn emit, void *arg)
{
	uint32_t nids = strtab_count(s->tap_ids), *best, *card_account = NULL;
	uint32_t *tap_account = NULL, i;
	struct strtab *accounts = strtab_new();
	int rc = -1;

	best = malloc(((size_t)nids + 1) * sizeof *best);
	card_account = malloc(((size_t)strtab_count(s->cards) + 1) *
	    sizeof *card_account);
	tap_account = malloc(((size_t)nids + 1) * sizeof *tap_account);
	if (best == NULL || card_account == NULL || tap_account == NULL ||
	    accounts == NULL)
		goto out;
	dedup(s, best);
	if (card_accounts(s, best, nids, accounts, card_account) == -1)
		goto out;
	for (i = 0; i < nids; i++)
		tap_account[i] = card_account[s->tap[best[i]].card];
	rc = price_accounts(s, accounts, tap_account, best, nids, emit, arg);
out:
	strtab_free(accounts);
	free(best);
	free(card_account);
	free(tap_account);
	return rc;
}

void
price_json_day(const struct tariff *t, const char *account,
    const struct price_result *r, const struct price_day *d, struct buf *o)
{
	char day[11];
	uint32_t i;

	civil_format_day(d->service_day, day);
	buf_adds(o, "{\"account\":");
	buf_add_json_str(o, account);
	buf_adds(o, ",\"service_day\":\"");
	buf_add(o, day, 10);
	buf_adds(o, "\",\"charge_cents\":");
	buf_add_i64(o, d->charge_cents);
	buf_adds(o, ",\"uncapped_cents\":");
	buf_add_i64(o, d->uncapped_cents);
	buf_adds(o, ",\"operators\":{");
	for (i = 0; i < d->nshares; i++) {
		const struct price_share *sh = &r->share[d->shares_off + i];
		if (i > 0)
			buf_addc(o, ',');
		buf_add_json_str(o, tariff_network_id(t, sh->network));
		buf_addc(o, ':');
		buf_add_i64(o, sh->cents);
	}
	buf_adds(o, "},\"legs\":[");
	for (i = 0; i < d->nlegs; i++) {
		const struct price_leg *l = &r->leg[d->legs_off + i];
		if (i > 0)
			buf_addc(o, ',');
		buf_adds(o, "{\"network_id\":");
		buf_add_json_str(o, tariff_network_id(t, l->network));
		buf_adds(o, ",\"from_stop_id\":");
		if (l->from_stop == TARIFF_NONE)
			buf_adds(o, "null");
		else
			buf_add_json_str(o, tariff_stop_id(t, l->from_stop));
		buf_adds(o, ",\"to_stop_id\":");
		if (l->to_stop == TARIFF_NONE)
			buf_adds(o, "null");
		else
			buf_add_json_str(o, tariff_stop_id(t, l->to_stop));
		buf_adds(o, ",\"checkin\":");
		buf_add_json_time(o, l->checkin);
		buf_adds(o, ",\"checkout\":");
		buf_add_json_time(o, l->checkout);
		buf_adds(o, ",\"status\":\"");
		buf_adds(o, price_status_name(l->status));
		buf_adds(o, "\",\"fare_cents\":");
		buf_add_i64(o, l->fare_cents);
		buf_adds(o, ",\"contribution_cents\":");
		buf_add_i64(o, l->contribution_cents);
		buf_addc(o, '}');
	}
	buf_adds(o, "]}\n");
}
