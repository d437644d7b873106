/*
 * The project's certificate authority, on mbedTLS (no OpenSSL): a CA, the
 * engine's server certificate, one client certificate per validator
 * (device_id in the CN, clientAuth usage) and a CRL, all ECDSA P-256.
 * Private keys are generated here and written 0600; never committed.
 *
 * A certificate directory holds:
 *   ca.crt ca.key engine.crt engine.key acquirer.crt acquirer.key
 *   crl.pem serial revoked
 *   devices/<device_id>.crt devices/<device_id>.key
 */
#ifndef ONECITY_CERTS_H
#define ONECITY_CERTS_H

#include <stddef.h>
#include <stdint.h>

/* Device ids: 1-64 of [A-Za-z0-9._-]. */
int	certs_device_id_ok(const char *id);
/*
 * Creates DIR with a fresh CA, the engine's certificate (server to the
 * validators, client to the acquirer), the acquirer simulator's and an
 * empty CRL.  A DIR that already holds a CA is refused unless force
 * (replacing it orphans every device certificate).
 */
int	certs_init(const char *dir, int force, char *err, size_t errlen);
/* Re-issues acquirer.crt/.key (the engine pins the certificate). */
int	certs_acquirer(const char *dir, char *err, size_t errlen);
/*
 * Re-issues the CRL with the revoked list as it stands, valid from
 * this_update to next_update (Unix seconds); needs ca.key.  Run it well
 * before the current one's nextUpdate (`fare-engine certs crl DIR`).
 */
int	certs_crl(const char *dir, int64_t this_update, int64_t next_update,
	    char *err, size_t errlen);
/*
 * Issues a device certificate (valid from not_before to not_after,
 * "YYYYMMDDhhmmss" UTC; NULL for now-1h .. now+2y).  client_auth 0 leaves
 * the clientAuth usage out (for tests of refusal).  Reuses an existing
 * one unless force.
 */
int	certs_device(const char *dir, const char *device_id,
	    const char *not_before, const char *not_after, int client_auth,
	    int force, char *err, size_t errlen);
/* Revokes a device's certificate (a valid device id, never a path) and
 * rewrites the CRL. */
int	certs_revoke(const char *dir, const char *device_id, char *err,
	    size_t errlen);
/* Paths inside a certificate directory. */
void	certs_path(char *buf, size_t len, const char *dir, const char *name);
void	certs_device_paths(char *crt, char *key, size_t len, const char *dir,
	    const char *device_id);

#endif
