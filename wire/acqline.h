/*
 * The acquirer's line protocol (docs/protocol.md, "Acquirer"): requests
 * and answers parsed and written in one place, for the engine's
 * settlement, the acquirer simulator and the fuzzer alike.  Pure: no I/O.
 */
#ifndef ONECITY_ACQLINE_H
#define ONECITY_ACQLINE_H

#include <stddef.h>
#include <stdint.h>

#define ACQ_LINE_MAX		512	/* a request or an answer, with LF */
#define ACQ_KEY_MAX		64
#define ACQ_ACCOUNT_MAX		40	/* "par:" + 29, "tok:" + 32 */

/* CAPTURE <key> <account> <amount_cents> <currency> <day> <reference> */
struct acq_request {
	const char	*key, *account, *currency, *day, *reference;
	int64_t		 amount_cents;		/* != 0; < 0 a refund */
};

enum acq_outcome {
	ACQ_APPROVED,
	ACQ_DECLINED,
	ACQ_REFUSED,		/* the request was not decided */
	ACQ_OUTCOME_MAX
};

/*
 * <key> APPROVED|DECLINED <account> <amount_cents> <currency> <text>
 * <key> REFUSED <text>
 * (text: the authorisation code, or the reason; the rest of the line).
 */
struct acq_answer {
	const char	*key, *account, *currency, *text;
	int64_t		 amount_cents;
	enum acq_outcome outcome;
};

/*
 * Parses one line (without its LF; NULs written into it): 0, or -1 with
 * why.  Every word is checked: the key 1-64 of [0-9A-Za-z/:._-], the
 * account "par:" or "tok:" and letters and digits, the amount a non-zero
 * integer within LIMIT_AMOUNT_CENTS, the currency 3 capital letters, the
 * day YYYY-MM-DD (its calendar is the caller's), the reference 1-32
 * letters and digits or "-"; nothing after the reference.
 */
int	acq_parse_request(char *line, struct acq_request *, const char **why);
int	acq_parse_answer(char *line, struct acq_answer *, const char **why);
/* Writes the line with its LF into out: its length, or -1 when it does
 * not fit (len bytes) or a field is not what the parser takes. */
int	acq_format_request(const struct acq_request *, char *out, size_t len);
int	acq_format_answer(const struct acq_answer *, char *out, size_t len);
extern const char *const acq_outcome_name[ACQ_OUTCOME_MAX];

#endif
