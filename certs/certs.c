/*
 * Certificate tool.  Certificates come from mbedtls_x509write_crt; the
 * CRL is DER we write ourselves with mbedtls_asn1write (mbedTLS 2.28 has
 * no CRL writer), signed with the CA key and checked by parsing it back.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/asn1write.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crl.h>
#include <mbedtls/x509_crt.h>

#include "certs.h"
#include "limits.h"

#define CERTS_BUF	8192
#define CERTS_MAX_REVOKED 10000		/* a CRL beyond this is a mistake */
#define CERTS_REVOKE_PER_DEVICE 64	/* certificates one device was given */

struct rng {
	mbedtls_entropy_context	 entropy;
	mbedtls_ctr_drbg_context drbg;
};

static int
rng_init(struct rng *r)
{
	static const char pers[] = "onecity-certs";

	mbedtls_entropy_init(&r->entropy);
	mbedtls_ctr_drbg_init(&r->drbg);
	return mbedtls_ctr_drbg_seed(&r->drbg, mbedtls_entropy_func,
	    &r->entropy, (const unsigned char *)pers, sizeof pers - 1);
}

static void
rng_free(struct rng *r)
{
	mbedtls_ctr_drbg_free(&r->drbg);
	mbedtls_entropy_free(&r->entropy);
}

void
certs_path(char *buf, size_t len, const char *dir, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

void
certs_device_paths(char *crt, char *key, size_t len, const char *dir,
    const char *id)
{
	snprintf(crt, len, "%s/devices/%s.crt", dir, id);
	snprintf(key, len, "%s/devices/%s.key", dir, id);
}

int
certs_device_id_ok(const char *id)
{
	size_t n = strlen(id), i;

	if (n == 0 || n > 64)
		return 0;
	for (i = 0; i < n; i++)
		if (!((id[i] >= 'a' && id[i] <= 'z') ||
		    (id[i] >= 'A' && id[i] <= 'Z') ||
		    (id[i] >= '0' && id[i] <= '9') || id[i] == '.' ||
		    id[i] == '_' || id[i] == '-'))
			return 0;
	return 1;
}

/*
 * Writes a file atomically with exactly the given mode: a temporary file
 * of a random name created with O_CREAT|O_EXCL|O_NOFOLLOW (a file or link
 * planted at a guessable name is never opened, issue 16), written,
 * synced, then renamed over path.
 */
static int
write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	char tmp[4200];
	unsigned int r;
	int fd = -1, tries;
	ssize_t n;

	for (tries = 0; tries < 16 && fd == -1; tries++) {
		if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
			return -1;
		snprintf(tmp, sizeof tmp, "%s.%08x.tmp", path, r);
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, mode & 0600);
		if (fd == -1 && errno != EEXIST)
			return -1;
	}
	if (fd == -1)
		return -1;
	n = write(fd, data, len);
	if (n != (ssize_t)len || fchmod(fd, mode) == -1 || fsync(fd) == -1) {
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	if (rename(tmp, path) == -1) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

static int
fail(char *err, size_t errlen, const char *what, int rc)
{
	if (rc == 0) {
		snprintf(err, errlen, "%s", what);
		return -1;
	}
	snprintf(err, errlen, "%s (%s%x)", what, rc < 0 ? "mbedtls -0x" : "",
	    rc < 0 ? -rc : rc);
	return -1;
}

static int
gen_key(struct rng *r, mbedtls_pk_context *key, const char *path)
{
	unsigned char pem[CERTS_BUF];
	int rc;

	if ((rc = mbedtls_pk_setup(key,
	    mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY))) != 0 ||
	    (rc = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1,
	    mbedtls_pk_ec(*key), mbedtls_ctr_drbg_random, &r->drbg)) != 0 ||
	    (rc = mbedtls_pk_write_key_pem(key, pem, sizeof pem)) != 0)
		return rc;
	rc = write_file(path, pem, strlen((char *)pem), 0600) == 0 ? 0 : 1;
	mbedtls_platform_zeroize(pem, sizeof pem);
	return rc;
}

static int
load_key(mbedtls_pk_context *key, const char *path)
{
	return mbedtls_pk_parse_keyfile(key, path, NULL);
}

