/*
 * The gateway's publisher and deny mirror (see gateway.h).  One thread
 * takes queued taps in batches, finds each one's shard, publishes them
 * asynchronously and waits for JetStream's acknowledgements; whatever was
 * not acknowledged is published again (same Nats-Msg-Id, so JetStream
 * keeps one copy) after a pause, until it is, or the gateway stops.  No
 * tap is answered before its acknowledgement: while the cluster is down,
 * the queue fills, the event loop stops reading and validators keep
 * their taps.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "card-mirror.h"
#include "deny.h"
#include "diag.h"
#include "gateway.h"
#include "jsbus.h"
#include "limits.h"
#include "tap.h"

struct gateway {
	struct jsbus		 bus;
	unsigned		 shards;
	int64_t			 clock_offset;
	pthread_t		 pub, mirror;
	int			 mirror_started;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	struct jtap		*q;		/* ring of JOURNAL_QUEUE */
	size_t			 qhead, qlen;
	struct jresult		*res;		/* for the event loop */
	size_t			 nres;
	int			 stop;
	char			 health[256];
	uint64_t		 published, duplicates;
	struct event		*done_ev;
	writer_done_fn		 done;
	void			*done_arg;
	/* The batch in flight (publisher thread; acks under mu). */
	natsMsg			**bmsg;
	signed char		*bstate;	/* 0 waiting, 1 acked, -1 failed,
						 * 2 refused (local writer) */
	size_t			 bn;
	struct writer		*local;
	sqlite3			*db;		/* deny mirror's connection */
	kvWatcher		*watch;
	/* The mirror of the `cards` bucket (its own lock and thread). */
	pthread_mutex_t		 cmu;
	struct card_mirror	*cards;
	kvWatcher		*cwatch;
	pthread_t		 cthread;
	int			 cthread_started;
	int			 cards_ready;	/* initial values all in */
	int			 cards_full;	/* a card was not taken */
	int			 cards_broken;	/* the watcher stopped */
	uint64_t		 cards_lookups;	/* round trips to the bucket */
};

static int64_t
gw_now(const struct gateway *g)
{
	return (int64_t)time(NULL) + g->clock_offset;
}

static void
set_health(struct gateway *g, const char *why)
{
	int changed;

	pthread_mutex_lock(&g->mu);
	changed = strcmp(g->health, why) != 0;
	snprintf(g->health, sizeof g->health, "%s", why);
	pthread_mutex_unlock(&g->mu);
	if (changed)
		CLUSTER_LOG(LOG_LEVEL_ERR, "jetstream_failing", "gateway: %s", why);
}

static void
clear_health(struct gateway *g)
{
	int was;

	pthread_mutex_lock(&g->mu);
	was = g->health[0] != '\0';
	g->health[0] = '\0';
	pthread_mutex_unlock(&g->mu);
	if (was)
		CLUSTER_LOG(LOG_LEVEL_NOTICE, "jetstream_ok", "gateway: JetStream acknowledges again");
}

/* Records token -> par in the mirror; past its bound says so once. */
static void
mirror_put(struct gateway *g, const char *token, const char *par)
{
	int rc, first = 0;

	pthread_mutex_lock(&g->cmu);
	if ((rc = card_mirror_put(g->cards, token, par)) != 0) {
		first = !g->cards_full;
		g->cards_full = 1;
	}
	pthread_mutex_unlock(&g->cmu);
	if (first)
		CLUSTER_LOG(LOG_LEVEL_WARNING, "cards_mirror_full", "gateway: "
		    "the mirror of the cards bucket takes no more cards (%s, "
		    "%d at most): a card it does not hold now costs one "
		    "JetStream round trip per tap", rc == 1 ? "full" :
		    "out of memory", GATEWAY_CARDS_MIRROR_MAX);
}

