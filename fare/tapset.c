/*
 * Tap sets: the glue between tap files and the pricing library.  Taps are
 * stored compactly (ids interned), deduplicated by tap_id keeping the least
 * by SPEC §4's order, grouped into accounts, and priced account by account
 * so that memory beyond the taps themselves is one account's worth.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
	uint32_t	 card;		/* index into tapset.card */
	uint32_t	 par;		/* in pars, or NONE */
	uint32_t	 network, stop;
	uint8_t		 kind;
};

/*
 * A card, keyed by its PAN as a number and a digit count (leading zeros
 * matter): one cache line per lookup instead of a string table's three.
 */
struct card {
	uint64_t	 pan;
	uint32_t	 par;		/* least PAR of its kept taps, or NONE */
	uint8_t		 len;
	uint8_t		 token[16];	/* HMAC, for cards without a PAR */
};

struct card_slot {
	uint64_t	 pan;
	uint32_t	 id;		/* NONE when empty */
	uint32_t	 len;
};

/*
 * Taps wait in a small batch before their ids are interned, so that the
 * hash slots they need are prefetched together: the big tables are probed
 * at random, and one miss at a time would dominate the read.
 */
#define TAPSET_BATCH	32
/* Accounts from which the radix sort is used: its fixed cost (five
 * passes over 65,536 counters) outweighs qsort below a few thousand. */
#define TAPSET_RADIX_MIN	4096
/* How far ahead loops over taps prefetch what they will touch at random. */
#define PREFETCH_AHEAD	32

struct pending {
	struct stap	 tap;		/* all but tap_id and card */
	uint32_t	 id_hash, card_hash;
	uint64_t	 pan;
	uint8_t		 pan_len, id_len, par_len;
	uint32_t	 par_hash;
	char		 tap_id[LIMIT_ID_LEN + 1];
	char		 par[TAP_PAR_LEN + 1];
};

struct tapset {
	const struct tariff	*t;
	char			 why[160];	/* a reason built for a row */
	struct pending		 batch[TAPSET_BATCH];
	size_t			 nbatch;
	int			 oom;
	struct tap_tokenizer	*tk;
	struct strtab		*tap_ids, *pars;
	struct card		*card;
	size_t			 ncards, card_cap;
	struct card_slot	*slot;
	size_t			 nslots;
	struct stap		*tap;
	size_t			 ntaps, cap;
	tapset_progress_fn	 progress;
	void			*progress_arg;
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
	s->pars = strtab_new();
	if (s->tap_ids == NULL || s->pars == NULL) {
		tapset_free(s);
		return NULL;
	}
	return s;
}

void
tapset_free(struct tapset *s)
{
	if (s == NULL)
		return;
	/* The only PANs we hold: wipe them before the memory goes back. */
	if (s->card != NULL)
		mbedtls_platform_zeroize(s->card, s->card_cap * sizeof *s->card);
	if (s->slot != NULL)
		mbedtls_platform_zeroize(s->slot, s->nslots * sizeof *s->slot);
	strtab_free(s->tap_ids);
	strtab_free(s->pars);
	free(s->card);
	free(s->slot);
	free(s->tap);
	free(s);
}

static uint32_t
card_hash(uint64_t pan, uint32_t len)
{
	uint64_t h = (pan ^ (uint64_t)len << 59) * 0xbf58476d1ce4e5b9ULL;

	h ^= h >> 31;
	h *= 0x94d049bb133111ebULL;
	return (uint32_t)(h ^ h >> 32);
}

static int
card_grow(struct tapset *s)
{
	size_t n = s->nslots ? s->nslots * 2 : 1024, i, j;
	struct card_slot *slot = malloc(n * sizeof *slot);

	if (slot == NULL)
		return -1;
	for (i = 0; i < n; i++)
		slot[i].id = NONE;
	for (i = 0; i < s->nslots; i++) {
		if (s->slot[i].id == NONE)
			continue;
		for (j = card_hash(s->slot[i].pan, s->slot[i].len) & (n - 1);
		    slot[j].id != NONE; j = (j + 1) & (n - 1))
			;
		slot[j] = s->slot[i];
	}
	if (s->slot != NULL)
		mbedtls_platform_zeroize(s->slot, s->nslots * sizeof *s->slot);
	free(s->slot);
	s->slot = slot;
	s->nslots = n;
	return 0;
}

