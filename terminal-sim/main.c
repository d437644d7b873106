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
	if (argc >= 2 && strcmp(argv[1], "idle") == 0)
		return sim_idle(argc - 1, argv + 1);
	fprintf(stderr, "usage: terminal-sim replay --engine HOST:PORT --certs "
	    "DIR [--ack-log FILE]\n           [--shuffle SEED] "
	    "[--reconnect-every N] TAPS.csv\n"
	    "       terminal-sim load --engine HOST:PORT --certs DIR "
	    "[--validators N]\n           [--rate R] [--duration S] "
	    "[--seed N] [--ack-log FILE]\n"
	    "       terminal-sim idle --engine HOST:PORT [--connections N] "
	    "[--hold S]\n");
	return 2;
}