/*
 * The card's PAR in the `cards` bucket, into par (CARD_MIRROR_PAR): from
 * the mirror, or, when the mirror cannot tell (still loading, full, or
 * its watcher stopped), from the bucket itself (one round trip).  1 when
 * the card has one, 0 when not, -1 with why when the bucket could not be
 * read.  A card the mirror does not hold yet because another gateway
 * recorded its PAR a moment ago goes to its token's shard, which has
 * already had the move order (first_par publishes it before the bucket
 * changes) and forwards the tap to the PAR's shard: exact either way.
 */
static int
card_par(struct gateway *g, const char *token, char *par, char *why,
    size_t wlen)
{
	kvEntry *e = NULL;
	natsStatus s;
	int known, sure;

	pthread_mutex_lock(&g->cmu);
	known = card_mirror_get(g->cards, token, par, CARD_MIRROR_PAR);
	sure = g->cards_ready && !g->cards_full && !g->cards_broken;
	pthread_mutex_unlock(&g->cmu);
	if (known || sure)
		return known;
	g->cards_lookups++;
	s = kvStore_Get(&e, g->bus.cards, token);
	if (s == NATS_OK) {
		snprintf(par, CARD_MIRROR_PAR, "%s", kvEntry_ValueString(e));
		kvEntry_Destroy(e);
		mirror_put(g, token, par);
		return 1;
	}
	if (s == NATS_NOT_FOUND)
		return 0;
	{
		char m[200];
		snprintf(why, wlen, "cannot read the cards bucket: %s",
		    jsbus_error(s, m, sizeof m));
	}
	return -1;
}

/*
 * A card's first PAR: the token's shard is told to move the card's
 * earlier taps there (synchronously: rare, once per card), then the
 * bucket records it.  When another gateway recorded one first, that one
 * is the card's: par says which.  -1 with why when JetStream did not
 * acknowledge.
 */
static int
first_par(struct gateway *g, const struct jtap *x, char *par, char *why,
    size_t len)
{
	char tok[ACCOUNT_TEXT_MAX], subj[32], id[80];
	natsMsg *m = NULL;
	jsPubAck *pa = NULL;
	jsPubOptions po;
	jsErrCode jerr = 0;
	natsStatus s;
	uint64_t rev;

	snprintf(par, CARD_MIRROR_PAR, "%s", x->par);
	snprintf(tok, sizeof tok, "tok:%s", x->token);
	snprintf(subj, sizeof subj, "taps.%u", jsbus_shard(tok, g->shards));
	snprintf(id, sizeof id, "move:%s", x->token);
	jsPubOptions_Init(&po);
	po.MsgId = id;
	s = natsMsg_Create(&m, subj, NULL, x->token, (int)strlen(x->token));
	if (s == NATS_OK)
		s = natsMsgHeader_Set(m, JSBUS_MOVE_HDR, x->par);
	if (s == NATS_OK)
		s = js_PublishMsg(&pa, g->bus.js, m, &po, &jerr);
	natsMsg_Destroy(m);
	jsPubAck_Destroy(pa);
	if (s == NATS_OK &&
	    kvStore_CreateString(&rev, g->bus.cards, x->token, x->par) !=
	    NATS_OK) {
		/* Another gateway may have been first: then its PAR is the
		 * card's, as recorded. */
		kvEntry *e = NULL;
		if ((s = kvStore_Get(&e, g->bus.cards, x->token)) == NATS_OK)
			snprintf(par, CARD_MIRROR_PAR, "%s",
			    kvEntry_ValueString(e));
		kvEntry_Destroy(e);
	}
	if (s != NATS_OK) {
		char e[200];
		snprintf(why, len, "cannot record a card's PAR: %s",
		    jsbus_error(s, e, sizeof e));
		return -1;
	}
	mirror_put(g, x->token, par);
	return 0;
}

