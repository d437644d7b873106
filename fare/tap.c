/* PAN, PAR and kind checks, and the HMAC token of a card (mbedTLS). */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/md.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>

#include "parse.h"
#include "tap.h"
#include "tariff.h"

/*
 * HMAC-SHA256 with the keyed inner and outer states computed once: each
 * token then costs two SHA-256 compressions instead of four.
 */
struct tap_tokenizer {
	mbedtls_sha256_context	 inner, outer, work;
	int			 dev;	/* the published development key */
};

int
tap_check_pan(const char *pan, const char **why)
{
	return tap_check_pan_n(pan, strlen(pan), why);
}

int
tap_check_pan_n(const char *pan, size_t n, const char **why)
{
	/* Luhn: every second digit from the right doubled, digits summed. */
	static const int twice[10] = {0, 2, 4, 6, 8, 1, 3, 5, 7, 9};
	size_t i;
	int sum = 0;
	int nonzero = 0;

	if (n < 12 || n > 19) {
		*why = "card number must be 12 to 19 digits";
		return -1;
	}
	for (i = 0; i < n; i++) {
		unsigned d = (unsigned)(pan[n - 1 - i] - '0');
		if (d > 9) {
			*why = "card number must be digits only";
			return -1;
		}
		nonzero |= d != 0;
		sum += i % 2 == 1 ? twice[d] : (int)d;
	}
	/* Luhn-valid, but no card: every issuer identification number
	 * starts with a non-zero digit run (ISO/IEC 7812). */
	if (!nonzero) {
		*why = "card number is all zeros";
		return -1;
	}
	if (sum % 10 != 0) {
		*why = "card number fails the Luhn check";
		return -1;
	}
	return 0;
}

int
tap_check_par(const char *par, const char **why)
{
	return tap_check_par_n(par, strlen(par), why);
}

int
tap_check_par_n(const char *par, size_t n, const char **why)
{
	size_t i;
	if (n == 0)
		return 0;
	if (n != TAP_PAR_LEN) {
		*why = "PAR must be 29 letters and digits";
		return -1;
	}
	int letters = 0;

	for (i = 0; i < n; i++) {
		char c = par[i];
		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
		    (c >= 'a' && c <= 'z'))) {
			*why = "PAR must be 29 letters and digits";
			return -1;
		}
		letters += !(c >= '0' && c <= '9');
	}
	/* EMVCo's PAR opens with a BIN controller id (V001, ...); 29 digits
	 * is no PAR, and may carry a PAN into the account (issue 16). */
	if (letters == 0) {
		*why = "PAR must hold a letter (29 digits is no PAR)";
		return -1;
	}
	return 0;
}

void
tap_make_pan(char first, uint64_t n, char out[17])
{
	static const int twice[10] = {0, 2, 4, 6, 8, 1, 3, 5, 7, 9};
	int i, sum = 0;

	snprintf(out, 17, "%c%014llu0", first,
	    (unsigned long long)(n % 100000000000000ULL));
	/* The check digit's right neighbour is doubled, and so on. */
	for (i = 0; i < 15; i++) {
		unsigned d = (unsigned)(out[14 - i] - '0');
		sum += i % 2 == 0 ? twice[d] : (int)d;
	}
	out[15] = (char)('0' + (10 - sum % 10) % 10);
	out[16] = '\0';
}

const char *const tap_field_name[7] = {
	"tap_id", "time", "card", "par", "network_id", "stop_id", "kind",
};

const char *const tap_problem_name[TAP_PROBLEM_MAX] = {
	[TAP_OK] = "ok",
	[TAP_BAD_TEXT] = "bad-text",
	[TAP_BAD_TIME] = "bad-time",
	[TAP_BAD_PAN] = "bad-pan",
	[TAP_BAD_PAR] = "bad-par",
	[TAP_UNKNOWN_NETWORK] = "unknown-network",
	[TAP_UNKNOWN_STOP] = "unknown-stop",
	[TAP_BAD_KIND] = "bad-kind",
};

void
tap_par_upper(char *out, const char *par, size_t n)
{
	size_t i;

	assert(n <= TAP_PAR_LEN);
	for (i = 0; i < n; i++)
		out[i] = par[i] >= 'a' && par[i] <= 'z' ? (char)(par[i] - 32) :
		    par[i];
	out[n] = '\0';
}

