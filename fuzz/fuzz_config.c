/*
 * libFuzzer: fare-engine serve's config file (engine/config.c) in
 * memory.  Every input is accepted (0) or refused (2), never more; an
 * accepted one leaves the values in their ranges.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "config.h"
#include "limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int null_fd = -1;
	struct server_config c;
	struct config_kept kept = {{NULL}, 0};
	int rc, saved;

	/* Its messages go nowhere (libFuzzer's own still reach stderr). */
	if (null_fd == -1 && (null_fd = open("/dev/null", O_WRONLY)) == -1)
		abort();
	fflush(stderr);
	saved = dup(2);
	dup2(null_fd, 2);
	memset(&c, 0, sizeof c);
	c.max_connections = 1;
	c.handshake_timeout_s = 1;
	c.settle_interval_s = 1;
	c.settle_timeout_ms = 10;
	c.late_horizon_s = 86400;
	rc = config_read_mem("fuzz.ini", (const char *)data, size, &c, &kept);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	if (rc != 0 && rc != 2)
		__builtin_trap();
	if (rc == 0 && (c.max_connections < 1 ||
	    c.max_connections > LIMIT_CONNECTIONS_MAX ||
	    c.handshake_timeout_s < 1 || c.handshake_timeout_s > 600 ||
	    c.settle_grace_s < 0 || c.settle_timeout_ms < 10 ||
	    c.late_horizon_s < 86400))
		__builtin_trap();
	config_free(&kept);
	return 0;
}
