/*
 * fare-engine serve: options and the config file (INI, read with inih).
 * Command-line options override the file.  Example file:
 *
 *   [engine]
 *   listen = 127.0.0.1:7700
 *   http = 127.0.0.1:7780          (health, metrics, the dashboard)
 *   web = 0.0.0.0:8080             (the rider pages; public)
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
 *   metrics_refresh_s = 60         (/metrics' reads of the database)
 *   log_level = info               (err, warning, notice, info, debug)
 *   account_cache = 65536          (accounts whose open weeks the writer
 *                                   keeps in memory; 0: none)
 *   ledger_key_file = /etc/onecity/ledger.key  (signs checkpoints)
 *   checkpoint_file = /var/lib/onecity/checkpoints  (appended at day close)
 *   nats = nats://10.0.0.1:4222,nats://10.0.0.2:4222   (gateway mode:
 *                                   taps go to JetStream, not to db)
 *   shards = 2                     (gateway mode: pricing shards)
 *   nats_user = gateway            (gateway mode: NATS user, and the
 *   nats_password_file = /etc/onecity/nats.pw   first line of a 0600 file)
 *   nats_ca = /etc/onecity/nats-ca.crt   (gateway mode: TLS to NATS)
 *   nats_cert = /etc/onecity/nats-gw.crt (gateway mode: mutual TLS, with
 *   nats_key = /etc/onecity/nats-gw.key   its 0600 key)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "config.h"
#include "jsbus.h"
#include "limits.h"
#include "log.h"
#include "opt.h"
#include "parse.h"
#include "server.h"

static int	serve_log_level_cb(void *, const char *, const char **);

/* The --config FILE among argv, before the options are parsed (the file
 * is read first, so that the flags win); NULL if none, and NULL when
 * --help or -h asks for the usage (a bad file must not hide it). */
static const char *
serve_config_path(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return NULL;
	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			return argv[i + 1];
		if (strncmp(argv[i], "--config=", 9) == 0)
			return argv[i] + 9;
	}
	return NULL;
}

static int	serve_check(const struct server_config *);

/* --log-level NAME: lines above it are not written, from now on. */
static int
serve_log_level_cb(void *dst, const char *v, const char **why)
{
	enum log_level l;

	(void)dst;
	if (log_level_parse(v, &l) == -1) {
		*why = "not err, warning, notice, info or debug";
		return -1;
	}
	log_set_level(l);
	return 0;
}

static const struct opt_cmd serve_cmd = {"fare-engine serve", "", 0, 0,
    "Runs the engine: validators over mutual TLS on --listen, /healthz "
    "and /metrics\non --http, the writer and settlement threads.  Every "
    "option is also a line of\nthe config file's [engine] section (flags "
    "win).  SIGHUP reloads the CRL and\nthe tariff; SIGTERM stops "
    "cleanly (exit 0)."};

