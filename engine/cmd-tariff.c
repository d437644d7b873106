/* fare-engine tariff check DIR: validate a tariff, print a summary. */
#include <stdio.h>

#include "cmd.h"
#include "diag.h"
#include "tariff.h"

int
cmd_tariff_check(int argc, char **argv)
{
	struct diag d;
	struct tariff *t;
	char summary[512];

	if (argc != 2) {
		fprintf(stderr, "usage: fare-engine tariff check DIR\n");
		return 2;
	}
	diag_init(&d);
	t = tariff_load(argv[1], &d);
	diag_print(&d, stderr);
	diag_free(&d);
	if (t == NULL)
		return 1;
	tariff_summary(t, summary, sizeof summary);
	printf("%s\n", summary);
	tariff_free(t);
	return 0;
}
