/* A growable byte buffer for building output; remembers allocation failure. */
#ifndef ONECITY_BUF_H
#define ONECITY_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * JSON times "YYYY-MM-DDTHH:MM:SSZ" (null for PRICE_NO_TIME) keep the last
 * day formatted: most times of one account-day share it.  Start a cache
 * with buf_time_cache_init().
 */
struct buf_time_cache {
	int64_t	 day;
	char	 text[11];
};

struct buf {
	char	*p;
	size_t	 len, cap;
	int	 oom;
};

void	buf_free(struct buf *);
/* Grows the buffer, then appends; sets oom instead on failure. */
void	buf_add_slow(struct buf *, const void *s, size_t n);
/* Makes room for n more bytes: 0, or -1 (and oom set). */
int	buf_reserve(struct buf *, size_t n);
/* Writers for reserved room: each returns the end of what it wrote. */
char	*buf_put_i64(char *w, int64_t v);
/* A UTC time as a JSON string; BUF_NO_TIME (PRICE_NO_TIME) as null. */
#define BUF_NO_TIME	INT64_MIN
char	*buf_put_json_time(char *w, int64_t utc, struct buf_time_cache *);

/* Inline so that fixed-size appends compile to a few moves. */
static inline void
buf_add(struct buf *b, const void *s, size_t n)
{
	if (b->len + n <= b->cap) {
		memcpy(b->p + b->len, s, n);
		b->len += n;
	} else
		buf_add_slow(b, s, n);
}

static inline void
buf_addc(struct buf *b, char c)
{
	if (b->len < b->cap)
		b->p[b->len++] = c;
	else
		buf_add_slow(b, &c, 1);
}

void	buf_adds(struct buf *, const char *s);
/* printf into the buffer; one call writes at most 1023 bytes (the rest cut). */
void	buf_printf(struct buf *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* A string literal, without strlen. */
#define buf_addlit(b, lit)	buf_add((b), (lit), sizeof(lit) - 1)
void	buf_add_i64(struct buf *, int64_t v);
/* A JSON string: raw UTF-8, escaping only ", \ and U+0000-U+001F. */
void	buf_add_json_str(struct buf *, const char *s);
void	buf_time_cache_init(struct buf_time_cache *);
void	buf_add_json_time(struct buf *, int64_t utc, struct buf_time_cache *);

#endif
