/*
 * fare-engine worker: one pricing shard of the cluster.  A durable pull
 * consumer on taps.<shard> (stream TAPS) feeds the same writer the
 * embedded engine uses (writer.c: journal, live pricing, posting at day
 * close) on this shard's own database, with the same schema and views;
 * a message is acknowledged to JetStream only after the writer committed
 * it, so a worker killed at any moment resumes from its consumer, and the
 * permanent UNIQUE(tap_id) of the journal absorbs what JetStream delivers
 * twice.  Settlement runs per shard when --acquirer is given.  The
 * shard's deny-list changes go to the cluster's `deny` bucket, which every
 * gateway mirrors to its validators.
 *
 * Move orders (a card's first PAR, from a gateway; jsbus.h): the card's
 * taps stored here under its token are published to the PAR's shard
 * (same tap_ids), then forgotten here through the writer, which reprices
 * the token's account to nothing and posts the reversal of what it had
 * posted; later taps of the card that still arrive here are forwarded.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include <sqlite3.h>

#include <mbedtls/platform_util.h>

#include "checkpoint.h"
#include "cmd.h"
#include "deny.h"
#include "diag.h"
#include "harden.h"
#include "jsbus.h"
#include "limits.h"
#include "moves.h"
#include "opt.h"
#include "parse.h"
#include "settle.h"
#include "tap.h"
#include "tariff.h"
#include "tariff-version.h"
#include "writer.h"

struct worker_config {
	const char	*nats, *db, *tariff, *acquirer, *token_key_file;
	const char	*certs;		/* settlement's TLS to the acquirer */
	const char	*ledger_key_file, *checkpoint_file;	/* this
					 * shard's signed checkpoints */
	long		 account_cache;
	unsigned	 shard, shards;
	int		 synchronous_full;
	int64_t		 clock_offset_s, settle_grace_s, debt_tap_gap_s;
	long		 settle_interval_s, settle_timeout_ms;
	int		 dev;		/* the development token key */
	struct jsbus_security sec;	/* credentials and TLS for NATS */
	int		 reshard;	/* record --shards as the cluster's */
	int		 rebuild;	/* a new database from the stream */
};

struct worker {
	const struct worker_config *cfg;
	struct jsbus		 bus;
	natsSubscription	*sub;
	struct event_base	*base;
	struct writer		*writer;
	struct settle		*settle;
	sqlite3			*db;		/* moves, deny feed */
	sqlite3_stmt		*moved_q;	/* fetch thread's lookup */
	int			 lock_fd;	/* the database file, flock()ed */
	int64_t			 deny_last;
	pthread_t		 fetch;
	int			 fetch_started;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	natsMsg			**slot;		/* messages in the writer */
	uint32_t		*free_slot;
	size_t			 nfree;
	int			 stop;
	char			 subject[32], durable[32];
	struct event		*sig[2], *tick;
	uint64_t		 n_acked, n_moved, n_forwarded, n_bad;
	int			 failed;	/* stopped by a fault: exit 1 */
	uint64_t		 since;		/* the layout's first stream
					 * sequence: a new consumer's start */
};

