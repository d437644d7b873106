/*
 * RFC 4180 reader.  One state machine over a refillable buffer; the record
 * being built lives in a fixed buffer so a hostile file cannot make us
 * allocate without bound.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "csv.h"
#include "limits.h"

_Static_assert(LIMIT_CSV_FIELDS == 64, "csv_record.field is sized 64");

#define CSV_CHUNK	65536

struct csv {
	int		 fd;		/* -1 for memory input */
	const char	*buf;		/* the window being read */
	size_t		 len, pos;
	char		*chunk;		/* file input's buffer */
	int		 eof;
	int		 io_error;
	int		 started;	/* BOM check done */
	unsigned long	 line;
	char		 err[160];
	int		 fatal;		/* the error ends the file */
	char		 rec[LIMIT_CSV_RECORD + 1];	/* last: not cleared */
};

static struct csv *
csv_new(void)
{
	struct csv *c = malloc(sizeof *c);

	if (c == NULL)
		return NULL;
	/* Every field but the 64 KiB record buffer, which each record
	 * writes before it is read (a tariff opens 20 files per load). */
	memset(c, 0, offsetof(struct csv, rec));
	c->fd = -1;
	c->line = 1;
	return c;
}

struct csv *
csv_open(const char *path)
{
	struct csv *c;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd == -1)
		return NULL;
	if ((c = csv_new()) == NULL || (c->chunk = malloc(CSV_CHUNK)) == NULL) {
		free(c);
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	c->fd = fd;
	return c;
}

struct csv *
csv_open_mem(const char *buf, size_t len)
{
	struct csv *c = csv_new();

	if (c == NULL)
		return NULL;
	c->buf = buf;
	c->len = len;
	c->eof = 1;
	return c;
}

void
csv_close(struct csv *c)
{
	if (c == NULL)
		return;
	if (c->fd != -1)
		close(c->fd);
	free(c->chunk);
	free(c);
}

const char *
csv_error(const struct csv *c)
{
	return c->err;
}

int
csv_error_ends(const struct csv *c)
{
	return c->fatal;
}

/* Refills the window from the file; the next byte, or -1 at the end. */
static int
csv_refill(struct csv *c)
{
	ssize_t n;

	if (c->eof)
		return -1;
	do
		n = read(c->fd, c->chunk, CSV_CHUNK);
	while (n == -1 && errno == EINTR);
	if (n <= 0) {
		c->eof = 1;
		if (n < 0)
			c->io_error = errno;
		return -1;
	}
	c->buf = c->chunk;
	c->len = (size_t)n;
	c->pos = 1;
	return (unsigned char)c->buf[0];
}

/* The next byte, or -1 at the end of input. */
static inline int
csv_getc(struct csv *c)
{
	if (c->pos < c->len)
		return (unsigned char)c->buf[c->pos++];
	return csv_refill(c);
}

/* Only ever called right after a csv_getc() that returned a byte. */
static void
csv_ungetc(struct csv *c)
{
	c->pos--;
}

/* Skips the rest of a broken record's line. */
static void
csv_skip_line(struct csv *c)
{
	int ch;

	while ((ch = csv_getc(c)) != -1) {
		if (ch == '\n') {
			c->line++;
			return;
		}
	}
}

static int
csv_fail(struct csv *c, const char *msg)
{
	snprintf(c->err, sizeof c->err, "%s", msg);
	csv_skip_line(c);
	return -1;
}

enum csv_state {
	CSV_FIELD_START,	/* at the start of a field */
	CSV_UNQUOTED,		/* inside a field without quotes */
	CSV_QUOTED,		/* inside "..." */
	CSV_QUOTE_IN_QUOTED,	/* just saw " inside "...": "" or the end */
};

static void
csv_bom(struct csv *c)
{
	c->started = 1;
	if (c->pos == c->len && csv_refill(c) != -1)
		c->pos = 0;
	if (c->len - c->pos >= 3 && memcmp(c->buf + c->pos, "\xef\xbb\xbf",
	    3) == 0)
		c->pos += 3;
}

static int
csv_end_field(struct csv *c, struct csv_record *rec, size_t start,
    size_t *used)
{
	if (rec->nfields >= LIMIT_CSV_FIELDS)
		return csv_fail(c, "too many fields in the record");
	if (*used >= LIMIT_CSV_RECORD)
		return csv_fail(c, "record too long");
	c->rec[(*used)++] = '\0';
	rec->field[rec->nfields] = c->rec + start;
	rec->len[rec->nfields] = *used - 1 - start;
	rec->nfields++;
	return 0;
}

/*
 * The common case, done with memchr: a whole line in the window, with no
 * quote, NUL or stray CR.  Returns 1 with the record, or 0 to let the
 * state machine below handle the line (and report whatever is wrong).
 */
