/*
 * Signed checkpoints (see checkpoint.h for the line): the key pair, signing
 * and checking a line, appending it durably, and checking a database
 * against a file of them.  ECDSA P-256 over SHA-256, with mbedTLS's pk
 * layer; keys are PEM files.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>

#include "checkpoint.h"
#include "parse.h"

#define CHECKPOINT_MAGIC	"onecity-checkpoint 1"
#define CHECKPOINT_PEM_MAX	4096
#define CHECKPOINT_SIG_MAX	MBEDTLS_ECDSA_MAX_LEN

struct checkpoint_key {
	mbedtls_pk_context	 pk;
	mbedtls_entropy_context	 entropy;
	mbedtls_ctr_drbg_context drbg;
	int			 private_key;
	char			 id[17];
};

static const char hexdigits[] = "0123456789abcdef";

static void
to_hex(const unsigned char *p, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hexdigits[p[i] >> 4];
		out[2 * i + 1] = hexdigits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Lowercase hex of exactly n characters (n even) into out; 0 or -1. */
static int
from_hex(const char *s, size_t n, unsigned char *out)
{
	size_t i;

	for (i = 0; i < n; i += 2) {
		int hi = hex_value(s[i]), lo = hex_value(s[i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i / 2] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

static int
rng_seed(struct checkpoint_key *k)
{
	static const char pers[] = "onecity-checkpoint";

	return mbedtls_ctr_drbg_seed(&k->drbg, mbedtls_entropy_func,
	    &k->entropy, (const unsigned char *)pers, sizeof pers - 1);
}

static void
key_init(struct checkpoint_key *k)
{
	mbedtls_pk_init(&k->pk);
	mbedtls_entropy_init(&k->entropy);
	mbedtls_ctr_drbg_init(&k->drbg);
}

/* The key id: SHA-256 over the DER public key, its first 8 bytes. */
static int
key_set_id(struct checkpoint_key *k)
{
	unsigned char der[512], h[32];
	int n = mbedtls_pk_write_pubkey_der(&k->pk, der, sizeof der);

	if (n <= 0 || mbedtls_sha256_ret(der + sizeof der - n, (size_t)n, h,
	    0) != 0)
		return -1;
	to_hex(h, 8, k->id);
	return 0;
}

/* Creates path new (O_EXCL|O_NOFOLLOW) with mode and writes p. */
static int
write_new(const char *path, const unsigned char *p, size_t n, mode_t mode,
    char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, mode);
	size_t off = 0;

	if (fd == -1) {
		snprintf(err, errlen, "%s: %s", path, errno == EEXIST ?
		    "exists already (a key is never overwritten)" :
		    strerror(errno));
		return -1;
	}
	while (off < n) {
		ssize_t w = write(fd, p + off, n - off);
		if (w <= 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			close(fd);
			unlink(path);
			return -1;
		}
		off += (size_t)w;
	}
	if (fsync(fd) == -1 || close(fd) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		unlink(path);
		return -1;
	}
	return 0;
}

int
checkpoint_keygen(const char *path, char *err, size_t errlen)
{
	struct checkpoint_key k;
	unsigned char priv[CHECKPOINT_PEM_MAX], pub[CHECKPOINT_PEM_MAX];
	char pubpath[4096];
	int rc = -1;

	if ((size_t)snprintf(pubpath, sizeof pubpath, "%s.pub", path) >=
	    sizeof pubpath) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	key_init(&k);
	if (rng_seed(&k) != 0 || mbedtls_pk_setup(&k.pk,
	    mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) != 0 ||
	    mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(k.pk),
	    mbedtls_ctr_drbg_random, &k.drbg) != 0 ||
	    mbedtls_pk_write_key_pem(&k.pk, priv, sizeof priv) != 0 ||
	    mbedtls_pk_write_pubkey_pem(&k.pk, pub, sizeof pub) != 0) {
		snprintf(err, errlen, "cannot generate an ECDSA P-256 key");
		goto out;
	}
	/* The private key first: if it exists, nothing is written. */
	if (write_new(path, priv, strlen((char *)priv), 0600, err,
	    errlen) == -1)
		goto out;
	if (write_new(pubpath, pub, strlen((char *)pub), 0644, err,
	    errlen) == -1) {
		unlink(path);
		goto out;
	}
	rc = 0;
out:
	mbedtls_platform_zeroize(priv, sizeof priv);
	mbedtls_pk_free(&k.pk);
	mbedtls_ctr_drbg_free(&k.drbg);
	mbedtls_entropy_free(&k.entropy);
	return rc;
}

struct checkpoint_key *
checkpoint_key_load(const char *path, int private_key, char *err,
    size_t errlen)
{
	struct checkpoint_key *k = calloc(1, sizeof *k);
	int rc;

	if (k == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	key_init(k);
	k->private_key = private_key;
	rc = private_key ? mbedtls_pk_parse_keyfile(&k->pk, path, NULL) :
	    mbedtls_pk_parse_public_keyfile(&k->pk, path);
	if (rc != 0) {
		snprintf(err, errlen, "%s: not a%s key (mbedTLS -0x%04x)",
		    path, private_key ? " private" : " public", -rc);
		goto fail;
	}
	if (!mbedtls_pk_can_do(&k->pk, MBEDTLS_PK_ECDSA) ||
	    mbedtls_pk_ec(k->pk)->grp.id != MBEDTLS_ECP_DP_SECP256R1) {
		snprintf(err, errlen, "%s: not an ECDSA P-256 key", path);
		goto fail;
	}
	if ((private_key && rng_seed(k) != 0) || key_set_id(k) != 0) {
		snprintf(err, errlen, "%s: cannot set the key up", path);
		goto fail;
	}
	return k;
fail:
	checkpoint_key_free(k);
	return NULL;
}

void
checkpoint_key_free(struct checkpoint_key *k)
{
	if (k == NULL)
		return;
	mbedtls_pk_free(&k->pk);
	mbedtls_ctr_drbg_free(&k->drbg);
	mbedtls_entropy_free(&k->entropy);
	mbedtls_platform_zeroize(k, sizeof *k);
	free(k);
}

const char *
checkpoint_key_id(const struct checkpoint_key *k)
{
	return k->id;
}

int
checkpoint_head(sqlite3 *db, struct checkpoint *c)
{
	sqlite3_stmt *s;
	int rc = -1;

	memset(c, 0, sizeof *c);
	if (sqlite3_prepare_v2(db, "SELECT count(*), coalesce((SELECT hash "
	    "FROM ledger ORDER BY entry_id DESC LIMIT 1), 'genesis') FROM "
	    "ledger", -1, &s, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(s) == SQLITE_ROW) {
		c->entries = sqlite3_column_int64(s, 0);
		snprintf(c->head, sizeof c->head, "%s",
		    (const char *)sqlite3_column_text(s, 1));
		rc = 0;
	}
	sqlite3_finalize(s);
	return rc;
}

/* The signed part of a line; its length, or -1 if it does not fit. */
static int
signed_text(const struct checkpoint *c, char *buf, size_t len)
{
	char t[21];
	int n;

	civil_format_utc(c->time_utc, t);
	n = snprintf(buf, len, "%s %s %lld %s %s", CHECKPOINT_MAGIC,
	    c->key_id, (long long)c->entries, c->head, t);
	return n < 0 || (size_t)n >= len ? -1 : n;
}

int
checkpoint_sign(struct checkpoint_key *k, struct checkpoint *c, char *line,
    size_t len, char *err, size_t errlen)
{
	unsigned char h[32], sig[CHECKPOINT_SIG_MAX];
	char sighex[2 * CHECKPOINT_SIG_MAX + 1];
	size_t siglen = 0;
	int n;

	if (!k->private_key) {
		snprintf(err, errlen, "signing needs the private key");
		return -1;
	}
	snprintf(c->key_id, sizeof c->key_id, "%s", k->id);
	if ((n = signed_text(c, line, len)) == -1 ||
	    mbedtls_sha256_ret((const unsigned char *)line, (size_t)n, h,
	    0) != 0 || mbedtls_pk_sign(&k->pk, MBEDTLS_MD_SHA256, h, sizeof h,
	    sig, &siglen, mbedtls_ctr_drbg_random, &k->drbg) != 0) {
		snprintf(err, errlen, "cannot sign the checkpoint");
		return -1;
	}
	to_hex(sig, siglen, sighex);
	if ((size_t)n + 1 + 2 * siglen >= len) {
		snprintf(err, errlen, "checkpoint line too long");
		return -1;
	}
	snprintf(line + n, len - (size_t)n, " %s", sighex);
	return 0;
}

/* The fields of a line into c; the signature's hex in *sig.  0 or -1. */
static int
parse_line(const char *line, struct checkpoint *c, const char **sig,
    const char **why)
{
	char magic[32], ver[4], key[32], count[24], head[80], t[32];
	const char *p = line;
	int n = 0;

	memset(c, 0, sizeof *c);
	if (strlen(line) >= CHECKPOINT_LINE_MAX ||
	    sscanf(line, "%31s %3s %31s %23s %79s %31s %n", magic, ver, key,
	    count, head, t, &n) != 6 || n == 0) {
		*why = "not a checkpoint line (7 fields)";
		return -1;
	}
	p = line + n;
	if (strcmp(magic, "onecity-checkpoint") != 0 || strcmp(ver, "1") != 0) {
		*why = "not an onecity-checkpoint 1 line";
		return -1;
	}
	if (strlen(key) != 16 || strspn(key, hexdigits) != 16) {
		*why = "bad key id";
		return -1;
	}
	memcpy(c->key_id, key, 17);	/* 16 hex digits and the NUL */
	if (parse_int(count, 0, INT64_MAX, &c->entries, why) == -1 ||
	    (count[0] == '0' && count[1] != '\0')) {
		*why = "bad entry count";
		return -1;
	}
	if (strcmp(head, "genesis") != 0 && (strlen(head) != 64 ||
	    strspn(head, hexdigits) != 64)) {
		*why = "bad head hash";
		return -1;
	}
	memcpy(c->head, head, strlen(head) + 1);	/* "genesis" or 64 hex */
	if (strlen(t) != 20 || t[19] != 'Z' ||
	    parse_rfc3339(t, &c->time_utc, why) == -1) {
		*why = "bad time";
		return -1;
	}
	*sig = p;
	return 0;
}

int
checkpoint_check_line(struct checkpoint_key *k, const char *line,
    struct checkpoint *c, char *why, size_t whylen)
{
	unsigned char h[32], sig[CHECKPOINT_SIG_MAX];
	char text[CHECKPOINT_LINE_MAX];
	const char *sighex, *w = NULL;
	size_t siglen;
	int n;

	if (parse_line(line, c, &sighex, &w) == -1) {
		snprintf(why, whylen, "%s", w);
		return -1;
	}
	siglen = strlen(sighex);
	if (siglen == 0 || siglen % 2 != 0 || siglen / 2 > sizeof sig ||
	    from_hex(sighex, siglen, sig) == -1) {
		snprintf(why, whylen, "bad signature field");
		return -1;
	}
	if (strcmp(c->key_id, k->id) != 0) {
		snprintf(why, whylen, "signed by key %s, not by this public key "
		    "(%s)", c->key_id, k->id);
		return -1;
	}
	/* The signed text is rebuilt, not copied: one canonical form. */
	if ((n = signed_text(c, text, sizeof text)) == -1 ||
	    strncmp(text, line, (size_t)n) != 0 || line[n] != ' ') {
		snprintf(why, whylen, "not in canonical form");
		return -1;
	}
	if (mbedtls_sha256_ret((const unsigned char *)text, (size_t)n, h,
	    0) != 0 || mbedtls_pk_verify(&k->pk, MBEDTLS_MD_SHA256, h,
	    sizeof h, sig, siglen / 2) != 0) {
		snprintf(why, whylen, "bad signature (the line was altered or "
		    "not signed with the ledger key)");
		return -1;
	}
	return 0;
}

int
checkpoint_append(const char *path, const char *line, char *err,
    size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW |
	    O_CLOEXEC, 0644);
	size_t n = strlen(line);
	char buf[CHECKPOINT_LINE_MAX + 1];

	if (fd == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (n >= sizeof buf - 1) {
		close(fd);
		snprintf(err, errlen, "%s: line too long", path);
		return -1;
	}
	memcpy(buf, line, n);
	buf[n++] = '\n';
	/* One write of one line: O_APPEND keeps concurrent lines whole. */
	if (write(fd, buf, n) != (ssize_t)n || fsync(fd) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (close(fd) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* The stored hash of entry n ("genesis" for 0); 0 found, -1 none. */
static int
hash_at(sqlite3_stmt *s, int64_t n, char out[65])
{
	int found;

	if (n == 0) {
		snprintf(out, 65, "genesis");
		return 0;
	}
	sqlite3_bind_int64(s, 1, n);
	found = sqlite3_step(s) == SQLITE_ROW;
	if (found)
		snprintf(out, 65, "%s", (const char *)sqlite3_column_text(s,
		    0));
	sqlite3_reset(s);
	return found ? 0 : -1;
}

/* One good checkpoint against the ledger; 1 problem or 0. */
static size_t
check_against(sqlite3_stmt *at, const struct checkpoint *c, int64_t count,
    const char *path, size_t lineno, FILE *out)
{
	char h[65];

	if (c->entries > count) {
		fprintf(out, "%s:%zu: the ledger has %lld entries, fewer than "
		    "the %lld this checkpoint signed: it shrank (entries "
		    "removed)\n", path, lineno, (long long)count,
		    (long long)c->entries);
		return 1;
	}
	if (hash_at(at, c->entries, h) == -1) {
		fprintf(out, "%s:%zu: entry %lld is missing (entries "
		    "renumbered or removed)\n", path, lineno,
		    (long long)c->entries);
		return 1;
	}
	if (strcmp(h, c->head) != 0) {
		fprintf(out, "%s:%zu: entry %lld has hash %.16s..., the "
		    "checkpoint signed %.16s...: the ledger at or before entry "
		    "%lld was altered, removed or reordered\n", path, lineno,
		    (long long)c->entries, h, c->head, (long long)c->entries);
		return 1;
	}
	return 0;
}

size_t
checkpoint_verify_file(sqlite3 *db, struct checkpoint_key *pub,
    const char *path, FILE *out, size_t *nlines, int64_t *latest)
{
	char line[CHECKPOINT_LINE_MAX + 2], why[160];
	struct checkpoint head, c;
	sqlite3_stmt *at = NULL;
	int64_t prev = -1;
	size_t bad = 0, lineno = 0;
	FILE *f;

	*nlines = 0;
	*latest = -1;
	if ((f = fopen(path, "r")) == NULL) {
		fprintf(out, "%s: %s\n", path, strerror(errno));
		return 1;
	}
	if (checkpoint_head(db, &head) == -1 || sqlite3_prepare_v2(db,
	    "SELECT hash FROM ledger WHERE entry_id = ?", -1, &at, NULL) !=
	    SQLITE_OK) {
		fprintf(out, "%s: no ledger: %s\n", path, sqlite3_errmsg(db));
		fclose(f);
		return 1;
	}
	while (fgets(line, sizeof line, f) != NULL &&
	    lineno < CHECKPOINT_FILE_LINES_MAX) {
		size_t n = strlen(line);
		lineno++;
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		else if (!feof(f)) {
			fprintf(out, "%s:%zu: line too long\n", path, lineno);
			bad++;
			break;
		}
		if (checkpoint_check_line(pub, line, &c, why, sizeof why) ==
		    -1) {
			fprintf(out, "%s:%zu: %s\n", path, lineno, why);
			bad++;
			continue;
		}
		(*nlines)++;
		if (c.entries < prev) {
			fprintf(out, "%s:%zu: %lld entries after a checkpoint of "
			    "%lld: the ledger went back (a restored copy?)\n",
			    path, lineno, (long long)c.entries,
			    (long long)prev);
			bad++;
		}
		prev = c.entries > prev ? c.entries : prev;
		bad += check_against(at, &c, head.entries, path, lineno, out);
	}
	if (lineno == 0) {
		fprintf(out, "%s: no checkpoints in the file\n", path);
		bad++;
	}
	*latest = prev;
	sqlite3_finalize(at);
	fclose(f);
	return bad;
}
