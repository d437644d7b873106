/*
 * fare-engine serve: options and the config file (INI, read with inih).
 * Command-line options override the file.  Example file:
 *
 *   [engine]
 *   listen = 127.0.0.1:7700
 *   http = 127.0.0.1:7780
 *   db = /var/lib/onecity/engine.db
 *   tariff = /etc/onecity/tariffs/nl
 *   certs = /etc/onecity/certs
 *   token_key_file = /etc/onecity/token.key
 *   late_tap_days = 30
 *   max_connections = 20000
 *   synchronous = full
 *   handshake_timeout_s = 10
 *   acquirer = 127.0.0.1:7790      (no acquirer: settlement is off)
 *   settle_grace_s = 10800         (after a service day closes)
 *   settle_interval_s = 60
 *   settle_timeout_ms = 2000
 *   debt_tap_gap_s = 3600          (a tap retries a debt at most this often)
 *   nats = nats://10.0.0.1:4222,nats://10.0.0.2:4222   (gateway mode)
 *   shards = 2                     (gateway mode: pricing shards)
 */
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "jsbus.h"
#include "limits.h"
#include "parse.h"
#include "server.h"

/* Strings from the config file live as long as the process. */
static char *
keep(const char *v)
{
	return strdup(v);
}

static int
ini_cb(void *user, const char *section, const char *name, const char *value)
{
	struct server_config *c = user;

	if (strcmp(section, "engine") != 0) {
		fprintf(stderr, "fare-engine: config: unknown section [%s]\n",
		    section);
		return 0;
	}
	if (strcmp(name, "listen") == 0)
		c->listen = keep(value);
	else if (strcmp(name, "http") == 0)
		c->http = keep(value);
	else if (strcmp(name, "db") == 0)
		c->db = keep(value);
	else if (strcmp(name, "tariff") == 0)
		c->tariff = keep(value);
	else if (strcmp(name, "certs") == 0)
		c->certs = keep(value);
	else if (strcmp(name, "token_key_file") == 0)
		c->token_key_file = keep(value);
	else if (strcmp(name, "late_tap_days") == 0)
		c->late_horizon_s = strtol(value, NULL, 10) * 86400;
	else if (strcmp(name, "max_connections") == 0)
		c->max_connections = strtol(value, NULL, 10);
	else if (strcmp(name, "handshake_timeout_s") == 0)
		c->handshake_timeout_s = strtol(value, NULL, 10);
	else if (strcmp(name, "acquirer") == 0)
		c->acquirer = keep(value);
	else if (strcmp(name, "settle_grace_s") == 0)
		c->settle_grace_s = strtol(value, NULL, 10);
	else if (strcmp(name, "settle_interval_s") == 0)
		c->settle_interval_s = strtol(value, NULL, 10);
	else if (strcmp(name, "settle_timeout_ms") == 0)
		c->settle_timeout_ms = strtol(value, NULL, 10);
	else if (strcmp(name, "debt_tap_gap_s") == 0)
		c->debt_tap_gap_s = strtol(value, NULL, 10);
	else if (strcmp(name, "nats") == 0)
		c->nats = keep(value);
	else if (strcmp(name, "shards") == 0)
		c->shards = (unsigned)strtoul(value, NULL, 10);
	else if (strcmp(name, "synchronous") == 0)
		c->synchronous_full = strcmp(value, "normal") != 0;
	else {
		fprintf(stderr, "fare-engine: config: unknown key '%s'\n",
		    name);
		return 0;
	}
	return 1;
}

static int
serve_usage(void)
{
	fprintf(stderr, "usage: fare-engine serve [--config FILE] [--dev] "
	    "[--strict-clock] [--clock RFC3339]\n"
	    "           --certs DIR --tariff DIR --db FILE --listen HOST:PORT "
	    "[--http HOST:PORT]\n           [--token-key-file FILE] "
	    "[--acquirer HOST:PORT] [--settle-grace S]\n"
	    "           [--settle-interval S] [--settle-timeout-ms MS] "
	    "[--debt-tap-gap S]\n"
	    "           [--nats URLS --shards N]   (gateway mode: taps go "
	    "to JetStream)\n");
	return 2;
}

static int	serve_check(const struct server_config *);