/*
 * The account a tap is priced under, as shard key (SPEC §3): the card's
 * PAR as the `cards` bucket has it (its first), else the tap's PAR (which
 * becomes the card's first), else its token.  A tap whose PAR is not the
 * recorded one: SPEC §3 gives the card to the least PAR it showed.  A
 * greater PAR changes nothing (the recorded PAR's shard prices it, and
 * its writer keeps the least); a lesser one on the same shard is the
 * writer's to move there, as in the embedded engine; a lesser one on
 * another shard would take the card and its history across shards,
 * which the cluster does not do: 1 (the tap is refused as
 * REFUSAL_PAR_CONFLICT, kept in this gateway's database).  0 when acc is
 * set, -1 with why when the bucket could not be read or written.
 */
static int
tap_account(struct gateway *g, const struct jtap *x, char *acc, size_t len,
    char *why, size_t wlen)
{
	char par[CARD_MIRROR_PAR], mine[ACCOUNT_TEXT_MAX];
	int known = card_par(g, x->token, par, why, wlen);

	if (known == -1)
		return -1;
	if (!known && x->par[0] == '\0') {
		snprintf(acc, len, "tok:%s", x->token);
		return 0;
	}
	if (!known && first_par(g, x, par, why, wlen) == -1)
		return -1;
	snprintf(acc, len, "par:%s", par);
	if (x->par[0] == '\0' || strcmp(x->par, par) >= 0)
		return 0;
	snprintf(mine, sizeof mine, "par:%s", x->par);
	return jsbus_shard(mine, g->shards) == jsbus_shard(acc, g->shards) ?
	    0 : 1;
}

/* Hands a tap the cluster refuses to the gateway's own writer, which
 * stores the refusal and answers the validator; -1 when its queue is
 * full (the tap waits for the batch's retry). */
static int
refuse_local(struct gateway *g, const struct jtap *b, const char *par)
{
	struct jtap x = *b;

	x.refuse = REFUSAL_PAR_CONFLICT;
	snprintf(x.detail, sizeof x.detail, "the card is on the shard of "
	    "its first PAR %s; a lesser PAR on another shard is not moved "
	    "there", par);
	return writer_submit(g->local, &x);
}

static void
ack_cb(jsCtx *js, natsMsg *m, jsPubAck *pa, jsPubAckErr *pae, void *arg)
{
	struct gateway *g = arg;
	size_t i;

	(void)js;
	pthread_mutex_lock(&g->mu);
	for (i = 0; i < g->bn; i++)
		if (g->bmsg[i] == m) {
			g->bmsg[i] = NULL;
			g->bstate[i] = pa != NULL ? 1 : -1;
			if (pa != NULL && pa->Duplicate)
				g->duplicates++;
			break;
		}
	pthread_mutex_unlock(&g->mu);
	(void)pae;
	natsMsg_Destroy(m);
}

/*
 * Publishes the taps of b not yet acknowledged and waits for their
 * acknowledgements (at most GATEWAY_ACK_WAIT_MS).  Returns how many are
 * still not acknowledged; why says what went wrong.
 */
