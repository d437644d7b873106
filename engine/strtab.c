/*
 * Interned strings live back to back in one arena, NUL-terminated; ids
 * index an offset array; the hash table holds ids.  Growth doubles, so
 * interning is amortised O(1).
 */
#include <stdlib.h>
#include <string.h>

#include "strtab.h"

struct strtab {
	char		*arena;
	size_t		 arena_len;
	size_t		 arena_cap;
	uint64_t	*off;		/* offset << 16 | min(len, 0xffff) */
	uint32_t	 count;
	uint32_t	 off_cap;
	uint32_t	*slot;		/* ids, STRTAB_NONE when empty */
	uint32_t	*slot_hash;	/* low 32 bits of the hash */
	uint32_t	 nslots;	/* power of two */
};

uint64_t
strtab_hash(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 32;
	return h;
}

struct strtab *
strtab_new(void)
{
	struct strtab *t = calloc(1, sizeof *t);

	if (t == NULL)
		return NULL;
	t->nslots = 16;
	t->slot = malloc(t->nslots * sizeof *t->slot);
	t->slot_hash = malloc(t->nslots * sizeof *t->slot_hash);
	if (t->slot == NULL || t->slot_hash == NULL) {
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
	free(t->slot);
	free(t->slot_hash);
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

size_t
strtab_bytes(const struct strtab *t)
{
	return t->arena_cap + (size_t)t->off_cap * sizeof *t->off +
	    (size_t)t->nslots * (sizeof *t->slot + sizeof *t->slot_hash);
}

static int
strtab_eq(const struct strtab *t, uint32_t id, const char *s, size_t len)
{
	return strtab_len(t, id) == len &&
	    memcmp(strtab_name(t, id), s, len) == 0;
}

uint32_t
strtab_find(const struct strtab *t, const char *s, size_t len)
{
	uint64_t h = strtab_hash(s, len);
	uint32_t mask = t->nslots - 1, i = (uint32_t)(h >> 32) & mask;

	for (;; i = (i + 1) & mask) {
		uint32_t id = t->slot[i];
		if (id == STRTAB_NONE)
			return STRTAB_NONE;
		if (t->slot_hash[i] == (uint32_t)h && strtab_eq(t, id, s, len))
			return id;
	}
}

static int
strtab_grow_slots(struct strtab *t)
{
	uint32_t n = t->nslots * 2, mask = n - 1, i, id;
	uint32_t *slot = malloc(n * sizeof *slot);
	uint32_t *sh = malloc(n * sizeof *sh);

	if (slot == NULL || sh == NULL) {
		free(slot);
		free(sh);
		return -1;
	}
	memset(slot, 0xff, n * sizeof *slot);
	for (id = 0; id < t->count; id++) {
		const char *s = strtab_name(t, id);
		uint64_t h = strtab_hash(s, strtab_len(t, id));
		for (i = (uint32_t)(h >> 32) & mask; slot[i] != STRTAB_NONE;
		    i = (i + 1) & mask)
			;
		slot[i] = id;
		sh[i] = (uint32_t)h;
	}
	free(t->slot);
	free(t->slot_hash);
	t->slot = slot;
	t->slot_hash = sh;
	t->nslots = n;
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
strtab_intern(struct strtab *t, const char *s, size_t len, int *added)
{
	uint32_t id = strtab_find(t, s, len), mask, i;
	uint64_t h;

	if (added != NULL)
		*added = 0;
	if (id != STRTAB_NONE)
		return id;
	if (t->count == STRTAB_NONE - 1 || strtab_reserve(t, len) == -1)
		return STRTAB_NONE;
	id = t->count++;
	memcpy(t->arena + t->arena_len, s, len);
	t->arena[t->arena_len + len] = '\0';
	t->off[id] = (uint64_t)t->arena_len << 16 | (len < 0xffff ? len : 0xffff);
	t->arena_len += len + 1;
	h = strtab_hash(s, len);
	mask = t->nslots - 1;
	for (i = (uint32_t)(h >> 32) & mask; t->slot[i] != STRTAB_NONE;
	    i = (i + 1) & mask)
		;
	t->slot[i] = id;
	t->slot_hash[i] = (uint32_t)h;
	if (added != NULL)
		*added = 1;
	return id;
}
