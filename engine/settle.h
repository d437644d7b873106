/*
 * Settlement (SPEC §6): after a service day closes plus a grace period,
 * each account's charge for the day goes to the acquirer as one
 * aggregated authorisation and capture; later changes (late taps) go as
 * an extra capture or a refund; a decline opens a debt and puts the
 * account on the deny list; debts are retried on a schedule and when the
 * card taps again.  The acquirer is a separate process reached over
 * mutual TLS, its certificate pinned (docs/protocol.md, "Acquirer"); every request carries an idempotency
 * key that is committed before it is sent, so a timeout or a crash on
 * either side is retried with the same key and never captures twice.
 */
#ifndef ONECITY_SETTLE_H
#define ONECITY_SETTLE_H

#include <stddef.h>
#include <stdint.h>

#include "writer.h"

struct settle_opts {
	const char	*db;
	const char	*acquirer;	/* HOST:PORT */
	const char	*certs;		/* engine.crt/key, acquirer.crt */
	const char	*currency;	/* ISO 4217, from the tariff */
	int64_t		 grace_s;	/* after a service day closes */
	int		 interval_s;	/* between passes */
	int		 timeout_ms;	/* per acquirer request */
	/* SETTLE_SECRET_LEN bytes, copied: keys and references. */
	const unsigned char *secret;
};

/*
 * The label of the token-key sub-key that settlement derives its keys and
 * references with (tap_derive_key; store/settlement.h).
 */
#define SETTLE_SECRET_LABEL	"onecity/settlement-reference/v1"

struct settle_stats {
	uint64_t	 passes, approved, declined, recovered, failures;
	int64_t		 captured_cents, refunded_cents;
	int		 acquirer_ok;	/* the last request got an answer */
};

struct settle;

/* Opens its own database connection and starts the settlement thread. */
struct settle	*settle_start(const struct settle_opts *, struct writer *,
		    char *err, size_t errlen);
/* Stops after the request in flight (bounded by timeout_ms). */
void		 settle_stop(struct settle *);
void		 settle_get_stats(struct settle *, struct settle_stats *);

/* Visa's bounds for debt recovery: retries, and the days they fit in. */
#define SETTLE_RETRIES_MAX	6
#define SETTLE_RETRY_DAYS	14

#endif
