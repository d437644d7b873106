/*
 * terminal-sim idle: opens N TCP connections to the engine and holds them
 * for S seconds without ever starting TLS (slowloris at scale), to check
 * that the engine bounds what they cost and keeps serving validators.
 * With --send TEXT each connection first sends TEXT (\r and \n written
 * as such), a half-sent request for the HTTP port.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sim.h"
#include "wire.h"

#define IDLE_MAX	19000	/* under the default 20,000 descriptors */

int
sim_idle(int argc, char **argv)
{
	const char *engine = NULL, *send_text = NULL;
	char text[1024];
	size_t tlen = 0;
	struct sockaddr_in sin;
	long n = 1000, hold = 5, i, open_ok = 0;
	int *fd, a;

	for (a = 1; a + 1 < argc; a += 2) {
		if (strcmp(argv[a], "--engine") == 0)
			engine = argv[a + 1];
		else if (strcmp(argv[a], "--connections") == 0)
			n = strtol(argv[a + 1], NULL, 10);
		else if (strcmp(argv[a], "--hold") == 0)
			hold = strtol(argv[a + 1], NULL, 10);
		else if (strcmp(argv[a], "--send") == 0)
			send_text = argv[a + 1];
		else
			break;
	}
	if (a != argc || engine == NULL || wire_parse_addr(engine, &sin) == -1 ||
	    n < 1 || n > IDLE_MAX || hold < 0 || hold > 3600) {
		fprintf(stderr, "usage: terminal-sim idle --engine HOST:PORT "
		    "[--connections N (1-%d)] [--hold S] [--send TEXT]\n",
		    IDLE_MAX);
		return 2;
	}
	for (; send_text != NULL && *send_text && tlen < sizeof text;
	    send_text++) {
		if (send_text[0] == '\\' && (send_text[1] == 'r' ||
		    send_text[1] == 'n')) {
			text[tlen++] = *++send_text == 'r' ? '\r' : '\n';
			continue;
		}
		text[tlen++] = *send_text;
	}
	if ((fd = calloc((size_t)n, sizeof *fd)) == NULL)
		return 1;
	for (i = 0; i < n; i++) {
		fd[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (fd[i] == -1 || connect(fd[i], (struct sockaddr *)&sin,
		    sizeof sin) == -1) {
			if (fd[i] != -1)
				close(fd[i]);
			fd[i] = -1;
			continue;
		}
		if (tlen > 0 && write(fd[i], text, tlen) != (ssize_t)tlen) {
			close(fd[i]);
			fd[i] = -1;
			continue;
		}
		open_ok++;
	}
	printf("idle: %ld of %ld connections open, holding %ld s\n", open_ok,
	    n, hold);
	fflush(stdout);
	sleep((unsigned)hold);
	for (i = 0; i < n; i++)
		if (fd[i] != -1)
			close(fd[i]);
	free(fd);
	return open_ok == n ? 0 : 1;
}
