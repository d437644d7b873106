/* Collected diagnostics; bounded so a hostile file cannot flood memory. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "diag.h"
#include "parse.h"
#include "limits.h"

void
diag_init(struct diag *d)
{
	memset(d, 0, sizeof *d);
}

void
diag_free(struct diag *d)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		free(d->msg[i]);
	free(d->msg);
	diag_init(d);
}

static void
diag_vadd(struct diag *d, const char *file, unsigned long line,
    const char *kind, const char *fmt, va_list ap)
{
	char raw[512], body[2048], *m;
	int len;

	if (d->n >= LIMIT_DIAGNOSTICS) {
		d->dropped++;
		return;
	}
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		char **v = realloc(d->msg, cap * sizeof *v);
		if (v == NULL) {
			d->dropped++;
			return;
		}
		d->msg = v;
		d->cap = cap;
	}
	/* Never a control character or an invalid byte, raw, in a message:
	 * they come from the input being reported (SPEC §2). */
	vsnprintf(raw, sizeof raw, fmt, ap);
	utf8_printable(raw, body, sizeof body);
	len = snprintf(NULL, 0, "%s:%lu: %s%s", file, line, kind, body);
	if (len < 0 || (m = malloc((size_t)len + 1)) == NULL) {
		d->dropped++;
		return;
	}
	snprintf(m, (size_t)len + 1, "%s:%lu: %s%s", file, line, kind, body);
	d->msg[d->n++] = m;
}

void
diag_error(struct diag *d, const char *file, unsigned long line,
    const char *fmt, ...)
{
	va_list ap;

	d->nerrors++;
	va_start(ap, fmt);
	diag_vadd(d, file, line, "", fmt, ap);
	va_end(ap);
}

void
diag_warn(struct diag *d, const char *file, unsigned long line,
    const char *fmt, ...)
{
	va_list ap;

	d->nwarnings++;
	va_start(ap, fmt);
	diag_vadd(d, file, line, "warning: ", fmt, ap);
	va_end(ap);
}

void
diag_print(const struct diag *d, FILE *f)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		fprintf(f, "%s\n", d->msg[i]);
	if (d->dropped > 0)
		fprintf(f, "... and %zu more problems not listed (%zu errors "
		    "and %zu warnings in all; at most %d are listed)\n",
		    d->dropped, d->nerrors, d->nwarnings, LIMIT_DIAGNOSTICS);
}

int
diag_has(const struct diag *d, const char *text)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		if (strstr(d->msg[i], text) != NULL)
			return 1;
	return 0;
}
