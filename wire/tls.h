/*
 * Mutual TLS on libevent with mbedTLS.  libevent 2.1 has no mbedTLS
 * bufferevent, so this module drives mbedtls_ssl_* from the event loop:
 * a non-blocking socket, WANT_READ/WANT_WRITE mapped to read and write
 * events, an output evbuffer, and callbacks for open, data and close.
 * TLS 1.2 and later only; the peer must present a certificate of our CA
 * (not revoked, within validity, with the right extended key usage).
 * Servers issue session tickets; clients keep their session to resume.
 */
#ifndef ONECITY_TLS_H
#define ONECITY_TLS_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/buffer.h>

struct tls_ctx;
struct tls_conn;
struct mbedtls_x509_time;

/* An X.509 time (UTC) as Unix seconds. */
int64_t		 tls_x509_time(const struct mbedtls_x509_time *);

struct tls_conn_cbs {
	/* The handshake is done and the peer verified. */
	void	(*open)(struct tls_conn *, void *arg);
	/* Plaintext arrived; consume what you can from in. */
	void	(*data)(struct tls_conn *, struct evbuffer *in, void *arg);
	/* The connection is gone; reason says why.  Free it from here. */
	void	(*close)(struct tls_conn *, const char *reason, void *arg);
};

/* A server: engine.crt/key, ca.crt and crl.pem from certdir. */
struct tls_ctx	*tls_server_new(const char *certdir, int require_crl,
		    char *err, size_t errlen);
/*
 * A client for device_id: certdir/devices/<id>.crt/key and ca.crt.  A NULL
 * device_id presents no certificate (tests of refusal).
 */
struct tls_ctx	*tls_client_new(const char *certdir, const char *device_id,
		    char *err, size_t errlen);
/*
 * The acquirer link (docs/protocol.md, "Acquirer"), mutual TLS with each
 * side pinning the other: the engine as a client (engine.crt/key, the
 * acquirer's acquirer.crt pinned), the acquirer simulator as a server
 * (acquirer.crt/key, the engine's certificate chained to ca.crt and
 * pinned).  NULL with err when a file is missing or bad.
 */
struct tls_ctx	*tls_acquirer_client_new(const char *certdir, char *err,
		    size_t errlen);
struct tls_ctx	*tls_acquirer_server_new(const char *certdir, char *err,
		    size_t errlen);
/*
 * Servers: runs the handshakes' steps on n threads of their own (n >= 1,
 * at most TLS_HANDSHAKE_THREADS_MAX), so that a storm of full handshakes
 * (ECDHE and ECDSA, milliseconds each) uses every core and the event loop
 * goes on serving open connections meanwhile.  Everything else (events,
 * callbacks, frees) stays on the loop's thread: a worker only runs
 * mbedTLS on a connection handed to it, and hands it back by activating
 * an event of the connection's base, which must have been made after
 * evthread_use_pthreads().  Call before the first tls_conn_new; 0, or -1
 * with err.
 */
int		 tls_ctx_handshake_threads(struct tls_ctx *, int n, char *err,
		    size_t errlen);
/* Caps the protocol at TLS 1.<minor - 1> (tests: an old client). */
void		 tls_ctx_max_version(struct tls_ctx *, int minor);
void		 tls_ctx_free(struct tls_ctx *);
/* The CRL in use: its nextUpdate (Unix seconds), 0 without one. */
int64_t		 tls_ctx_crl_next_update(const struct tls_ctx *);
/* Reloads crl.pem (SIGHUP); a list not signed by the CA, expired, dated
 * ahead or older than the one in use is refused (-1 with err) and the
 * old one kept.  Existing connections are kept: the caller
 * closes those tls_conn_recheck() refuses. */
int		 tls_ctx_reload_crl(struct tls_ctx *, char *err, size_t errlen);

/* Takes ownership of a connected socket (made non-blocking here). */
struct tls_conn	*tls_conn_new(struct tls_ctx *, struct event_base *,
		    evutil_socket_t fd, const struct tls_conn_cbs *, void *arg);
void		 tls_conn_free(struct tls_conn *);
/* Queues plaintext; it leaves as the socket allows.  A write that fails
 * calls the close callback at once (the owner may be freed by it). */
int		 tls_conn_write(struct tls_conn *, const void *, size_t);
size_t		 tls_conn_pending(const struct tls_conn *);
/* Stops or resumes reading (back-pressure). */
void		 tls_conn_pause(struct tls_conn *, int paused);
/* Closes after flushing what is queued. */
void		 tls_conn_close_after_flush(struct tls_conn *);
/* Whether the peer has spoken (its handshake is under way). */
int		 tls_conn_started(const struct tls_conn *);
/* Whether its handshake waits for a handshake thread (the engine is what
 * is slow, not the peer). */
int		 tls_conn_waits_for_us(const struct tls_conn *);
/* The peer certificate's CN (the device_id), once open. */
const char	*tls_conn_peer_cn(const struct tls_conn *);
/* Whether the handshake resumed a session. */
int		 tls_conn_resumed(const struct tls_conn *);
/*
 * Servers: checks an open connection's peer certificate against the CA
 * and the CRL in force now (after tls_ctx_reload_crl): 0 when it still
 * stands, -1 with why (revoked, expired) when the connection must close.
 */
int		 tls_conn_recheck(struct tls_conn *, char *why, size_t len);
/* Clients: keep the session after open for the next connection. */
int		 tls_conn_save_session(struct tls_conn *);

/*
 * Blocking TLS for a thread of its own (the engine's settlement): every
 * read waits at most its timeout, every write at most the one given to
 * tls_sync_open (SO_SNDTIMEO).  tls_sync_open takes a connected socket
 * (closed on failure), handshakes and checks the peer: NULL with err.
 * tls_sync_read: bytes read, 0 on timeout, -1 when closed or broken.
 */
struct tls_sync;
struct tls_sync	*tls_sync_open(struct tls_ctx *, int fd, int timeout_ms,
		    char *err, size_t errlen);
int		 tls_sync_write(struct tls_sync *, const void *, size_t);
int		 tls_sync_read(struct tls_sync *, void *, size_t,
		    int timeout_ms);
/* Closes the connection and its socket. */
void		 tls_sync_free(struct tls_sync *);

#endif