int
cmd_serve(int argc, char **argv)
{
	struct server_config c = {"127.0.0.1:7700", NULL, NULL, NULL, NULL,
	    NULL, 0, 0, 1, 0, LATE_TAP_DAYS_DEFAULT * 86400,
	    LIMIT_CONNECTIONS_DEFAULT, HANDSHAKE_TIMEOUT_S, NULL,
	    SETTLE_GRACE_S_DEFAULT, SETTLE_INTERVAL_S_DEFAULT,
	    SETTLE_TIMEOUT_MS_DEFAULT, DEBT_TAP_GAP_S_DEFAULT,
	    METRICS_REFRESH_S_DEFAULT,
	    ACCOUNT_CACHE_ACCOUNTS, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL,
	    NULL, NULL};
	const char *config = serve_config_path(argc, argv), *cfg = NULL;
	int64_t clock = INT64_MIN;
	struct config_kept kept = {{NULL}, 0};
	int first, r;
	const struct opt o[] = {
		{.name = "config", .kind = OPT_STR, .dst = &cfg, .arg = "FILE",
		    .help = "an INI file with an [engine] section"},
		{.name = "dev", .kind = OPT_FLAG, .dst = &c.dev,
		    .help = "development: dev token key, CRL optional, tap "
		    "times unchecked"},
		{.name = "strict-clock", .kind = OPT_FLAG,
		    .dst = &c.strict_clock, .help = "with --dev: check tap "
		    "times anyway"},
		{.name = "clock", .kind = OPT_TIME, .dst = &clock,
		    .arg = "RFC3339", .help = "the engine's clock (tests and "
		    "demos)"},
		{.name = "certs", .kind = OPT_STR, .dst = &c.certs,
		    .arg = "DIR", .help = "CA, engine certificate and CRL"},
		{.name = "tariff", .kind = OPT_STR, .dst = &c.tariff,
		    .arg = "DIR", .help = "the tariff (GTFS directory)"},
		{.name = "db", .kind = OPT_STR, .dst = &c.db, .arg = "FILE",
		    .help = "the SQLite database"},
		{.name = "listen", .kind = OPT_STR, .dst = &c.listen,
		    .arg = "HOST:PORT", .help = "validators (default "
		    "127.0.0.1:7700)"},
		{.name = "http", .kind = OPT_STR, .dst = &c.http,
		    .arg = "HOST:PORT", .help = "/healthz, /metrics and the "
		    "dashboard (private)"},
		{.name = "web", .kind = OPT_STR, .dst = &c.web,
		    .arg = "HOST:PORT", .help = "the rider pages (public, "
		    "read-only)"},
		{.name = "token-key-file", .kind = OPT_STR,
		    .dst = &c.token_key_file, .arg = "FILE",
		    .help = "the HMAC key of card tokens"},
		{.name = "acquirer", .kind = OPT_STR, .dst = &c.acquirer,
		    .arg = "HOST:PORT", .help = "the acquirer (none: no "
		    "settlement)"},
		{.name = "settle-grace", .kind = OPT_I64,
		    .dst = &c.settle_grace_s, .arg = "S", .lo = 0,
		    .hi = 7 * 86400, .help = "seconds after a day ends before "
		    "it closes"},
		{.name = "settle-interval", .kind = OPT_LONG,
		    .dst = &c.settle_interval_s, .arg = "S", .lo = 1,
		    .hi = 3600, .help = "seconds between settlement passes"},
		{.name = "settle-timeout-ms", .kind = OPT_LONG,
		    .dst = &c.settle_timeout_ms, .arg = "MS", .lo = 10,
		    .hi = 60000, .help = "per acquirer request"},
		{.name = "debt-tap-gap", .kind = OPT_I64,
		    .dst = &c.debt_tap_gap_s, .arg = "S", .lo = 0,
		    .hi = 14 * 86400, .help = "a tap retries a debt at most "
		    "this often"},
		{.name = "metrics-refresh", .kind = OPT_LONG,
		    .dst = &c.metrics_refresh_s, .arg = "S", .lo = 1,
		    .hi = METRICS_REFRESH_S_MAX, .help = "seconds between "
		    "/metrics' reads of the database (default 60)"},
		{.name = "log-level", .kind = OPT_FN, .fn = serve_log_level_cb,
		    .arg = "LEVEL", .help = "err, warning, notice, info "
		    "(default) or debug"},
		{.name = "account-cache", .kind = OPT_LONG,
		    .dst = &c.account_cache, .arg = "N", .lo = 0,
		    .hi = ACCOUNT_CACHE_ACCOUNTS, .help = "accounts whose open "
		    "weeks the writer keeps in memory (0: none)"},
		{.name = "ledger-key-file", .kind = OPT_STR,
		    .dst = &c.ledger_key_file, .arg = "FILE", .help = "the "
		    "ledger key: a signed checkpoint at every day close"},
		{.name = "checkpoint-file", .kind = OPT_STR,
		    .dst = &c.checkpoint_file, .arg = "FILE", .help = "where "
		    "the checkpoints are appended"},
		{.name = "nats", .kind = OPT_STR, .dst = &c.nats,
		    .arg = "URLS", .help = "gateway mode: publish taps to "
		    "JetStream (nats://HOST:PORT,...)"},
		{.name = "shards", .kind = OPT_LONG, .dst = &c.shards,
		    .arg = "N", .lo = 1, .hi = JSBUS_SHARDS_MAX,
		    .help = "gateway mode: pricing shards (workers)"},
		{.name = "nats-user", .kind = OPT_STR, .dst = &c.nats_user,
		    .arg = "NAME", .help = "gateway mode: the NATS user"},
		{.name = "nats-password-file", .kind = OPT_STR,
		    .dst = &c.nats_password_file, .arg = "FILE",
		    .help = "gateway mode: its password (first line; 0600)"},
		{.name = "nats-ca", .kind = OPT_STR, .dst = &c.nats_ca,
		    .arg = "FILE", .help = "gateway mode: TLS to NATS, the "
		    "servers' CA"},
		{.name = "nats-cert", .kind = OPT_STR, .dst = &c.nats_cert,
		    .arg = "FILE", .help = "gateway mode: the client "
		    "certificate for NATS (mutual TLS)"},
		{.name = "nats-key", .kind = OPT_STR, .dst = &c.nats_key,
		    .arg = "FILE", .help = "gateway mode: its key (0600)"},
		{.name = "handshake-timeout", .kind = OPT_LONG,
		    .dst = &c.handshake_timeout_s, .arg = "S", .lo = 1,
		    .hi = 600, .help = "drop sockets that never finish TLS"},
		{.name = NULL},
	};

	if (config != NULL && config_read(config, &c, &kept) != 0) {
		config_free(&kept);
		return 2;
	}
	if ((r = opt_parse(&serve_cmd, o, argc, argv, &first)) != OPT_RUN) {
		config_free(&kept);
		return r;
	}
	if (c.acquirer != NULL && strcmp(c.acquirer, "none") == 0)
		c.acquirer = NULL;
	if (clock != INT64_MIN)
		c.clock_offset_s = clock - (int64_t)time(NULL);
	r = serve_check(&c) == 0 ? server_run(&c) : 2;
	config_free(&kept);
	return r;
}

