/*
 * Tap fields (SPEC §3): PAN and PAR checks, and card tokens.  A PAN is
 * only ever held long enough to check it and derive its token,
 * HMAC-SHA256(token_key, PAN) cut to 16 bytes, as lowercase hex.
 */
#ifndef ONECITY_TAP_H
#define ONECITY_TAP_H

#include <stddef.h>
#include <stdint.h>

#define TAP_DEV_TOKEN_KEY	"onecity-dev-token-key"
#define TAP_TOKEN_HEX		32
#define TAP_PAR_LEN		29

struct tap_tokenizer;

/* 12 to 19 digits, Luhn-valid (the _n forms take the length). */
int	tap_check_pan(const char *pan, const char **why);
int	tap_check_pan_n(const char *pan, size_t n, const char **why);
/* Empty, or 29 letters and digits. */
int	tap_check_par(const char *par, const char **why);
int	tap_check_par_n(const char *par, size_t n, const char **why);
/*
 * A Luhn-valid 16-digit test card number: first digit, then n as 14
 * digits, then the check digit (simulators and generators).
 */
void	tap_make_pan(char first, uint64_t n, char out[17]);
/* The fields of a tap in their order (SPEC §3): the tap file's header. */
extern const char *const tap_field_name[7];
/* "in" -> 0, "out" -> 1, else -1. */
int	tap_parse_kind(const char *kind);

struct tap_tokenizer *tap_tokenizer_new(const unsigned char *key, size_t len);
void	tap_tokenizer_free(struct tap_tokenizer *);
/* hex gets TAP_TOKEN_HEX characters and a NUL. */
int	tap_token(struct tap_tokenizer *, const char *pan, size_t len,
	    char hex[TAP_TOKEN_HEX + 1]);
/* Reads a token key file (trailing newline dropped); wipes its buffer. */
struct tap_tokenizer *tap_tokenizer_from_file(const char *path, char *err,
	    size_t errlen);

#endif