/* The next serial number, kept in DIR/serial. */
static long
next_serial(const char *dir)
{
	char path[4096], buf[32];
	long n = 1;
	FILE *f;

	certs_path(path, sizeof path, dir, "serial");
	if ((f = fopen(path, "r")) != NULL) {
		if (fgets(buf, sizeof buf, f) != NULL)
			n = strtol(buf, NULL, 10);
		fclose(f);
	}
	if (n < 1)
		n = 1;
	snprintf(buf, sizeof buf, "%ld\n", n + 1);
	if (write_file(path, buf, strlen(buf), 0644) == -1)
		return -1;
	return n;
}

static void
utc_stamp(time_t t, char out[15])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 15, "%Y%m%d%H%M%S", &tm);
}

struct cert_spec {
	const char	*subject;
	int		 is_ca;
	unsigned	 key_usage;
	int		 client_auth, server_auth;
	const char	*not_before, *not_after;
};

static int
issue(struct rng *r, const struct cert_spec *spec, mbedtls_pk_context *subj,
    mbedtls_pk_context *issuer_key, const char *issuer_name, long serial,
    const char *path)
{
	/* ExtendedKeyUsage: SEQUENCE { OID clientAuth, OID serverAuth }
	 * (either or both; built below). */
	static const unsigned char oid_client[] = {0x06, 0x08, 0x2b, 0x06,
	    0x01, 0x05, 0x05, 0x07, 0x03, 0x02};
	static const unsigned char oid_server[] = {0x06, 0x08, 0x2b, 0x06,
	    0x01, 0x05, 0x05, 0x07, 0x03, 0x01};
	unsigned char eku[2 + sizeof oid_client + sizeof oid_server];
	size_t ekulen = 2;
	mbedtls_x509write_cert crt;
	mbedtls_mpi sn;
	unsigned char pem[CERTS_BUF];
	int rc;

	mbedtls_x509write_crt_init(&crt);
	mbedtls_mpi_init(&sn);
	mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
	mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
	mbedtls_x509write_crt_set_subject_key(&crt, subj);
	mbedtls_x509write_crt_set_issuer_key(&crt, issuer_key);
	if ((rc = mbedtls_mpi_lset(&sn, serial)) != 0 ||
	    (rc = mbedtls_x509write_crt_set_serial(&crt, &sn)) != 0 ||
	    (rc = mbedtls_x509write_crt_set_subject_name(&crt,
	    spec->subject)) != 0 ||
	    (rc = mbedtls_x509write_crt_set_issuer_name(&crt, issuer_name)) != 0 ||
	    (rc = mbedtls_x509write_crt_set_validity(&crt, spec->not_before,
	    spec->not_after)) != 0 ||
	    (rc = mbedtls_x509write_crt_set_basic_constraints(&crt,
	    spec->is_ca, spec->is_ca ? 0 : -1)) != 0 ||
	    (rc = mbedtls_x509write_crt_set_subject_key_identifier(&crt)) != 0 ||
	    (rc = mbedtls_x509write_crt_set_authority_key_identifier(&crt)) != 0 ||
	    (rc = mbedtls_x509write_crt_set_key_usage(&crt,
	    spec->key_usage)) != 0)
		goto out;
	if (spec->client_auth) {
		memcpy(eku + ekulen, oid_client, sizeof oid_client);
		ekulen += sizeof oid_client;
	}
	if (spec->server_auth) {
		memcpy(eku + ekulen, oid_server, sizeof oid_server);
		ekulen += sizeof oid_server;
	}
	eku[0] = 0x30;
	eku[1] = (unsigned char)(ekulen - 2);
	if (ekulen > 2 && (rc = mbedtls_x509write_crt_set_extension(&crt,
	    MBEDTLS_OID_EXTENDED_KEY_USAGE,
	    MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE), 0, eku,
	    ekulen)) != 0)
		goto out;
	if ((rc = mbedtls_x509write_crt_pem(&crt, pem, sizeof pem,
	    mbedtls_ctr_drbg_random, &r->drbg)) != 0)
		goto out;
	rc = write_file(path, pem, strlen((char *)pem), 0644) == 0 ? 0 : 1;
out:
	mbedtls_x509write_crt_free(&crt);
	mbedtls_mpi_free(&sn);
	return rc;
}

