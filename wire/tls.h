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
/* Caps the protocol at TLS 1.<minor - 1> (tests: an old client). */
void		 tls_ctx_max_version(struct tls_ctx *, int minor);
void		 tls_ctx_free(struct tls_ctx *);
/* Reloads crl.pem (SIGHUP); existing connections are kept. */
int		 tls_ctx_reload_crl(struct tls_ctx *, char *err, size_t errlen);
/* The loaded CRL's nextUpdate in UTC seconds; -1 without a CRL. */
int64_t		 tls_ctx_crl_next_update(const struct tls_ctx *);

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
/* The peer certificate's CN (the device_id), once open. */
const char	*tls_conn_peer_cn(const struct tls_conn *);
/* Whether the handshake resumed a session. */
int		 tls_conn_resumed(const struct tls_conn *);
/* Clients: keep the session after open for the next connection. */
int		 tls_conn_save_session(struct tls_conn *);

#endif