static size_t
publish_batch(struct gateway *g, const struct jtap *b, size_t n, char *why,
    size_t wlen)
{
	jsPubOptions po;
	natsMsgList pend = {NULL, 0};
	size_t i, left = 0;
	natsStatus s;

	why[0] = '\0';
	for (i = 0; i < n; i++) {
		char acc[ACCOUNT_TEXT_MAX], subj[32], rec[JSBUS_TAP_MAX];
		natsMsg *m = NULL;
		int len, rc;
		if (g->bstate[i] == 1 || g->bstate[i] == 2)
			continue;
		g->bstate[i] = 0;
		if ((rc = tap_account(g, &b[i], acc, sizeof acc, why, wlen)) ==
		    1) {
			g->bstate[i] = refuse_local(g, &b[i], acc + 4) == 0 ?
			    2 : -1;
			continue;
		}
		if (rc == -1) {
			/* JetStream is failing (each lookup would wait its
			 * timeout): the rest of the batch waits for the
			 * retry, and /healthz says why at once. */
			set_health(g, why);
			for (; i < n; i++)
				if (g->bstate[i] != 1 && g->bstate[i] != 2)
					g->bstate[i] = -1;
			break;
		}
		snprintf(subj, sizeof subj, "taps.%u", jsbus_shard(acc,
		    g->shards));
		if ((len = jsbus_tap_encode(&b[i], rec, sizeof rec)) < 0) {
			/* Checked text never holds tabs: cannot happen. */
			snprintf(why, wlen, "tap %s cannot be encoded",
			    b[i].tap_id);
			g->bstate[i] = -1;
			continue;
		}
		jsPubOptions_Init(&po);
		po.MsgId = b[i].tap_id;
		s = natsMsg_Create(&m, subj, NULL, rec, len);
		pthread_mutex_lock(&g->mu);
		g->bmsg[i] = m;
		pthread_mutex_unlock(&g->mu);
		if (s == NATS_OK)
			s = js_PublishMsgAsync(g->bus.js, &m, &po);
		if (s != NATS_OK) {
			char e[200];
			pthread_mutex_lock(&g->mu);
			g->bmsg[i] = NULL;
			g->bstate[i] = -1;
			pthread_mutex_unlock(&g->mu);
			snprintf(why, wlen, "cannot publish: %s",
			    jsbus_error(s, e, sizeof e));
		}
		natsMsg_Destroy(m);	/* NULL once the library owns it */
	}
	jsPubOptions_Init(&po);
	po.MaxWait = GATEWAY_ACK_WAIT_MS;
	s = js_PublishAsyncComplete(g->bus.js, &po);
	if (s != NATS_OK) {
		char e[200];
		if (why[0] == '\0')
			snprintf(why, wlen, "no acknowledgement from JetStream "
			    "within %d ms: %s", GATEWAY_ACK_WAIT_MS,
			    jsbus_error(s, e, sizeof e));
		/* Take back what is still outstanding: it is sent again. */
		if (js_PublishAsyncGetPendingList(&pend, g->bus.js) == NATS_OK)
			natsMsgList_Destroy(&pend);
	}
	pthread_mutex_lock(&g->mu);
	for (i = 0; i < n; i++) {
		if (g->bstate[i] != 1 && g->bstate[i] != 2) {
			g->bstate[i] = -1;
			left++;
		}
		g->bmsg[i] = NULL;
	}
	pthread_mutex_unlock(&g->mu);
	if (left > 0 && why[0] == '\0')
		snprintf(why, wlen, "JetStream refused %zu of %zu taps", left,
		    n);
	return left;
}

/* Takes up to GATEWAY_BATCH queued taps; -1 when stopping with none. */
static long
take(struct gateway *g, struct jtap *b)
{
	size_t n;

	pthread_mutex_lock(&g->mu);
	while (g->qlen == 0 && !g->stop)
		pthread_cond_wait(&g->cv, &g->mu);
	if (g->qlen == 0) {
		pthread_mutex_unlock(&g->mu);
		return -1;
	}
	for (n = 0; n < GATEWAY_BATCH && g->qlen > 0; n++) {
		b[n] = g->q[g->qhead];
		g->qhead = (g->qhead + 1) % JOURNAL_QUEUE;
		g->qlen--;
	}
	g->bn = n;
	pthread_mutex_unlock(&g->mu);
	return (long)n;
}

/* Sleeps ms unless the gateway is stopping; 1 when it is. */
static int
pause_ms(struct gateway *g, long ms)
{
	struct timespec until;
	int stop;

	pthread_mutex_lock(&g->mu);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += ms * 1000000L;
	until.tv_sec += until.tv_nsec / 1000000000L;
	until.tv_nsec %= 1000000000L;
	if (!g->stop)
		pthread_cond_timedwait(&g->cv, &g->mu, &until);
	stop = g->stop;
	pthread_mutex_unlock(&g->mu);
	return stop;
}