/* UTCTime (or GeneralizedTime past 2049) for a time_t, written backwards. */
static int
asn1_time(unsigned char **p, unsigned char *start, time_t t)
{
	char s[16];
	struct tm tm;
	int n;

	gmtime_r(&t, &tm);
	if (tm.tm_year + 1900 < 2050) {
		/* UTCTime has a two-digit year by definition (RFC 5280). */
		strftime(s, sizeof s, "%Y%m%d%H%M%SZ", &tm);
		return mbedtls_asn1_write_tagged_string(p, start,
		    MBEDTLS_ASN1_UTC_TIME, s + 2, strlen(s + 2));
	}
	n = (int)strftime(s, sizeof s, "%Y%m%d%H%M%SZ", &tm);
	return mbedtls_asn1_write_tagged_string(p, start,
	    MBEDTLS_ASN1_GENERALIZED_TIME, s, (size_t)n);
}

static int
asn1_seq(unsigned char **p, unsigned char *start, size_t len)
{
	int a, b;

	if ((a = mbedtls_asn1_write_len(p, start, len)) < 0)
		return a;
	if ((b = mbedtls_asn1_write_tag(p, start, MBEDTLS_ASN1_CONSTRUCTED |
	    MBEDTLS_ASN1_SEQUENCE)) < 0)
		return b;
	return a + b;
}

#define ASN1_ADD(len, f) do { int r_ = (f); if (r_ < 0) return r_; \
	(len) += (size_t)r_; } while (0)

/* ecdsa-with-SHA256, parameters absent (RFC 5758), as a SEQUENCE. */
static int
write_sig_alg(unsigned char **p, unsigned char *start)
{
	size_t len = 0;

	ASN1_ADD(len, mbedtls_asn1_write_oid(p, start, MBEDTLS_OID_ECDSA_SHA256,
	    MBEDTLS_OID_SIZE(MBEDTLS_OID_ECDSA_SHA256)));
	ASN1_ADD(len, asn1_seq(p, start, len));
	return (int)len;
}

/* TBSCertList, written backwards ending at *p. */
static int
crl_tbs(unsigned char **p, unsigned char *start, const mbedtls_x509_crt *ca,
    const long *serials, size_t n, time_t this_update, time_t next_update)
{
	size_t len = 0, rl = 0, i;

	if (n > 0) {
		for (i = n; i > 0; i--) {
			size_t el = 0;
			ASN1_ADD(el, asn1_time(p, start, this_update));
			ASN1_ADD(el, mbedtls_asn1_write_int(p, start,
			    (int)serials[i - 1]));
			ASN1_ADD(el, asn1_seq(p, start, el));
			rl += el;
		}
		ASN1_ADD(rl, asn1_seq(p, start, rl));
		len += rl;
	}
	ASN1_ADD(len, asn1_time(p, start, next_update));
	ASN1_ADD(len, asn1_time(p, start, this_update));
	if (*p - start < (ptrdiff_t)ca->subject_raw.len)
		return MBEDTLS_ERR_ASN1_BUF_TOO_SMALL;
	*p -= ca->subject_raw.len;
	memcpy(*p, ca->subject_raw.p, ca->subject_raw.len);
	len += ca->subject_raw.len;
	ASN1_ADD(len, write_sig_alg(p, start));
	ASN1_ADD(len, mbedtls_asn1_write_int(p, start, 1));	/* v2 */
	ASN1_ADD(len, asn1_seq(p, start, len));
	return (int)len;
}

/* Appends "serial device_id" to DIR/name (made 0644): 0 or -1. */
static int
append_line(const char *dir, const char *name, long serial, const char *id)
{
	char path[4096], line[128];
	int fd, rc;

	certs_path(path, sizeof path, dir, name);
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW |
	    O_CLOEXEC, 0644)) == -1)
		return -1;
	snprintf(line, sizeof line, "%ld %s\n", serial, id);
	rc = write(fd, line, strlen(line)) == (ssize_t)strlen(line) &&
	    fsync(fd) == 0 ? 0 : -1;
	close(fd);
	return rc;
}

/* The serials DIR/name lists for device id (at most max). */
static size_t
id_serials(const char *dir, const char *name, const char *id, long *serials,
    size_t max)
{
	char path[4096], line[256], *end;
	size_t n = 0;
	FILE *f;

	certs_path(path, sizeof path, dir, name);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (n < max && fgets(line, sizeof line, f) != NULL) {
		long s = strtol(line, &end, 10);
		line[strcspn(line, "\n")] = '\0';
		if (s > 0 && *end == ' ' && strcmp(end + 1, id) == 0)
			serials[n++] = s;
	}
	fclose(f);
	return n;
}

