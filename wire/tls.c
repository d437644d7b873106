/*
 * mbedTLS driven by libevent.  Each connection is a small state machine:
 * TLS_HANDSHAKE until the peer is verified, then TLS_OPEN, then
 * TLS_CLOSING (flushing) and gone.  All teardown goes through tls_fail(),
 * which calls the close callback once with the reason.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/ssl.h>
/*
 * Private, for one field: whether the handshake resumed a session
 * (ssl.handshake->resume, tls_handshake()).  mbedTLS 2.28 has no public
 * accessor for it; everything else here is public API.
 */
#include <mbedtls/ssl_internal.h>
#include <mbedtls/md.h>
#include <mbedtls/sha256.h>
#include <mbedtls/ssl_ticket.h>
#include <mbedtls/x509_crl.h>
#include <mbedtls/x509_crt.h>

#include "limits.h"
#include "certs.h"
#include "tls.h"


struct tls_ctx {
	int			 server;
	char			 certdir[1024];
	mbedtls_entropy_context	 entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_ssl_config	 conf;
	mbedtls_x509_crt	 ca, own;
	mbedtls_x509_crl	 crl;
	int			 have_crl;
	mbedtls_pk_context	 key;
	mbedtls_ssl_ticket_context ticket;
	mbedtls_ssl_session	 session;	/* client: to resume */
	int			 have_session;
	/* client: the engine's certificate, pinned (as a validator keeps
	 * it): no chain to verify at each full handshake */
	mbedtls_x509_crt	 pinned;
	int			 have_pinned;
	const char		*pinned_what;	/* for the refusal */
	char			 peer_name[32];	/* client: SNI, the peer's CN */
	/* server: device certificates already verified against the CA and
	 * the current CRL (SHA-256 of the DER), direct-mapped; emptied when
	 * the CRL is reloaded */
	unsigned char		(*verified)[32];
	/* verified and crl, shared by the loop's thread and the handshake
	 * threads (the loop's thread alone replaces crl, under it) */
	pthread_mutex_t		 vmu;
	int			 have_vmu;
	/* P-256 with its comb table of G built once (tls_warm_group) */
	mbedtls_ecp_group	 warm;
	/* server: the handshake threads (tls_ctx_handshake_threads), their
	 * queues of connections (hs_mu: [0] handshakes under way, taken
	 * first, [1] new ones), and on the loop's thread the list of
	 * connections handed to them and not yet back */
	pthread_t		 hs_th[TLS_HANDSHAKE_THREADS_MAX];
	int			 hs_n;
	pthread_mutex_t		 hs_mu;
	pthread_cond_t		 hs_cv;
	int			 hs_stop;
	struct tls_conn		*hs_head[2], *hs_tail[2];
	struct tls_conn		*busy;
};

enum tls_state {
	TLS_HANDSHAKE,		/* handshake in progress */
	TLS_OPEN,		/* verified, exchanging data */
	TLS_CLOSING,		/* flushing, then closing */
	TLS_STATE_MAX
};

struct tls_conn {
	struct tls_ctx		*ctx;
	enum tls_state		 state;
	mbedtls_ssl_context	 ssl;
	mbedtls_net_context	 net;
	struct event		*rev, *wev;
	struct evbuffer		*in, *out;
	const struct tls_conn_cbs *cbs;
	void			*arg;
	char			 cn[65];
	int			 paused;
	int			 closed;	/* close callback called */
	int			 resumed;
	int			 ready;		/* mbedtls_ssl_setup done */
	/* An owner may free the connection from its callbacks (close, or
	 * data that ends in a close): while this module is on the stack
	 * (depth > 0) the free is deferred to its return (doomed). */
	int			 depth;
	int			 doomed;
	/* Handed to a handshake thread: until it comes back (hs_ev, on the
	 * loop's thread) the loop touches neither ssl nor the socket's
	 * events; a free meanwhile is deferred (doomed). */
	int			 busy;
	int			 hs_rc;		/* what the steps came to */
	struct event		*hs_ev;
	struct tls_conn		*hs_next;	/* ctx's queue */
	struct tls_conn		*bprev, *bnext;	/* ctx's busy list */
};

/* The connection whose handshake this thread steps (tls_rng). */
static _Thread_local struct tls_conn *tls_stepping;

static void	conn_release(struct tls_conn *);
static void	tls_busy_unlink(struct tls_conn *);

static void
tls_err(char *err, size_t errlen, const char *what, int rc)
{
	char buf[128];

	mbedtls_strerror(rc, buf, sizeof buf);
	snprintf(err, errlen, "%s: %s", what, buf);
}

/*
 * P-256 first: in mbedTLS 2.28 its key generation and ECDH take 0.33 and
 * 0.78 ms here against 0.94 and 0.96 ms for X25519's generic Montgomery
 * ladder (measured on this machine, ISSUE 14's storm); X25519 stays for
 * peers that prefer it.
 */
static const mbedtls_ecp_group_id tls_curves[] = {
	MBEDTLS_ECP_DP_SECP256R1, MBEDTLS_ECP_DP_CURVE25519, MBEDTLS_ECP_DP_NONE,
};

/*
 * Gives a freshly loaded P-256 group the comb table of G that c->warm
 * built once: mbedTLS builds it again in every new group (each handshake's
 * ECDH and each key parsed from a certificate), which costs as much as a
 * multiplication.  The table is the same for every group of the curve
 * (ecp_mul_comb: w and d depend only on the curve); the copy belongs to g
 * and mbedtls_ecp_group_free frees it.  Nothing to do when g has one, is
 * another curve or memory runs out (mbedTLS builds it itself then).
 */
static void
tls_warm_group(const struct tls_ctx *c, mbedtls_ecp_group *g)
{
	mbedtls_ecp_point *t;
	size_t i;

	if (g->id != c->warm.id || g->T != NULL || c->warm.T == NULL ||
	    (t = calloc(c->warm.T_size, sizeof *t)) == NULL)
		return;
	for (i = 0; i < c->warm.T_size; i++) {
		mbedtls_ecp_point_init(&t[i]);
		if (mbedtls_ecp_copy(&t[i], &c->warm.T[i]) != 0)
			break;
	}
	if (i < c->warm.T_size) {
		for (i = 0; i < c->warm.T_size; i++)
			mbedtls_ecp_point_free(&t[i]);
		free(t);
		return;
	}
	g->T = t;
	g->T_size = c->warm.T_size;
}

