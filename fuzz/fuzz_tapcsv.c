/*
 * libFuzzer: the tap CSV reader and tap validation (SPEC §3), then
 * pricing of whatever was accepted, on the worked "mini" tariff.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "tapset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct tariff *t;
static struct tap_tokenizer *tk;

static int
emit(void *arg, const char *account, const struct price_result *r,
    const struct price_day *d)
{
	(void)arg;
	(void)account;
	(void)r;
	if (d->charge_cents < 0 || d->charge_cents > d->uncapped_cents)
		__builtin_trap();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct csv *c;
	struct csv_record rec;
	struct tapset *s;
	const char *why;
	int r, n = 0;

	if (t == NULL) {
		struct diag d;
		const char *dir = getenv("FUZZ_TARIFF");
		diag_init(&d);
		t = tariff_load(dir ? dir : "../shared/examples/mini", &d);
		diag_free(&d);
		tk = tap_tokenizer_new(
		    (const unsigned char *)"fuzz-key-0123456", 16);
		if (t == NULL || tk == NULL)
			abort();
	}
	s = tapset_new(t, tk);
	c = csv_open_mem((const char *)data, size);
	while (c != NULL && n < 10000 && (r = csv_next(c, &rec)) != 0) {
		n++;
		if (r == 1 && rec.nfields == 7)
			(void)tapset_add(s, rec.field[0], rec.field[1],
			    rec.field[2], rec.field[3], rec.field[4],
			    rec.field[5], rec.field[6], &why);
	}
	csv_close(c);
	(void)tapset_price(s, emit, NULL);
	tapset_free(s);
	return 0;
}