/* Whether DIR/name lists serial. */
static int
listed(const char *dir, const char *name, long serial)
{
	char path[4096], line[256];
	int found = 0;
	FILE *f;

	certs_path(path, sizeof path, dir, name);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (!found && fgets(line, sizeof line, f) != NULL)
		found = strtol(line, NULL, 10) == serial;
	fclose(f);
	return found;
}

/* Reads DIR/revoked: "serial device_id" lines. */
static size_t
read_revoked(const char *dir, long *serials, size_t max)
{
	char path[4096], line[256];
	size_t n = 0;
	FILE *f;

	certs_path(path, sizeof path, dir, "revoked");
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (n < max && fgets(line, sizeof line, f) != NULL) {
		long s = strtol(line, NULL, 10);
		if (s > 0)
			serials[n++] = s;
	}
	fclose(f);
	return n;
}

/*
 * The signed CRL around its TBS (tl bytes at tbs, inside der): ASN.1 is
 * written backwards: the signature, the algorithm, then the TBS moved in
 * front, then the outer SEQUENCE.  The whole DER starts at *out.
 */
static int
crl_wrap(unsigned char *der, size_t size, const unsigned char *tbs, int tl,
    const unsigned char *sig, size_t sl, unsigned char **out, size_t *total)
{
	unsigned char *tbs_copy = malloc((size_t)tl), *q;
	size_t l = 0;
	int k;

	if (tbs_copy == NULL)
		return 1;
	memcpy(tbs_copy, tbs, (size_t)tl);
	q = der + size;
	if ((k = mbedtls_asn1_write_bitstring(&q, der, sig, sl * 8)) < 0 ||
	    (l += (size_t)k, (k = write_sig_alg(&q, der)) < 0)) {
		free(tbs_copy);
		return k;
	}
	l += (size_t)k;
	q -= tl;
	memcpy(q, tbs_copy, (size_t)tl);
	free(tbs_copy);
	l += (size_t)tl;
	if ((k = asn1_seq(&q, der, l)) < 0)
		return k;
	*total = l + (size_t)k;
	*out = q;
	return 0;
}

static int
write_crl(struct rng *r, const char *dir, mbedtls_pk_context *ca_key,
    const mbedtls_x509_crt *ca, time_t this_update, time_t next_update)
{
	const size_t pem_len = CERTS_MAX_REVOKED * 64 + 8192;
	long *serials = malloc(CERTS_MAX_REVOKED * sizeof *serials);
	unsigned char *der = malloc(CERTS_MAX_REVOKED * 40 + 4096), *p;
	unsigned char hash[32], sig[MBEDTLS_ECDSA_MAX_LEN], *pem = NULL;
	size_t n, size, sl, total;
	char path[4096];
	mbedtls_x509_crl check;
	int tl, rc;

	if (der == NULL || serials == NULL) {
		free(der);
		free(serials);
		return 1;
	}
	n = read_revoked(dir, serials, CERTS_MAX_REVOKED);
	size = CERTS_MAX_REVOKED * 40 + 4096;
	p = der + size;
	tl = crl_tbs(&p, der, ca, serials, n, this_update, next_update);
	free(serials);
	if (tl < 0) {
		free(der);
		return tl;
	}
	if ((rc = mbedtls_sha256_ret(p, (size_t)tl, hash, 0)) != 0 ||
	    (rc = mbedtls_pk_sign(ca_key, MBEDTLS_MD_SHA256, hash, 32, sig,
	    &sl, mbedtls_ctr_drbg_random, &r->drbg)) != 0) {
		free(der);
		return rc;
	}
	if ((rc = crl_wrap(der, size, p, tl, sig, sl, &p, &total)) != 0) {
		free(der);
		return rc;
	}
	mbedtls_x509_crl_init(&check);
	rc = mbedtls_x509_crl_parse_der(&check, p, total);
	mbedtls_x509_crl_free(&check);
	if (rc == 0 && (pem = malloc(pem_len)) == NULL)
		rc = 1;
	if (rc == 0)
		rc = mbedtls_pem_write_buffer("-----BEGIN X509 CRL-----\n",
		    "-----END X509 CRL-----\n", p, total, pem, pem_len, &sl);
	free(der);
	if (rc == 0) {
		certs_path(path, sizeof path, dir, "crl.pem");
		rc = write_file(path, pem, strlen((char *)pem), 0644) == 0 ?
		    0 : 1;
	}
	free(pem);
	return rc;
}

