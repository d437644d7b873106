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
/* The bucket that records the cluster's layout: key "shards", the N
 * every gateway and worker must be started with. */
#define JSBUS_LAYOUT		"layout"
#define JSBUS_LAYOUT_SHARDS	"shards"
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
	kvStore		*cards, *deny, *layout;
	int		 replicas;
};

/*
 * How a gateway or worker proves itself to the NATS servers and checks
 * them; every field may be NULL (the servers decide what they require:
 * README, "Securing the cluster").  user with password_file: NATS user
 * and password, the password the first line of a secret file (regular,
 * mode 0600: harden_secret_file; at most 255 bytes).  ca: TLS to the
 * servers, whose certificates must chain to this CA (PEM) and name the
 * host or address dialled (libnats checks subjectAltName).  cert with
 * key: the
 * client's certificate and key (PEM; the key a secret file) for servers
 * that verify clients (mutual TLS); they need ca.
 */
struct jsbus_security {
	const char	*user, *password_file;
	const char	*ca, *cert, *key;
};

/* The combinations jsbus_open accepts: NULL, or why not (for usage
 * errors before anything starts). */
const char	*jsbus_security_check(const struct jsbus_security *);

/*
 * Connects to URLS (comma-separated nats://HOST:PORT, or tls://) with
 * endless reconnects, as sec says (NULL: no credentials, no TLS), makes
 * sure the stream and the buckets exist (replicas 3, file storage;
 * created by whichever process comes first) and fills b.  name shows in
 * the server's connection list.  -1 with err on failure (bad URLs, an
 * unreadable or unsafe secret file, no server reachable within the
 * connect timeout, credentials refused, JetStream not enabled or without
 * a quorum).  jsopts may carry publish-async handlers (gateway); NULL
 * for defaults.
 */
int		 jsbus_open(struct jsbus *b, const char *urls, const char *name,
		    const struct jsbus_security *sec, jsOptions *jsopts,
		    char *err, size_t errlen);
/*
 * The cluster's number of shards, checked against this process's
 * --shards: the first process records it in the bucket `layout` (value
 * "N SEQ": N shards since stream sequence SEQ); a process started with
 * another number is refused (-1 with err naming both), since it would
 * price an account's taps on two shards.  record (the planned step of
 * adding a shard, README) writes shards instead, from the stream's next
 * sequence on.  *since (may be NULL): the first stream sequence of this
 * layout, where a worker's new consumer starts.
 */
int		 jsbus_layout(struct jsbus *b, unsigned shards, int record,
		    uint64_t *since, char *err, size_t errlen);
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