static void
pan_key(const char *digits, uint64_t *pan, uint8_t *len)
{
	uint64_t v = 0;
	uint8_t n = 0;

	for (; digits[n] != '\0'; n++)
		v = v * 10 + (uint64_t)(digits[n] - '0');
	*pan = v;
	*len = n;
}

/* The card of a checked PAN (12-19 digits), added if new. */
static uint32_t
card_intern(struct tapset *s, uint64_t pan, uint32_t len, uint32_t h)
{
	uint32_t id;
	size_t j, mask;

	if ((s->ncards + 1) * 2 > s->nslots && card_grow(s) == -1)
		return NONE;
	mask = s->nslots - 1;
	for (j = h & mask; s->slot[j].id != NONE; j = (j + 1) & mask)
		if (s->slot[j].pan == pan && s->slot[j].len == len)
			return s->slot[j].id;
	if (price_reserve((void **)&s->card, &s->card_cap, s->ncards + 1,
	    sizeof *s->card) == -1)
		return NONE;
	id = (uint32_t)s->ncards++;
	s->card[id].pan = pan;
	s->card[id].len = (uint8_t)len;
	s->card[id].par = NONE;
	s->slot[j].pan = pan;
	s->slot[j].len = len;
	s->slot[j].id = id;
	return id;
}

/* Interns the batch's ids, after prefetching every slot they need. */
static int
tapset_flush(struct tapset *s)
{
	size_t i;

	for (i = 0; i < s->nbatch; i++) {
		strtab_prefetch(s->tap_ids, s->batch[i].id_hash);
		if (s->batch[i].par_len)
			strtab_prefetch(s->pars, s->batch[i].par_hash);
		if (s->nslots > 0)
			__builtin_prefetch(&s->slot[s->batch[i].card_hash &
			    (s->nslots - 1)]);
	}
	for (i = 0; i < s->nbatch && !s->oom; i++) {
		struct pending *p = &s->batch[i];
		p->tap.tap_id = strtab_intern_hashed(s->tap_ids, p->tap_id,
		    p->id_len, p->id_hash, NULL);
		p->tap.card = card_intern(s, p->pan, p->pan_len, p->card_hash);
		if (p->par_len > 0)
			p->tap.par = strtab_intern_hashed(s->pars, p->par,
			    p->par_len, p->par_hash, NULL);
		if (p->tap.tap_id == NONE || p->tap.card == NONE ||
		    (p->par_len > 0 && p->tap.par == NONE) ||
		    price_reserve((void **)&s->tap, &s->cap, s->ntaps + 1,
		    sizeof *s->tap) == -1) {
			s->oom = 1;
			break;
		}
		s->tap[s->ntaps++] = p->tap;
	}
	mbedtls_platform_zeroize(s->batch, sizeof s->batch);
	s->nbatch = 0;
	return s->oom ? -1 : 0;
}

/* The PAN's digits again, leading zeros included. */
static void
card_digits(const struct card *c, char out[24])
{
	uint64_t v = c->pan;
	int i;

	for (i = c->len - 1; i >= 0; i--) {
		out[i] = (char)('0' + v % 10);
		v /= 10;
	}
	out[c->len] = '\0';
}

static int
card_cmp(const struct tapset *s, uint32_t a, uint32_t b)
{
	const struct card *x = &s->card[a], *y = &s->card[b];
	char dx[24], dy[24];
	int c;

	if (x->len == y->len)
		return (x->pan > y->pan) - (x->pan < y->pan);
	card_digits(x, dx);
	card_digits(y, dy);
	c = strcmp(dx, dy);
	mbedtls_platform_zeroize(dx, sizeof dx);
	mbedtls_platform_zeroize(dy, sizeof dy);
	return c;
}

size_t
tapset_count(const struct tapset *s)
{
	return s->ntaps + s->nbatch;
}

/* tapset_add_fields: a bad row (-1), or the file cannot go on (memory,
 * LIMIT_PRICE_TAPS). */
#define TAPSET_FATAL	(-2)

/* Field order of a tap row, as in the file's header. */
enum { F_ID, F_TIME, F_CARD, F_PAR, F_NET, F_STOP, F_KIND };