/*
 * An EC key as an ECDSA context with the warm table: mbedTLS's generic EC
 * key copies itself (its group, without the table) into a new ECDSA
 * context at every signature or verification.  A key of another kind is
 * left as it is; so is this one when memory runs out.
 */
static void
tls_warm_key(const struct tls_ctx *c, mbedtls_pk_context *pk)
{
	mbedtls_pk_context e;

	if (mbedtls_pk_get_type(pk) != MBEDTLS_PK_ECKEY)
		return;
	mbedtls_pk_init(&e);
	if (mbedtls_pk_setup(&e, mbedtls_pk_info_from_type(MBEDTLS_PK_ECDSA))
	    != 0 || mbedtls_ecdsa_from_keypair(mbedtls_pk_ec(e),
	    mbedtls_pk_ec(*pk)) != 0) {
		mbedtls_pk_free(&e);
		return;
	}
	tls_warm_group(c, &mbedtls_pk_ec(e)->grp);
	mbedtls_pk_free(pk);
	*pk = e;
}

/*
 * The handshakes' random generator: the context's CTR_DRBG (thread-safe:
 * MBEDTLS_THREADING_C).  A server's ECDHE key is made in the step that
 * loads its group (ssl_write_server_key_exchange), so there is no step
 * before it to give the group the warm table of G (tls_warm_step); the
 * key generation draws the private key first, and so comes here just
 * before it multiplies G: the table is given then.  Saves a table build
 * (about 0.5 ms, a tenth of a full handshake's work) per handshake.
 */
static int
tls_rng(void *p, unsigned char *out, size_t len)
{
	struct tls_conn *t = tls_stepping;

	if (t != NULL && t->ctx->server && t->ssl.handshake != NULL &&
	    t->ssl.state == MBEDTLS_SSL_SERVER_KEY_EXCHANGE)
		tls_warm_group(t->ctx, &t->ssl.handshake->ecdh_ctx.grp);
	return mbedtls_ctr_drbg_random(p, out, len);
}