static void *
pub_main(void *arg)
{
	struct gateway *g = arg;
	struct jtap *b = malloc(GATEWAY_BATCH * sizeof *b);
	char why[256];
	long n;
	size_t i;

	if (b == NULL)
		return NULL;
	pthread_setname_np(pthread_self(), "fe-publish");
	while ((n = take(g, b)) >= 0) {
		long wait = 100;
		int stop = 0;
		memset(g->bstate, 0, (size_t)n);
		while (publish_batch(g, b, (size_t)n, why, sizeof why) > 0) {
			set_health(g, why);
			if ((stop = pause_ms(g, wait)) != 0)
				break;
			wait = wait < 1000 ? wait * 2 : 1000;
		}
		if (!stop)
			clear_health(g);
		pthread_mutex_lock(&g->mu);
		for (i = 0; i < (size_t)n && g->nres < JOURNAL_QUEUE; i++) {
			struct jresult *r;
			if (g->bstate[i] == 2)
				continue;	/* the local writer answers */
			g->published += g->bstate[i] == 1;
			r = &g->res[g->nres++];
			r->conn_id = b[i].conn_id;
			r->seq = b[i].seq;
			r->leg_fare_cents = r->day_charge_cents = 0;
			r->day_cap_cents = 0;
			r->refused = g->bstate[i] != 1 ? REFUSAL_NOT_COMMITTED :
			    b[i].refuse;
		}
		g->bn = 0;
		pthread_mutex_unlock(&g->mu);
		event_active(g->done_ev, EV_READ, 0);
	}
	free(b);
	return NULL;
}

static void
done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gateway *g = arg;
	struct jresult *copy;
	size_t n;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&g->mu);
	n = g->nres;
	copy = malloc((n + 1) * sizeof *copy);
	if (copy != NULL)
		memcpy(copy, g->res, n * sizeof *copy);
	g->nres = 0;
	pthread_mutex_unlock(&g->mu);
	if (copy != NULL)
		g->done(copy, n, g->done_arg);
	free(copy);
}

/*
 * Runs a bucket's watcher until the gateway stops or the watcher fails:
 * each entry to put (NULL once the bucket's values as they were at the
 * start are all in), then destroyed.  Returns when stopped or broken.
 */
static void
watch_loop(struct gateway *g, kvWatcher *w,
    void (*put)(struct gateway *, kvEntry *))
{
	kvEntry *e;
	natsStatus s;

	for (;;) {
		pthread_mutex_lock(&g->mu);
		if (g->stop) {
			pthread_mutex_unlock(&g->mu);
			return;
		}
		pthread_mutex_unlock(&g->mu);
		e = NULL;
		s = kvWatcher_Next(&e, w, 500);
		if (s == NATS_TIMEOUT)
			continue;
		if (s != NATS_OK)
			return;		/* stopped */
		put(g, e);
		if (e != NULL)
			kvEntry_Destroy(e);
	}
}

/*
 * The deny mirror: every entry of the cluster's `deny` bucket (written
 * by the workers, whose settlement declines cards) into this gateway's
 * deny table, which server.c pushes to validators each second.
 */
static void
deny_put(struct gateway *g, kvEntry *e)
{
	int on;
	char acc[ACCOUNT_TEXT_MAX], *dot;

	if (e == NULL)
		return;		/* the initial values are all in */
	on = kvEntry_Operation(e) == kvOp_Put;
	snprintf(acc, sizeof acc, "%s", kvEntry_Key(e));
	if ((dot = strchr(acc, '.')) != NULL)
		*dot = ':';	/* the key of par:X is par.X */
	if (deny_set(g->db, acc, on, on ? kvEntry_ValueString(e) : "",
	    gw_now(g)) != 0)
		CLUSTER_LOG(LOG_LEVEL_WARNING, "deny_mirror_failed", "gateway: deny list: cannot mirror %s: %s",
		    acc, sqlite3_errmsg(g->db));
}