#define CA_NAME		"CN=OneCity dev CA,O=OneCity"

static int
load_ca(const char *dir, mbedtls_pk_context *key, mbedtls_x509_crt *crt)
{
	char path[4096];
	int rc;

	certs_path(path, sizeof path, dir, "ca.key");
	if ((rc = load_key(key, path)) != 0)
		return rc;
	certs_path(path, sizeof path, dir, "ca.crt");
	return mbedtls_x509_crt_parse_file(crt, path);
}

/* A fresh key and certificate DIR/<name>.key and .crt, signed by the CA. */
static int
issue_pair(struct rng *r, const struct cert_spec *spec,
    mbedtls_pk_context *ca_key, const char *dir, const char *name)
{
	mbedtls_pk_context key;
	char path[4096], file[64];
	int k;

	mbedtls_pk_init(&key);
	snprintf(file, sizeof file, "%s.key", name);
	certs_path(path, sizeof path, dir, file);
	if ((k = gen_key(r, &key, path)) == 0) {
		snprintf(file, sizeof file, "%s.crt", name);
		certs_path(path, sizeof path, dir, file);
		k = issue(r, spec, &key, ca_key, CA_NAME, next_serial(dir),
		    path);
	}
	mbedtls_pk_free(&key);
	return k;
}

int
certs_acquirer(const char *dir, char *err, size_t errlen)
{
	mbedtls_pk_context ca_key;
	mbedtls_x509_crt ca;
	struct rng r;
	char nb[15], na[15];
	time_t now = time(NULL);
	struct cert_spec spec = {"CN=onecity-acquirer,O=OneCity", 0,
	    MBEDTLS_X509_KU_DIGITAL_SIGNATURE, 0, 1, nb, na};
	int rc = 0, k;

	utc_stamp(now - 3600, nb);
	utc_stamp(now + 2L * 365 * 86400, na);
	mbedtls_pk_init(&ca_key);
	mbedtls_x509_crt_init(&ca);
	if ((k = rng_init(&r)) != 0 || (k = load_ca(dir, &ca_key, &ca)) != 0)
		rc = fail(err, errlen, "cannot load the CA (run certs init)", k);
	else if ((k = issue_pair(&r, &spec, &ca_key, dir, "acquirer")) != 0)
		rc = fail(err, errlen, "cannot issue the acquirer certificate",
		    k);
	mbedtls_pk_free(&ca_key);
	mbedtls_x509_crt_free(&ca);
	rng_free(&r);
	return rc;
}

int
certs_crl(const char *dir, int64_t this_update, int64_t next_update,
    char *err, size_t errlen)
{
	mbedtls_pk_context ca_key;
	mbedtls_x509_crt ca;
	struct rng r;
	int rc = 0, k;

	if (next_update <= this_update)
		return fail(err, errlen, "nextUpdate must follow thisUpdate", 0);
	mbedtls_pk_init(&ca_key);
	mbedtls_x509_crt_init(&ca);
	if ((k = rng_init(&r)) != 0 || (k = load_ca(dir, &ca_key, &ca)) != 0)
		rc = fail(err, errlen, "cannot load the CA key and certificate "
		    "(ca.key must be present to sign the CRL)", k);
	else if ((k = write_crl(&r, dir, &ca_key, &ca, (time_t)this_update,
	    (time_t)next_update)) != 0)
		rc = fail(err, errlen, "cannot write the CRL", k);
	mbedtls_pk_free(&ca_key);
	mbedtls_x509_crt_free(&ca);
	rng_free(&r);
	return rc;
}