static int
ctx_common(struct tls_ctx *c, int endpoint, char *err, size_t errlen)
{
	static const char pers[] = "onecity-tls";
	char path[1100];
	int rc;

	if (pthread_mutex_init(&c->vmu, NULL) != 0) {
		snprintf(err, errlen, "cannot make a mutex");
		return -1;
	}
	c->have_vmu = 1;
	mbedtls_entropy_init(&c->entropy);
	mbedtls_ctr_drbg_init(&c->drbg);
	mbedtls_ssl_config_init(&c->conf);
	mbedtls_x509_crt_init(&c->ca);
	mbedtls_x509_crt_init(&c->own);
	mbedtls_x509_crl_init(&c->crl);
	mbedtls_pk_init(&c->key);
	mbedtls_ssl_ticket_init(&c->ticket);
	mbedtls_ssl_session_init(&c->session);
	mbedtls_x509_crt_init(&c->pinned);
	mbedtls_ecp_group_init(&c->warm);
	if ((rc = mbedtls_ctr_drbg_seed(&c->drbg, mbedtls_entropy_func,
	    &c->entropy, (const unsigned char *)pers, sizeof pers - 1)) != 0) {
		tls_err(err, errlen, "seeding the random generator", rc);
		return -1;
	}
	certs_path(path, sizeof path, c->certdir, "ca.crt");
	if ((rc = mbedtls_x509_crt_parse_file(&c->ca, path)) != 0) {
		tls_err(err, errlen, path, rc);
		return -1;
	}
	if ((rc = mbedtls_ssl_config_defaults(&c->conf, endpoint,
	    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT)) != 0) {
		tls_err(err, errlen, "TLS defaults", rc);
		return -1;
	}
	/* TLS 1.2 and later only. */
	mbedtls_ssl_conf_min_version(&c->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
	    MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_rng(&c->conf, tls_rng, &c->drbg);
	mbedtls_ssl_conf_renegotiation(&c->conf,
	    MBEDTLS_SSL_RENEGOTIATION_DISABLED);
	/* Key exchange on P-256 first (tls_curves); certificates are ECDSA
	 * P-256.  Its comb table of G, built once here by one multiplication
	 * of G, is copied into the groups each handshake loads. */
	mbedtls_ssl_conf_curves(&c->conf, tls_curves);
	{
		mbedtls_mpi one;
		mbedtls_ecp_point r;

		mbedtls_mpi_init(&one);
		mbedtls_ecp_point_init(&r);
		rc = mbedtls_ecp_group_load(&c->warm, MBEDTLS_ECP_DP_SECP256R1);
		if (rc == 0)
			rc = mbedtls_mpi_lset(&one, 1);
		if (rc == 0)
			rc = mbedtls_ecp_mul(&c->warm, &r, &one, &c->warm.G,
			    mbedtls_ctr_drbg_random, &c->drbg);
		mbedtls_mpi_free(&one);
		mbedtls_ecp_point_free(&r);
		if (rc != 0) {
			tls_err(err, errlen, "P-256", rc);
			return -1;
		}
	}
	/* The CA's key checks every new device's certificate. */
	tls_warm_key(c, &c->ca.pk);
	return 0;
}

static int
ctx_own_cert(struct tls_ctx *c, const char *crt, const char *key, char *err,
    size_t errlen)
{
	int rc;

	if ((rc = mbedtls_x509_crt_parse_file(&c->own, crt)) != 0) {
		tls_err(err, errlen, crt, rc);
		return -1;
	}
	if ((rc = mbedtls_pk_parse_keyfile(&c->key, key, NULL)) != 0) {
		tls_err(err, errlen, key, rc);
		return -1;
	}
	/* Signed with at every full handshake: its table kept (the key is
	 * only read from now on, by any thread). */
	tls_warm_key(c, &c->key);
	if ((rc = mbedtls_ssl_conf_own_cert(&c->conf, &c->own, &c->key)) != 0) {
		tls_err(err, errlen, "own certificate", rc);
		return -1;
	}
	return 0;
}

/*
 * Whether the CA issued and signed the CRL (RFC 5280 §6.3.3): checked
 * once at load, so that a handshake only looks a serial up in it.
 */
static int
crl_signed_by_ca(const mbedtls_x509_crl *crl, mbedtls_x509_crt *ca)
{
	const mbedtls_md_info_t *md = mbedtls_md_info_from_type(crl->sig_md);
	unsigned char hash[MBEDTLS_MD_MAX_SIZE];

	if (md == NULL || crl->issuer_raw.len != ca->subject_raw.len ||
	    memcmp(crl->issuer_raw.p, ca->subject_raw.p,
	    crl->issuer_raw.len) != 0 ||
	    mbedtls_md(md, crl->tbs.p, crl->tbs.len, hash) != 0 ||
	    mbedtls_pk_verify_ext(crl->sig_pk, crl->sig_opts, &ca->pk,
	    crl->sig_md, hash, mbedtls_md_get_size(md), crl->sig.p,
	    crl->sig.len) != 0)
		return -1;
	return 0;
}

int64_t
tls_x509_time(const mbedtls_x509_time *x)
{
	struct tm tm;

	memset(&tm, 0, sizeof tm);
	tm.tm_year = x->year - 1900;
	tm.tm_mon = x->mon - 1;
	tm.tm_mday = x->day;
	tm.tm_hour = x->hour;
	tm.tm_min = x->min;
	tm.tm_sec = x->sec;
	return (int64_t)timegm(&tm);
}

/* thisUpdate not ahead, nextUpdate not past (RFC 5280 §5.1.2.4-5), and
 * no older than the list in use (a replayed old list); -1 with err. */
static int
crl_check_dates(const mbedtls_x509_crl *fresh, const mbedtls_x509_crl *cur,
    char *err, size_t errlen)
{
	int64_t now = (int64_t)time(NULL);
	int64_t this_update = tls_x509_time(&fresh->this_update);
	int64_t next_update = tls_x509_time(&fresh->next_update);

	if (fresh->next_update.year == 0) {
		snprintf(err, errlen, "the CRL has no nextUpdate");
		return -1;
	}
	if (next_update <= now) {
		snprintf(err, errlen, "the CRL expired %lld s ago "
		    "(nextUpdate %04d-%02d-%02dT%02d:%02d:%02dZ): issue a "
		    "fresh one with 'fare-engine certs crl DIR'",
		    (long long)(now - next_update), fresh->next_update.year,
		    fresh->next_update.mon, fresh->next_update.day,
		    fresh->next_update.hour, fresh->next_update.min,
		    fresh->next_update.sec);
		return -1;
	}
	if (this_update > now + TLS_CRL_CLOCK_SKEW_S) {
		snprintf(err, errlen, "the CRL's thisUpdate is in the future");
		return -1;
	}
	if (cur != NULL && this_update < tls_x509_time(&cur->this_update)) {
		snprintf(err, errlen, "the CRL is older than the one in use");
		return -1;
	}
	return 0;
}

int64_t
tls_ctx_crl_next_update(const struct tls_ctx *c)
{
	return c->have_crl ? tls_x509_time(&c->crl.next_update) : 0;
}

static int
load_crl(struct tls_ctx *c, char *err, size_t errlen)
{
	mbedtls_x509_crl fresh;
	char path[1100];
	int rc;

	certs_path(path, sizeof path, c->certdir, "crl.pem");
	mbedtls_x509_crl_init(&fresh);
	if ((rc = mbedtls_x509_crl_parse_file(&fresh, path)) != 0) {
		mbedtls_x509_crl_free(&fresh);
		tls_err(err, errlen, path, rc);
		return -1;
	}
	if (crl_signed_by_ca(&fresh, &c->ca) == -1) {
		mbedtls_x509_crl_free(&fresh);
		snprintf(err, errlen, "%s: not issued and signed by the CA "
		    "(%s)", path, c->have_crl ? "kept the list in use" :
		    "no list in use");
		return -1;
	}
	/* An expired list would refuse every device (mbedTLS fails all
	 * handshakes on it), and an older one may lack a revocation. */
	if (crl_check_dates(&fresh, c->have_crl ? &c->crl : NULL, err,
	    errlen) == -1) {
		char why[256];
		snprintf(why, sizeof why, "%s", err);
		snprintf(err, errlen, "%s: %s (%s)", path, why, c->have_crl ?
		    "kept the list in use" : "no list in use");
		mbedtls_x509_crl_free(&fresh);
		return -1;
	}
	/* New handshakes use the new list; the old one is dropped. */
	pthread_mutex_lock(&c->vmu);
	mbedtls_x509_crl_free(&c->crl);
	c->crl = fresh;
	c->have_crl = 1;
	if (c->verified != NULL)	/* verified against the old list */
		memset(c->verified, 0, TLS_VERIFIED_CACHE *
		    sizeof *c->verified);
	pthread_mutex_unlock(&c->vmu);
	if (!c->server)
		mbedtls_ssl_conf_ca_chain(&c->conf, &c->ca, &c->crl);
	return 0;
}

/*
 * The server's check of a device certificate against the CA and the CRL
 * (flags as mbedtls_x509_crt_verify gives them), the CA's signature once
 * per certificate until the CRL is reloaded.  Any thread: the cache and
 * the CRL are read under vmu, and a CRL reloaded while the signature was
 * being checked is the one the serial is looked up in (and the entry goes
 * into the emptied cache only as verified against it).
 */
static uint32_t
tls_verify_device(struct tls_ctx *c, const mbedtls_x509_crt *peer)
{
	unsigned char h[32];
	uint32_t flags = 0;
	size_t slot;
	int hit;

	mbedtls_sha256_ret(peer->raw.p, peer->raw.len, h, 0);
	slot = ((size_t)h[0] << 16 | (size_t)h[1] << 8 | h[2]) %
	    TLS_VERIFIED_CACHE;
	pthread_mutex_lock(&c->vmu);
	hit = memcmp(c->verified[slot], h, sizeof h) == 0;
	if (hit && c->have_crl &&
	    mbedtls_x509_time_is_past(&c->crl.next_update))
		flags |= MBEDTLS_X509_BADCRL_EXPIRED;
	pthread_mutex_unlock(&c->vmu);
	if (hit)
		return flags;
	/* The CA's signature (not a const API in 2.28, though it does not
	 * change the chain; the CA's key has its table, so it only reads
	 * it); the CRL's was checked once, when it was loaded (load_crl),
	 * so only the serial is looked up here. */
	(void)mbedtls_x509_crt_verify((mbedtls_x509_crt *)peer, &c->ca, NULL,
	    NULL, &flags, NULL, NULL);
	pthread_mutex_lock(&c->vmu);
	/* The CRL lists our CA's serials: another CA's certificate that
	 * shares one is "not trusted", not "revoked". */
	if (flags == 0 && c->have_crl &&
	    mbedtls_x509_crt_is_revoked(peer, &c->crl))
		flags |= MBEDTLS_X509_BADCERT_REVOKED;
	if (c->have_crl && mbedtls_x509_time_is_past(&c->crl.next_update))
		flags |= MBEDTLS_X509_BADCRL_EXPIRED;
	if (flags == 0)
		memcpy(c->verified[slot], h, sizeof h);
	pthread_mutex_unlock(&c->vmu);
	return flags;
}

/*
 * mbedTLS's verify callback (server): the device certificate's CA
 * signature and revocation, from the cache when it was checked before.
 * A client may send its chain (the device certificate, then the CA's:
 * OpenSSL does by default): mbedTLS, anchored on no CA here, calls the
 * top one "not trusted"; the leaf's check (tls_verify_device) verifies
 * that chain against our CA, so the others' "not trusted" is dropped.
 */
static int
tls_verify_cb(void *arg, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
	struct tls_ctx *c = arg;

	if ((*flags & ~MBEDTLS_X509_BADCERT_NOT_TRUSTED) != 0)
		return 0;
	*flags = depth == 0 ? tls_verify_device(c, crt) : 0;
	return 0;
}

struct tls_ctx *
tls_server_new(const char *certdir, int require_crl, char *err, size_t errlen)
{
	struct tls_ctx *c = calloc(1, sizeof *c);
	char crt[1100], key[1100];
	int rc;

	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->server = 1;
	snprintf(c->certdir, sizeof c->certdir, "%s", certdir);
	certs_path(crt, sizeof crt, certdir, "engine.crt");
	certs_path(key, sizeof key, certdir, "engine.key");
	if (ctx_common(c, MBEDTLS_SSL_IS_SERVER, err, errlen) == -1 ||
	    ctx_own_cert(c, crt, key, err, errlen) == -1)
		goto fail;
	/* mbedTLS silently accepts a missing CRL: refuse unless asked not to. */
	if (load_crl(c, err, errlen) == -1 && require_crl)
		goto fail;
	/*
	 * A full handshake verifies the device's certificate against the CA
	 * once per certificate and CRL (tls_verify_cb): mbedTLS is given no
	 * anchor that issued it, so it checks the dates and CertificateVerify
	 * (possession of the key) but no CA signature, and leaves "not
	 * trusted" for the callback to settle; a certificate is still
	 * required, and a refusal still fails the handshake.  A storm of reconnects
	 * costs each validator one signature check, not one per handshake.
	 */
	if ((c->verified = calloc(TLS_VERIFIED_CACHE, sizeof *c->verified)) ==
	    NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	mbedtls_ssl_conf_ca_chain(&c->conf, &c->own, NULL);
	mbedtls_ssl_conf_verify(&c->conf, tls_verify_cb, c);
	if ((rc = mbedtls_ssl_ticket_setup(&c->ticket, mbedtls_ctr_drbg_random,
	    &c->drbg, MBEDTLS_CIPHER_AES_256_GCM, 86400)) != 0) {
		tls_err(err, errlen, "session tickets", rc);
		goto fail;
	}
	mbedtls_ssl_conf_session_tickets_cb(&c->conf, mbedtls_ssl_ticket_write,
	    mbedtls_ssl_ticket_parse, &c->ticket);
	return c;
fail:
	tls_ctx_free(c);
	return NULL;
}

struct tls_ctx *
tls_client_new(const char *certdir, const char *device_id, char *err,
    size_t errlen)
{
	struct tls_ctx *c = calloc(1, sizeof *c);
	char crt[1100], key[1100];

	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(c->certdir, sizeof c->certdir, "%s", certdir);
	if (ctx_common(c, MBEDTLS_SSL_IS_CLIENT, err, errlen) == -1)
		goto fail;
	if (device_id != NULL) {
		certs_device_paths(crt, key, sizeof crt, certdir, device_id);
		if (ctx_own_cert(c, crt, key, err, errlen) == -1)
			goto fail;
	}
	mbedtls_ssl_conf_ca_chain(&c->conf, &c->ca, NULL);
	mbedtls_ssl_conf_session_tickets(&c->conf,
	    MBEDTLS_SSL_SESSION_TICKETS_ENABLED);
	/* A validator keeps the engine's certificate (it came with its own
	 * from certs/): the engine must present exactly it, and proves it
	 * holds the key by signing the key exchange; no chain to verify at
	 * each full handshake. */
	certs_path(crt, sizeof crt, certdir, "engine.crt");
	snprintf(c->peer_name, sizeof c->peer_name, "onecity-engine");
	c->pinned_what = "the engine's certificate is not the one this "
	    "validator keeps";
	if (mbedtls_x509_crt_parse_file(&c->pinned, crt) == 0) {
		c->have_pinned = 1;
		mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_NONE);
	}
	return c;
fail:
	tls_ctx_free(c);
	return NULL;
}

/* Pins DIR/<name>.crt: the peer must present exactly it. */
static int
ctx_pin(struct tls_ctx *c, const char *name, const char *what, char *err,
    size_t errlen)
{
	char path[1100];
	int rc;

	certs_path(path, sizeof path, c->certdir, name);
	if ((rc = mbedtls_x509_crt_parse_file(&c->pinned, path)) != 0) {
		tls_err(err, errlen, path, rc);
		return -1;
	}
	c->have_pinned = 1;
	c->pinned_what = what;
	return 0;
}

struct tls_ctx *
tls_acquirer_client_new(const char *certdir, char *err, size_t errlen)
{
	struct tls_ctx *c = calloc(1, sizeof *c);
	char crt[1100], key[1100];

	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(c->certdir, sizeof c->certdir, "%s", certdir);
	snprintf(c->peer_name, sizeof c->peer_name, "onecity-acquirer");
	certs_path(crt, sizeof crt, certdir, "engine.crt");
	certs_path(key, sizeof key, certdir, "engine.key");
	if (ctx_common(c, MBEDTLS_SSL_IS_CLIENT, err, errlen) == -1 ||
	    ctx_own_cert(c, crt, key, err, errlen) == -1 ||
	    ctx_pin(c, "acquirer.crt", "the acquirer's certificate is not "
	    "the one pinned (acquirer.crt)", err, errlen) == -1) {
		tls_ctx_free(c);
		return NULL;
	}
	mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_NONE);
	return c;
}

