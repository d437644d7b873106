/*
 * Helpers shared by the CMocka tests: temporary tariff directories built
 * from a base plus overrides, and pricing a CSV text into JSON lines.
 * Header-only so each test binary stays one file.
 */
#ifndef ONECITY_TESTUTIL_H
#define ONECITY_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "buf.h"
#include "tapset.h"
#include "tariff.h"

/* Repo-relative paths: tests run from the project root. */
#define TU_MINI		"../shared/examples/mini"
#define TU_WEEK		"../shared/examples/week"
#define TU_NL		"tariffs/nl"

struct tu_file {
	const char	*name;
	const char	*text;	/* NULL: remove the file */
};

static inline void
tu_write(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (text == NULL) {
		unlink(path);
		return;
	}
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* A fresh temporary copy of base with the given files replaced. */
static inline char *
tu_tariff_dir(const char *base, const struct tu_file *files, size_t n)
{
	char tmpl[] = "/tmp/onecity-test-XXXXXX", cmd[1024], *dir;
	size_t i;

	dir = mkdtemp(tmpl);
	assert_non_null(dir);
	dir = strdup(dir);
	snprintf(cmd, sizeof cmd, "cp %s/*.txt %s/", base, dir);
	assert_int_equal(system(cmd), 0);
	for (i = 0; i < n; i++)
		tu_write(dir, files[i].name, files[i].text);
	return dir;
}

static inline void
tu_rmdir(char *dir)
{
	char cmd[600];

	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	free(dir);
}

/* Loads a tariff that must be good, printing problems if it is not. */
static inline struct tariff *
tu_load(const char *dir)
{
	struct diag d;
	struct tariff *t;

	diag_init(&d);
	t = tariff_load(dir, &d);
	if (t == NULL)
		diag_print(&d, stderr);
	diag_free(&d);
	assert_non_null(t);
	return t;
}

static inline struct tariff *
tu_load_with(const char *base, const struct tu_file *files, size_t n)
{
	char *dir = tu_tariff_dir(base, files, n);
	struct tariff *t = tu_load(dir);

	tu_rmdir(dir);
	return t;
}

static inline int
tu_emit_json(void *arg, const char *account, const struct price_result *r,
    const struct price_day *d)
{
	struct { const struct tariff *t; struct buf b; } *c = arg;

	price_json_day(c->t, account, r, d, &c->b);
	return 0;
}

/*
 * Prices taps given as CSV rows (without the header); every row must be
 * good.  Returns the JSON lines, malloc'd.
 */
static inline char *
tu_price(const struct tariff *t, const char *rows)
{
	struct { const struct tariff *t; struct buf b; } c = {t, {0, 0, 0, 0}};
	struct tap_tokenizer *tk = tap_tokenizer_new(
	    (const unsigned char *)TAP_DEV_TOKEN_KEY, strlen(TAP_DEV_TOKEN_KEY));
	struct tapset *s = tapset_new(t, tk);
	char *copy = strdup(rows), *line, *save = NULL;
	const char *why;

	for (line = strtok_r(copy, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		char *f[7], *p = line;
		int i;
		for (i = 0; i < 7; i++) {
			f[i] = p;
			p = strchr(p, ',');
			if (i < 6) {
				assert_non_null(p);
				*p++ = '\0';
			}
		}
		if (tapset_add(s, f[0], f[1], f[2], f[3], f[4], f[5], f[6],
		    &why) != 0)
			fail_msg("bad test tap '%s': %s", f[0], why);
	}
	assert_int_equal(tapset_price(s, tu_emit_json, &c), 0);
	buf_addc(&c.b, '\0');
	free(copy);
	tapset_free(s);
	tap_tokenizer_free(tk);
	return c.b.p;
}

/* Asserts that haystack contains needle, showing both when not. */
#define tu_has(haystack, needle) do {					\
	if (strstr((haystack), (needle)) == NULL)			\
		fail_msg("expected %s\n  in: %s", (needle), (haystack));	\
} while (0)

#define tu_lacks(haystack, needle) do {					\
	if (strstr((haystack), (needle)) != NULL)			\
		fail_msg("did not expect %s\n  in: %s", (needle), (haystack)); \
} while (0)

#endif