int
certs_init(const char *dir, int force, char *err, size_t errlen)
{
	mbedtls_pk_context ca_key, eng_key;
	mbedtls_x509_crt ca;
	struct rng r;
	char path[4096], nb[15], na[15];
	time_t now = time(NULL);
	struct cert_spec ca_spec = {CA_NAME, 1, MBEDTLS_X509_KU_KEY_CERT_SIGN |
	    MBEDTLS_X509_KU_CRL_SIGN, 0, 0, nb, na};
	/* The engine is a TLS server to validators and a TLS client to
	 * the acquirer. */
	struct cert_spec eng_spec = {"CN=onecity-engine,O=OneCity", 0,
	    MBEDTLS_X509_KU_DIGITAL_SIGNATURE, 1, 1, nb, na};
	struct cert_spec acq_spec = {"CN=onecity-acquirer,O=OneCity", 0,
	    MBEDTLS_X509_KU_DIGITAL_SIGNATURE, 0, 1, nb, na};
	int rc = -1, k;

	certs_path(path, sizeof path, dir, "ca.crt");
	if (!force && access(path, F_OK) == 0) {
		snprintf(err, errlen, "%s already exists: every device "
		    "certificate hangs on this CA; 'certs init --force' replaces "
		    "it (and every device must then get a new certificate)",
		    path);
		return -1;
	}
	certs_path(path, sizeof path, dir, "ca.key");
	if (!force && access(path, F_OK) == 0) {
		snprintf(err, errlen, "%s already exists; 'certs init --force' "
		    "replaces it", path);
		return -1;
	}
	if (mkdir(dir, 0755) == -1 && errno != EEXIST)
		return fail(err, errlen, "cannot create the directory", errno);
	certs_path(path, sizeof path, dir, "devices");
	if (mkdir(path, 0755) == -1 && errno != EEXIST)
		return fail(err, errlen, "cannot create devices/", errno);
	utc_stamp(now - 86400, nb);
	utc_stamp(now + 10L * 365 * 86400, na);
	mbedtls_pk_init(&ca_key);
	mbedtls_pk_init(&eng_key);
	mbedtls_x509_crt_init(&ca);
	if ((k = rng_init(&r)) != 0) {
		rc = fail(err, errlen, "cannot seed the random generator", k);
		goto out;
	}
	certs_path(path, sizeof path, dir, "serial");
	unlink(path);
	certs_path(path, sizeof path, dir, "revoked");
	unlink(path);
	certs_path(path, sizeof path, dir, "ca.key");
	if ((k = gen_key(&r, &ca_key, path)) != 0) {
		rc = fail(err, errlen, "cannot make the CA key", k);
		goto out;
	}
	certs_path(path, sizeof path, dir, "ca.crt");
	if ((k = issue(&r, &ca_spec, &ca_key, &ca_key, CA_NAME,
	    next_serial(dir), path)) != 0) {
		rc = fail(err, errlen, "cannot issue the CA certificate", k);
		goto out;
	}
	certs_path(path, sizeof path, dir, "engine.key");
	if ((k = gen_key(&r, &eng_key, path)) != 0) {
		rc = fail(err, errlen, "cannot make the engine key", k);
		goto out;
	}
	certs_path(path, sizeof path, dir, "engine.crt");
	if ((k = issue(&r, &eng_spec, &eng_key, &ca_key, CA_NAME,
	    next_serial(dir), path)) != 0) {
		rc = fail(err, errlen, "cannot issue the engine certificate", k);
		goto out;
	}
	/* The acquirer simulator's identity: the engine pins it. */
	if ((k = issue_pair(&r, &acq_spec, &ca_key, dir, "acquirer")) != 0) {
		rc = fail(err, errlen, "cannot issue the acquirer certificate",
		    k);
		goto out;
	}
	certs_path(path, sizeof path, dir, "ca.crt");
	if ((k = mbedtls_x509_crt_parse_file(&ca, path)) != 0 ||
	    (k = write_crl(&r, dir, &ca_key, &ca, now - 3600, now +
	    CRL_VALID_DAYS_DEFAULT * 86400L)) != 0) {
		rc = fail(err, errlen, "cannot write the CRL", k);
		goto out;
	}
	rc = 0;
out:
	mbedtls_pk_free(&ca_key);
	mbedtls_pk_free(&eng_key);
	mbedtls_x509_crt_free(&ca);
	rng_free(&r);
	return rc;
}

