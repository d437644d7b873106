/*
 * Diagnostics: every problem found in an input file, as "FILE:LINE:
 * message" (warnings as "FILE:LINE: warning: message"), kept in order and
 * printed together, so that a bad tariff is reported whole.
 */
#ifndef ONECITY_DIAG_H
#define ONECITY_DIAG_H

#include <stddef.h>
#include <stdio.h>

struct diag {
	char		**msg;
	size_t		  n;
	size_t		  cap;
	size_t		  nerrors;
	size_t		  nwarnings;
	size_t		  dropped;	/* beyond LIMIT_DIAGNOSTICS */
};

void	diag_init(struct diag *);
void	diag_free(struct diag *);
void	diag_error(struct diag *, const char *file, unsigned long line,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void	diag_warn(struct diag *, const char *file, unsigned long line,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void	diag_print(const struct diag *, FILE *);
/* Whether some message contains text (tests). */
int	diag_has(const struct diag *, const char *text);

#endif
