/*
 * The writer's account cache: a chained hash of accounts with an LRU
 * list through them.  Entries are allocated on first use and kept on a
 * free list once evicted, their arrays with them, so a warm cache
 * allocates nothing; the arrays grow only up to an account's share of
 * the taps (ACCOUNT_CACHE_TAPS_PER_ACCOUNT) and days.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "account-cache.h"
#include "limits.h"

struct acache {
	struct acache_entry	**bucket;
	size_t			 nbuckets;	/* a power of two */
	struct acache_entry	*head, *tail;	/* most, least recent */
	struct acache_entry	*free;		/* evicted, for reuse */
	size_t			 max_accounts, max_taps;
	size_t			 naccounts, ntaps;
	struct acache_stats	 st;
};

static uint32_t
hash(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s != '\0')
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

struct acache *
acache_new(size_t max_accounts, size_t max_taps)
{
	struct acache *c = calloc(1, sizeof *c);

	if (c == NULL)
		return NULL;
	c->max_accounts = max_accounts;
	c->max_taps = max_taps;
	for (c->nbuckets = 4; c->nbuckets < 2 * max_accounts;)
		c->nbuckets *= 2;
	if ((c->bucket = calloc(c->nbuckets, sizeof *c->bucket)) == NULL) {
		free(c);
		return NULL;
	}
	return c;
}

static void
entry_free(struct acache_entry *e)
{
	free(e->taps);
	free(e->days);
	free(e);
}

void
acache_free(struct acache *c)
{
	struct acache_entry *e, *next;

	if (c == NULL)
		return;
	acache_clear(c);
	for (e = c->free; e != NULL; e = next) {
		next = e->next;
		entry_free(e);
	}
	free(c->bucket);
	free(c);
}

static struct acache_entry **
slot(struct acache *c, const char *account)
{
	struct acache_entry **p = &c->bucket[hash(account) &
	    (c->nbuckets - 1)];

	while (*p != NULL && strcmp((*p)->account, account) != 0)
		p = &(*p)->hnext;
	return p;
}

static void
lru_unlink(struct acache *c, struct acache_entry *e)
{
	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NULL;
}

static void
lru_front(struct acache *c, struct acache_entry *e)
{
	e->prev = NULL;
	e->next = c->head;
	if (c->head != NULL)
		c->head->prev = e;
	c->head = e;
	if (c->tail == NULL)
		c->tail = e;
}

/* Unlinks e from the hash and the LRU list onto the free list. */
static void
remove_entry(struct acache *c, struct acache_entry *e)
{
	struct acache_entry **p = slot(c, e->account);

	assert(*p == e);
	*p = e->hnext;
	lru_unlink(c, e);
	c->ntaps -= e->ntaps;
	c->naccounts--;
	e->ntaps = e->ndays = 0;
	e->account[0] = '\0';
	e->next = c->free;
	c->free = e;
}

void
acache_clear(struct acache *c)
{
	while (c->head != NULL)
		remove_entry(c, c->head);
}

void
acache_drop(struct acache *c, const char *account)
{
	struct acache_entry *e = *slot(c, account);

	if (e != NULL)
		remove_entry(c, e);
}

struct acache_entry *
acache_peek(struct acache *c, const char *account)
{
	return *slot(c, account);
}

struct acache_entry *
acache_get(struct acache *c, const char *account)
{
	struct acache_entry *e = *slot(c, account);

	if (e != NULL && e != c->head) {
		lru_unlink(c, e);
		lru_front(c, e);
	}
	return e;
}

/* Evicts least recently used entries other than keep until room for
 * need more taps and, when adding, one more account. */
static void
make_room(struct acache *c, const struct acache_entry *keep, size_t need,
    int adding)
{
	struct acache_entry *e = c->tail;

	while (e != NULL && (c->ntaps + need > c->max_taps ||
	    c->naccounts + (size_t)adding > c->max_accounts)) {
		struct acache_entry *prev = e->prev;
		if (e != keep) {
			remove_entry(c, e);
			c->st.evictions++;
		}
		e = prev;
	}
}

static int
reserve(void **p, size_t *cap, size_t need, size_t size, size_t max)
{
	size_t n = *cap > 0 ? *cap : 16;
	void *q;

	if (need <= *cap)
		return 0;
	if (need > max)
		return -1;
	while (n < need)
		n *= 2;
	if (n > max)
		n = max;
	if ((q = realloc(*p, n * size)) == NULL)
		return -1;
	*p = q;
	*cap = n;
	return 0;
}