struct tls_ctx *
tls_acquirer_server_new(const char *certdir, char *err, size_t errlen)
{
	struct tls_ctx *c = calloc(1, sizeof *c);
	char crt[1100], key[1100];

	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->server = 1;
	snprintf(c->certdir, sizeof c->certdir, "%s", certdir);
	certs_path(crt, sizeof crt, certdir, "acquirer.crt");
	certs_path(key, sizeof key, certdir, "acquirer.key");
	if (ctx_common(c, MBEDTLS_SSL_IS_SERVER, err, errlen) == -1 ||
	    ctx_own_cert(c, crt, key, err, errlen) == -1 ||
	    ctx_pin(c, "engine.crt", "the client's certificate is not the "
	    "engine's (engine.crt)", err, errlen) == -1) {
		tls_ctx_free(c);
		return NULL;
	}
	/* The engine's certificate chains to the CA and is pinned too. */
	mbedtls_ssl_conf_ca_chain(&c->conf, &c->ca, NULL);
	return c;
}

void
tls_ctx_max_version(struct tls_ctx *c, int minor)
{
	mbedtls_ssl_conf_min_version(&c->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
	    MBEDTLS_SSL_MINOR_VERSION_1);
	mbedtls_ssl_conf_max_version(&c->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
	    minor);
}

