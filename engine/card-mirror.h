/*
 * A gateway's local copy of the cluster's `cards` bucket (token -> PAR),
 * filled by a key-value watcher (gateway.c), so that finding a tap's
 * account costs no round trip to JetStream.  An open-addressing hash
 * table that grows by doubling up to a bound given at creation
 * (GATEWAY_CARDS_MIRROR_MAX in limits.h); past the bound it takes no new
 * card and says so (card_mirror_put returns 1), and the gateway then asks
 * the bucket for every card it does not hold (gateway.h).  Not thread
 * safe: the caller locks.
 */
#ifndef ONECITY_CARD_MIRROR_H
#define ONECITY_CARD_MIRROR_H

#include <stddef.h>

/* Text sizes, NUL included: a token is 32 hex digits, a PAR 29 (SPEC §3). */
#define CARD_MIRROR_TOKEN	33
#define CARD_MIRROR_PAR		30

struct card_mirror;

/* An empty mirror that holds at most max cards (>= 1); NULL when out of
 * memory. */
struct card_mirror	*card_mirror_new(size_t max);
void			 card_mirror_free(struct card_mirror *);

/*
 * Records token -> par (par "" forgets what was known of the card: the
 * bucket deleted it).  0 when recorded (or replaced), 1 when the mirror
 * holds max cards already and token is not one of them (not recorded),
 * -1 when token or par is too long or memory ran out (not recorded).
 */
int			 card_mirror_put(struct card_mirror *, const char *token,
			    const char *par);
/* 1 with the card's PAR in par (len >= CARD_MIRROR_PAR) when known, else
 * 0. */
int			 card_mirror_get(const struct card_mirror *,
			    const char *token, char *par, size_t len);
/* Cards recorded (with a PAR or forgotten since). */
size_t			 card_mirror_count(const struct card_mirror *);

#endif
