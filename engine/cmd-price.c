/*
 * fare-engine price --tariff DIR TAPS.csv: prices a tap file offline and
 * prints SPEC §5's JSON lines (or, with --explain, the same days in plain
 * words).  A bad row fails the run unless --skip-bad.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cmd.h"
#include "explain.h"
#include "tapset.h"

struct emit_ctx {
	const struct tariff	*t;
	struct buf		 out;
	int			 explain;
};

static int
flush(struct emit_ctx *e)
{
	if (e->out.oom)
		return -1;
	if (e->out.len > 0 && fwrite(e->out.p, 1, e->out.len, stdout) !=
	    e->out.len)
		return -1;
	e->out.len = 0;
	return 0;
}

static int
emit_cb(void *arg, const char *account, const struct price_result *r,
    const struct price_day *d)
{
	struct emit_ctx *e = arg;

	if (e->explain)
		explain_day(e->t, account, r, d, &e->out);
	else
		price_json_day(e->t, account, r, d, &e->out);
	return e->out.len >= (1u << 20) ? flush(e) : 0;
}

static int
price_usage(void)
{
	fprintf(stderr, "usage: fare-engine price --tariff DIR [--skip-bad] "
	    "[--explain] [--token-key-file FILE] TAPS.csv\n");
	return 2;
}

int
cmd_price(int argc, char **argv)
{
	const char *dir = NULL, *path = NULL, *keyfile = NULL;
	struct emit_ctx e = {NULL, {NULL, 0, 0, 0}, 0};
	struct tap_tokenizer *tk = NULL;
	struct tapset *s = NULL;
	struct tariff *t = NULL;
	struct diag d;
	int i, skip_bad = 0, rc = 1;
	char err[256];

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--tariff") == 0 && i + 1 < argc)
			dir = argv[++i];
		else if (strcmp(argv[i], "--token-key-file") == 0 &&
		    i + 1 < argc)
			keyfile = argv[++i];
		else if (strcmp(argv[i], "--skip-bad") == 0)
			skip_bad = 1;
		else if (strcmp(argv[i], "--explain") == 0)
			e.explain = 1;
		else if (argv[i][0] == '-' || path != NULL)
			return price_usage();
		else
			path = argv[i];
	}
	if (dir == NULL || path == NULL)
		return price_usage();
	diag_init(&d);
	if ((t = tariff_load(dir, &d)) == NULL)
		goto out;
	if (keyfile != NULL)
		tk = tap_tokenizer_from_file(keyfile, err, sizeof err);
	else
		tk = tap_tokenizer_new((const unsigned char *)TAP_DEV_TOKEN_KEY,
		    strlen(TAP_DEV_TOKEN_KEY));
	if (tk == NULL) {
		fprintf(stderr, "fare-engine: %s\n", keyfile ? err :
		    "cannot set up the token key");
		goto out;
	}
	if ((s = tapset_new(t, tk)) == NULL)
		goto oom;
	if (tapset_read(s, path, &d) == -1)
		goto out;
	if (d.nerrors > 0 && !skip_bad)
		goto out;
	e.t = t;
	if (tapset_price(s, emit_cb, &e) == -1 || flush(&e) == -1)
		goto oom;
	rc = 0;
	goto out;
oom:
	fprintf(stderr, "fare-engine: out of memory or output error\n");
out:
	diag_print(&d, stderr);
	if (skip_bad && d.nerrors > 0 && rc == 0)
		fprintf(stderr, "fare-engine: skipped %zu bad rows\n",
		    d.nerrors);
	diag_free(&d);
	buf_free(&e.out);
	tapset_free(s);
	tap_tokenizer_free(tk);
	tariff_free(t);
	return rc;
}
