/*
 * The cluster's shared parts on NATS JetStream (libnats, Debian 12's
 * libnats-dev 3.4): the connection, the stream TAPS (subjects taps.<shard>,
 * file storage, replicated), the key-value buckets `cards` (token -> the
 * least PAR a card showed) and `deny` (account -> reason), the tap record
 * a gateway publishes and a worker reads, and the shard of an account.
 * Used by the gateway (gateway.c) and the worker (worker.c) only.
 */
#ifndef ONECITY_JSBUS_H
#define ONECITY_JSBUS_H

#include <stddef.h>
#include <stdint.h>

#include <nats/nats.h>

#include "journal.h"
#include "limits.h"
#include "log.h"

/* A line of the programs' log (fare/log.h): event ev, level lv, and a
 * printf-formatted msg field. */
#define CLUSTER_LOG(lv, ev, ...) do {					\
	char m_[512];							\
	snprintf(m_, sizeof m_, __VA_ARGS__);				\
	log_event((lv), (ev), "msg=%s", LOGQ(m_));			\
} while (0)

#define JSBUS_STREAM		"TAPS"
#define JSBUS_CARDS		"cards"
#define JSBUS_DENY		"deny"
#define JSBUS_SHARDS_MAX	LIMIT_SHARDS_MAX
#define JSBUS_URLS_MAX		16	/* servers in --nats */
/* How long a starting gateway or worker waits for the stream and buckets
 * (a cluster still electing leaders, a loaded machine). */
#define JSBUS_SETUP_WAIT_S	60
/* The header that makes a message on taps.<shard> a move order: the
 * card (the data: its token) now belongs to par:<value>. */
#define JSBUS_MOVE_HDR		"Onecity-Move"
/* A tap record: tab-separated text, at most this long. */
#define JSBUS_TAP_MAX		800
/* Taps a gateway publishes before it waits for their acknowledgements:
 * enough to keep three replicas busy, few enough to retry as a whole. */
#define GATEWAY_BATCH		512
/* How long a gateway waits for a batch's acknowledgements before it
 * says JetStream is failing and publishes the rest again. */
#define GATEWAY_ACK_WAIT_MS	5000
/* Messages a worker fetches at once, and holds unacknowledged at most
 * (the consumer's MaxAckPending; each waits for its commit). */
#define WORKER_FETCH		1024
#define WORKER_PENDING		16384
/* Seconds JetStream waits for a worker's ack before delivering again. */
#define WORKER_ACK_WAIT_S	15

struct jsbus {
	natsConnection	*nc;
	jsCtx		*js;
	kvStore		*cards, *deny;
	int		 replicas;
};

/*
 * Connects to URLS (comma-separated nats://HOST:PORT) with endless
 * reconnects, makes sure the stream and both buckets exist (replicas 3,
 * file storage; created by whichever process comes first) and fills b.
 * name shows in the server's connection list.  -1 with err on failure
 * (bad URLs, no server reachable within the connect timeout, JetStream
 * not enabled or without a quorum).  jsopts may carry publish-async
 * handlers (gateway); NULL for defaults.
 */
int		 jsbus_open(struct jsbus *b, const char *urls, const char *name,
		    jsOptions *jsopts, char *err, size_t errlen);
void		 jsbus_close(struct jsbus *b);

/* natsStatus and the library's last error as one line. */
const char	*jsbus_error(natsStatus s, char *buf, size_t len);

/*
 * The shard of an account key (par:<PAR> or tok:<token>): FNV-1a 64 of
 * the text, mod shards (1..JSBUS_SHARDS_MAX).  Stable across releases:
 * changing it moves every account.
 */
unsigned	 jsbus_shard(const char *account, unsigned shards);

/*
 * A checked tap (refuse REFUSAL_NONE or REFUSAL_DENIED_AT_GATE) as the
 * record on taps.<shard>: "1\ttap_id\tdevice\tseq\ttime\treceived\ttoken
 * \tpar\tnetwork\tstop\tkind\tdenied".  Returns its length, or -1 when a
 * field holds a tab or newline or it does not fit in len.
 */
int		 jsbus_tap_encode(const struct jtap *, char *buf, size_t len);
/* The reverse; -1 with why when the record is not one of ours. */
int		 jsbus_tap_decode(const char *rec, size_t len, struct jtap *,
		    const char **why);

#endif