static void *
mirror_main(void *arg)
{
	pthread_setname_np(pthread_self(), "fe-deny-mirror");
	watch_loop(arg, ((struct gateway *)arg)->watch, deny_put);
	return NULL;
}

/*
 * The cards mirror: every entry of the `cards` bucket (token -> PAR,
 * written by the gateways as cards show their first PAR) into g->cards.
 * Until the watcher has delivered the bucket's values as they were when
 * it started, and again once it stops, card_par asks the bucket.
 */
static void
cards_put(struct gateway *g, kvEntry *e)
{
	if (e == NULL) {	/* the initial values are all in */
		pthread_mutex_lock(&g->cmu);
		g->cards_ready = 1;
		pthread_mutex_unlock(&g->cmu);
		return;
	}
	/* A deleted or purged card (an operator's doing): forgotten, so
	 * that its next tap asks the bucket. */
	mirror_put(g, kvEntry_Key(e), kvEntry_Operation(e) == kvOp_Put ?
	    kvEntry_ValueString(e) : "");
}

static void *
cards_main(void *arg)
{
	struct gateway *g = arg;

	pthread_setname_np(pthread_self(), "fe-cards-mirror");
	watch_loop(g, g->cwatch, cards_put);
	pthread_mutex_lock(&g->cmu);
	g->cards_broken = 1;
	pthread_mutex_unlock(&g->cmu);
	return NULL;
}