/* Checks one tap's fields (lengths given) and queues it for interning. */
static int
tapset_add_fields(struct tapset *s, const char *const *f, const size_t *n,
    const char **why)
{
	struct pending *p;
	struct stap tp;
	struct tap_fields tf;

	if (n[F_ID] == 0 || n[F_ID] > LIMIT_ID_LEN) {
		*why = n[F_ID] == 0 ? "tap_id is empty" :
		    "tap_id is longer than 128 bytes";
		return -1;
	}
	if (tap_check_fields(s->t, f, n, &tf, s->why, sizeof s->why) !=
	    TAP_OK) {
		*why = s->why;
		return -1;
	}
	tp.time = tf.time_utc;
	tp.network = tf.network;
	tp.stop = tf.stop;
	tp.kind = tf.kind;
	*why = "out of memory";
	if (s->oom)
		return TAPSET_FATAL;
	if (s->ntaps + s->nbatch >= LIMIT_PRICE_TAPS) {
		*why = "too many taps in one file";
		return TAPSET_FATAL;
	}
	tp.par = NONE;
	p = &s->batch[s->nbatch++];
	p->tap = tp;
	p->id_len = (uint8_t)n[F_ID];
	memcpy(p->tap_id, f[F_ID], n[F_ID] + 1);
	p->id_hash = strtab_hash32(f[F_ID], n[F_ID]);
	p->par_len = (uint8_t)n[F_PAR];
	memcpy(p->par, tf.par, n[F_PAR] + 1);	/* upper-cased */
	p->par_hash = n[F_PAR] ? strtab_hash32(tf.par, n[F_PAR]) : 0;
	pan_key(f[F_CARD], &p->pan, &p->pan_len);
	p->card_hash = card_hash(p->pan, p->pan_len);
	if (s->nbatch == TAPSET_BATCH && tapset_flush(s) == -1)
		return TAPSET_FATAL;
	return 0;
}

int
tapset_add(struct tapset *s, const char *tap_id, const char *time,
    const char *pan, const char *par, const char *network_id,
    const char *stop_id, const char *kind, const char **why)
{
	const char *f[7] = {tap_id, time, pan, par, network_id, stop_id, kind};
	size_t n[7], i;

	for (i = 0; i < 7; i++)
		n[i] = strlen(f[i]);
	return tapset_add_fields(s, f, n, why) == 0 ? 0 : -1;
}


void
tapset_set_progress(struct tapset *s, tapset_progress_fn fn, void *arg)
{
	s->progress = fn;
	s->progress_arg = arg;
}

/* The bytes a record took, near enough: its fields, separators, LF. */
static uint64_t
record_bytes(const struct csv_record *rec)
{
	uint64_t n = rec->nfields;
	size_t i;

	for (i = 0; i < rec->nfields && i < 64; i++)
		n += rec->len[i];
	return n;
}

