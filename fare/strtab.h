/*
 * String interning: each distinct string gets a dense id (0, 1, 2, ...) in
 * the order first seen, so that the tariff and the pricing code work on
 * small integers instead of ids as text.  Open addressing, never shrinks.
 */
#ifndef ONECITY_STRTAB_H
#define ONECITY_STRTAB_H

#include <stddef.h>
#include <stdint.h>

#define STRTAB_NONE	UINT32_MAX

struct strtab;

struct strtab	*strtab_new(void);
void		 strtab_free(struct strtab *);
/* Forgets every string, keeping the memory for reuse. */
void		 strtab_clear(struct strtab *);
/* The id of s, adding it if new (*added says which); STRTAB_NONE on ENOMEM. */
uint32_t	 strtab_intern(struct strtab *, const char *s, size_t len,
		    int *added);
uint32_t	 strtab_find(const struct strtab *, const char *s, size_t len);
const char	*strtab_name(const struct strtab *, uint32_t id);
size_t		 strtab_len(const struct strtab *, uint32_t id);
uint32_t	 strtab_count(const struct strtab *);
/* Sizes the table for n strings up front (a hint; 0 or -1 on ENOMEM). */
int		 strtab_expect(struct strtab *, size_t n);
uint64_t	 strtab_hash(const char *s, size_t len);
/*
 * For batches: the 32-bit hash used to place s, a prefetch of its slot,
 * and interning with that hash already computed.
 */
uint32_t	 strtab_hash32(const char *s, size_t len);
void		 strtab_prefetch(const struct strtab *, uint32_t h);
uint32_t	 strtab_intern_hashed(struct strtab *, const char *s,
		    size_t len, uint32_t h, int *added);

#endif
