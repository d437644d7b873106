/*
 * libFuzzer: the tariff loader.  The first byte picks which file of the
 * "mini" tariff the rest replaces; the load must succeed or report
 * problems, never crash or leak.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tariff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const files[] = {
	"agency.txt", "stops.txt", "networks.txt", "fare_products.txt",
	"fare_leg_rules.txt", "fare_transfer_rules.txt",
	"fare_distance_rules.txt", "network_policies.txt", "fare_caps.txt",
	"stop_distances.txt",
};
static char dir[64];

static char *orig[sizeof files / sizeof files[0]];
static size_t orig_len[sizeof files / sizeof files[0]];

static void
put(const char *name, const void *p, size_t n)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL)
		abort();
	fwrite(p, 1, n, f);
	fclose(f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char cmd[256];
	struct diag d;
	struct tariff *t;
	size_t k;

	if (dir[0] == '\0') {
		snprintf(dir, sizeof dir, "/tmp/onecity-fuzz-%d", (int)getpid());
		snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir -p %s && cp "
		    "../shared/examples/mini/*.txt %s/", dir, dir, dir);
		if (system(cmd) != 0)
			abort();
		for (k = 0; k < sizeof files / sizeof files[0]; k++) {
			char path[128];
			FILE *f;
			snprintf(path, sizeof path, "%s/%s", dir, files[k]);
			if ((f = fopen(path, "rb")) == NULL ||
			    (orig[k] = malloc(1 << 16)) == NULL)
				abort();
			orig_len[k] = fread(orig[k], 1, 1 << 16, f);
			fclose(f);
		}
	}
	if (size < 1)
		return 0;
	k = data[0] % (sizeof files / sizeof files[0]);
	put(files[k], data + 1, size - 1);
	diag_init(&d);
	t = tariff_load(dir, &d);
	if (t == NULL && d.n == 0)
		__builtin_trap();	/* rejected without saying why */
	tariff_free(t);
	diag_free(&d);
	put(files[k], orig[k], orig_len[k]);
	return 0;
}