int
tapset_read(struct tapset *s, const char *path, struct diag *d)
{
	struct csv *c = csv_open(path);
	struct csv_record rec;
	struct stat st;
	const char *why;
	uint64_t rows = 0, bytes = 0, size = 0;
	int r;

	if (c == NULL) {
		diag_error(d, path, 0, errno == ENOENT ? "no such tap file" :
		    "cannot open the tap file");
		return -1;
	}
	/* A tap row is at least ~50 bytes: size the array once, roughly. */
	if (stat(path, &st) == 0 && st.st_size > 0) {
		size_t n = (size_t)(st.st_size / 64 < LIMIT_PRICE_TAPS ?
		    st.st_size / 64 : LIMIT_PRICE_TAPS);
		(void)price_reserve((void **)&s->tap, &s->cap, n, sizeof *s->tap);
		(void)strtab_expect(s->tap_ids, n);
	}
	r = csv_next(c, &rec);
	if (r != 1 || !tap_header_ok(rec.field, rec.nfields)) {
		diag_error(d, path, 1, "the header must be exactly "
		    TAP_HEADER);
		csv_close(c);
		return -1;
	}
	if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
		size = (uint64_t)st.st_size;
	while ((r = csv_next(c, &rec)) != 0) {
		if (s->progress != NULL && ++rows % TAPSET_PROGRESS_ROWS == 0)
			s->progress(s->progress_arg, rows, bytes, size, 0);
		if (r == 1)
			bytes += record_bytes(&rec);
		if (r == -1) {
			diag_error(d, path, rec.line, "%s", csv_error(c));
			if (csv_error_ends(c))
				break;
			continue;
		}
		if (rec.nfields != 7) {
			diag_error(d, path, rec.line, "expected 7 fields, found "
			    "%zu", rec.nfields);
			continue;
		}
		if ((r = tapset_add_fields(s, rec.field, rec.len, &why)) != 0) {
			diag_error(d, path, rec.line, "%s", why);
			if (r == TAPSET_FATAL)
				break;
		}
	}
	csv_close(c);
	if (s->progress != NULL)
		s->progress(s->progress_arg, rows, bytes, size, 1);
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
		return card_cmp(s, a->card, b->card) < 0;
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

/*
 * Accounts: a card with a PAR belongs to its least PAR's account (bucket
 * = the PAR's id), any other card is an account of its own (bucket =
 * npars + card id).  Accounts sort by their text, "par:..." before
 * "tok:...", using 8-byte keys so most comparisons touch no strings.
 */
struct account {
	uint64_t	 key, key2;	/* bytes 0-7 and 8-15 after the prefix */
	uint32_t	 bucket;
	uint32_t	 ntaps;
	uint8_t		 tok;
	uint8_t		 token[16];	/* copied: accounts are read in order */
};

/* Bytes from..from+7 of p (n long) as a big-endian number, 0-padded. */
static uint64_t
be_key(const uint8_t *p, size_t n, size_t from)
{
	uint64_t k = 0;
	size_t i;

	for (i = from; i < from + 8; i++)
		k = k << 8 | (i < n ? p[i] : 0);
	return k;
}

static int
account_cmp(const void *a, const void *b, void *set)
{
	const struct tapset *s = set;
	const struct account *x = a, *y = b;
	uint32_t np = strtab_count(s->pars);

	if (x->tok != y->tok)
		return x->tok - y->tok;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	if (x->key2 != y->key2)
		return x->key2 < y->key2 ? -1 : 1;
	(void)np;
	if (x->tok)
		return memcmp(x->token, y->token, 16);
	return strcmp(strtab_name(s->pars, x->bucket),
	    strtab_name(s->pars, y->bucket));
}

/*
 * Sorts accounts by their text: a radix sort on (tok, first 8 bytes),
 * then the full comparison within runs of equal keys (rare).  qsort over
 * a million accounts spent most of its time in calls and copies.
 */
struct sort_item {
	uint64_t	 key;
	uint32_t	 idx;
	uint32_t	 tok;
};

static int
sort_accounts(const struct tapset *s, struct account **accp, size_t n)
{
	struct account *acc = *accp, *out;
	struct sort_item *a, *b, *tmp;
	size_t *cnt, i, pass, run;

	/* A few accounts (a tap file of a day, a fuzzer's input): the five
	 * 65,536-counter passes would cost more than the sort. */
	if (n < TAPSET_RADIX_MIN) {
		qsort_r(acc, n, sizeof *acc, account_cmp, (void *)s);
		return 0;
	}
	a = malloc((n + 1) * sizeof *a);
	b = malloc((n + 1) * sizeof *b);
	cnt = malloc(65537 * sizeof *cnt);

	out = malloc((n + 1) * sizeof *out);
	if (a == NULL || b == NULL || cnt == NULL || out == NULL) {
		free(a);
		free(b);
		free(cnt);
		free(out);
		return -1;
	}
	for (i = 0; i < n; i++) {
		a[i].key = acc[i].key;
		a[i].idx = (uint32_t)i;
		a[i].tok = acc[i].tok;
	}
	/* Four 16-bit passes over the key, then one over tok (stable). */
	for (pass = 0; pass < 5; pass++) {
		unsigned shift = (unsigned)pass * 16;
		memset(cnt, 0, 65537 * sizeof *cnt);
		for (i = 0; i < n; i++)
			cnt[(pass < 4 ? a[i].key >> shift & 0xffff :
			    a[i].tok) + 1]++;
		for (i = 0; i < 65536; i++)
			cnt[i + 1] += cnt[i];
		for (i = 0; i < n; i++)
			b[cnt[pass < 4 ? a[i].key >> shift & 0xffff :
			    a[i].tok]++] = a[i];
		tmp = a;
		a = b;
		b = tmp;
	}
	for (i = 0; i < n; i++)
		out[i] = acc[a[i].idx];
	for (i = 0; i < n; i = run) {
		for (run = i + 1; run < n && out[run].tok == out[i].tok &&
		    out[run].key == out[i].key; run++)
			;
		if (run - i > 1)
			qsort_r(out + i, run - i, sizeof *out, account_cmp,
			    (void *)s);
	}
	free(a);
	free(b);
	free(cnt);
	free(acc);
	*accp = out;
	return 0;
}

static void
account_name(const struct tapset *s, const struct account *a, char *out,
    size_t len)
{
	static const char hex[] = "0123456789abcdef";
	char id[TAP_TOKEN_HEX + 1];
	struct account_key key;
	uint32_t i;

	if (!a->tok) {
		/* PARs were checked when their taps were read. */
		(void)account_from(&key, ACCOUNT_PAR,
		    strtab_name(s->pars, a->bucket));
	} else {
		for (i = 0; i < 16; i++) {
			id[2 * i] = hex[a->token[i] >> 4];
			id[2 * i + 1] = hex[a->token[i] & 15];
		}
		id[TAP_TOKEN_HEX] = '\0';
		(void)account_from(&key, ACCOUNT_TOKEN, id);
	}
	account_format(&key, out, len);
}

/* (time, tap_id) order within an account. */
static int
stap_order(const struct tapset *s, const struct stap *x, const struct stap *y)
{
	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	if (x->tap_id == y->tap_id)
		return 0;
	return strcmp(strtab_name(s->tap_ids, x->tap_id),
	    strtab_name(s->tap_ids, y->tap_id));
}

static int
stap_order_cb(const void *a, const void *b, void *set)
{
	return stap_order(set, a, b);
}

/* Insertion sort: an account's taps mostly arrive in time order. */
static void
sort_account_taps(const struct tapset *s, struct stap *taps, uint32_t n)
{
	uint32_t i, j;

	if (n > 64) {
		qsort_r(taps, n, sizeof *taps, stap_order_cb, (void *)s);
		return;
	}
	for (i = 1; i < n; i++) {
		struct stap x = taps[i];
		for (j = i; j > 0 && stap_order(s, &taps[j - 1], &x) > 0; j--)
			taps[j] = taps[j - 1];
		taps[j] = x;
	}
}

/* Each card's least PAR; tokens for the cards without one. */
static int
card_accounts(struct tapset *s, const uint32_t *best, uint32_t nbest)
{
	char digits[24], hex[TAP_TOKEN_HEX + 1];
	uint32_t i;
	size_t c;

	for (i = 0; i < nbest; i++) {
		const struct stap *tp = &s->tap[best[i]];
		uint32_t *cp = &s->card[tp->card].par;
		/* Cards are touched at random when taps come in time order. */
		if (i + PREFETCH_AHEAD < nbest)
			__builtin_prefetch(&s->card[s->tap[best[i +
			    PREFETCH_AHEAD]].card], 1);
		if (tp->par != NONE && tp->par != *cp && (*cp == NONE ||
		    strcmp(strtab_name(s->pars, tp->par),
		    strtab_name(s->pars, *cp)) < 0))
			*cp = tp->par;
	}
	for (c = 0; c < s->ncards; c++) {
		struct card *cd = &s->card[c];
		int k;
		if (cd->par != NONE)
			continue;
		card_digits(cd, digits);
		k = tap_token(s->tk, digits, cd->len, hex);
		mbedtls_platform_zeroize(digits, sizeof digits);
		if (k == -1)
			return -1;
		for (k = 0; k < 16; k++)
			cd->token[k] = (uint8_t)((hex[2 * k] <= '9' ?
			    hex[2 * k] - '0' : hex[2 * k] - 'a' + 10) << 4 |
			    (hex[2 * k + 1] <= '9' ? hex[2 * k + 1] - '0' :
			    hex[2 * k + 1] - 'a' + 10));
	}
	return 0;
}

static uint32_t
tap_bucket(const struct tapset *s, const struct stap *tp)
{
	const struct card *c = &s->card[tp->card];

	return c->par != NONE ? c->par :
	    strtab_count(s->pars) + tp->card;
}

static int
price_bucket(struct tapset *s, const struct account *acc,
    const struct stap *taps, uint32_t n, struct price_tap **pt,
    size_t *pt_cap, struct price_result *r, tapset_emit_fn emit, void *arg)
{
	char name[4 + LIMIT_ID_LEN + 1];
	uint32_t i;
	size_t d;

	if (price_reserve((void **)pt, pt_cap, n, sizeof **pt) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		(*pt)[i].time = taps[i].time;
		(*pt)[i].network = taps[i].network;
		(*pt)[i].stop = taps[i].stop;
		(*pt)[i].kind = taps[i].kind;
	}
	if (price_account(s->t, *pt, n, PRICE_END_OF_TIME, r) == -1)
		return -1;
	account_name(s, acc, name, sizeof name);
	for (d = 0; d < r->ndays; d++)
		if (emit(arg, name, r, &r->day[d]) == -1)
			return -1;
	return 0;
}

static void
account_keys(const struct tapset *s, struct account *a, uint32_t b)
{
	uint32_t np = strtab_count(s->pars);
	const uint8_t *p;
	size_t n;

	a->bucket = b;
	a->tok = b >= np;
	if (a->tok)
		memcpy(a->token, s->card[b - np].token, 16);
	p = a->tok ? s->card[b - np].token :
	    (const uint8_t *)strtab_name(s->pars, b);
	n = a->tok ? 16 : strtab_len(s->pars, b);
	a->key = be_key(p, n, 0);
	a->key2 = be_key(p, n, 8);
}

/*
 * Groups the kept taps by account, laid out in account order: accounts are
 * sorted first, each bucket gets its offset in that order, and the tap
 * records are scattered there.  Pricing then reads everything in order.
 */
static int
price_accounts(struct tapset *s, const uint32_t *kept, size_t nkept,
    tapset_emit_fn emit, void *arg)
{
	size_t nb = strtab_count(s->pars) + s->ncards, b, na = 0, k, pt_cap = 0;
	uint32_t *off = calloc(nb + 1, sizeof *off), pos;
	uint32_t *bucket_of = malloc((nkept + 1) * sizeof *bucket_of);
	struct stap *sorted = malloc((nkept + 1) * sizeof *sorted);
	struct account *acc = NULL;
	struct price_tap *pt = NULL;
	struct price_result r;
	int rc = -1;

	price_result_init(&r);
	if (off == NULL || bucket_of == NULL || sorted == NULL)
		goto out;
	for (k = 0; k < nkept; k++) {
		if (k + PREFETCH_AHEAD < nkept)
			__builtin_prefetch(&s->card[s->tap[kept[k +
			    PREFETCH_AHEAD]].card]);
		bucket_of[k] = tap_bucket(s, &s->tap[kept[k]]);
		off[bucket_of[k]]++;
	}
	for (b = 0; b < nb; b++)
		na += off[b] > 0;
	if ((acc = malloc((na + 1) * sizeof *acc)) == NULL)
		goto out;
	for (b = 0, na = 0; b < nb; b++) {
		if (off[b] == 0)
			continue;
		account_keys(s, &acc[na], (uint32_t)b);
		acc[na++].ntaps = off[b];
	}
	if (sort_accounts(s, &acc, na) == -1)
		goto out;
	for (k = 0, pos = 0; k < na; k++) {
		off[acc[k].bucket] = pos;
		pos += acc[k].ntaps;
	}
	for (k = 0; k < nkept; k++) {
		if (k + 2 * PREFETCH_AHEAD < nkept)
			__builtin_prefetch(&off[bucket_of[k + 2 *
			    PREFETCH_AHEAD]]);
		if (k + PREFETCH_AHEAD < nkept)
			__builtin_prefetch(&sorted[off[bucket_of[k +
			    PREFETCH_AHEAD]]], 1);
		sorted[off[bucket_of[k]]++] = s->tap[kept[k]];
	}
	free(bucket_of);
	bucket_of = NULL;
	for (k = 0, pos = 0; k < na; k++) {
		sort_account_taps(s, sorted + pos, acc[k].ntaps);
		if (price_bucket(s, &acc[k], sorted + pos, acc[k].ntaps, &pt,
		    &pt_cap, &r, emit, arg) == -1)
			goto out;
		pos += acc[k].ntaps;
	}
	rc = 0;
out:
	price_result_free(&r);
	free(pt);
	free(off);
	free(bucket_of);
	free(sorted);
	free(acc);
	return rc;
}

int
tapset_price(struct tapset *s, tapset_emit_fn emit, void *arg)
{
	uint32_t nids, *best;
	int rc = -1;

	if (tapset_flush(s) == -1)
		return -1;
	nids = strtab_count(s->tap_ids);
	if ((best = malloc(((size_t)nids + 1) * sizeof *best)) == NULL)
		return -1;
	dedup(s, best);
	if (card_accounts(s, best, nids) == 0)
		rc = price_accounts(s, best, nids, emit, arg);
	free(best);
	return rc;
}

void
price_json_day(const struct tariff *t, const char *account,
    const struct price_result *r, const struct price_day *d, struct buf *o)
{
	static const struct { const char *s; size_t n; } status[] = {
		{"complete", 8}, {"autocompleted", 13}, {"incomplete", 10},
		{"cancelled", 9}, {"unpriced", 8}, {"open", 4},
	};
	struct buf_time_cache tc;
	const char *js;
	size_t jl;
	char day[11];
	uint32_t i;

	buf_time_cache_init(&tc);
	civil_format_day(d->service_day, day);
	buf_addlit(o, "{\"account\":");
	buf_add_json_str(o, account);
	buf_addlit(o, ",\"service_day\":\"");
	buf_add(o, day, 10);
	buf_addlit(o, "\",\"charge_cents\":");
	buf_add_i64(o, d->charge_cents);
	buf_addlit(o, ",\"uncapped_cents\":");
	buf_add_i64(o, d->uncapped_cents);
	buf_addlit(o, ",\"operators\":{");
	for (i = 0; i < d->nshares; i++) {
		const struct price_share *sh = &r->share[d->shares_off + i];
		if (i > 0)
			buf_addc(o, ',');
		js = tariff_network_json(t, sh->network, &jl);
		buf_add(o, js, jl);
		buf_addc(o, ':');
		buf_add_i64(o, sh->cents);
	}
	buf_addlit(o, "},\"legs\":[");
	for (i = 0; i < d->nlegs; i++) {
		const struct price_leg *l = &r->leg[d->legs_off + i];
		const char *nj, *fj = "null", *tj = "null";
		size_t nl, fl = 4, tl = 4;
		char *w;
		/* Reserve once per leg, then write without checks. */
		nj = tariff_network_json(t, l->network, &nl);
		if (l->from_stop != TARIFF_NONE)
			fj = tariff_stop_json(t, l->from_stop, &fl);
		if (l->to_stop != TARIFF_NONE)
			tj = tariff_stop_json(t, l->to_stop, &tl);
		if (buf_reserve(o, 256 + nl + fl + tl) == -1)
			return;
		w = o->p + o->len;
#define PUT(p, n)	(memcpy(w, (p), (n)), w += (n))
#define PUTLIT(lit)	PUT(lit, sizeof(lit) - 1)
		if (i > 0)
			*w++ = ',';
		PUTLIT("{\"network_id\":");
		PUT(nj, nl);
		PUTLIT(",\"from_stop_id\":");
		PUT(fj, fl);
		PUTLIT(",\"to_stop_id\":");
		PUT(tj, tl);
		PUTLIT(",\"checkin\":");
		w = buf_put_json_time(w, l->checkin, &tc);
		PUTLIT(",\"checkout\":");
		w = buf_put_json_time(w, l->checkout, &tc);
		PUTLIT(",\"status\":\"");
		PUT(status[l->status].s, status[l->status].n);
		PUTLIT("\",\"fare_cents\":");
		w = buf_put_i64(w, l->fare_cents);
		PUTLIT(",\"contribution_cents\":");
		w = buf_put_i64(w, l->contribution_cents);
		*w++ = '}';
#undef PUT
#undef PUTLIT
		o->len = (size_t)(w - o->p);
	}
	buf_addlit(o, "]}\n");
}
