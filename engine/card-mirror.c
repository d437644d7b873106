/*
 * The gateway's copy of the `cards` bucket (card-mirror.h): linear
 * probing on FNV-1a of the token, kept at most three quarters full.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "card-mirror.h"

/* 64 bytes a slot: token and PAR, NUL-terminated; token "" is free. */
struct slot {
	char	 token[CARD_MIRROR_TOKEN];
	char	 par[CARD_MIRROR_PAR];
	char	 pad[64 - CARD_MIRROR_TOKEN - CARD_MIRROR_PAR];
};

struct card_mirror {
	struct slot	*slot;
	size_t		 cap;	/* a power of two */
	size_t		 n, max;
};

/* Slots of a new mirror (64 bytes each: 1 MiB), doubled as it fills. */
#define CARD_MIRROR_FIRST	16384

static uint64_t
hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* The slot holding token, or the free one where it would go. */
static struct slot *
find(struct slot *slot, size_t cap, const char *token)
{
	size_t i = (size_t)hash(token) & (cap - 1);

	while (slot[i].token[0] != '\0' && strcmp(slot[i].token, token) != 0)
		i = (i + 1) & (cap - 1);
	return &slot[i];
}

struct card_mirror *
card_mirror_new(size_t max)
{
	struct card_mirror *m = calloc(1, sizeof *m);

	if (m == NULL || max == 0) {
		free(m);
		return NULL;
	}
	m->cap = CARD_MIRROR_FIRST;
	m->max = max;
	if ((m->slot = calloc(m->cap, sizeof *m->slot)) == NULL) {
		free(m);
		return NULL;
	}
	return m;
}

void
card_mirror_free(struct card_mirror *m)
{
	if (m == NULL)
		return;
	free(m->slot);
	free(m);
}

/* Doubles the table: 0, or -1 when memory ran out (the old one stays). */
static int
grow(struct card_mirror *m)
{
	size_t cap = m->cap * 2, i;
	struct slot *s = calloc(cap, sizeof *s);

	if (s == NULL)
		return -1;
	for (i = 0; i < m->cap; i++)
		if (m->slot[i].token[0] != '\0')
			*find(s, cap, m->slot[i].token) = m->slot[i];
	free(m->slot);
	m->slot = s;
	m->cap = cap;
	return 0;
}

int
card_mirror_put(struct card_mirror *m, const char *token, const char *par)
{
	struct slot *s;

	if (token[0] == '\0' || strlen(token) >= CARD_MIRROR_TOKEN ||
	    strlen(par) >= CARD_MIRROR_PAR)
		return -1;
	s = find(m->slot, m->cap, token);
	if (s->token[0] == '\0') {
		if (m->n >= m->max)
			return 1;
		if ((m->n + 1) * 4 > m->cap * 3) {
			if (grow(m) == -1)
				return -1;
			s = find(m->slot, m->cap, token);
		}
		snprintf(s->token, sizeof s->token, "%s", token);
		m->n++;
	}
	snprintf(s->par, sizeof s->par, "%s", par);
	return 0;
}

int
card_mirror_get(const struct card_mirror *m, const char *token, char *par,
    size_t len)
{
	const struct slot *s;

	if (strlen(token) >= CARD_MIRROR_TOKEN)
		return 0;
	s = find(m->slot, m->cap, token);
	if (s->token[0] == '\0' || s->par[0] == '\0')
		return 0;
	snprintf(par, len, "%s", s->par);
	return 1;
}

size_t
card_mirror_count(const struct card_mirror *m)
{
	return m->n;
}