int
tls_ctx_reload_crl(struct tls_ctx *c, char *err, size_t errlen)
{
	return load_crl(c, err, errlen);
}

void
tls_ctx_free(struct tls_ctx *c)
{
	if (c == NULL)
		return;
	if (c->hs_n > 0) {
		struct tls_conn *t, *next;
		int i;
		pthread_mutex_lock(&c->hs_mu);
		c->hs_stop = 1;
		pthread_cond_broadcast(&c->hs_cv);
		pthread_mutex_unlock(&c->hs_mu);
		for (i = 0; i < c->hs_n; i++)
			pthread_join(c->hs_th[i], NULL);
		/* Handed out and not back: those their owners freed go now
		 * (the others are their owners' still). */
		for (t = c->busy; t != NULL; t = next) {
			next = t->bnext;
			tls_busy_unlink(t);
			if (t->doomed)
				conn_release(t);
		}
		pthread_cond_destroy(&c->hs_cv);
		pthread_mutex_destroy(&c->hs_mu);
	}
	mbedtls_ssl_ticket_free(&c->ticket);
	mbedtls_x509_crt_free(&c->pinned);
	mbedtls_ecp_group_free(&c->warm);
	free(c->verified);
	mbedtls_ssl_session_free(&c->session);
	mbedtls_pk_free(&c->key);
	mbedtls_x509_crl_free(&c->crl);
	mbedtls_x509_crt_free(&c->own);
	mbedtls_x509_crt_free(&c->ca);
	mbedtls_ssl_config_free(&c->conf);
	mbedtls_ctr_drbg_free(&c->drbg);
	mbedtls_entropy_free(&c->entropy);
	if (c->have_vmu)
		pthread_mutex_destroy(&c->vmu);
	free(c);
}

/* Tears the connection down once, telling the owner why. */
static void
tls_fail(struct tls_conn *t, const char *reason)
{
	event_del(t->rev);
	event_del(t->wev);
	if (!t->closed) {
		t->closed = 1;
		t->cbs->close(t, reason, t->arg);
	}
}

static void
tls_fail_rc(struct tls_conn *t, const char *what, int rc)
{
	char buf[160], msg[256];

	mbedtls_strerror(rc, buf, sizeof buf);
	snprintf(msg, sizeof msg, "%s: %s", what, buf);
	tls_fail(t, msg);
}

static void
tls_want(struct tls_conn *t, int rc)
{
	if (rc == MBEDTLS_ERR_SSL_WANT_WRITE)
		event_add(t->wev, NULL);
}

/*
 * The peer's certificate after a handshake: the pinned one where one is
 * pinned (validators pin the engine's, the engine the acquirer's, the
 * acquirer the engine's), else the verification result (re-checked
 * against the CRL in force on a resumed session) and the clientAuth
 * usage; then its CN into cn.  0, or -1 with why.
 */
static int
check_peer(struct tls_ctx *c, mbedtls_ssl_context *ssl, int resumed,
    char *cn, size_t cnlen, char *why, size_t len)
{
	const mbedtls_x509_crt *peer = mbedtls_ssl_get_peer_cert(ssl);
	const mbedtls_x509_name *n;
	uint32_t flags = mbedtls_ssl_get_verify_result(ssl);

	if (peer == NULL) {
		snprintf(why, len, "no peer certificate");
		return -1;
	}
	if (c->have_pinned) {
		if (peer->raw.len != c->pinned.raw.len ||
		    memcmp(peer->raw.p, c->pinned.raw.p,
		    peer->raw.len) != 0) {
			snprintf(why, len, "%s", c->pinned_what);
			return -1;
		}
		flags = mbedtls_x509_time_is_past(&peer->valid_to) ?
		    MBEDTLS_X509_BADCERT_EXPIRED : 0;
	}
	/* A resumed session carries the certificate verified when the
	 * session began, possibly under an older CRL (SPEC §7: revoked
	 * certificates are refused also on a resumed session), and a full
	 * handshake may have checked it before a reload that came while it
	 * went on (on a handshake thread, or between two of its steps):
	 * check it against the CA and the CRL in force now (from the cache
	 * unless the CRL changed meanwhile). */
	(void)resumed;
	if (c->server && c->verified != NULL)
		flags |= tls_verify_device(c, peer);
	if (flags != 0) {
		mbedtls_x509_crt_verify_info(why, len, "", flags);
		return -1;
	}
	if (c->server && !c->have_pinned && (!(peer->ext_types &
	    MBEDTLS_X509_EXT_EXTENDED_KEY_USAGE) ||
	    mbedtls_x509_crt_check_extended_key_usage(peer,
	    MBEDTLS_OID_CLIENT_AUTH,
	    MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)) != 0)) {
		snprintf(why, len, "certificate without client-auth usage");
		return -1;
	}
	for (n = &peer->subject; n != NULL; n = n->next)
		if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0 &&
		    n->val.len < cnlen) {
			memcpy(cn, n->val.p, n->val.len);
			cn[n->val.len] = '\0';
			return 0;
		}
	snprintf(why, len, "certificate without a CN");
	return -1;
}

static int
tls_check_peer(struct tls_conn *t, char *why, size_t len)
{
	return check_peer(t->ctx, &t->ssl, t->resumed, t->cn, sizeof t->cn,
	    why, len);
}

static void tls_flush(struct tls_conn *);

/*
 * Before the handshake step that uses it, the warm table for the peer's
 * key (the server checks the device's CertificateVerify with it, the
 * validator the engine's signed key exchange) and for the client's ECDH
 * key, whose group the server's parameters loaded in the step before.
 */