/* The whole configuration, from the file and the options: 0 if usable. */
static int
serve_check(const struct server_config *c)
{
	if (c->certs == NULL || c->tariff == NULL || c->db == NULL)
		return opt_fail(&serve_cmd, "needs --certs, --tariff and --db "
		    "(or a config file naming them)");
	if ((c->ledger_key_file == NULL) != (c->checkpoint_file == NULL))
		return opt_fail(&serve_cmd, "--ledger-key-file and "
		    "--checkpoint-file go together (signed checkpoints at "
		    "day close)");
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
	if (c->nats != NULL && c->shards < 1)
		return opt_fail(&serve_cmd, "--nats needs --shards N");
	if (c->nats == NULL && (c->nats_user != NULL ||
	    c->nats_password_file != NULL || c->nats_ca != NULL ||
	    c->nats_cert != NULL || c->nats_key != NULL))
		return opt_fail(&serve_cmd, "the NATS options need --nats "
		    "(gateway mode)");
	{
		struct jsbus_security sec = {c->nats_user,
		    c->nats_password_file, c->nats_ca, c->nats_cert,
		    c->nats_key};
		const char *bad = jsbus_security_check(&sec);
		if (bad != NULL)
			return opt_fail(&serve_cmd, "%s", bad);
	}
	if (c->nats != NULL && c->acquirer != NULL)
		return opt_fail(&serve_cmd, "a gateway does not settle: give "
		    "--acquirer to the workers");
	if (c->max_connections < 1 || c->max_connections > LIMIT_CONNECTIONS_MAX) {
		fprintf(stderr, "fare-engine: max_connections out of range\n");
		return 2;
	}
	return 0;
}