struct acache_entry *
acache_put(struct acache *c, const char *account, int64_t since,
    const struct price_tap *taps, size_t n)
{
	struct acache_entry *e;

	acache_drop(c, account);
	if (c->max_accounts == 0 || n > ACCOUNT_CACHE_TAPS_PER_ACCOUNT ||
	    n > c->max_taps || strlen(account) >= sizeof e->account)
		return NULL;
	make_room(c, NULL, n, 1);
	if ((e = c->free) != NULL)
		c->free = e->next;
	else if ((e = calloc(1, sizeof *e)) == NULL)
		return NULL;
	e->next = NULL;
	if (reserve((void **)&e->taps, &e->taps_cap, n, sizeof *e->taps,
	    ACCOUNT_CACHE_TAPS_PER_ACCOUNT) == -1) {
		entry_free(e);
		return NULL;
	}
	if (n > 0)
		memcpy(e->taps, taps, n * sizeof *taps);
	e->ntaps = n;
	e->since = since;
	e->ndays = 0;
	e->days_from = INT32_MAX;
	memcpy(e->account, account, strlen(account) + 1);
	e->hnext = NULL;
	*slot(c, account) = e;
	lru_front(c, e);
	c->naccounts++;
	c->ntaps += n;
	return e;
}

int
acache_add_tap(struct acache *c, struct acache_entry *e,
    const struct price_tap *t)
{
	size_t i;

	if (t->time < e->since)
		return 0;	/* before what is held: nothing held changes */
	for (i = e->ntaps; i > 0 && e->taps[i - 1].time > t->time; i--)
		;
	if ((i > 0 && e->taps[i - 1].time == t->time) ||
	    reserve((void **)&e->taps, &e->taps_cap, e->ntaps + 1,
	    sizeof *e->taps, ACCOUNT_CACHE_TAPS_PER_ACCOUNT) == -1) {
		remove_entry(c, e);
		return -1;
	}
	memmove(&e->taps[i + 1], &e->taps[i], (e->ntaps - i) *
	    sizeof *e->taps);
	e->taps[i] = *t;
	e->ntaps++;
	c->ntaps++;
	make_room(c, e, 0, 0);
	return 0;
}

int
acache_set_days(struct acache *c, struct acache_entry *e, int32_t days_from,
    const struct acache_day *days, size_t n)
{
	size_t i;

	if (reserve((void **)&e->days, &e->days_cap, n, sizeof *e->days,
	    ACCOUNT_CACHE_DAYS_PER_ACCOUNT) == -1) {
		remove_entry(c, e);
		return -1;
	}
	for (i = 1; i < n; i++)
		assert(days[i - 1].day < days[i].day);
	assert(n == 0 || days[0].day >= days_from);
	if (n > 0)
		memcpy(e->days, days, n * sizeof *days);
	e->ndays = n;
	e->days_from = days_from;
	return 0;
}

struct acache_day *
acache_find_day(struct acache_entry *e, int32_t day)
{
	size_t lo = 0, hi = e->ndays;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (e->days[mid].day < day)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < e->ndays && e->days[lo].day == day ? &e->days[lo] : NULL;
}

void
acache_trim(struct acache *c, struct acache_entry *e, int64_t keep_since,
    int32_t keep_day)
{
	size_t i;

	if (keep_since > e->since) {
		for (i = 0; i < e->ntaps && e->taps[i].time < keep_since; i++)
			;
		if (i > 0 && i < e->ntaps)	/* none held: taps is NULL */
			memmove(e->taps, &e->taps[i], (e->ntaps - i) *
			    sizeof *e->taps);
		e->ntaps -= i;
		c->ntaps -= i;
		e->since = keep_since;
	}
	if (keep_day > e->days_from && e->days_from != INT32_MAX) {
		for (i = 0; i < e->ndays && e->days[i].day < keep_day; i++)
			;
		if (i > 0 && i < e->ndays)	/* none held: days is NULL */
			memmove(e->days, &e->days[i], (e->ndays - i) *
			    sizeof *e->days);
		e->ndays -= i;
		e->days_from = keep_day;
	}
}

void
acache_get_stats(const struct acache *c, struct acache_stats *st)
{
	*st = c->st;
	st->accounts = c->naccounts;
	st->taps = c->ntaps;
}

void
acache_count(struct acache *c, int hit)
{
	if (hit)
		c->st.hits++;
	else
		c->st.misses++;
}
