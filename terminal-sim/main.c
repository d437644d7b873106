/*
 * terminal-sim: the validator simulator.  Modes live in their own files
 * and parse their own options (fare/opt.h): replay (a tap file through
 * simulated validators), day (tourists), load (a load generator),
 * acquirer (the acquirer simulator) and idle (sockets that never speak).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <mbedtls/version.h>

#include "sim.h"

#ifndef ONECITY_VERSION
#define ONECITY_VERSION "unknown" /* the Makefile gives git's */
#endif
/* gcc's __VERSION__ is a bare number; clang's names itself. */
#ifdef __clang__
#define ONECITY_CC ""
#else
#define ONECITY_CC "gcc "
#endif

static const struct sim_mode {
	const char *name;
	int (*fn)(int, char **);
	const char *operands;
	const char *summary;
} modes[] = {
	{ "replay", sim_replay, "--engine HOST:PORT --certs DIR TAPS.csv",
	    "send a tap file through simulated validators (SPEC section 5)" },
	{ "day", sim_day, "--engine HOST:PORT --certs DIR",
	    "a seeded day of tourists through the validators" },
	{ "load", sim_load, "--engine HOST:PORT --certs DIR",
	    "a load generator with a latency report" },
	{ "acquirer", sim_acquirer, "--listen HOST:PORT --journal FILE",
	    "the acquirer simulator settlement talks to" },
	{ "idle", sim_idle, "--engine HOST:PORT",
	    "sockets that never start TLS (slowloris tests)" },
};
#define NMODES (sizeof modes / sizeof modes[0])

size_t
sim_engine_count(const char *list)
{
	size_t n = 1;

	while ((list = strchr(list, ',')) != NULL) {
		list++;
		n++;
	}
	return n;
}

int
sim_engine_addr(const char *list, size_t k, char *buf, size_t len)
{
	const char *p = list, *comma;
	size_t n;

	k %= sim_engine_count(list);
	while (k-- > 0)
		p = strchr(p, ',') + 1;
	comma = strchr(p, ',');
	n = comma != NULL ? (size_t)(comma - p) : strlen(p);
	if (n == 0 || n >= len)
		return -1;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return 0;
}

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: terminal-sim MODE [OPTIONS] ...\nmodes:\n");
	for (i = 0; i < NMODES; i++)
		fprintf(f, "  terminal-sim %s %s\n      %s\n", modes[i].name,
		    modes[i].operands, modes[i].summary);
	fprintf(f,
	    "'terminal-sim MODE --help' lists a mode's options; "
	    "'terminal-sim --version' the build.\n"
	    "Exit status: 0 success, 1 a failure (refused taps, lost "
	    "answers), 2 bad usage.\n");
}

int
main(int argc, char **argv)
{
	size_t i;

	signal(SIGPIPE, SIG_IGN);
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		printf("terminal-sim %s\nbuilt with " ONECITY_CC "%s (C%ld)\n"
		       "libraries: libevent %s, mbed TLS %s\n",
		    ONECITY_VERSION, __VERSION__, __STDC_VERSION__ / 100 % 100,
		    event_get_version(), MBEDTLS_VERSION_STRING);
		return 0;
	}
	if (argc >= 2 &&
	    (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	for (i = 0; argc >= 2 && i < NMODES; i++)
		if (strcmp(argv[1], modes[i].name) == 0)
			return modes[i].fn(argc - 1, argv + 1);
	if (argc >= 2)
		fprintf(stderr, "terminal-sim: unknown mode '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