/* After the writer committed (or, stopping, could not): ack or nak. */
static void
done_cb(const struct jresult *r, size_t n, void *arg)
{
	struct worker *w = arg;
	size_t i;

	pthread_mutex_lock(&w->mu);
	for (i = 0; i < n; i++) {
		uint32_t k = (uint32_t)r[i].conn_id;
		natsMsg *m;
		if (k >= WORKER_PENDING || (m = w->slot[k]) == NULL)
			continue;
		if (r[i].refused == REFUSAL_NOT_COMMITTED)
			natsMsg_Nak(m, NULL);	/* delivered again */
		else {
			natsMsg_Ack(m, NULL);
			w->n_acked++;
		}
		natsMsg_Destroy(m);
		w->slot[k] = NULL;
		w->free_slot[w->nfree++] = k;
	}
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

/* Hands m (with x) to the writer; waits while the writer is full.  -1
 * when stopping (m is destroyed unacknowledged: delivered again). */
static int
submit(struct worker *w, natsMsg *m, struct jtap *x)
{
	uint32_t k;

	pthread_mutex_lock(&w->mu);
	while (w->nfree == 0 && !w->stop)
		pthread_cond_wait(&w->cv, &w->mu);
	if (w->stop) {
		pthread_mutex_unlock(&w->mu);
		natsMsg_Destroy(m);
		return -1;
	}
	k = w->free_slot[--w->nfree];
	w->slot[k] = m;
	pthread_mutex_unlock(&w->mu);
	x->conn_id = k;
	while (writer_submit(w->writer, x) == -1) {
		struct timespec ms = {0, 1000000};
		nanosleep(&ms, NULL);
	}
	return 0;
}

/* Waits until the writer has committed everything handed to it. */
static void
drain(struct worker *w)
{
	pthread_mutex_lock(&w->mu);
	while (w->nfree < WORKER_PENDING && !w->stop)
		pthread_cond_wait(&w->cv, &w->mu);
	pthread_mutex_unlock(&w->mu);
}

/* Publishes a tap record to the PAR's shard (same tap_id); 0 once
 * JetStream acknowledged it. */
static int
forward(struct worker *w, const struct jtap *x, const char *par)
{
	char acc[ACCOUNT_TEXT_MAX], subj[32], rec[JSBUS_TAP_MAX], why[200];
	char id[sizeof x->tap_id + 40];
	jsPubOptions po;
	jsPubAck *pa = NULL;
	jsErrCode jerr = 0;
	natsStatus s;
	int len;

	snprintf(acc, sizeof acc, "par:%s", par);
	snprintf(subj, sizeof subj, "taps.%u", jsbus_shard(acc,
	    w->cfg->shards));
	if ((len = jsbus_tap_encode(x, rec, sizeof rec)) < 0)
		return -1;
	/* Not the tap_id alone: JetStream would take it for the gateway's
	 * publication of the same tap (to this shard) and drop it.  Sent
	 * twice, it is one message; stored twice, UNIQUE(tap_id) holds. */
	snprintf(id, sizeof id, "%s>%s", x->tap_id, subj);
	jsPubOptions_Init(&po);
	po.MsgId = id;
	s = js_Publish(&pa, w->bus.js, subj, rec, len, &po, &jerr);
	jsPubAck_Destroy(pa);
	if (s != NATS_OK) {
		CLUSTER_LOG(LOG_LEVEL_WARNING, "forward_failed", "worker: cannot forward tap %s to %s: %s", x->tap_id,
		    subj, jsbus_error(s, why, sizeof why));
		return -1;
	}
	return 0;
}

/* The card's taps stored here, as tap records, to the PAR's shard. */
static int
forward_card(struct worker *w, const char *token, const char *par)
{
	sqlite3_stmt *s;
	int rc = 0, n = 0;

	if (sqlite3_prepare_v2(w->db, "SELECT tap_id, device_id, seq, "
	    "time_utc, token, coalesce(par, ''), network_id, stop_id, kind, "
	    "received_utc FROM taps WHERE token = ? ORDER BY time_utc", -1,
	    &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(s, 1, token, -1, SQLITE_STATIC);
	while (rc == 0 && sqlite3_step(s) == SQLITE_ROW) {
		struct jtap x;
		memset(&x, 0, sizeof x);
#define COL(i)	((const char *)sqlite3_column_text(s, (i)))
		snprintf(x.tap_id, sizeof x.tap_id, "%s", COL(0));
		snprintf(x.device_id, sizeof x.device_id, "%s", COL(1));
		x.seq = (uint64_t)sqlite3_column_int64(s, 2);
		x.time_utc = sqlite3_column_int64(s, 3);
		snprintf(x.token, sizeof x.token, "%s", COL(4));
		snprintf(x.par, sizeof x.par, "%s", COL(5));
		snprintf(x.network_id, sizeof x.network_id, "%s", COL(6));
		snprintf(x.stop_id, sizeof x.stop_id, "%s", COL(7));
		x.kind = strcmp(COL(8), "out") == 0;
		x.received_utc = sqlite3_column_int64(s, 9);
#undef COL
		rc = forward(w, &x, par);
		n++;
	}
	sqlite3_finalize(s);
	if (rc == 0 && n > 0)
		CLUSTER_LOG(LOG_LEVEL_NOTICE, "card_moved", "worker: card moved to par shard %u: %d tap(s) "
		    "forwarded", jsbus_shard(par, w->cfg->shards), n);
	return rc;
}

/*
 * A move order: forward the card's taps, then have the writer forget
 * them (its result acknowledges the order).  Unacknowledged on failure:
 * JetStream delivers it again, and forwarding again is harmless.
 */
static void
handle_move(struct worker *w, natsMsg *m, const char *par)
{
	char acc[ACCOUNT_TEXT_MAX], token[33];
	struct jtap x;
	int len = natsMsg_GetDataLength(m);

	if (len <= 0 || len >= (int)sizeof token || strlen(par) >= 30) {
		CLUSTER_LOG(LOG_LEVEL_WARNING, "bad_move_order", "worker: a move order that is not a token and a PAR");
		natsMsg_Term(m, NULL);
		natsMsg_Destroy(m);
		return;
	}
	memcpy(token, natsMsg_GetData(m), (size_t)len);
	token[len] = '\0';
	snprintf(acc, sizeof acc, "par:%s", par);
	if (jsbus_shard(acc, w->cfg->shards) == w->cfg->shard) {
		/* Same shard: the writer moves the card itself when the
		 * PAR's tap arrives (as the embedded engine does). */
		natsMsg_Ack(m, NULL);
		natsMsg_Destroy(m);
		return;
	}
	drain(w);	/* every earlier tap committed */
	if (forward_card(w, token, par) != 0) {
		natsMsg_Destroy(m);
		return;
	}
	memset(&x, 0, sizeof x);
	snprintf(x.token, sizeof x.token, "%s", token);
	snprintf(x.par, sizeof x.par, "%s", par);
	snprintf(x.tap_id, sizeof x.tap_id, "move:%s", token);
	x.refuse = REFUSAL_MOVED;
	if (submit(w, m, &x) == 0) {
		drain(w);	/* later taps see the card as moved */
		w->n_moved++;
	}
}

static void
handle(struct worker *w, natsMsg *m)
{
	const char *why, *par = NULL;
	char moved[32];
	struct jtap x;

	if (natsMsgHeader_Get(m, JSBUS_MOVE_HDR, &par) == NATS_OK) {
		handle_move(w, m, par);
		return;
	}
	if (jsbus_tap_decode(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(
	    m), &x, &why) == -1) {
		/* Not ours: never delivered again. */
		CLUSTER_LOG(LOG_LEVEL_WARNING, "bad_message", "worker: %s: a message that is not a tap: %s",
		    natsMsg_GetSubject(m), why);
		w->n_bad++;
		natsMsg_Term(m, NULL);
		natsMsg_Destroy(m);
		return;
	}
	if (moves_lookup_kept(w->db, &w->moved_q, x.token, moved,
	    sizeof moved) == 1) {
		/* The card lives on its PAR's shard now. */
		if (forward(w, &x, moved) == 0) {
			natsMsg_Ack(m, NULL);
			w->n_forwarded++;
		}
		natsMsg_Destroy(m);
		return;
	}
	submit(w, m, &x);
}

static void *
fetch_main(void *arg)
{
	struct worker *w = arg;
	char why[200];
	int failing = 0;

	pthread_setname_np(pthread_self(), "fe-fetch");
	for (;;) {
		natsMsgList list = {NULL, 0};
		jsErrCode jerr = 0;
		natsStatus s;
		int i;
		pthread_mutex_lock(&w->mu);
		if (w->stop) {
			pthread_mutex_unlock(&w->mu);
			break;
		}
		pthread_mutex_unlock(&w->mu);
		s = natsSubscription_Fetch(&list, w->sub, WORKER_FETCH, 1000,
		    &jerr);
		if (s == NATS_TIMEOUT)
			continue;
		if (s != NATS_OK) {
			if (!failing)
				CLUSTER_LOG(LOG_LEVEL_ERR, "fetch_failed", "worker: fetch from %s: %s", w->subject,
				    jsbus_error(s, why, sizeof why));
			failing = 1;
			struct timespec q = {0, 250000000};
			nanosleep(&q, NULL);
			continue;
		}
		if (failing)
			CLUSTER_LOG(LOG_LEVEL_NOTICE, "fetch_ok", "worker: fetching from %s again", w->subject);
		failing = 0;
		for (i = 0; i < list.Count; i++) {
			natsMsg *m = list.Msgs[i];
			list.Msgs[i] = NULL;	/* ours now */
			handle(w, m);
		}
		natsMsgList_Destroy(&list);
	}
	return NULL;
}

/* The shard's deny-list changes to the cluster's bucket, each second. */
static void
deny_cb(const char *account, int on, void *arg)
{
	struct worker *w = arg;
	char key[ACCOUNT_TEXT_MAX], *c;
	uint64_t rev;

	snprintf(key, sizeof key, "%s", account);
	if ((c = strchr(key, ':')) != NULL)
		*c = '.';	/* keys are [-/_=.a-zA-Z0-9]+ */
	if (on)
		kvStore_PutString(&rev, w->bus.deny, key, "declined");
	else
		kvStore_Delete(w->bus.deny, key);
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct stat st;

	(void)fd;
	(void)what;
	/* A database deleted under the worker: what it commits goes to a
	 * file nobody will open again, yet JetStream would forget the
	 * taps.  Stop: they stay in the stream, unacknowledged. */
	if (fstat(w->lock_fd, &st) == 0 && st.st_nlink == 0) {
		log_event(LOG_LEVEL_ERR, "database_deleted", "db=%s msg=%s",
		    LOGQ(w->cfg->db), LOGQ("the shard's database was "
		    "deleted while the worker ran: stopping without "
		    "acknowledging more taps; restore it (or start with "
		    "--rebuild)"));
		w->failed = 1;
		event_base_loopbreak(w->base);
		return;
	}
	deny_changes(w->db, &w->deny_last, deny_cb, w);
}

static void
stop_cb(evutil_socket_t sig, short what, void *arg)
{
	struct worker *w = arg;

	(void)what;
	CLUSTER_LOG(LOG_LEVEL_NOTICE, "shutdown", "signal %d: stopping: committing and acknowledging what was "
	    "fetched", (int)sig);
	event_base_loopbreak(w->base);
}

static struct tariff *
load_tariff(const char *dir)
{
	struct diag d;
	struct tariff *t;

	diag_init(&d);
	t = tariff_load(dir, &d);
	diag_print(&d, stderr);
	diag_free(&d);
	return t;
}

/* The durable consumer worker-<K> on taps.<K>, created when missing. */
static int
subscribe(struct worker *w, char *err, size_t errlen)
{
	jsConsumerConfig cc;
	jsConsumerInfo *ci = NULL;
	jsSubOptions so;
	jsErrCode jerr = 0;
	natsStatus s;
	char why[200];

	snprintf(w->subject, sizeof w->subject, "taps.%u", w->cfg->shard);
	snprintf(w->durable, sizeof w->durable, "worker-%u", w->cfg->shard);
	jsConsumerConfig_Init(&cc);
	cc.Durable = w->durable;
	cc.FilterSubject = w->subject;
	cc.AckPolicy = js_AckExplicit;
	/* A killed worker's unacknowledged messages come back after this
	 * (ns); one that is only slow gets them twice, and UNIQUE(tap_id)
	 * stores them once. */
	cc.AckWait = (int64_t)WORKER_ACK_WAIT_S * 1000000000;
	cc.MaxAckPending = WORKER_PENDING;
	cc.MaxDeliver = -1;
	/* A new consumer starts where the cluster's layout does (1 until
	 * a shard is added). */
	cc.DeliverPolicy = js_DeliverByStartSequence;
	cc.OptStartSeq = w->since;
	s = js_AddConsumer(&ci, w->bus.js, JSBUS_STREAM, &cc, NULL, &jerr);
	jsConsumerInfo_Destroy(ci);
	if (s != NATS_OK && jerr != JSConsumerNameExistErr) {
		/* Already there (same config): bind to it all the same. */
		CLUSTER_LOG(LOG_LEVEL_WARNING, "consumer_exists", "worker: consumer %s: %s (JetStream error %d); binding "
		    "to it", w->durable, jsbus_error(s, why, sizeof why),
		    (int)jerr);
	}
	jsSubOptions_Init(&so);
	so.Stream = JSBUS_STREAM;
	so.Consumer = w->durable;
	if ((s = js_PullSubscribe(&w->sub, w->bus.js, w->subject, w->durable,
	    NULL, &so, &jerr)) != NATS_OK) {
		snprintf(err, errlen, "consumer %s on %s: %s", w->durable,
		    w->subject, jsbus_error(s, why, sizeof why));
		return -1;
	}
	return 0;
}

/*
 * The shard's database file, held with flock() while the worker runs: a
 * second worker on the same file (two writers, two account caches, the
 * consumer's messages split between them) is refused at start.  The file
 * is created empty when missing (SQLite takes an empty file as a new
 * database).  -1 with err.
 */
static int
lock_db(struct worker *w, char *err, size_t errlen)
{
	const char *db = w->cfg->db;

	if ((w->lock_fd = open(db, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) ==
	    -1) {
		snprintf(err, errlen, "%s: %s", db, strerror(errno));
		return -1;
	}
	if (flock(w->lock_fd, LOCK_EX | LOCK_NB) == -1) {
		snprintf(err, errlen, "%s: another worker has this shard's "
		    "database open (flock): one worker per shard", db);
		return -1;
	}
	return 0;
}

/*
 * Which shard the database holds (table shard_identity, one row: shard,
 * shards, since), recorded at its first start: a worker started on it
 * with another --shard or --shards is refused (it would mix two shards'
 * taps in one ledger, or price with the wrong layout).  *fresh: no row
 * and no taps (a new database).  -1 with err.
 */
static int
shard_identity(struct worker *w, int *fresh, char *err, size_t errlen)
{
	const struct worker_config *c = w->cfg;
	sqlite3_stmt *st = NULL;
	int rc, have = 0;
	long long k = 0, n = 0, taps = 0;

	*fresh = 0;
	if (sqlite3_exec(w->db, "CREATE TABLE IF NOT EXISTS shard_identity ("
	    "shard INTEGER NOT NULL, shards INTEGER NOT NULL, "
	    "since INTEGER NOT NULL)", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(w->db, "SELECT shard, shards, (SELECT "
	    "count(*) FROM taps) FROM shard_identity UNION ALL SELECT -1, -1, "
	    "(SELECT count(*) FROM taps) LIMIT 1", -1, &st, NULL) !=
	    SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", c->db, sqlite3_errmsg(w->db));
		sqlite3_finalize(st);
		return -1;
	}
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		k = sqlite3_column_int64(st, 0);
		n = sqlite3_column_int64(st, 1);
		taps = sqlite3_column_int64(st, 2);
		have = k >= 0;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW) {
		snprintf(err, errlen, "%s: %s", c->db, sqlite3_errmsg(w->db));
		return -1;
	}
	if (have && (k != (long long)c->shard || n != (long long)c->shards)) {
		snprintf(err, errlen, "%s holds shard %lld of %lld (table "
		    "shard_identity), not --shard %u --shards %u: give each "
		    "worker its own shard's database (adding a shard starts "
		    "new databases: README)", c->db, k, n, c->shard,
		    c->shards);
		return -1;
	}
	*fresh = !have && taps == 0;
	return 0;
}

static int
shard_identity_record(struct worker *w, char *err, size_t errlen)
{
	char sql[160];

	snprintf(sql, sizeof sql, "INSERT INTO shard_identity SELECT %u, %u, "
	    "%lld WHERE NOT EXISTS (SELECT 1 FROM shard_identity)",
	    w->cfg->shard, w->cfg->shards, (long long)time(NULL));
	if (sqlite3_exec(w->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", w->cfg->db,
		    sqlite3_errmsg(w->db));
		return -1;
	}
	return 0;
}

/*
 * A new database under a consumer that has acknowledged messages would
 * silently start the shard's history in the middle (the earlier taps
 * are acknowledged, in a database that is gone): refused.  --rebuild and
 * --reshard (a new database only) delete the consumer instead, so the
 * new one reads the shard's subject from the layout's first sequence
 * (the stream keeps every tap): the whole shard again (--rebuild), or
 * the new layout's taps only (--reshard).  -1 with err.
 */
static int
check_consumer(struct worker *w, int fresh, char *err, size_t errlen)
{
	const struct worker_config *c = w->cfg;
	jsConsumerInfo *ci = NULL;
	jsErrCode jerr = 0;
	natsStatus s;
	uint64_t floor;
	char why[200];

	if ((c->rebuild || c->reshard) && !fresh) {
		snprintf(err, errlen, "--%s starts a new database: %s is not "
		    "new", c->rebuild ? "rebuild" : "reshard", c->db);
		return -1;
	}
	s = js_GetConsumerInfo(&ci, w->bus.js, JSBUS_STREAM, w->durable,
	    NULL, &jerr);
	if (s != NATS_OK) {
		/* Missing: subscribe creates it; other failures show
		 * there. */
		return 0;
	}
	floor = ci->AckFloor.Stream;
	jsConsumerInfo_Destroy(ci);
	if (fresh && floor > 0 && !c->rebuild && !c->reshard) {
		snprintf(err, errlen, "%s is a new database, but consumer %s "
		    "has acknowledged taps up to stream sequence %llu: they "
		    "are in this shard's real database.  Restore it (README, "
		    "Restore), or rebuild the shard from the stream with "
		    "--rebuild", c->db, w->durable, (unsigned long long)floor);
		return -1;
	}
	if (c->rebuild || c->reshard) {
		s = js_DeleteConsumer(w->bus.js, JSBUS_STREAM, w->durable,
		    NULL, &jerr);
		if (s != NATS_OK && jerr != JSConsumerNotFoundErr) {
			snprintf(err, errlen, "cannot delete consumer %s: %s",
			    w->durable, jsbus_error(s, why, sizeof why));
			return -1;
		}
		CLUSTER_LOG(LOG_LEVEL_NOTICE, "consumer_renewed", "worker: "
		    "consumer %s deleted: shard %u is priced into %s from "
		    "stream sequence %llu on", w->durable, c->shard, c->db,
		    (unsigned long long)w->since);
	}
	return 0;
}

static int
worker_setup(struct worker *w, char *err, size_t errlen)
{
	const struct worker_config *c = w->cfg;
	struct writer_opts wo = {c->db, c->synchronous_full, c->clock_offset_s,
	    c->debt_tap_gap_s, c->settle_grace_s, (size_t)c->account_cache,
	    NULL, c->checkpoint_file};
	struct tariff_files *files;
	struct tariff *t = load_tariff(c->tariff), *t2;
	struct timeval one = {1, 0};
	char name[48];
	uint32_t k;
	int fresh;

	if (lock_db(w, err, errlen) == -1) {
		tariff_free(t);
		return -1;
	}
	if (t == NULL || (t2 = load_tariff(c->tariff)) == NULL) {
		tariff_free(t);
		snprintf(err, errlen, "tariff %s rejected (see above)",
		    c->tariff);
		return -1;
	}
	/* The version priced with (its files), as serve records it. */
	if ((files = tariff_files_read(c->tariff, err, errlen)) == NULL) {
		tariff_free(t);
		tariff_free(t2);
		return -1;
	}
	/* This shard's checkpoints: signed at every day close it posts,
	 * appended to its own file (audit verify checks them per shard).
	 * The key is a secret file as serve checks it (outside --dev). */
	if (c->ledger_key_file != NULL && ((!c->dev &&
	    harden_secret_file(c->ledger_key_file, err, errlen) == -1) ||
	    (wo.ledger_key = checkpoint_key_load(c->ledger_key_file, 1, err,
	    errlen)) == NULL)) {
		tariff_free(t);
		tariff_free(t2);
		tariff_files_free(files);
		return -1;
	}
	if ((w->writer = writer_open(&wo, t, files, w->base, done_cb, w, err,
	    errlen)) == NULL) {
		checkpoint_key_free(wo.ledger_key);
		tariff_free(t2);
		return -1;
	}
	if (sqlite3_open_v2(c->db, &w->db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK || sqlite3_busy_timeout(w->db, 5000) != SQLITE_OK ||
	    moves_schema(w->db, err, errlen) == -1 ||
	    shard_identity(w, &fresh, err, errlen) == -1) {
		if (err[0] == '\0')
			snprintf(err, errlen, "%s: %s", c->db,
			    sqlite3_errmsg(w->db));
		tariff_free(t2);
		return -1;
	}
	if (c->acquirer != NULL) {
		/* References and keys: the sub-key of the token key that
		 * serve derives (settle.h), so shards match the engine. */
		unsigned char secret[TAP_DERIVED_KEY_LEN];
		struct settle_opts so = {c->db, c->acquirer, c->certs,
		    tariff_currency(t2), c->settle_grace_s,
		    (int)c->settle_interval_s, (int)c->settle_timeout_ms,
		    secret};
		struct tap_tokenizer *tk = harden_token_key(c->token_key_file,
		    c->dev, err, errlen);
		if (tk != NULL && tap_derive_key(tk, SETTLE_SECRET_LABEL,
		    secret) == 0)
			w->settle = settle_start(&so, w->writer, err, errlen);
		else if (tk != NULL)
			snprintf(err, errlen, "cannot derive the settlement key");
		tap_tokenizer_free(tk);
		mbedtls_platform_zeroize(secret, sizeof secret);
	}
	tariff_free(t2);
	if (c->acquirer != NULL && w->settle == NULL)
		return -1;
	snprintf(name, sizeof name, "onecity-worker-%u", c->shard);
	snprintf(w->durable, sizeof w->durable, "worker-%u", c->shard);
	if (jsbus_open(&w->bus, c->nats, name, &c->sec, NULL, err, errlen) ==
	    -1 || jsbus_layout(&w->bus, c->shards, c->reshard, &w->since, err,
	    errlen) == -1 || check_consumer(w, fresh, err, errlen) == -1 ||
	    shard_identity_record(w, err, errlen) == -1 ||
	    subscribe(w, err, errlen) == -1)
		return -1;
	w->slot = calloc(WORKER_PENDING, sizeof *w->slot);
	w->free_slot = malloc(WORKER_PENDING * sizeof *w->free_slot);
	if (w->slot == NULL || w->free_slot == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (k = 0; k < WORKER_PENDING; k++)
		w->free_slot[w->nfree++] = WORKER_PENDING - 1 - k;
	w->sig[0] = evsignal_new(w->base, SIGTERM, stop_cb, w);
	w->sig[1] = evsignal_new(w->base, SIGINT, stop_cb, w);
	w->tick = event_new(w->base, -1, EV_PERSIST, tick_cb, w);
	if (w->sig[0] == NULL || w->sig[1] == NULL || w->tick == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	event_add(w->sig[0], NULL);
	event_add(w->sig[1], NULL);
	event_add(w->tick, &one);
	if (pthread_create(&w->fetch, NULL, fetch_main, w) != 0) {
		snprintf(err, errlen, "cannot start the fetch thread");
		return -1;
	}
	w->fetch_started = 1;
	return 0;
}

static int
worker_run(const struct worker_config *c)
{
	struct worker w;
	char err[512] = "";
	int rc = 1, i;

	memset(&w, 0, sizeof w);
	w.cfg = c;
	w.lock_fd = -1;
	/* As serve: the shard's database 0600, no core dumps, libevent's
	 * and SQLite's memory wiped when freed. */
	harden_process();
	pthread_mutex_init(&w.mu, NULL);
	pthread_cond_init(&w.cv, NULL);
	signal(SIGPIPE, SIG_IGN);
	evthread_use_pthreads();
	if ((w.base = event_base_new()) == NULL) {
		fprintf(stderr, "fare-engine: cannot start libevent\n");
		return 1;
	}
	if (worker_setup(&w, err, sizeof err) == -1)
		CLUSTER_LOG(LOG_LEVEL_ERR, "start_failed", "%s", err);
	else {
		CLUSTER_LOG(LOG_LEVEL_NOTICE, "worker_started", "worker: shard %u of %u from %s (consumer %s), database "
		    "%s", c->shard, c->shards, w.subject, w.durable, c->db);
		event_base_dispatch(w.base);
		rc = w.failed;
	}
	pthread_mutex_lock(&w.mu);
	w.stop = 1;
	pthread_cond_broadcast(&w.cv);
	pthread_mutex_unlock(&w.mu);
	if (w.fetch_started)
		pthread_join(w.fetch, NULL);
	settle_stop(w.settle);
	writer_close(w.writer);		/* commits, then acks via done_cb */
	if (w.db != NULL && w.bus.deny != NULL)
		deny_changes(w.db, &w.deny_last, deny_cb, &w);
	if (w.sub != NULL)
		natsSubscription_Destroy(w.sub);	/* the consumer stays */
	jsbus_close(&w.bus);
	sqlite3_finalize(w.moved_q);
	sqlite3_close(w.db);
	for (i = 0; i < 2; i++)
		if (w.sig[i] != NULL)
			event_free(w.sig[i]);
	if (w.tick != NULL)
		event_free(w.tick);
	event_base_free(w.base);
	free(w.slot);
	free(w.free_slot);
	if (w.lock_fd != -1)
		close(w.lock_fd);	/* releases the flock */
	pthread_mutex_destroy(&w.mu);
	pthread_cond_destroy(&w.cv);
	if (rc == 0)
		CLUSTER_LOG(LOG_LEVEL_NOTICE, "stopped", "worker: stopped cleanly (%llu acknowledged, %llu "
		    "card(s) moved, %llu tap(s) forwarded)",
		    (unsigned long long)w.n_acked,
		    (unsigned long long)w.n_moved,
		    (unsigned long long)w.n_forwarded);
	return rc;
}

static const struct opt_cmd worker_cmd = {"fare-engine worker", "", 0, 0,
    "Prices one shard of the cluster: a durable pull consumer on "
    "taps.<shard> of the\nJetStream stream TAPS feeds the embedded "
    "engine's writer on this shard's own\ndatabase (same schema and "
    "views); messages are acknowledged after their commit.\nSettlement "
    "runs per shard with --acquirer.  SIGTERM stops cleanly (exit 0)."};

int
cmd_worker(int argc, char **argv)
{
	struct worker_config c;
	long shard = -1, shards = 0;
	int64_t clock = INT64_MIN;
	const char *sync = NULL;
	int dev = 0, first, r;
	const struct opt o[] = {
		{.name = "nats", .kind = OPT_STR, .dst = &c.nats,
		    .arg = "URLS", .flags = OPT_REQUIRED,
		    .help = "the cluster: nats://HOST:PORT,..."},
		{.name = "shard", .kind = OPT_LONG, .dst = &shard, .arg = "K",
		    .lo = 0, .hi = JSBUS_SHARDS_MAX - 1,
		    .flags = OPT_REQUIRED, .help = "this worker's shard"},
		{.name = "shards", .kind = OPT_LONG, .dst = &shards,
		    .arg = "N", .lo = 1, .hi = JSBUS_SHARDS_MAX,
		    .flags = OPT_REQUIRED, .help = "shards in the cluster (as "
		    "the gateways' --shards)"},
		{.name = "db", .kind = OPT_STR, .dst = &c.db, .arg = "FILE",
		    .flags = OPT_REQUIRED, .help = "this shard's SQLite "
		    "database"},
		{.name = "tariff", .kind = OPT_STR, .dst = &c.tariff,
		    .arg = "DIR", .flags = OPT_REQUIRED,
		    .help = "the tariff (GTFS directory)"},
		{.name = "clock", .kind = OPT_TIME, .dst = &clock,
		    .arg = "RFC3339", .help = "the engine's clock (tests and "
		    "demos)"},
		{.name = "synchronous", .kind = OPT_STR, .dst = &sync,
		    .arg = "full|normal", .help = "SQLite's synchronous "
		    "(default full)"},
		{.name = "account-cache", .kind = OPT_LONG,
		    .dst = &c.account_cache, .arg = "N", .lo = 0,
		    .hi = ACCOUNT_CACHE_ACCOUNTS, .help = "accounts whose open "
		    "weeks the writer keeps in memory (0: none)"},
		{.name = "acquirer", .kind = OPT_STR, .dst = &c.acquirer,
		    .arg = "HOST:PORT", .help = "settle this shard with the "
		    "acquirer"},
		{.name = "certs", .kind = OPT_STR, .dst = &c.certs,
		    .arg = "DIR", .help = "engine certificate and the "
		    "acquirer's (settlement's TLS)"},
		{.name = "token-key-file", .kind = OPT_STR,
		    .dst = &c.token_key_file, .arg = "FILE", .group = 1,
		    .help = "the token key (settlement's keys derive from "
		    "it)"},
		{.name = "dev", .kind = OPT_FLAG, .dst = &dev, .group = 1,
		    .help = "development: the dev token key"},
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
		{.name = "ledger-key-file", .kind = OPT_STR,
		    .dst = &c.ledger_key_file, .arg = "FILE", .help = "the "
		    "ledger key: a signed checkpoint at every day close"},
		{.name = "checkpoint-file", .kind = OPT_STR,
		    .dst = &c.checkpoint_file, .arg = "FILE", .help = "where "
		    "this shard's checkpoints are appended"},
		{.name = "nats-user", .kind = OPT_STR, .dst = &c.sec.user,
		    .arg = "NAME", .help = "the NATS user"},
		{.name = "nats-password-file", .kind = OPT_STR,
		    .dst = &c.sec.password_file, .arg = "FILE",
		    .help = "its password (first line; 0600)"},
		{.name = "nats-ca", .kind = OPT_STR, .dst = &c.sec.ca,
		    .arg = "FILE", .help = "TLS to NATS: the servers' CA"},
		{.name = "nats-cert", .kind = OPT_STR, .dst = &c.sec.cert,
		    .arg = "FILE", .help = "the client certificate for NATS "
		    "(mutual TLS)"},
		{.name = "nats-key", .kind = OPT_STR, .dst = &c.sec.key,
		    .arg = "FILE", .help = "its key (0600)"},
		{.name = "reshard", .kind = OPT_FLAG, .dst = &c.reshard,
		    .help = "record --shards as the cluster's number of "
		    "shards (adding a shard: README)"},
		{.name = "rebuild", .kind = OPT_FLAG, .dst = &c.rebuild,
		    .help = "a new database: price the shard again from the "
		    "stream's start (its consumer is deleted)"},
		{.name = NULL},
	};

	memset(&c, 0, sizeof c);
	c.synchronous_full = 1;
	c.settle_grace_s = SETTLE_GRACE_S_DEFAULT;
	c.settle_interval_s = SETTLE_INTERVAL_S_DEFAULT;
	c.settle_timeout_ms = SETTLE_TIMEOUT_MS_DEFAULT;
	c.debt_tap_gap_s = DEBT_TAP_GAP_S_DEFAULT;
	c.account_cache = ACCOUNT_CACHE_ACCOUNTS;
	if ((r = opt_parse(&worker_cmd, o, argc, argv, &first)) != OPT_RUN)
		return r;
	if (sync != NULL && strcmp(sync, "full") != 0 &&
	    strcmp(sync, "normal") != 0)
		return opt_fail(&worker_cmd, "--synchronous '%s': full or "
		    "normal", sync);
	c.synchronous_full = sync == NULL || strcmp(sync, "full") == 0;
	if (shard >= shards)
		return opt_fail(&worker_cmd, "--shard %ld is not below "
		    "--shards %ld", shard, shards);
	if (c.acquirer != NULL && c.token_key_file == NULL && !dev)
		return opt_fail(&worker_cmd, "settlement (--acquirer) needs "
		    "--token-key-file (or --dev for the development key)");
	if (c.acquirer != NULL && c.certs == NULL)
		return opt_fail(&worker_cmd, "settlement (--acquirer) needs "
		    "--certs DIR (the engine's and the acquirer's "
		    "certificates)");
	if ((c.ledger_key_file == NULL) != (c.checkpoint_file == NULL))
		return opt_fail(&worker_cmd, "--ledger-key-file and "
		    "--checkpoint-file go together (one checkpoint file per "
		    "shard)");
	if (jsbus_security_check(&c.sec) != NULL)
		return opt_fail(&worker_cmd, "%s", jsbus_security_check(&c.sec));
	if (clock != INT64_MIN)
		c.clock_offset_s = clock - (int64_t)time(NULL);
	c.dev = dev;
	c.shard = (unsigned)shard;
	c.shards = (unsigned)shards;
	return worker_run(&c);
}