static int
csv_fast_line(struct csv *c, struct csv_record *rec)
{
	const char *p, *nl, *f, *comma;
	size_t n, avail = c->len - c->pos;
	char *r = c->rec;

	/* An empty window may have no buffer at all (an empty file). */
	if (avail == 0)
		return 0;
	p = c->buf + c->pos;
	if ((nl = memchr(p, '\n', avail)) == NULL)
		return 0;
	n = (size_t)(nl - p);
	if (n > 0 && p[n - 1] == '\r')
		n--;
	if (n == 0 || n >= LIMIT_CSV_RECORD || memchr(p, '"', n) != NULL ||
	    memchr(p, '\0', n) != NULL || memchr(p, '\r', n) != NULL)
		return 0;
	memcpy(r, p, n);
	r[n] = '\0';
	rec->nfields = 0;
	rec->line = c->line;
	for (f = r;; f = comma + 1) {
		if (rec->nfields == LIMIT_CSV_FIELDS)
			return 0;
		comma = memchr(f, ',', (size_t)(r + n - f));
		rec->field[rec->nfields] = f;
		rec->len[rec->nfields] = (size_t)((comma ? comma : r + n) - f);
		rec->nfields++;
		if (comma == NULL)
			break;
		*(char *)(uintptr_t)comma = '\0';
	}
	c->pos += (size_t)(nl - p) + 1;
	c->line++;
	return 1;
}

int
csv_next(struct csv *c, struct csv_record *rec)
{
	enum csv_state st;
	size_t used, start;
	int ch;

	if (!c->started)
		csv_bom(c);
	if (csv_fast_line(c, rec))
		return 1;
	st = CSV_FIELD_START;
	used = start = 0;
	rec->nfields = 0;
	rec->line = c->line;
	c->err[0] = '\0';
	for (;;) {
		ch = csv_getc(c);
		if (ch == 0)
			return csv_fail(c, "NUL byte in the file");
		if (ch == -1 && c->io_error) {
			snprintf(c->err, sizeof c->err, "read error: %s",
			    strerror(c->io_error));
			c->fatal = 1;
			return -1;
		}
		switch (st) {
		case CSV_QUOTED:
			if (ch == -1) {
				snprintf(c->err, sizeof c->err,
				    "quoted field not closed before the end");
				c->fatal = 1;
				return -1;
			}
			if (ch == '"') {
				st = CSV_QUOTE_IN_QUOTED;
				continue;
			}
			if (ch == '\n')
				c->line++;
			break;
		case CSV_QUOTE_IN_QUOTED:
			if (ch == '"') {
				st = CSV_QUOTED;
				break;
			}
			if (ch != ',' && ch != '\n' && ch != '\r' && ch != -1)
				return csv_fail(c,
				    "text after the closing quote of a field");
			st = CSV_UNQUOTED;
			/* FALLTHROUGH */
		case CSV_FIELD_START:
		case CSV_UNQUOTED:
			if (ch == '"' && st == CSV_FIELD_START) {
				st = CSV_QUOTED;
				continue;
			}
			if (ch == '"')
				return csv_fail(c,
				    "quote inside an unquoted field");
			if (ch == '\r') {
				int nx = csv_getc(c);
				if (nx != '\n') {
					if (nx != -1)
						csv_ungetc(c);
					return csv_fail(c,
					    "carriage return outside quotes");
				}
				ch = '\n';
			}
			if (ch == ',' || ch == '\n' || ch == -1) {
				if (ch == -1 && used == 0 && rec->nfields == 0 &&
				    st == CSV_FIELD_START)
					return 0;
				if (ch == '\n' && used == 0 &&
				    rec->nfields == 0 && st == CSV_FIELD_START) {
					c->line++;
					rec->line = c->line;
					continue;	/* blank line */
				}
				if (csv_end_field(c, rec, start, &used) == -1)
					return -1;
				start = used;
				st = CSV_FIELD_START;
				if (ch == '\n')
					c->line++;
				if (ch != ',')
					return 1;
				continue;
			}
			st = CSV_UNQUOTED;
			if (used >= LIMIT_CSV_RECORD)
				return csv_fail(c, "record too long");
			c->rec[used++] = (char)ch;
			/* The common case: a run of plain bytes in the window. */
			while (c->pos < c->len && used < LIMIT_CSV_RECORD) {
				char b = c->buf[c->pos];
				if (b == ',' || b == '\n' || b == '\r' ||
				    b == '"' || b == '\0')
					break;
				c->rec[used++] = b;
				c->pos++;
			}
			continue;
		}
		if (used >= LIMIT_CSV_RECORD)
			return csv_fail(c, "record too long");
		c->rec[used++] = (char)ch;
	}
}

int
csv_header_map(const struct csv_record *hdr, const char *const *names,
    int *idx, size_t nnames)
{
	size_t i, j, k;

	for (i = 0; i < nnames; i++)
		idx[i] = -1;
	for (j = 0; j < hdr->nfields; j++) {
		for (k = 0; k < j; k++)
			if (strcmp(hdr->field[j], hdr->field[k]) == 0)
				return (int)j;
		for (i = 0; i < nnames; i++)
			if (strcmp(hdr->field[j], names[i]) == 0)
				idx[i] = (int)j;
	}
	return -1;
}

const char *
csv_field(const struct csv_record *rec, int col)
{
	if (col < 0 || (size_t)col >= rec->nfields)
		return "";
	return rec->field[col];
}
