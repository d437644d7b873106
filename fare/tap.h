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
/* A checked PAR (n <= 29) into out, upper-cased: PARs are case-blind
 * and one account has one spelling (issue 16). */
void	tap_par_upper(char *out, const char *par, size_t n);
/*
 * Masks, in place, every run of 12 or more digits in free text (a refusal's
 * detail, a deny reason, a log line) but its last four: "************4444";
 * and so a card number printed in groups of three or more digits joined by
 * single spaces or dashes ("**** **** **** 4444", issue 16's review).
 * Valid account texts (par:..., tok:...) are left whole.  Returns how many
 * runs were masked.  SPEC §6: v_refused_taps never holds a PAN.
 */
size_t	tap_mask_pans(char *s);
int	tap_check_par_n(const char *par, size_t n, const char **why);
/*
 * A Luhn-valid 16-digit test card number: first digit, then n as 14
 * digits, then the check digit (simulators and generators).
 */
void	tap_make_pan(char first, uint64_t n, char out[17]);
/* The fields of a tap in their order (SPEC §3): the tap file's header. */
extern const char *const tap_field_name[7];
struct tariff;

/*
 * An account (SPEC §3): a Payment Account Reference's, or, for a card
 * never seen with one, the card token's.  Its text is "par:<PAR>" or
 * "tok:<token>", in views, output and the wire; one type builds and
 * parses it so nothing takes it apart by position.
 */
enum account_kind { ACCOUNT_PAR, ACCOUNT_TOKEN, ACCOUNT_KIND_MAX };

/* The longer of a PAR and a token, and the text with "par:" or "tok:". */
#define ACCOUNT_ID_MAX		(TAP_TOKEN_HEX > TAP_PAR_LEN ? \
				    TAP_TOKEN_HEX : TAP_PAR_LEN)
#define ACCOUNT_TEXT_MAX	(4 + ACCOUNT_ID_MAX + 1)	/* with the NUL */

struct account_key {
	enum account_kind	 kind;
	char			 id[ACCOUNT_ID_MAX + 1];	/* PAR or token */
};

/* From a PAR (29 letters and digits) or a token (32 lowercase hex): 0, or
 * -1 when the id has not that form. */
int	account_from(struct account_key *, enum account_kind, const char *id);
/* Parses "par:<PAR>" or "tok:<token>": 0, or -1 (not an account). */
int	account_parse(struct account_key *, const char *text);
/* The account's text into buf (at least ACCOUNT_TEXT_MAX bytes). */
void	account_format(const struct account_key *, char *buf, size_t len);

/* Why a tap's fields are not a tap (SPEC §3), with a name each. */
enum tap_problem {
	TAP_OK,
	TAP_BAD_TEXT,		/* not UTF-8, or a control character (§2) */
	TAP_BAD_TIME,
	TAP_BAD_PAN,
	TAP_BAD_PAR,
	TAP_UNKNOWN_NETWORK,
	TAP_UNKNOWN_STOP,
	TAP_BAD_KIND,
	TAP_PROBLEM_MAX
};
extern const char *const tap_problem_name[TAP_PROBLEM_MAX];

/* A tap's fields, checked and resolved against the tariff. */
struct tap_fields {
	int64_t		 time_utc;
	char		 par[TAP_PAR_LEN + 1];	/* upper-cased, or "" */
	uint32_t	 network, stop;
	uint8_t		 kind;		/* 0 in, 1 out */
};

/*
 * The one check of a tap's fields f[0..7) (lengths n, in the order of
 * tap_field_name), for `price`, the engine and the simulators alike: every
 * field UTF-8 text without control characters, the time RFC 3339, the PAN
 * 12-19 Luhn-valid digits, the PAR empty or 29 letters and digits, the
 * network and the stop known to the tariff, the kind `in` or `out`.  The
 * tap_id's own form is the caller's (any id in a file, <device>:<seq> on
 * the wire).  TAP_OK with *out filled, or the first problem with a reason
 * in why (len bytes) that never quotes the PAN or a field that is not
 * text.
 */
enum tap_problem tap_check_fields(const struct tariff *, const char *const *f,
	    const size_t *n, struct tap_fields *out, char *why, size_t len);
/* Whether a tap file's header is exactly tap_field_name (SPEC §3). */
#define TAP_HEADER	"tap_id,time,card,par,network_id,stop_id,kind"
int	tap_header_ok(const char *const *field, size_t nfields);
/* "in" -> 0, "out" -> 1, else -1. */
int	tap_parse_kind(const char *kind);

struct tap_tokenizer *tap_tokenizer_new(const unsigned char *key, size_t len);
void	tap_tokenizer_free(struct tap_tokenizer *);
/* Whether its key is the published development key (TAP_DEV_TOKEN_KEY):
 * anyone can compute those tokens, so only --dev may use it. */
int	tap_tokenizer_is_dev(const struct tap_tokenizer *);
/* hex gets TAP_TOKEN_HEX characters and a NUL. */
int	tap_token(struct tap_tokenizer *, const char *pan, size_t len,
	    char hex[TAP_TOKEN_HEX + 1]);
/*
 * A sub-key for another purpose: HMAC-SHA256(token key, label), 32 bytes.
 * label must hold a non-digit (so it can never be a PAN, whose HMAC is a
 * card token).  Settlement derives its reference key with it (SPEC §6).
 */
#define TAP_DERIVED_KEY_LEN	32
int	tap_derive_key(struct tap_tokenizer *, const char *label,
	    unsigned char key[TAP_DERIVED_KEY_LEN]);
/* Reads a token key file (trailing newline dropped); wipes its buffer. */
struct tap_tokenizer *tap_tokenizer_from_file(const char *path, char *err,
	    size_t errlen);

#endif
