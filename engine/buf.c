/* Output building without printf on the hot path. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "parse.h"
#include "price.h"

void
buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

static int
buf_room(struct buf *b, size_t n)
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
buf_add(struct buf *b, const void *s, size_t n)
{
	if (buf_room(b, n) == 0) {
		memcpy(b->p + b->len, s, n);
		b->len += n;
	}
}

void
buf_addc(struct buf *b, char c)
{
	if (buf_room(b, 1) == 0)
		b->p[b->len++] = c;
}

void
buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void
buf_add_i64(struct buf *b, int64_t v)
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
	buf_add(b, tmp + i, sizeof tmp - (size_t)i);
}

void
buf_add_json_str(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *run = s;

	buf_addc(b, '"');
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		const char *esc = NULL;
		char u[6];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		buf_add(b, run, (size_t)(s - run));
		run = s + 1;
		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		default:
			memcpy(u, "\\u00", 4);
			u[4] = hex[c >> 4];
			u[5] = hex[c & 15];
			buf_add(b, u, 6);
			continue;
		}
		buf_adds(b, esc);
	}
	buf_add(b, run, (size_t)(s - run));
	buf_addc(b, '"');
}

void
buf_add_json_time(struct buf *b, int64_t utc)
{
	char t[21];

	if (utc == PRICE_NO_TIME) {
		buf_add(b, "null", 4);
		return;
	}
	civil_format_utc(utc, t);
	buf_addc(b, '"');
	buf_add(b, t, 20);
	buf_addc(b, '"');
}
