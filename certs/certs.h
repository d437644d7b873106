/*
 * The project's certificate authority, on mbedTLS (no OpenSSL): a CA, the
 * engine's server certificate, one client certificate per validator
 * (device_id in the CN, clientAuth usage) and a CRL, all ECDSA P-256.
 * Private keys are generated here and written 0600; never committed.
 *
 * A certificate directory holds:
 *   ca.crt ca.key engine.crt engine.key crl.pem serial revoked
 *   devices/<device_id>.crt devices/<device_id>.key
 */
#ifndef ONECITY_CERTS_H
#define ONECITY_CERTS_H

#include <stddef.h>

/* Device ids: 1-64 of [A-Za-z0-9._-]. */
int	certs_device_id_ok(const char *id);
/* Creates DIR with a fresh CA, engine certificate and an empty CRL. */
int	certs_init(const char *dir, char *err, size_t errlen);
/*
 * Issues a device certificate (valid from not_before to not_after,
 * "YYYYMMDDhhmmss" UTC; NULL for now-1h .. now+2y).  client_auth 0 leaves
 * the clientAuth usage out (for tests of refusal).  Reuses an existing
 * one unless force.
 */
int	certs_device(const char *dir, const char *device_id,
	    const char *not_before, const char *not_after, int client_auth,
	    int force, char *err, size_t errlen);
/* Revokes a device's certificate and rewrites the CRL. */
int	certs_revoke(const char *dir, const char *device_id, char *err,
	    size_t errlen);
/* Paths inside a certificate directory. */
void	certs_path(char *buf, size_t len, const char *dir, const char *name);
void	certs_device_paths(char *crt, char *key, size_t len, const char *dir,
	    const char *device_id);

#endif
