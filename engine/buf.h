/* A growable byte buffer for building output; remembers allocation failure. */
#ifndef ONECITY_BUF_H
#define ONECITY_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
	char	*p;
	size_t	 len, cap;
	int	 oom;
};

void	buf_free(struct buf *);
void	buf_add(struct buf *, const void *s, size_t n);
void	buf_addc(struct buf *, char c);
void	buf_adds(struct buf *, const char *s);
void	buf_add_i64(struct buf *, int64_t v);
/* A JSON string: raw UTF-8, escaping only ", \ and U+0000-U+001F. */
void	buf_add_json_str(struct buf *, const char *s);
/* "YYYY-MM-DDTHH:MM:SSZ", or null for PRICE_NO_TIME. */
void	buf_add_json_time(struct buf *, int64_t utc);

#endif
