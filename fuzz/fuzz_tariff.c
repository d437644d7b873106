/*
 * libFuzzer: the tariff loader, in memory (tariff_load_mem: no file per
 * run).  The "mini" tariff and its time zone are read once; the first
 * byte picks which file the rest replaces.  The load must succeed or
 * report problems, never crash or leak.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tariff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = {
	"agency.txt", "stops.txt", "networks.txt", "fare_products.txt",
	"fare_leg_rules.txt", "fare_transfer_rules.txt",
	"fare_distance_rules.txt", "network_policies.txt", "fare_caps.txt",
	"stop_distances.txt", "calendar.txt", "timeframes.txt",
	"areas.txt", "stop_areas.txt", "routes.txt", "feed_info.txt",
	"rider_categories.txt", "fare_media.txt", "calendar_dates.txt",
};
#define NFILES (sizeof names / sizeof names[0])

static struct tariff_file files[NFILES];
static size_t nfiles;
static unsigned char *tzif;
static size_t tzif_len;

/* A whole file into memory; NULL when it is not there. */
static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;

	if (f == NULL)
		return NULL;
	if ((buf = malloc(1 << 20)) == NULL)
		abort();
	*len = fread(buf, 1, 1 << 20, f);
	fclose(f);
	return buf;
}

static void
setup(void)
{
	const char *dir = getenv("FUZZ_TARIFF");
	char path[512];
	size_t k, len;

	if (dir == NULL)
		dir = "../shared/examples/mini";
	for (k = 0; k < NFILES; k++) {
		char *p;
		snprintf(path, sizeof path, "%s/%s", dir, names[k]);
		if ((p = slurp(path, &len)) == NULL)
			continue;
		files[nfiles].name = names[k];
		files[nfiles].data = p;
		files[nfiles].len = len;
		nfiles++;
	}
	tzif = (unsigned char *)slurp("/usr/share/zoneinfo/Europe/Amsterdam",
	    &tzif_len);
	if (nfiles == 0 || tzif == NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tariff_file run[NFILES];
	struct tariff_mem mem;
	struct diag d;
	struct tariff *t;
	size_t k, i, n = 0;

	if (nfiles == 0)
		setup();
	if (size < 1)
		return 0;
	/* The picked name replaces its file, or joins the tariff. */
	k = data[0] % NFILES;
	for (i = 0; i < nfiles; i++)
		if (strcmp(files[i].name, names[k]) != 0)
			run[n++] = files[i];
	run[n].name = names[k];
	run[n].data = (const char *)data + 1;
	run[n].len = size - 1;
	n++;
	mem.files = run;
	mem.nfiles = n;
	mem.tzif = tzif;
	mem.tzif_len = tzif_len;
	diag_init(&d);
	t = tariff_load_mem("mem", &mem, &d);
	if (t == NULL && d.n == 0)
		__builtin_trap();	/* rejected without saying why */
	tariff_free(t);
	diag_free(&d);
	return 0;
}
