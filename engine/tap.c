/* PAN, PAR and kind checks, and the HMAC token of a card (mbedTLS). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/md.h>
#include <mbedtls/platform_util.h>

#include "tap.h"

struct tap_tokenizer {
	mbedtls_md_context_t	 md;
};

int
tap_check_pan(const char *pan, const char **why)
{
	size_t n = strlen(pan), i;
	int sum = 0;

	if (n < 12 || n > 19) {
		*why = "card number must be 12 to 19 digits";
		return -1;
	}
	for (i = 0; i < n; i++) {
		int d = pan[n - 1 - i] - '0';
		if (d < 0 || d > 9) {
			*why = "card number must be digits only";
			return -1;
		}
		if (i % 2 == 1) {
			d *= 2;
			if (d > 9)
				d -= 9;
		}
		sum += d;
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
	size_t n = strlen(par), i;

	if (n == 0)
		return 0;
	if (n != TAP_PAR_LEN) {
		*why = "PAR must be 29 letters and digits";
		return -1;
	}
	for (i = 0; i < n; i++) {
		char c = par[i];
		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
		    (c >= 'a' && c <= 'z'))) {
			*why = "PAR must be 29 letters and digits";
			return -1;
		}
	}
	return 0;
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

	if (tk == NULL)
		return NULL;
	mbedtls_md_init(&tk->md);
	if (mbedtls_md_setup(&tk->md,
	    mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), 1) != 0 ||
	    mbedtls_md_hmac_starts(&tk->md, key, len) != 0) {
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
	mbedtls_md_free(&tk->md);
	free(tk);
}

int
tap_token(struct tap_tokenizer *tk, const char *pan, size_t len,
    char hex[TAP_TOKEN_HEX + 1])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char mac[32];
	int i;

	/* hmac_reset reuses the keyed inner state: two compressions a card. */
	if (mbedtls_md_hmac_reset(&tk->md) != 0 ||
	    mbedtls_md_hmac_update(&tk->md, (const unsigned char *)pan,
	    len) != 0 || mbedtls_md_hmac_finish(&tk->md, mac) != 0)
		return -1;
	for (i = 0; i < 16; i++) {
		hex[2 * i] = digits[mac[i] >> 4];
		hex[2 * i + 1] = digits[mac[i] & 15];
	}
	hex[TAP_TOKEN_HEX] = '\0';
	return 0;
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
