/* fare-engine serve: the event-driven service (see server.c). */
#ifndef ONECITY_SERVER_H
#define ONECITY_SERVER_H

#include <stdint.h>

struct server_config {
	const char	*listen;	/* host:port for validators */
	const char	*http;		/* host:port for /healthz */
	const char	*db;
	const char	*tariff;
	const char	*certs;
	const char	*token_key_file;
	int		 dev;
	int		 strict_clock;	/* dev: still check tap times */
	int		 synchronous_full;
	int64_t		 clock_offset_s;
	int64_t		 late_horizon_s;
	long		 max_connections;
	long		 handshake_timeout_s;
	const char	*acquirer;	/* HOST:PORT; NULL: no settlement */
	int64_t		 settle_grace_s;
	long		 settle_interval_s;
	long		 settle_timeout_ms;
	int64_t		 debt_tap_gap_s;
	long		 metrics_refresh_s;	/* /metrics from the database */
	long		 account_cache;	/* accounts the writer keeps */
	const char	*ledger_key_file;	/* signs checkpoints */
	const char	*checkpoint_file;	/* ... appended here */
	const char	*web;		/* host:port for riders; NULL: none */
	const char	*nats;		/* gateway mode: nats://HOST:PORT,...;
					 * NULL: the embedded engine */
	long		 shards;	/* gateway mode: pricing shards */
	/* gateway mode: NATS credentials and TLS (jsbus.h); NULL: none */
	const char	*nats_user, *nats_password_file;
	const char	*nats_ca, *nats_cert, *nats_key;
};

/* Runs until SIGTERM or SIGINT; returns the exit status. */
int	server_run(const struct server_config *);

#endif
