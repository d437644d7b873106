/*
 * The acquirer's line protocol: strict word-by-word parsing (a field out
 * of form is refused, never guessed at) and formatting that only writes
 * what the parser takes back.  See acqline.h.
 */
#include <stdio.h>
#include <string.h>

#include "acqline.h"
#include "limits.h"

const char *const acq_outcome_name[ACQ_OUTCOME_MAX] = {
	[ACQ_APPROVED] = "APPROVED",
	[ACQ_DECLINED] = "DECLINED",
	[ACQ_REFUSED] = "REFUSED",
};

static int
is_alnum(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
	    (c >= 'a' && c <= 'z');
}

static int
key_ok(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > ACQ_KEY_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!is_alnum(s[i]) && strchr("/:._-", s[i]) == NULL)
			return 0;
	return 1;
}

static int
account_ok(const char *s)
{
	size_t n = strlen(s), i;

	if (n < 5 || n > ACQ_ACCOUNT_MAX || (strncmp(s, "par:", 4) != 0 &&
	    strncmp(s, "tok:", 4) != 0))
		return 0;
	for (i = 4; i < n; i++)
		if (!is_alnum(s[i]))
			return 0;
	return 1;
}

static int
currency_ok(const char *s)
{
	return strlen(s) == 3 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' &&
	    s[1] <= 'Z' && s[2] >= 'A' && s[2] <= 'Z';
}

static int
day_ok(const char *s)
{
	static const char form[] = "dddd-dd-dd";
	size_t i;

	if (strlen(s) != sizeof form - 1)
		return 0;
	for (i = 0; i < sizeof form - 1; i++)
		if (form[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') :
		    s[i] != '-')
			return 0;
	return 1;
}

static int
reference_ok(const char *s)
{
	size_t n = strlen(s), i;

	if (strcmp(s, "-") == 0)
		return 1;
	if (n == 0 || n > 32)
		return 0;
	for (i = 0; i < n; i++)
		if (!is_alnum(s[i]))
			return 0;
	return 1;
}

/* A code or a reason: 1-128 printable ASCII characters. */
static int
text_ok(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > 128)
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return 0;
	return 1;
}

/* A non-zero integer within LIMIT_AMOUNT_CENTS, no sign but '-'. */
static int
amount_parse(const char *s, int64_t *out)
{
	int64_t v = 0;
	int neg = *s == '-';

	if (neg)
		s++;
	if (*s == '\0' || (*s == '0' && s[1] != '\0'))
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > LIMIT_AMOUNT_CENTS)
			return -1;
		v = v * 10 + (*s - '0');
	}
	if (v == 0 || v > LIMIT_AMOUNT_CENTS)
		return -1;
	*out = neg ? -v : v;
	return 0;
}

/* Splits line at single spaces into at most max words; the last takes
 * the rest when rest is set.  The count of words. */
static size_t
words(char *line, char **w, size_t max, int rest)
{
	size_t n = 0;
	char *p = line, *sp;

	while (n < max) {
		w[n++] = p;
		if (rest && n == max)
			break;
		if ((sp = strchr(p, ' ')) == NULL)
			break;
		*sp = '\0';
		p = sp + 1;
	}
	return n;
}

int
acq_parse_request(char *line, struct acq_request *q, const char **why)
{
	char *w[8];
	size_t n = words(line, w, 8, 0);

	if (n != 7 || strcmp(w[0], "CAPTURE") != 0) {
		*why = "not CAPTURE and six words";
		return -1;
	}
	if (!key_ok(w[1]) || !account_ok(w[2]) || !currency_ok(w[4]) ||
	    !day_ok(w[5]) || !reference_ok(w[6])) {
		*why = "a word out of form";
		return -1;
	}
	if (amount_parse(w[3], &q->amount_cents) == -1) {
		*why = "amount not a non-zero integer within bounds";
		return -1;
	}
	q->key = w[1];
	q->account = w[2];
	q->currency = w[4];
	q->day = w[5];
	q->reference = w[6];
	return 0;
}

int
acq_parse_answer(char *line, struct acq_answer *a, const char **why)
{
	char *w[6];
	size_t n = words(line, w, 6, 1);

	memset(a, 0, sizeof *a);
	if (n >= 3 && strcmp(w[1], "REFUSED") == 0) {
		/* The reason is the rest: words() cut it at its spaces. */
		char *r = w[2];
		size_t k;
		for (k = 3; k < n; k++)
			w[k][-1] = ' ';
		if (!key_ok(w[0]) || !text_ok(r)) {
			*why = "a refusal out of form";
			return -1;
		}
		a->key = w[0];
		a->text = r;
		a->outcome = ACQ_REFUSED;
		return 0;
	}
	if (n != 6 || (strcmp(w[1], "APPROVED") != 0 &&
	    strcmp(w[1], "DECLINED") != 0)) {
		*why = "not APPROVED or DECLINED and five words";
		return -1;
	}
	if (!key_ok(w[0]) || !account_ok(w[2]) || !currency_ok(w[4]) ||
	    !text_ok(w[5]) || amount_parse(w[3], &a->amount_cents) == -1) {
		*why = "a word out of form";
		return -1;
	}
	a->key = w[0];
	a->account = w[2];
	a->currency = w[4];
	a->text = w[5];
	a->outcome = w[1][0] == 'A' ? ACQ_APPROVED : ACQ_DECLINED;
	return 0;
}

int
acq_format_request(const struct acq_request *q, char *out, size_t len)
{
	int n;

	if (!key_ok(q->key) || !account_ok(q->account) ||
	    !currency_ok(q->currency) || !day_ok(q->day) ||
	    !reference_ok(q->reference) || q->amount_cents == 0 ||
	    q->amount_cents > LIMIT_AMOUNT_CENTS ||
	    q->amount_cents < -LIMIT_AMOUNT_CENTS)
		return -1;
	n = snprintf(out, len, "CAPTURE %s %s %lld %s %s %s\n", q->key,
	    q->account, (long long)q->amount_cents, q->currency, q->day,
	    q->reference);
	return n < 0 || (size_t)n >= len ? -1 : n;
}

int
acq_format_answer(const struct acq_answer *a, char *out, size_t len)
{
	int n;

	if (a->outcome < 0 || a->outcome >= ACQ_OUTCOME_MAX ||
	    !key_ok(a->key) || !text_ok(a->text))
		return -1;
	if (a->outcome == ACQ_REFUSED)
		n = snprintf(out, len, "%s REFUSED %s\n", a->key, a->text);
	else {
		if (!account_ok(a->account) || !currency_ok(a->currency) ||
		    a->amount_cents == 0 ||
		    a->amount_cents > LIMIT_AMOUNT_CENTS ||
		    a->amount_cents < -LIMIT_AMOUNT_CENTS)
			return -1;
		n = snprintf(out, len, "%s %s %s %lld %s %s\n", a->key,
		    acq_outcome_name[a->outcome], a->account,
		    (long long)a->amount_cents, a->currency, a->text);
	}
	return n < 0 || (size_t)n >= len ? -1 : n;
}
