/*
 * The gateway side of `fare-engine serve --nats URLS --shards N`: instead
 * of the local writer, each accepted tap (and each tap a gate refused from
 * its deny list: the card's debt lives on its shard) is published to the
 * JetStream stream TAPS on taps.<shard of its account>, with Nats-Msg-Id
 * = tap_id, and its result goes back to the event loop only after
 * JetStream acknowledged it (stored on a quorum of the replicas).  The
 * account is the tap's PAR, else the card's PAR from the `cards` bucket,
 * else its token; a card's first PAR also orders the token's shard to
 * move the card's earlier taps (jsbus.h, JSBUS_MOVE_HDR).  A second
 * thread mirrors the cluster's `deny` bucket into the gateway's own
 * database, from which server.c pushes it to validators as before.
 */
#ifndef ONECITY_GATEWAY_H
#define ONECITY_GATEWAY_H

#include <stddef.h>

#include <event2/event.h>

#include "journal.h"
#include "jsbus.h"
#include "writer.h"

struct gateway;

struct gateway_opts {
	const char	*urls;		/* nats://HOST:PORT,... */
	unsigned	 shards;	/* 1..JSBUS_SHARDS_MAX */
	const char	*db;		/* the gateway's own database (deny
					 * list mirror, refused taps) */
	int64_t		 clock_offset_s;
	struct writer	*local;		/* the gateway's own writer: taps the
					 * cluster refuses (a card's lesser
					 * PAR on another shard) go there */
	struct jsbus_security sec;	/* credentials and TLS for NATS */
};

/* Connects (the stream and buckets are created when missing) and starts
 * the publisher and the deny mirror; NULL with err on failure. */
struct gateway	*gateway_open(const struct gateway_opts *, struct event_base *,
		    writer_done_fn, void *arg, char *err, size_t errlen);
/* Publishes what is queued (bounded by the retry in progress), stops. */
void		 gateway_close(struct gateway *);
/* Queues a tap to publish; -1 when the queue is full (back-pressure). */
int		 gateway_submit(struct gateway *, const struct jtap *);
size_t		 gateway_queued(struct gateway *);
/* NULL when publishing works, else why not (JetStream's words). */
const char	*gateway_health(struct gateway *, char *buf, size_t len);
/* Taps acknowledged by JetStream, and of those duplicates (resends). */
void		 gateway_counts(struct gateway *, uint64_t *published,
		    uint64_t *duplicates);

#endif