/* Whether s at i starts a valid account text: its length, else 0. */
static size_t
account_at(const char *s)
{
	struct account_key a;
	char buf[ACCOUNT_ID_MAX + 5];
	size_t n;

	if (strncmp(s, "par:", 4) != 0 && strncmp(s, "tok:", 4) != 0)
		return 0;
	for (n = 4; n < sizeof buf - 1 && ((s[n] >= '0' && s[n] <= '9') ||
	    (s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z'));
	    n++)
		;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return account_parse(&a, buf) == 0 ? n : 0;
}

/* Digits at s: how many. */
static size_t
digit_run(const char *s)
{
	size_t n = 0;

	while (s[n] >= '0' && s[n] <= '9')
		n++;
	return n;
}

/*
 * The card number starting at s, written whole ("4111111111111111") or
 * in groups of three or more digits joined by one space or dash ("4111
 * 1111 1111 1111", "3782-822463-10005"), as cards print them: its length
 * in bytes when it has 12 or more digits, else 0.  Dates and times never
 * qualify (their groups of two break the chain: "2026-11-28").
 */
static size_t
pan_at(const char *s, size_t *digits)
{
	size_t end = digit_run(s), total = end, g;

	if (end >= 12) {
		*digits = end;
		return end;
	}
	while (end >= 3 && (s[end] == ' ' || s[end] == '-') &&
	    (g = digit_run(s + end + 1)) >= 3) {
		total += g;
		end += 1 + g;
	}
	*digits = total;
	return total >= 12 ? end : 0;
}

size_t
tap_mask_pans(char *s)
{
	size_t i = 0, run, k, digits, masked = 0;

	while (s[i] != '\0') {
		if ((run = account_at(s + i)) > 0) {
			i += run;
			continue;
		}
		if ((run = pan_at(s + i, &digits)) > 0) {
			/* All its digits but the last four. */
			for (k = 0; digits > 4; k++)
				if (s[i + k] >= '0' && s[i + k] <= '9') {
					s[i + k] = '*';
					digits--;
				}
			masked++;
		} else
			run = digit_run(s + i);
		i += run > 0 ? run : 1;
	}
	return masked;
}

enum tap_problem
tap_check_fields(const struct tariff *t, const char *const *f,
    const size_t *n, struct tap_fields *out, char *why, size_t len)
{
	const char *w;
	size_t i, at;
	int kind;

	for (i = 0; i < 7; i++) {
		if (utf8_check(f[i], n[i], &at, &w) == 0)
			continue;
		if ((unsigned char)f[i][at] < 0x20)
			snprintf(why, len, "%s has a control character (U+%04X) "
			    "at byte %zu", tap_field_name[i],
			    (unsigned char)f[i][at], at + 1);
		else
			snprintf(why, len, "%s is not valid UTF-8 text: %s at "
			    "byte %zu", tap_field_name[i], w, at + 1);
		return TAP_BAD_TEXT;
	}
	if (parse_rfc3339(f[1], &out->time_utc, &w) == -1) {
		snprintf(why, len, "%s", w);
		return TAP_BAD_TIME;
	}
	/* Never the PAN itself in a reason. */
	if (tap_check_pan_n(f[2], n[2], &w) == -1) {
		snprintf(why, len, "%s", w);
		return TAP_BAD_PAN;
	}
	if (tap_check_par_n(f[3], n[3], &w) == -1) {
		snprintf(why, len, "%s", w);
		return TAP_BAD_PAR;
	}
	tap_par_upper(out->par, f[3], n[3]);
	if ((out->network = tariff_network(t, f[4], n[4])) == TARIFF_NONE) {
		snprintf(why, len, "unknown network_id");
		return TAP_UNKNOWN_NETWORK;
	}
	if ((out->stop = tariff_stop(t, f[5], n[5])) == TARIFF_NONE) {
		snprintf(why, len, "unknown stop_id");
		return TAP_UNKNOWN_STOP;
	}
	if ((kind = tap_parse_kind(f[6])) == -1) {
		snprintf(why, len, "kind must be 'in' or 'out'");
		return TAP_BAD_KIND;
	}
	out->kind = (uint8_t)kind;
	return TAP_OK;
}

int
tap_header_ok(const char *const *field, size_t nfields)
{
	size_t i;

	if (nfields != 7)
		return 0;
	for (i = 0; i < 7; i++)
		if (strcmp(field[i], tap_field_name[i]) != 0)
			return 0;
	return 1;
}

int
tap_parse_kind(const char *kind)
{
	if (strcmp(kind, "in") == 0)
		return 0;
	if (strcmp(kind, "out") == 0)
		return 1;
	return -1;
}

struct tap_tokenizer *
tap_tokenizer_new(const unsigned char *key, size_t len)
{
	struct tap_tokenizer *tk = calloc(1, sizeof *tk);
	unsigned char k[64], pad[64];
	int i, rc = 0;

	if (tk == NULL)
		return NULL;
	tk->dev = len == strlen(TAP_DEV_TOKEN_KEY) &&
	    memcmp(key, TAP_DEV_TOKEN_KEY, len) == 0;
	memset(k, 0, sizeof k);
	if (len > sizeof k)
		rc |= mbedtls_sha256_ret(key, len, k, 0);
	else
		memcpy(k, key, len);
	mbedtls_sha256_init(&tk->inner);
	mbedtls_sha256_init(&tk->outer);
	mbedtls_sha256_init(&tk->work);
	for (i = 0; i < 64; i++)
		pad[i] = k[i] ^ 0x36;
	rc |= mbedtls_sha256_starts_ret(&tk->inner, 0);
	rc |= mbedtls_sha256_update_ret(&tk->inner, pad, 64);
	for (i = 0; i < 64; i++)
		pad[i] = k[i] ^ 0x5c;
	rc |= mbedtls_sha256_starts_ret(&tk->outer, 0);
	rc |= mbedtls_sha256_update_ret(&tk->outer, pad, 64);
	mbedtls_platform_zeroize(k, sizeof k);
	mbedtls_platform_zeroize(pad, sizeof pad);
	if (rc != 0) {
		tap_tokenizer_free(tk);
		return NULL;
	}
	return tk;
}

void
tap_tokenizer_free(struct tap_tokenizer *tk)
{
	if (tk == NULL)
		return;
	mbedtls_sha256_free(&tk->inner);
	mbedtls_sha256_free(&tk->outer);
	mbedtls_sha256_free(&tk->work);
	mbedtls_platform_zeroize(tk, sizeof *tk);
	free(tk);
}

/* HMAC-SHA256(token key, msg) into mac; 0 or -1. */
static int
tap_hmac(struct tap_tokenizer *tk, const void *msg, size_t len,
    unsigned char mac[32])
{
	int rc = 0;

	mbedtls_sha256_clone(&tk->work, &tk->inner);
	if (mbedtls_sha256_update_ret(&tk->work, msg, len) != 0 ||
	    mbedtls_sha256_finish_ret(&tk->work, mac) != 0)
		rc = -1;
	mbedtls_sha256_clone(&tk->work, &tk->outer);
	if (rc == 0 && (mbedtls_sha256_update_ret(&tk->work, mac, 32) != 0 ||
	    mbedtls_sha256_finish_ret(&tk->work, mac) != 0))
		rc = -1;
	mbedtls_platform_zeroize(&tk->work, sizeof tk->work);
	return rc;
}

int
tap_token(struct tap_tokenizer *tk, const char *pan, size_t len,
    char hex[TAP_TOKEN_HEX + 1])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char mac[32];
	int i;

	if (tap_hmac(tk, pan, len, mac) == -1)
		return -1;
	for (i = 0; i < 16; i++) {
		hex[2 * i] = digits[mac[i] >> 4];
		hex[2 * i + 1] = digits[mac[i] & 15];
	}
	hex[TAP_TOKEN_HEX] = '\0';
	mbedtls_platform_zeroize(mac, sizeof mac);
	return 0;
}

int
tap_derive_key(struct tap_tokenizer *tk, const char *label,
    unsigned char key[TAP_DERIVED_KEY_LEN])
{
	size_t i, n = strlen(label);

	/* A label with a non-digit can never be a PAN's HMAC input. */
	for (i = 0; i < n; i++)
		if (label[i] < '0' || label[i] > '9')
			break;
	assert(n > 0 && i < n);
	return tap_hmac(tk, label, n, key);
}

int
tap_tokenizer_is_dev(const struct tap_tokenizer *tk)
{
	return tk->dev;
}

struct tap_tokenizer *
tap_tokenizer_from_file(const char *path, char *err, size_t errlen)
{
	unsigned char buf[1024];
	struct tap_tokenizer *tk;
	size_t n;
	FILE *f = fopen(path, "rb");

	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	n = fread(buf, 1, sizeof buf, f);
	if (!feof(f) || ferror(f)) {
		fclose(f);
		mbedtls_platform_zeroize(buf, sizeof buf);
		snprintf(err, errlen, "%s: unreadable or longer than %zu bytes",
		    path, sizeof buf - 1);
		return NULL;
	}
	fclose(f);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	if (n < 16) {
		mbedtls_platform_zeroize(buf, sizeof buf);
		snprintf(err, errlen, "%s: a token key needs at least 16 bytes",
		    path);
		return NULL;
	}
	tk = tap_tokenizer_new(buf, n);
	mbedtls_platform_zeroize(buf, sizeof buf);
	if (tk == NULL)
		snprintf(err, errlen, "%s: cannot set up HMAC", path);
	return tk;
}

int
account_from(struct account_key *a, enum account_kind kind, const char *id)
{
	const char *why;
	size_t i, n = strlen(id);

	assert(kind >= 0 && kind < ACCOUNT_KIND_MAX);
	if (kind == ACCOUNT_PAR) {
		if (n == 0 || tap_check_par_n(id, n, &why) == -1)
			return -1;
	} else {
		if (n != TAP_TOKEN_HEX)
			return -1;
		for (i = 0; i < n; i++)
			if (!((id[i] >= '0' && id[i] <= '9') ||
			    (id[i] >= 'a' && id[i] <= 'f')))
				return -1;
	}
	a->kind = kind;
	if (kind == ACCOUNT_PAR)
		tap_par_upper(a->id, id, n);
	else
		memcpy(a->id, id, n + 1);
	return 0;
}

int
account_parse(struct account_key *a, const char *text)
{
	if (strncmp(text, "par:", 4) == 0)
		return account_from(a, ACCOUNT_PAR, text + 4);
	if (strncmp(text, "tok:", 4) == 0)
		return account_from(a, ACCOUNT_TOKEN, text + 4);
	return -1;
}

void
account_format(const struct account_key *a, char *buf, size_t len)
{
	assert(a->kind >= 0 && a->kind < ACCOUNT_KIND_MAX);
	snprintf(buf, len, "%s:%s", a->kind == ACCOUNT_PAR ? "par" : "tok",
	    a->id);
}
