/*
 * terminal-sim: the validator simulator.  Modes live in their own files;
 * replay (a tap file through simulated validators) and load (a load
 * generator).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 2 && strcmp(argv[1], "replay") == 0)
		return sim_replay(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "load") == 0)
		return sim_load(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "day") == 0)
		return sim_day(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "acquirer") == 0)
		return sim_acquirer(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "idle") == 0)
		return sim_idle(argc - 1, argv + 1);
	fprintf(stderr,
	    "usage: terminal-sim replay --engine HOST:PORT --certs "
	    "DIR [--ack-log FILE]\n           [--queue FILE] [--shuffle SEED] "
	    "[--reconnect-every N] [--keep-ids] TAPS.csv\n"
	    "       terminal-sim day --engine HOST:PORT --certs DIR "
	    "[--tourists N] [--seed S]\n           [--date YYYY-MM-DD] "
	    "[--taps-out FILE] [--ack-log FILE] [--queue FILE]\n"
	    "       terminal-sim load --engine HOST:PORT --certs DIR "
	    "[--validators N]\n           [--rate R] [--duration S] "
	    "[--seed N] [--ack-log FILE]\n"
	    "       terminal-sim idle --engine HOST:PORT [--connections N] "
	    "[--hold S]\n"
	    "       terminal-sim acquirer --listen HOST:PORT --journal FILE "
	    "[--decline ACCOUNT]...\n           [--decline-pct P] "
	    "[--decline-times K] [--latency-ms MS] [--drop-pct P]\n"
	    "           [--dup-pct P] [--crash-after N] [--seed N]\n");
	return 2;
}
