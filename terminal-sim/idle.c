/*
 * terminal-sim idle: opens N TCP connections to the engine and holds them
 * for S seconds without ever starting TLS (slowloris at scale), to check
 * that the engine bounds what they cost and keeps serving validators.
 * With --send TEXT each connection first sends TEXT (\r and \n written
 * as such), a half-sent request for the HTTP port.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "opt.h"
#include "sim.h"
#include "wire.h"

#define IDLE_MAX	19000	/* under the default 20,000 descriptors */

int
sim_idle(int argc, char **argv)
{
	static const struct opt_cmd cmd = {"terminal-sim idle", "", 0, 0,
	    "Opens N TCP connections to the engine and holds them S seconds "
	    "without ever\nstarting TLS (slowloris at scale)."};
	const char *engine = NULL, *send_text = NULL;
	char text[1024];
	size_t tlen = 0;
	struct sockaddr_in sin;
	long n = 1000, hold = 5, i, open_ok = 0;
	int *fd, first, rc;
	const struct opt o[] = {
		{.name = "engine", .kind = OPT_STR, .dst = &engine,
		    .arg = "HOST:PORT", .help = "the engine's validator port",
		    .flags = OPT_REQUIRED},
		{.name = "connections", .kind = OPT_LONG, .dst = &n,
		    .arg = "N", .lo = 1, .hi = IDLE_MAX,
		    .help = "sockets to open (default 1000)"},
		{.name = "hold", .kind = OPT_LONG, .dst = &hold, .arg = "S",
		    .lo = 0, .hi = 3600, .help = "seconds to hold them "
		    "(default 5)"},
		{.name = "send", .kind = OPT_STR, .dst = &send_text,
		    .arg = "TEXT", .help = "sent first on each connection "
		    "(\\r, \\n as such): a half-sent HTTP request"},
		{.name = NULL},
	};

	if ((rc = opt_parse(&cmd, o, argc, argv, &first)) != OPT_RUN)
		return rc;
	if (wire_parse_addr(engine, &sin) == -1)
		return opt_fail(&cmd, "--engine '%s': not HOST:PORT", engine);
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
