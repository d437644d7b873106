/*
 * fare-engine: the command-line entry point.  Each subcommand lives in its
 * own cmd-*.c file; this one only dispatches.
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"

static const struct cmd_entry {
	const char	*name;
	const char	*sub;	/* second word, or NULL */
	int		(*fn)(int, char **);
	const char	*usage;
} cmds[] = {
	{"tariff", "check", cmd_tariff_check, "tariff check DIR"},
	{"certs", NULL, cmd_certs,
	    "certs init DIR | device DIR ID | revoke DIR ID"},
	{"serve", NULL, cmd_serve,
	    "serve [--dev] --certs DIR --tariff DIR --db FILE "
	    "--listen HOST:PORT [--http HOST:PORT] [--config FILE]"},
	{"worker", NULL, cmd_worker,
	    "worker --nats URLS --shard K --shards N --db FILE --tariff DIR"},
	{"audit", NULL, cmd_audit, "audit verify DB"},
	{"deny", NULL, cmd_deny, "deny add DB ACCOUNT REASON | "
	    "deny remove DB ACCOUNT"},
	{"price", NULL, cmd_price,
	    "price --tariff DIR [--skip-bad] [--explain | --summary] "
	    "[--token-key-file FILE] TAPS.csv"},
};

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage:\n");
	for (i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		fprintf(f, "  fare-engine %s\n", cmds[i].usage);
}

int
main(int argc, char **argv)
{
	size_t i;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	for (i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		if (strcmp(argv[1], cmds[i].name) != 0)
			continue;
		if (cmds[i].sub == NULL)
			return cmds[i].fn(argc - 1, argv + 1);
		if (argc >= 3 && strcmp(argv[2], cmds[i].sub) == 0)
			return cmds[i].fn(argc - 2, argv + 2);
	}
	fprintf(stderr, "fare-engine: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
