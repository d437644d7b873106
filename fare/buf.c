/* Output building without printf on the hot path. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "parse.h"

void
buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

int
buf_reserve(struct buf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->oom)
		return -1;
	if (b->len + n <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 4096;
	while (cap < b->len + n)
		cap *= 2;
	if ((p = realloc(b->p, cap)) == NULL) {
		b->oom = 1;
		return -1;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

void
buf_add_slow(struct buf *b, const void *s, size_t n)
{
	if (buf_reserve(b, n) == 0) {
		memcpy(b->p + b->len, s, n);
		b->len += n;
	}
}

void
buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

char *
buf_put_i64(char *w, int64_t v)
{
	char tmp[24];
	int i = sizeof tmp;
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;

	do {
		tmp[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		tmp[--i] = '-';
	memcpy(w, tmp + i, sizeof tmp - (size_t)i);
	return w + sizeof tmp - (size_t)i;
}

void
buf_add_i64(struct buf *b, int64_t v)
{
	if (buf_reserve(b, 24) == 0)
		b->len = (size_t)(buf_put_i64(b->p + b->len, v) - b->p);
}

/* Bytes that need escaping in a JSON string: ", \\ and U+0000-U+001F. */
static int
json_special(unsigned char c)
{
	return c < 0x20 || c == '"' || c == '\\';
}

void
buf_add_json_str(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *run;

	buf_addc(b, '"');
	for (;;) {
		for (run = s; *s != '\0' && !json_special((unsigned char)*s); s++)
			;
		buf_add(b, run, (size_t)(s - run));
		if (*s == '\0')
			break;
		switch (*s) {
		case '"': buf_addlit(b, "\\\""); break;
		case '\\': buf_addlit(b, "\\\\"); break;
		case '\n': buf_addlit(b, "\\n"); break;
		case '\r': buf_addlit(b, "\\r"); break;
		case '\t': buf_addlit(b, "\\t"); break;
		case '\b': buf_addlit(b, "\\b"); break;
		case '\f': buf_addlit(b, "\\f"); break;
		default: {
			char u[6] = {'\\', 'u', '0', '0',
			    hex[(unsigned char)*s >> 4], hex[*s & 15]};
			buf_add(b, u, 6);
		}
		}
		s++;
	}
	buf_addc(b, '"');
}

void
buf_time_cache_init(struct buf_time_cache *c)
{
	c->day = INT64_MIN;
}

char *
buf_put_json_time(char *t, int64_t utc, struct buf_time_cache *c)
{
	int64_t day, s;

	if (utc == BUF_NO_TIME) {
		memcpy(t, "null", 4);
		return t + 4;
	}
	day = civil_day_of(utc);
	s = utc - day * 86400;
	if (day != c->day) {
		civil_format_day(day, c->text);
		c->day = day;
	}
	t[0] = '"';
	memcpy(t + 1, c->text, 10);
	t[11] = 'T';
	t[12] = (char)('0' + s / 36000);
	t[13] = (char)('0' + s / 3600 % 10);
	t[14] = ':';
	t[15] = (char)('0' + s / 600 % 6);
	t[16] = (char)('0' + s / 60 % 10);
	t[17] = ':';
	t[18] = (char)('0' + s % 60 / 10);
	t[19] = (char)('0' + s % 10);
	t[20] = 'Z';
	t[21] = '"';
	return t + 22;
}

void
buf_add_json_time(struct buf *b, int64_t utc, struct buf_time_cache *c)
{
	if (buf_reserve(b, 22) == 0)
		b->len = (size_t)(buf_put_json_time(b->p + b->len, utc, c) -
		    b->p);
}

void
buf_printf(struct buf *b, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n > 0)
		buf_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n :
		    sizeof tmp - 1);
}
