/*
 * libFuzzer: the acquirer's line protocol, both sides (wire/acqline.c):
 * each input line is parsed as a request (the acquirer's side) and as an
 * answer (settlement's side); whatever parses is written back and must
 * parse to the same values.
 */
#include <stdint.h>
#include <string.h>

#include "acqline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
request(const char *line)
{
	char a[ACQ_LINE_MAX], b[ACQ_LINE_MAX];
	struct acq_request q, q2;
	const char *why;
	int n;

	if (strlen(line) >= sizeof a)
		return;
	strcpy(a, line);
	if (acq_parse_request(a, &q, &why) == -1)
		return;
	if ((n = acq_format_request(&q, b, sizeof b)) <= 0 || b[n - 1] != '\n')
		__builtin_trap();
	b[n - 1] = '\0';
	if (acq_parse_request(b, &q2, &why) == -1 ||
	    q2.amount_cents != q.amount_cents || strcmp(q2.key, q.key) != 0 ||
	    strcmp(q2.account, q.account) != 0)
		__builtin_trap();
}

static void
answer(const char *line)
{
	char a[ACQ_LINE_MAX], b[ACQ_LINE_MAX];
	struct acq_answer x, y;
	const char *why;
	int n;

	if (strlen(line) >= sizeof a)
		return;
	strcpy(a, line);
	if (acq_parse_answer(a, &x, &why) == -1)
		return;
	if ((n = acq_format_answer(&x, b, sizeof b)) <= 0 || b[n - 1] != '\n')
		__builtin_trap();
	b[n - 1] = '\0';
	if (acq_parse_answer(b, &y, &why) == -1 || y.outcome != x.outcome ||
	    y.amount_cents != x.amount_cents || strcmp(y.key, x.key) != 0 ||
	    strcmp(y.text, x.text) != 0)
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char line[ACQ_LINE_MAX * 2];
	size_t i = 0, n;

	while (i < size) {
		for (n = 0; i < size && data[i] != '\n' && n + 1 < sizeof line;
		    i++)
			line[n++] = data[i] != '\0' ? (char)data[i] : ' ';
		line[n] = '\0';
		i++;
		request(line);
		answer(line);
	}
	return 0;
}