static void
tls_warm_step(struct tls_conn *t)
{
	mbedtls_ssl_context *ssl = &t->ssl;
	mbedtls_x509_crt *peer = ssl->session_negotiate != NULL ?
	    ssl->session_negotiate->peer_cert : NULL;

	if (ssl->handshake == NULL || ssl->handshake->resume)
		return;
	if (peer != NULL && ((t->ctx->server &&
	    ssl->state == MBEDTLS_SSL_CERTIFICATE_VERIFY) ||
	    (!t->ctx->server && ssl->state == MBEDTLS_SSL_SERVER_KEY_EXCHANGE)))
		tls_warm_key(t->ctx, &peer->pk);
	if (!t->ctx->server && ssl->state == MBEDTLS_SSL_CLIENT_KEY_EXCHANGE)
		tls_warm_group(t->ctx, &ssl->handshake->ecdh_ctx.grp);
}

/*
 * Runs the handshake's steps until it waits for the socket, fails or is
 * over (t->hs_rc): on the loop's thread, or on a handshake thread, which
 * touches nothing else of the connection.  Step by step, to see whether
 * the session was resumed.
 */
static void
tls_handshake_steps(struct tls_conn *t)
{
	int rc = 0;

	tls_stepping = t;
	while (t->ssl.state != MBEDTLS_SSL_HANDSHAKE_OVER) {
		tls_warm_step(t);
		rc = mbedtls_ssl_handshake_step(&t->ssl);
		if (t->ssl.handshake != NULL && t->ssl.handshake->resume)
			t->resumed = 1;
		if (rc != 0)
			break;
	}
	tls_stepping = NULL;
	t->hs_rc = rc;
}

/* On the loop's thread: what the steps came to (wait, fail or open). */
static void
tls_handshake_end(struct tls_conn *t)
{
	char why[256];
	int rc = t->hs_rc;

	if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
		tls_want(t, rc);
		return;
	}
	if (rc != 0) {
		if (mbedtls_ssl_get_verify_result(&t->ssl) != 0 &&
		    mbedtls_ssl_get_verify_result(&t->ssl) != (uint32_t)-1) {
			mbedtls_x509_crt_verify_info(why, sizeof why, "",
			    mbedtls_ssl_get_verify_result(&t->ssl));
			why[strcspn(why, "\n")] = '\0';
			tls_fail(t, why);
		} else
			tls_fail_rc(t, "handshake", rc);
		return;
	}
	if (tls_check_peer(t, why, sizeof why) == -1) {
		why[strcspn(why, "\n")] = '\0';
		tls_fail(t, why);
		return;
	}
	t->state = TLS_OPEN;
	t->cbs->open(t, t->arg);
	if (!t->closed)
		tls_flush(t);
}

static void
tls_handshake(struct tls_conn *t)
{
	tls_handshake_steps(t);
	tls_handshake_end(t);
}

/*
 * The handshake's next steps go to a handshake thread: the socket's
 * events are taken off until it comes back (tls_hs_back_cb).  Handshakes
 * under way go before new ones: in a storm each finishes as soon as its
 * peer answers, instead of all of them waiting for every ClientHello to
 * be answered first (and then for their handshake timeouts).
 */
static void
tls_hand_off(struct tls_conn *t)
{
	struct tls_ctx *c = t->ctx;
	int q = t->ssl.state <= MBEDTLS_SSL_CLIENT_HELLO;

	event_del(t->rev);
	event_del(t->wev);
	t->busy = 1;
	t->bprev = NULL;
	if ((t->bnext = c->busy) != NULL)
		c->busy->bprev = t;
	c->busy = t;
	t->hs_next = NULL;
	pthread_mutex_lock(&c->hs_mu);
	if (c->hs_tail[q] != NULL)
		c->hs_tail[q]->hs_next = t;
	else
		c->hs_head[q] = t;
	c->hs_tail[q] = t;
	pthread_cond_signal(&c->hs_cv);
	pthread_mutex_unlock(&c->hs_mu);
}

static void
tls_busy_unlink(struct tls_conn *t)
{
	if (t->bprev != NULL)
		t->bprev->bnext = t->bnext;
	else
		t->ctx->busy = t->bnext;
	if (t->bnext != NULL)
		t->bnext->bprev = t->bprev;
	t->bprev = t->bnext = NULL;
	t->busy = 0;
}

static void
tls_read(struct tls_conn *t)
{
	unsigned char buf[16384];
	size_t total = 0;
	int rc;

	/* Unconsumed input is bounded too: read no more until it drains. */
	while (total < TLS_READ_PER_EVENT && !t->paused &&
	    evbuffer_get_length(t->in) < TLS_READ_PER_EVENT) {
		rc = mbedtls_ssl_read(&t->ssl, buf, sizeof buf);
		if (rc == MBEDTLS_ERR_SSL_WANT_READ ||
		    rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
			tls_want(t, rc);
			break;
		}
		if (rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
			tls_fail(t, "peer closed the connection");
			return;
		}
		if (rc < 0) {
			tls_fail_rc(t, "read", rc);
			return;
		}
		evbuffer_add(t->in, buf, (size_t)rc);
		mbedtls_platform_zeroize(buf, (size_t)rc);	/* plaintext */
		total += (size_t)rc;
		/* Data may also sit decrypted inside mbedTLS: keep going. */
		if (mbedtls_ssl_get_bytes_avail(&t->ssl) == 0 && rc <
		    (int)sizeof buf)
			break;
	}
	if (evbuffer_get_length(t->in) > 0)
		t->cbs->data(t, t->in, t->arg);
	/* More than we read this time: come back on the next loop. */
	if (!t->closed && !t->paused &&
	    mbedtls_ssl_get_bytes_avail(&t->ssl) > 0)
		event_active(t->rev, EV_READ, 0);
}

static void
tls_flush(struct tls_conn *t)
{
	while (evbuffer_get_length(t->out) > 0) {
		size_t n = evbuffer_get_length(t->out);
		unsigned char *p;
		int rc;
		if (n > 16384)
			n = 16384;
		p = evbuffer_pullup(t->out, (ssize_t)n);
		rc = mbedtls_ssl_write(&t->ssl, p, n);
		if (rc == MBEDTLS_ERR_SSL_WANT_READ ||
		    rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
			event_add(t->wev, NULL);
			return;
		}
		if (rc < 0) {
			tls_fail_rc(t, "write", rc);
			return;
		}
		evbuffer_drain(t->out, (size_t)rc);
	}
	event_del(t->wev);
	if (t->state == TLS_CLOSING) {
		(void)mbedtls_ssl_close_notify(&t->ssl);
		tls_fail(t, "closed after flushing");
	}
}

