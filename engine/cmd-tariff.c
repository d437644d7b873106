/* fare-engine tariff check DIR: validate a tariff, print a summary. */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "cmd.h"
#include "diag.h"
#include "tariff.h"

int
cmd_tariff_check(int argc, char **argv)
{
	struct diag d;
	struct tariff *t;
	struct timespec a, b;
	struct rusage ru;
	char summary[512];
	int stats = argc == 3 && strcmp(argv[1], "--stats") == 0;

	if (argc != 2 && !stats) {
		fprintf(stderr, "usage: fare-engine tariff check [--stats] DIR\n");
		return 2;
	}
	diag_init(&d);
	clock_gettime(CLOCK_MONOTONIC, &a);
	t = tariff_load(argv[argc - 1], &d);
	clock_gettime(CLOCK_MONOTONIC, &b);
	if (stats) {
		getrusage(RUSAGE_SELF, &ru);
		fprintf(stderr, "stats: load_s=%.6f peak_rss_kib=%ld\n",
		    (double)(b.tv_sec - a.tv_sec) +
		    (double)(b.tv_nsec - a.tv_nsec) / 1e9, ru.ru_maxrss);
	}
	diag_print(&d, stderr);
	diag_free(&d);
	if (t == NULL)
		return 1;
	tariff_summary(t, summary, sizeof summary);
	printf("%s\n", summary);
	tariff_free(t);
	return 0;
}