static int
open_mirror(struct gateway *g, const char *db, char *err, size_t errlen)
{
	natsStatus s;
	char why[200];

	if (sqlite3_open_v2(db, &g->db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", db, sqlite3_errmsg(g->db));
		return -1;
	}
	sqlite3_busy_timeout(g->db, 5000);
	if ((s = kvStore_WatchAll(&g->watch, g->bus.deny, NULL)) != NATS_OK) {
		snprintf(err, errlen, "deny bucket: %s",
		    jsbus_error(s, why, sizeof why));
		return -1;
	}
	if (pthread_create(&g->mirror, NULL, mirror_main, g) != 0) {
		snprintf(err, errlen, "cannot start the deny mirror");
		return -1;
	}
	g->mirror_started = 1;
	if ((s = kvStore_WatchAll(&g->cwatch, g->bus.cards, NULL)) !=
	    NATS_OK) {
		snprintf(err, errlen, "cards bucket: %s",
		    jsbus_error(s, why, sizeof why));
		return -1;
	}
	if (pthread_create(&g->cthread, NULL, cards_main, g) != 0) {
		snprintf(err, errlen, "cannot start the cards mirror");
		return -1;
	}
	g->cthread_started = 1;
	return 0;
}

struct gateway *
gateway_open(const struct gateway_opts *o, struct event_base *base,
    writer_done_fn done, void *arg, char *err, size_t errlen)
{
	struct gateway *g = calloc(1, sizeof *g);
	jsOptions jo;

	if (g == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&g->mu, NULL);
	pthread_mutex_init(&g->cmu, NULL);
	pthread_cond_init(&g->cv, NULL);
	g->local = o->local;
	g->shards = o->shards;
	g->clock_offset = o->clock_offset_s;
	g->done = done;
	g->done_arg = arg;
	g->q = malloc(JOURNAL_QUEUE * sizeof *g->q);
	g->res = malloc(JOURNAL_QUEUE * sizeof *g->res);
	g->bmsg = calloc(GATEWAY_BATCH, sizeof *g->bmsg);
	g->bstate = calloc(GATEWAY_BATCH, 1);
	g->cards = card_mirror_new(GATEWAY_CARDS_MIRROR_MAX);
	if (g->q == NULL || g->res == NULL || g->bmsg == NULL ||
	    g->bstate == NULL || g->cards == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	jsOptions_Init(&jo);
	jo.PublishAsync.AckHandler = ack_cb;
	jo.PublishAsync.AckHandlerClosure = g;
	jo.PublishAsync.MaxPending = GATEWAY_BATCH;
	if (jsbus_open(&g->bus, o->urls, "onecity-gateway", &o->sec, &jo, err,
	    errlen) == -1 || jsbus_layout(&g->bus, o->shards, 0, NULL,
	    err, errlen) == -1)
		goto fail;
	if ((g->done_ev = event_new(base, -1, EV_READ, done_cb, g)) == NULL ||
	    pthread_create(&g->pub, NULL, pub_main, g) != 0) {
		snprintf(err, errlen, "cannot start the publisher");
		goto fail;
	}
	if (open_mirror(g, o->db, err, errlen) == -1) {
		gateway_close(g);
		return NULL;
	}
	return g;
fail:
	if (g->done_ev != NULL)
		event_free(g->done_ev);
	jsbus_close(&g->bus);
	free(g->q);
	free(g->res);
	free(g->bmsg);
	free(g->bstate);
	card_mirror_free(g->cards);
	free(g);
	return NULL;
}

void
gateway_close(struct gateway *g)
{
	if (g == NULL)
		return;
	pthread_mutex_lock(&g->mu);
	g->stop = 1;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
	pthread_join(g->pub, NULL);
	if (g->watch != NULL)
		kvWatcher_Stop(g->watch);
	if (g->cwatch != NULL)
		kvWatcher_Stop(g->cwatch);
	if (g->mirror_started)
		pthread_join(g->mirror, NULL);
	if (g->cthread_started)
		pthread_join(g->cthread, NULL);
	if (g->watch != NULL)
		kvWatcher_Destroy(g->watch);
	if (g->cwatch != NULL)
		kvWatcher_Destroy(g->cwatch);
	done_cb(-1, 0, g);
	event_free(g->done_ev);
	jsbus_close(&g->bus);
	sqlite3_close(g->db);
	pthread_mutex_destroy(&g->mu);
	pthread_mutex_destroy(&g->cmu);
	pthread_cond_destroy(&g->cv);
	free(g->q);
	free(g->res);
	free(g->bmsg);
	free(g->bstate);
	card_mirror_free(g->cards);
	free(g);
}

int
gateway_submit(struct gateway *g, const struct jtap *x)
{
	pthread_mutex_lock(&g->mu);
	if (g->qlen == JOURNAL_QUEUE) {
		pthread_mutex_unlock(&g->mu);
		return -1;
	}
	g->q[(g->qhead + g->qlen) % JOURNAL_QUEUE] = *x;
	g->qlen++;
	pthread_cond_signal(&g->cv);
	pthread_mutex_unlock(&g->mu);
	return 0;
}

size_t
gateway_queued(struct gateway *g)
{
	size_t n;

	pthread_mutex_lock(&g->mu);
	n = g->qlen + g->bn;
	pthread_mutex_unlock(&g->mu);
	return n;
}

const char *
gateway_health(struct gateway *g, char *buf, size_t len)
{
	const char *r = NULL;

	pthread_mutex_lock(&g->mu);
	if (g->health[0] != '\0') {
		snprintf(buf, len, "%s", g->health);
		r = buf;
	}
	pthread_mutex_unlock(&g->mu);
	/* No tap needs to fail for this: no server is reachable. */
	if (r == NULL && natsConnection_Status(g->bus.nc) !=
	    NATS_CONN_STATUS_CONNECTED) {
		snprintf(buf, len, "not connected to any NATS server "
		    "(reconnecting)");
		r = buf;
	}
	return r;
}

void
gateway_counts(struct gateway *g, uint64_t *published, uint64_t *duplicates)
{
	pthread_mutex_lock(&g->mu);
	*published = g->published;
	*duplicates = g->duplicates;
	pthread_mutex_unlock(&g->mu);
}
