/*
 * Interned strings live back to back in one arena, NUL-terminated; ids
 * index an offset array; the hash table holds ids.  Growth doubles, so
 * interning is amortised O(1).
 */
#include <stdlib.h>
#include <sys/mman.h>
#include <string.h>

#include "strtab.h"

struct strtab {
	char		*arena;
	size_t		 arena_len;
	size_t		 arena_cap;
	uint64_t	*off;		/* offset << 16 | min(len, 0xffff) */
	uint32_t	 count;
	uint32_t	 off_cap;
	struct slot {
		uint32_t	 id;	/* STRTAB_NONE when empty */
		uint32_t	 hash;	/* picks the slot; rehash needs no text */
	}		*slot;
	uint32_t	 nslots;	/* power of two */
};

/* Eight bytes at a time, then a strong finaliser (splitmix64's). */
uint64_t
strtab_hash(const char *s, size_t len)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ len, w;

	for (; len >= 8; s += 8, len -= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
		h ^= h >> 31;
	}
	w = 0;
	memcpy(&w, s, len);
	h = (h ^ w) * 0x94d049bb133111ebULL;
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 32;
	return h;
}

/*
 * Slot arrays are probed at random: big ones go on transparent huge pages
 * (where the kernel offers them on request), so that a probe costs one
 * cache miss and not a page walk too.
 */
#define STRTAB_HUGE	(2u << 20)

static struct slot *
slots_alloc(size_t n)
{
	size_t bytes = n * sizeof(struct slot);
	void *p;

	if (bytes < STRTAB_HUGE)
		return malloc(bytes);
	p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	(void)madvise(p, bytes, MADV_HUGEPAGE);
	return p;
}

static void
slots_free(struct slot *p, size_t n)
{
	if (p == NULL)
		return;
	if (n * sizeof *p < STRTAB_HUGE)
		free(p);
	else
		munmap(p, n * sizeof *p);
}

void
strtab_clear(struct strtab *t)
{
	t->arena_len = 0;
	t->count = 0;
	memset(t->slot, 0xff, t->nslots * sizeof *t->slot);
}

struct strtab *
strtab_new(void)
{
	struct strtab *t = calloc(1, sizeof *t);

	if (t == NULL)
		return NULL;
	t->nslots = 16;
	t->slot = slots_alloc(t->nslots);
	if (t->slot == NULL) {
		strtab_free(t);
		return NULL;
	}
	memset(t->slot, 0xff, t->nslots * sizeof *t->slot);
	return t;
}

void
strtab_free(struct strtab *t)
{
	if (t == NULL)
		return;
	free(t->arena);
	free(t->off);
	slots_free(t->slot, t->nslots);
	free(t);
}

const char *
strtab_name(const struct strtab *t, uint32_t id)
{
	return t->arena + (t->off[id] >> 16);
}

size_t
strtab_len(const struct strtab *t, uint32_t id)
{
	size_t n = (size_t)(t->off[id] & 0xffff);

	return n < 0xffff ? n : strlen(strtab_name(t, id));
}

uint32_t
strtab_count(const struct strtab *t)
{
	return t->count;
}

static int
strtab_eq(const struct strtab *t, uint32_t id, const char *s, size_t len)
{
	return strtab_len(t, id) == len &&
	    memcmp(strtab_name(t, id), s, len) == 0;
}

static uint32_t
hash32(uint64_t h)
{
	return (uint32_t)(h ^ h >> 32);
}

/* The slot holding s, or the empty slot where it would go. */
static uint32_t
strtab_probe(const struct strtab *t, const char *s, size_t len, uint32_t h)
{
	uint32_t mask = t->nslots - 1, i = h & mask;

	for (;; i = (i + 1) & mask) {
		const struct slot *sl = &t->slot[i];
		if (sl->id == STRTAB_NONE ||
		    (sl->hash == h && strtab_eq(t, sl->id, s, len)))
			return i;
	}
}

uint32_t
strtab_find(const struct strtab *t, const char *s, size_t len)
{
	return t->slot[strtab_probe(t, s, len,
	    hash32(strtab_hash(s, len)))].id;
}

static int
strtab_grow_slots(struct strtab *t)
{
	uint32_t n = t->nslots * 2, mask = n - 1, i, k;
	struct slot *slot = slots_alloc(n);

	if (slot == NULL)
		return -1;
	memset(slot, 0xff, n * sizeof *slot);
	for (k = 0; k < t->nslots; k++) {
		if (t->slot[k].id == STRTAB_NONE)
			continue;
		for (i = t->slot[k].hash & mask; slot[i].id != STRTAB_NONE;
		    i = (i + 1) & mask)
			;
		slot[i] = t->slot[k];
	}
	slots_free(t->slot, t->nslots);
	t->slot = slot;
	t->nslots = n;
	return 0;
}

int
strtab_expect(struct strtab *t, size_t n)
{
	while ((size_t)t->nslots < n * 2 && t->nslots < (1u << 30))
		if (strtab_grow_slots(t) == -1)
			return -1;
	return 0;
}

static int
strtab_reserve(struct strtab *t, size_t len)
{
	if (t->count == t->off_cap) {
		uint32_t cap = t->off_cap ? t->off_cap * 2 : 64;
		uint64_t *off = realloc(t->off, cap * sizeof *off);
		if (off == NULL)
			return -1;
		t->off = off;
		t->off_cap = cap;
	}
	if (t->arena_len + len + 1 > t->arena_cap) {
		size_t cap = t->arena_cap ? t->arena_cap * 2 : 1024;
		char *a;
		while (cap < t->arena_len + len + 1)
			cap *= 2;
		if ((a = realloc(t->arena, cap)) == NULL)
			return -1;
		t->arena = a;
		t->arena_cap = cap;
	}
	if ((t->count + 1) * 2 > t->nslots && strtab_grow_slots(t) == -1)
		return -1;
	return 0;
}

uint32_t
strtab_hash32(const char *s, size_t len)
{
	return hash32(strtab_hash(s, len));
}

void
strtab_prefetch(const struct strtab *t, uint32_t h)
{
	__builtin_prefetch(&t->slot[h & (t->nslots - 1)]);
}

uint32_t
strtab_intern(struct strtab *t, const char *s, size_t len, int *added)
{
	return strtab_intern_hashed(t, s, len, hash32(strtab_hash(s, len)),
	    added);
}

uint32_t
strtab_intern_hashed(struct strtab *t, const char *s, size_t len, uint32_t h,
    int *added)
{
	uint32_t i = strtab_probe(t, s, len, h), id, nslots = t->nslots;

	if (added != NULL)
		*added = 0;
	if (t->slot[i].id != STRTAB_NONE)
		return t->slot[i].id;
	if (t->count == STRTAB_NONE - 1 || strtab_reserve(t, len) == -1)
		return STRTAB_NONE;
	if (t->nslots != nslots)	/* the table grew: find the new slot */
		i = strtab_probe(t, s, len, h);
	id = t->count++;
	memcpy(t->arena + t->arena_len, s, len);
	t->arena[t->arena_len + len] = '\0';
	t->off[id] = (uint64_t)t->arena_len << 16 | (len < 0xffff ? len : 0xffff);
	t->arena_len += len + 1;
	t->slot[i].id = id;
	t->slot[i].hash = h;
	if (added != NULL)
		*added = 1;
	return id;
}