int
cmd_serve(int argc, char **argv)
{
	struct server_config c = {"127.0.0.1:7700", NULL, NULL, NULL, NULL,
	    NULL, 0, 0, 1, 0, LATE_TAP_DAYS_DEFAULT * 86400,
	    LIMIT_CONNECTIONS_DEFAULT, HANDSHAKE_TIMEOUT_S, NULL,
	    SETTLE_GRACE_S_DEFAULT, SETTLE_INTERVAL_S_DEFAULT,
	    SETTLE_TIMEOUT_MS_DEFAULT, DEBT_TAP_GAP_S_DEFAULT, NULL, 0};
	const char *why;
	int i, r;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			if ((r = ini_parse(argv[i + 1], ini_cb, &c)) != 0) {
				fprintf(stderr, "fare-engine: %s:%d: bad config "
				    "line\n", argv[i + 1], r < 0 ? 0 : r);
				return 1;
			}
		}
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--dev") == 0)
			c.dev = 1;
		else if (strcmp(a, "--strict-clock") == 0)
			c.strict_clock = 1;
		else if (v == NULL)
			return serve_usage();
		else if (strcmp(a, "--config") == 0)
			i++;
		else if (strcmp(a, "--certs") == 0 && ++i)
			c.certs = v;
		else if (strcmp(a, "--tariff") == 0 && ++i)
			c.tariff = v;
		else if (strcmp(a, "--db") == 0 && ++i)
			c.db = v;
		else if (strcmp(a, "--listen") == 0 && ++i)
			c.listen = v;
		else if (strcmp(a, "--http") == 0 && ++i)
			c.http = v;
		else if (strcmp(a, "--token-key-file") == 0 && ++i)
			c.token_key_file = v;
		else if (strcmp(a, "--acquirer") == 0 && ++i)
			c.acquirer = v;
		else if (strcmp(a, "--settle-grace") == 0 && ++i)
			c.settle_grace_s = strtol(v, NULL, 10);
		else if (strcmp(a, "--settle-interval") == 0 && ++i)
			c.settle_interval_s = strtol(v, NULL, 10);
		else if (strcmp(a, "--settle-timeout-ms") == 0 && ++i)
			c.settle_timeout_ms = strtol(v, NULL, 10);
		else if (strcmp(a, "--debt-tap-gap") == 0 && ++i)
			c.debt_tap_gap_s = strtol(v, NULL, 10);
		else if (strcmp(a, "--nats") == 0 && ++i)
			c.nats = v;
		else if (strcmp(a, "--shards") == 0 && ++i)
			c.shards = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(a, "--handshake-timeout") == 0 && ++i)
			c.handshake_timeout_s = strtol(v, NULL, 10);
		else if (strcmp(a, "--clock") == 0 && ++i) {
			int64_t t;
			if (parse_rfc3339(v, &t, &why) == -1) {
				fprintf(stderr, "fare-engine: --clock: %s\n", why);
				return 2;
			}
			c.clock_offset_s = t - (int64_t)time(NULL);
		} else
			return serve_usage();
	}
	return serve_check(&c) == 0 ? server_run(&c) : 2;
}

/* The whole configuration, from the file and the options: 0 if usable. */
static int
serve_check(const struct server_config *c)
{
	if (c->certs == NULL || c->tariff == NULL || c->db == NULL) {
		fprintf(stderr, "fare-engine: serve needs --certs, --tariff "
		    "and --db (or a config file naming them)\n");
		return serve_usage();
	}
	if (!c->dev && c->token_key_file == NULL) {
		fprintf(stderr, "fare-engine: serve needs --token-key-file "
		    "(or --dev for the development key)\n");
		return 2;
	}
	if (c->handshake_timeout_s < 1 || c->handshake_timeout_s > 600) {
		fprintf(stderr, "fare-engine: handshake timeout out of range "
		    "(1-600 s)\n");
		return 2;
	}
	if (c->settle_grace_s < 0 || c->settle_grace_s > 7 * 86400 ||
	    c->settle_interval_s < 1 || c->settle_interval_s > 3600 ||
	    c->settle_timeout_ms < 10 || c->settle_timeout_ms > 60000 ||
	    c->debt_tap_gap_s < 0 || c->debt_tap_gap_s > 14 * 86400) {
		fprintf(stderr, "fare-engine: settlement option out of range "
		    "(grace 0-604800 s, interval 1-3600 s, timeout 10-60000 ms, "
		    "debt tap gap 0-1209600 s)\n");
		return 2;
	}
	if (c->nats != NULL && (c->shards < 1 || c->shards >
	    JSBUS_SHARDS_MAX)) {
		fprintf(stderr, "fare-engine: --nats needs --shards N "
		    "(1-%d)\n", JSBUS_SHARDS_MAX);
		return 2;
	}
	if (c->nats != NULL && c->acquirer != NULL) {
		fprintf(stderr, "fare-engine: a gateway does not settle: "
		    "give --acquirer to the workers\n");
		return 2;
	}
	if (c->max_connections < 1 || c->max_connections > LIMIT_CONNECTIONS_MAX) {
		fprintf(stderr, "fare-engine: max_connections out of range\n");
		return 2;
	}
	return 0;
}
