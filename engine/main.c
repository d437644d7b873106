/*
 * fare-engine: the command-line entry point.  Each subcommand lives in its
 * own cmd-*.c file and parses its own options (fare/opt.h); this one only
 * dispatches, and lists every subcommand for --help.
 */
#include <stdio.h>
#include <string.h>

#include <event2/event.h>
#include <mbedtls/version.h>
#include <sqlite3.h>

#include "cmd.h"

#ifndef ONECITY_VERSION
#define ONECITY_VERSION "unknown"	/* the Makefile gives git's */
#endif
/* gcc's __VERSION__ is a bare number; clang's names itself. */
#ifdef __clang__
#define ONECITY_CC ""
#else
#define ONECITY_CC "gcc "
#endif

static const struct cmd_entry {
	const char	*name;
	const char	*sub;	/* second word, or NULL */
	int		(*fn)(int, char **);
	const char	*operands;
	const char	*summary;
} cmds[] = {
	{"tariff", "check", cmd_tariff_check, "DIR",
	    "validate a tariff, print a summary"},
	{"price", NULL, cmd_price, "--tariff DIR TAPS.csv",
	    "price a tap file offline (JSON lines, --explain, --summary)"},
	{"certs", "init", cmd_certs_init, "DIR [--force]",
	    "create the CA, the engine and acquirer certificates, the CRL"},
	{"certs", "device", cmd_certs_device, "DIR DEVICE_ID",
	    "issue a validator's certificate"},
	{"certs", "revoke", cmd_certs_revoke, "DIR DEVICE_ID",
	    "revoke a validator's certificate, rewrite the CRL"},
	{"certs", "crl", cmd_certs_crl, "DIR [--days N]",
	    "re-issue the CRL (daily, from a timer)"},
	{"certs", "acquirer", cmd_certs_acquirer, "DIR",
	    "re-issue the acquirer simulator's certificate"},
	{"serve", NULL, cmd_serve, "[--config FILE] --certs DIR --tariff DIR "
	    "--db FILE", "run the engine"},
	{"worker", NULL, cmd_worker, "--nats URLS --shard K --shards N "
	    "--db FILE --tariff DIR", "price one shard of the cluster "
	    "(JetStream)"},
	{"audit", "verify", cmd_audit_verify, "DB... [--checkpoints FILE "
	    "--pubkey KEY.pub]", "prove the ledger sound (exit 1 naming each "
	    "problem)"},
	{"audit", "keygen", cmd_audit_keygen, "KEY",
	    "make the ledger key pair that signs checkpoints"},
	{"audit", "checkpoint", cmd_audit_checkpoint, "DB --key KEY",
	    "print a signed checkpoint of the ledger"},
	{"audit", "reconcile", cmd_audit_reconcile, "DB REPORT.csv...",
	    "compare settlements with the acquirer's reports"},
	{"audit", "card", cmd_audit_card, "DB (--pan PAN | --par PAR | "
	    "--token T) --tariff DIR", "a card's statement: journeys, caps, "
	    "payments, adding up per day"},
	{"audit", "operators", cmd_audit_operators, "DB --day YYYY-MM-DD",
	    "revenue per operator on a service day"},
	{"audit", "explain", cmd_audit_explain, "DB ACCOUNT YYYY-MM-DD "
	    "--tariff DIR", "an account-day in plain words, its settlement "
	    "and ledger"},
	{"deny", "add", cmd_deny_add, "DB ACCOUNT REASON",
	    "put an account on the deny list"},
	{"deny", "remove", cmd_deny_remove, "DB ACCOUNT",
	    "lift an account's deny entry"},
	{"backup", NULL, cmd_backup, "DB DEST",
	    "copy the database safely while the engine runs"},
	{"web", NULL, cmd_web, "--db DB --tariff DIR --listen HOST:PORT",
	    "the rider page and the dashboard, read-only over a database"},
};
#define NCMDS	(sizeof cmds / sizeof cmds[0])

/* Every command (or those named name) with its operands and summary. */
static void
usage(FILE *f, const char *name)
{
	char left[128];
	size_t i;

	fprintf(f, "usage: fare-engine %s%s [OPTIONS] ...\n%s:\n",
	    name ? name : "COMMAND", name ? " SUBCOMMAND" : " [SUBCOMMAND]",
	    name ? "subcommands" : "commands");
	for (i = 0; i < NCMDS; i++) {
		if (name != NULL && strcmp(cmds[i].name, name) != 0)
			continue;
		snprintf(left, sizeof left, "%s%s%s %s", cmds[i].name,
		    cmds[i].sub ? " " : "", cmds[i].sub ? cmds[i].sub : "",
		    cmds[i].operands);
		fprintf(f, "  fare-engine %s\n      %s\n", left,
		    cmds[i].summary);
	}
	fprintf(f, "'fare-engine %s%s --help' lists a command's options; "
	    "'fare-engine --version' the build.\n"
	    "Exit status: 0 success, 1 bad input or a failed check, 2 bad "
	    "usage.\n", name ? name : "COMMAND", name && strcmp(name, "serve")
	    != 0 && strcmp(name, "price") != 0 ? " SUBCOMMAND" : "");
}

/* --version: what runs, as /metrics' onecity_build_info says it. */
static int
version(void)
{
	printf("fare-engine %s\n"
	    "built with " ONECITY_CC "%s (C%ld)\n"
	    "libraries: SQLite %s, libevent %s, mbed TLS %s, inih\n",
	    ONECITY_VERSION, __VERSION__,
	    __STDC_VERSION__ / 100 % 100, sqlite3_libversion(),
	    event_get_version(), MBEDTLS_VERSION_STRING);
	return 0;
}

static int
is_help(const char *a)
{
	return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

int
main(int argc, char **argv)
{
	size_t i;
	int known = 0;

	if (argc == 2 && strcmp(argv[1], "--version") == 0)
		return version();
	if (argc < 2 || is_help(argv[1])) {
		usage(argc < 2 ? stderr : stdout, NULL);
		return argc < 2 ? 2 : 0;
	}
	for (i = 0; i < NCMDS; i++) {
		if (strcmp(argv[1], cmds[i].name) != 0)
			continue;
		known = 1;
		if (cmds[i].sub == NULL)
			return cmds[i].fn(argc - 1, argv + 1);
		if (argc >= 3 && strcmp(argv[2], cmds[i].sub) == 0)
			return cmds[i].fn(argc - 2, argv + 2);
	}
	if (known && argc >= 3 && is_help(argv[2])) {
		usage(stdout, argv[1]);
		return 0;
	}
	if (known)
		fprintf(stderr, "fare-engine %s: %s subcommand%s%s\n", argv[1],
		    argc >= 3 ? "unknown" : "missing", argc >= 3 ? " " : "",
		    argc >= 3 ? argv[2] : "");
	else
		fprintf(stderr, "fare-engine: unknown command '%s'\n",
		    argv[1]);
	usage(stderr, known ? argv[1] : NULL);
	return 2;
}