int
certs_device(const char *dir, const char *id, const char *not_before,
    const char *not_after, int client_auth, int force, char *err,
    size_t errlen)
{
	mbedtls_pk_context ca_key, key;
	mbedtls_x509_crt ca;
	struct rng r;
	char crt[4200], kpath[4200], subject[128], nb[15], na[15];
	time_t now = time(NULL);
	struct cert_spec spec = {subject, 0, MBEDTLS_X509_KU_DIGITAL_SIGNATURE,
	    client_auth, 0, not_before ? not_before : nb,
	    not_after ? not_after : na};
	long serial;
	int rc = -1, k;

	if (!certs_device_id_ok(id))
		return fail(err, errlen, "a device id is 1-64 of A-Z a-z 0-9 . _ -",
		    0);
	certs_device_paths(crt, kpath, sizeof crt, dir, id);
	if (!force && access(crt, R_OK) == 0 && access(kpath, R_OK) == 0)
		return 0;
	utc_stamp(now - 3600, nb);
	utc_stamp(now + 2L * 365 * 86400, na);
	snprintf(subject, sizeof subject, "CN=%s,O=OneCity validators", id);
	mbedtls_pk_init(&ca_key);
	mbedtls_pk_init(&key);
	mbedtls_x509_crt_init(&ca);
	if ((k = rng_init(&r)) != 0 || (k = load_ca(dir, &ca_key, &ca)) != 0) {
		rc = fail(err, errlen, "cannot load the CA (run certs init)", k);
		goto out;
	}
	if ((serial = next_serial(dir)) < 1 ||
	    (k = gen_key(&r, &key, kpath)) != 0 ||
	    (k = issue(&r, &spec, &key, &ca_key, CA_NAME, serial, crt)) != 0) {
		rc = fail(err, errlen, "cannot issue the device certificate", k);
		goto out;
	}
	/* Every certificate a device was given, for revoke to find them
	 * all (a renewal leaves the older one valid until it expires). */
	if (append_line(dir, "issued", serial, id) == -1) {
		rc = fail(err, errlen, "cannot write the issued list", errno);
		goto out;
	}
	rc = 0;
out:
	mbedtls_pk_free(&ca_key);
	mbedtls_pk_free(&key);
	mbedtls_x509_crt_free(&ca);
	rng_free(&r);
	return rc;
}

int
certs_revoke(const char *dir, const char *id, char *err, size_t errlen)
{
	mbedtls_pk_context ca_key;
	mbedtls_x509_crt ca, dev;
	struct rng r;
	char crt[4200], kpath[4200];
	long serials[CERTS_REVOKE_PER_DEVICE], serial = 0;
	int rc = -1, k;
	size_t i, n;

	if (!certs_device_id_ok(id))
		return fail(err, errlen, "a device id is 1-64 of A-Z a-z 0-9 . _ - "
		    "(not a path)", 0);
	certs_device_paths(crt, kpath, sizeof crt, dir, id);
	mbedtls_pk_init(&ca_key);
	mbedtls_x509_crt_init(&ca);
	mbedtls_x509_crt_init(&dev);
	/* Every certificate issued to the id (DIR/issued), and the one in
	 * devices/ (issued before that list was kept). */
	n = id_serials(dir, "issued", id, serials, CERTS_REVOKE_PER_DEVICE);
	if (mbedtls_x509_crt_parse_file(&dev, crt) == 0) {
		for (i = 0; i < dev.serial.len; i++)
			serial = serial << 8 | dev.serial.p[i];
		if (n < CERTS_REVOKE_PER_DEVICE)
			serials[n++] = serial;
	}
	if (n == 0) {
		rc = fail(err, errlen, "no certificate for that device", 0);
		goto out;
	}
	for (i = 0; i < n; i++)
		if (!listed(dir, "revoked", serials[i]) &&
		    append_line(dir, "revoked", serials[i], id) == -1) {
			rc = fail(err, errlen, "cannot write the revoked list",
			    errno);
			goto out;
		}
	if ((k = rng_init(&r)) != 0 || (k = load_ca(dir, &ca_key, &ca)) != 0 ||
	    (k = write_crl(&r, dir, &ca_key, &ca, time(NULL) - 3600,
	    time(NULL) + CRL_VALID_DAYS_DEFAULT * 86400L)) != 0) {
		rc = fail(err, errlen, "cannot rewrite the CRL", k);
		rng_free(&r);
		goto out;
	}
	rng_free(&r);
	rc = 0;
out:
	mbedtls_pk_free(&ca_key);
	mbedtls_x509_crt_free(&ca);
	mbedtls_x509_crt_free(&dev);
	return rc;
}