/*
 * mbedtls_ssl_setup allocates both 16 KiB record buffers: a server does it
 * only when the client has sent something, so idle sockets cost ~1 KiB.
 */
static int
tls_ready(struct tls_conn *t)
{
	struct tls_ctx *c = t->ctx;

	if (t->ready)
		return 0;
	if (mbedtls_ssl_setup(&t->ssl, &c->conf) != 0 ||
	    (!c->server && mbedtls_ssl_set_hostname(&t->ssl,
	    c->peer_name) != 0) ||
	    (!c->server && c->have_session &&
	    mbedtls_ssl_set_session(&t->ssl, &c->session) != 0))
		return -1;
	mbedtls_ssl_set_bio(&t->ssl, &t->net, mbedtls_net_send,
	    mbedtls_net_recv, NULL);
	t->ready = 1;
	return 0;
}

/* Leaves this module: a free the owner asked for meanwhile happens now. */
static void
conn_leave(struct tls_conn *t)
{
	if (--t->depth == 0 && t->doomed)
		conn_release(t);
}

static void
tls_event_run(struct tls_conn *t, short what)
{
	if (t->closed)
		return;
	if (tls_ready(t) == -1) {
		tls_fail(t, "cannot set up TLS (out of memory)");
		return;
	}
	switch (t->state) {
	case TLS_HANDSHAKE:
		if (t->ctx->hs_n > 0)
			tls_hand_off(t);
		else
			tls_handshake(t);
		break;
	case TLS_OPEN:
		if (what & EV_WRITE)
			tls_flush(t);
		if (!t->closed && (what & EV_READ))
			tls_read(t);
		break;
	case TLS_CLOSING:
		tls_flush(t);
		break;
	case TLS_STATE_MAX:
		abort();
	}
}

static void
tls_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tls_conn *t = arg;

	(void)fd;
	if (t->busy)	/* cannot happen: its events are off */
		return;
	t->depth++;
	tls_event_run(t, what);
	conn_leave(t);
}

/* A connection back from a handshake thread (on the loop's thread). */
static void
tls_hs_back_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tls_conn *t = arg;

	(void)fd;
	(void)what;
	tls_busy_unlink(t);
	if (t->doomed) {
		conn_release(t);
		return;
	}
	t->depth++;
	/* Its reads again (taken off by tls_hand_off). */
	if (!t->paused && t->state != TLS_CLOSING)
		event_add(t->rev, NULL);
	if (t->state == TLS_HANDSHAKE)
		tls_handshake_end(t);
	else	/* closing meanwhile (tls_conn_close_after_flush) */
		tls_event_run(t, EV_WRITE);
	conn_leave(t);
}

static void *
tls_hs_main(void *arg)
{
	struct tls_ctx *c = arg;
	struct tls_conn *t;
	int q;

	pthread_setname_np(pthread_self(), "tls-handshake");
	pthread_mutex_lock(&c->hs_mu);
	for (;;) {
		while (c->hs_head[0] == NULL && c->hs_head[1] == NULL &&
		    !c->hs_stop)
			pthread_cond_wait(&c->hs_cv, &c->hs_mu);
		if (c->hs_stop)
			break;
		q = c->hs_head[0] == NULL;
		t = c->hs_head[q];
		if ((c->hs_head[q] = t->hs_next) == NULL)
			c->hs_tail[q] = NULL;
		pthread_mutex_unlock(&c->hs_mu);
		tls_handshake_steps(t);
		/* The last touch: the loop's thread owns t again from here. */
		event_active(t->hs_ev, EV_READ, 0);
		pthread_mutex_lock(&c->hs_mu);
	}
	pthread_mutex_unlock(&c->hs_mu);
	return NULL;
}

int
tls_ctx_handshake_threads(struct tls_ctx *c, int n, char *err, size_t errlen)
{
	sigset_t all, old;
	int i;

	if (!c->server || c->hs_n > 0 || n < 1 ||
	    n > TLS_HANDSHAKE_THREADS_MAX) {
		snprintf(err, errlen, "handshake threads: a server's, once, "
		    "1 to %d (asked %d)", TLS_HANDSHAKE_THREADS_MAX, n);
		return -1;
	}
	if (pthread_mutex_init(&c->hs_mu, NULL) != 0) {
		snprintf(err, errlen, "handshake threads: cannot make a mutex");
		return -1;
	}
	if (pthread_cond_init(&c->hs_cv, NULL) != 0) {
		pthread_mutex_destroy(&c->hs_mu);
		snprintf(err, errlen, "handshake threads: cannot make a "
		    "condition");
		return -1;
	}
	/* Signals stay the loop's. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (i = 0; i < n; i++)
		if (pthread_create(&c->hs_th[i], NULL, tls_hs_main, c) != 0)
			break;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	c->hs_n = i;
	if (i < n) {
		snprintf(err, errlen, "handshake threads: cannot start "
		    "thread %d of %d", i + 1, n);
		return -1;	/* tls_ctx_free stops those started */
	}
	return 0;
}

struct tls_conn *
tls_conn_new(struct tls_ctx *c, struct event_base *base, evutil_socket_t fd,
    const struct tls_conn_cbs *cbs, void *arg)
{
	struct tls_conn *t = calloc(1, sizeof *t);

	if (t == NULL)
		return NULL;
	t->ctx = c;
	t->cbs = cbs;
	t->arg = arg;
	mbedtls_ssl_init(&t->ssl);
	mbedtls_net_init(&t->net);
	t->net.fd = fd;
	t->in = evbuffer_new();
	t->out = evbuffer_new();
	t->rev = event_new(base, fd, EV_READ | EV_PERSIST, tls_event_cb, t);
	t->wev = event_new(base, fd, EV_WRITE, tls_event_cb, t);
	if (c->hs_n > 0)
		t->hs_ev = event_new(base, -1, 0, tls_hs_back_cb, t);
	if (t->in == NULL || t->out == NULL || t->rev == NULL ||
	    t->wev == NULL || (c->hs_n > 0 && t->hs_ev == NULL) ||
	    evutil_make_socket_nonblocking(fd) == -1 ||
	    (!c->server && tls_ready(t) == -1)) {
		tls_conn_free(t);
		return NULL;
	}
	event_add(t->rev, NULL);
	/* Clients speak first. */
	if (!c->server)
		event_active(t->wev, EV_WRITE, 0);
	return t;
}

void
tls_conn_free(struct tls_conn *t)
{
	if (t == NULL)
		return;
	if (t->depth > 0 || t->busy) {
		/* Called back from inside this module, or handed to a
		 * handshake thread: later. */
		t->doomed = 1;
		t->closed = 1;
		event_del(t->rev);
		event_del(t->wev);
		return;
	}
	conn_release(t);
}

