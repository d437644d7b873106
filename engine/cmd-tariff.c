/* fare-engine tariff check DIR: validate a tariff, print a summary. */
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>

#include "cmd.h"
#include "diag.h"
#include "opt.h"
#include "tariff.h"

int
cmd_tariff_check(int argc, char **argv)
{
	struct diag d;
	struct tariff *t;
	struct timespec a, b;
	struct rusage ru;
	char summary[512];
	int stats = 0, first, rc;
	static const struct opt_cmd cmd = {"fare-engine tariff check", "DIR",
	    1, 1, "Loads and validates a tariff (SPEC section 2): every "
	    "problem on stderr as\nDIR/FILE:LINE: message and exit 1, or a "
	    "one-line summary and exit 0."};
	const struct opt o[] = {
		{.name = "stats", .kind = OPT_FLAG, .dst = &stats,
		    .help = "load time and peak memory on stderr"},
		{.name = NULL},
	};

	if ((rc = opt_parse(&cmd, o, argc, argv, &first)) != OPT_RUN)
		return rc;
	diag_init(&d);
	clock_gettime(CLOCK_MONOTONIC, &a);
	t = tariff_load(argv[first], &d);
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
