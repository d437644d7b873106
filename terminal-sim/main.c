/*
 * terminal-sim: the validator simulator.  Modes live in their own files;
 * today: replay (a tap file through simulated validators).
 */
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

int
sim_parse_addr(const char *hp, struct sockaddr_in *sin)
{
	char host[128];
	const char *colon = strrchr(hp, ':');
	long port;

	if (colon == NULL || (size_t)(colon - hp) >= sizeof host)
		return -1;
	memcpy(host, hp, (size_t)(colon - hp));
	host[colon - hp] = '\0';
	port = strtol(colon + 1, NULL, 10);
	if (port <= 0 || port > 65535)
		return -1;
	memset(sin, 0, sizeof *sin);
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &sin->sin_addr) == 1 ? 0 : -1;
}

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 2 && strcmp(argv[1], "replay") == 0)
		return sim_replay(argc - 1, argv + 1);
	fprintf(stderr, "usage: terminal-sim replay --engine HOST:PORT --certs "
	    "DIR [--ack-log FILE]\n           [--shuffle SEED] "
	    "[--reconnect-every N] TAPS.csv\n");
	return 2;
}