static void
conn_release(struct tls_conn *t)
{
	if (t->rev != NULL)
		event_free(t->rev);
	if (t->wev != NULL)
		event_free(t->wev);
	if (t->hs_ev != NULL)
		event_free(t->hs_ev);
	if (t->in != NULL)
		evbuffer_free(t->in);
	if (t->out != NULL)
		evbuffer_free(t->out);
	mbedtls_ssl_free(&t->ssl);
	mbedtls_net_free(&t->net);
	free(t);
}

/*
 * Queues bytes and sends what the socket takes.  A failure calls the
 * close callback before this returns: callers must not touch their
 * connection's owner after a write without checking it still exists.
 */
int
tls_conn_write(struct tls_conn *t, const void *p, size_t n)
{
	if (t->closed || evbuffer_add(t->out, p, n) == -1)
		return -1;
	if (t->state == TLS_OPEN) {
		t->depth++;
		tls_flush(t);
		conn_leave(t);
	}
	return 0;
}

size_t
tls_conn_pending(const struct tls_conn *t)
{
	return evbuffer_get_length(t->out);
}

void
tls_conn_pause(struct tls_conn *t, int paused)
{
	if (t->closed || t->paused == paused)
		return;
	t->paused = paused;
	if (t->busy)	/* its events come back with it, as paused says */
		return;
	if (paused)
		event_del(t->rev);
	else {
		event_add(t->rev, NULL);
		event_active(t->rev, EV_READ, 0);
	}
}

void
tls_conn_close_after_flush(struct tls_conn *t)
{
	if (t->closed)
		return;
	t->state = TLS_CLOSING;
	if (t->busy)	/* closes when it comes back (tls_hs_back_cb) */
		return;
	event_del(t->rev);
	event_active(t->wev, EV_WRITE, 0);
}

int
tls_conn_started(const struct tls_conn *t)
{
	return t->ready;
}

int
tls_conn_waits_for_us(const struct tls_conn *t)
{
	return t->busy;
}

const char *
tls_conn_peer_cn(const struct tls_conn *t)
{
	return t->cn;
}

int
tls_conn_resumed(const struct tls_conn *t)
{
	return t->resumed;
}

int
tls_conn_recheck(struct tls_conn *t, char *why, size_t len)
{
	const mbedtls_x509_crt *peer;
	uint32_t flags;

	if (!t->ctx->server || t->ctx->verified == NULL ||
	    t->state != TLS_OPEN || t->closed ||
	    (peer = mbedtls_ssl_get_peer_cert(&t->ssl)) == NULL)
		return 0;
	if ((flags = tls_verify_device(t->ctx, peer)) == 0)
		return 0;
	mbedtls_x509_crt_verify_info(why, len, "", flags);
	why[strcspn(why, "\n")] = '\0';
	return -1;
}

int
tls_conn_save_session(struct tls_conn *t)
{
	struct tls_ctx *c = t->ctx;

	mbedtls_ssl_session_free(&c->session);
	mbedtls_ssl_session_init(&c->session);
	if (mbedtls_ssl_get_session(&t->ssl, &c->session) != 0)
		return -1;
	c->have_session = 1;
	return 0;
}

/* ---- Blocking TLS for a thread of its own (settlement). ---- */

struct tls_sync {
	struct tls_ctx		*ctx;
	mbedtls_ssl_context	 ssl;
	mbedtls_net_context	 net;
	char			 cn[65];
};

struct tls_sync *
tls_sync_open(struct tls_ctx *c, int fd, int timeout_ms, char *err,
    size_t errlen)
{
	struct tls_sync *t = calloc(1, sizeof *t);
	struct timeval tv = {timeout_ms / 1000, timeout_ms % 1000 * 1000};
	char why[256];
	int rc;

	if (t == NULL) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	t->ctx = c;
	mbedtls_ssl_init(&t->ssl);
	mbedtls_net_init(&t->net);
	t->net.fd = fd;
	/* Reads wait timeout_ms (mbedtls_net_recv_timeout); writes give up
	 * after it (SO_SNDTIMEO): nothing here blocks without a bound. */
	mbedtls_ssl_conf_read_timeout(&c->conf, (uint32_t)timeout_ms);
	if (mbedtls_net_set_block(&t->net) != 0 || setsockopt(fd, SOL_SOCKET,
	    SO_SNDTIMEO, &tv, sizeof tv) == -1 ||
	    mbedtls_ssl_setup(&t->ssl, &c->conf) != 0 ||
	    mbedtls_ssl_set_hostname(&t->ssl, c->peer_name) != 0) {
		snprintf(err, errlen, "cannot set up TLS");
		tls_sync_free(t);
		return NULL;
	}
	mbedtls_ssl_set_bio(&t->ssl, &t->net, mbedtls_net_send, NULL,
	    mbedtls_net_recv_timeout);
	if ((rc = mbedtls_ssl_handshake(&t->ssl)) != 0) {
		tls_err(err, errlen, "TLS handshake", rc);
		tls_sync_free(t);
		return NULL;
	}
	if (check_peer(c, &t->ssl, 0, t->cn, sizeof t->cn, why,
	    sizeof why) == -1) {
		why[strcspn(why, "\n")] = '\0';
		snprintf(err, errlen, "TLS: %s", why);
		tls_sync_free(t);
		return NULL;
	}
	return t;
}

int
tls_sync_write(struct tls_sync *t, const void *p, size_t n)
{
	const unsigned char *b = p;
	int rc;

	while (n > 0) {
		rc = mbedtls_ssl_write(&t->ssl, b, n);
		if (rc <= 0)
			return -1;
		b += rc;
		n -= (size_t)rc;
	}
	return 0;
}

int
tls_sync_read(struct tls_sync *t, void *p, size_t n, int timeout_ms)
{
	int rc;

	if (timeout_ms < 1)
		return 0;
	mbedtls_ssl_conf_read_timeout(&t->ctx->conf, (uint32_t)timeout_ms);
	rc = mbedtls_ssl_read(&t->ssl, p, n);
	if (rc == MBEDTLS_ERR_SSL_TIMEOUT)
		return 0;
	return rc > 0 ? rc : -1;
}

void
tls_sync_free(struct tls_sync *t)
{
	if (t == NULL)
		return;
	mbedtls_ssl_free(&t->ssl);
	mbedtls_net_free(&t->net);
	free(t);
}
