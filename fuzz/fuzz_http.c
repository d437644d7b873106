/*
 * libFuzzer: the HTTP request path of engine/http.c as the listener runs
 * it, in memory: find the head's end within the head limit, parse it,
 * and check what a handler would be given.
 */
#include <stdint.h>
#include <string.h>

#include "http.h"
#include "limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[HTTP_HEAD_MAX + 1];
	struct http_head h;
	const char *why;
	size_t n = size < HTTP_HEAD_MAX ? size : HTTP_HEAD_MAX, end;
	int status;

	memcpy(buf, data, n);
	if ((end = http_head_end(buf, n)) == 0)
		return 0;
	if (end > n)
		__builtin_trap();
	status = http_parse_head(buf, end, &h, &why);
	if (status != 0) {
		if (why == NULL || status < 400 || status > 599)
			__builtin_trap();
		return 0;
	}
	/* What a handler may rely on. */
	if ((h.method != HTTP_GET && h.method != HTTP_HEAD) ||
	    h.path == NULL || h.path[0] != '/' || h.query == NULL ||
	    strlen(h.path) > HTTP_TARGET_MAX || h.nheaders > HTTP_HEADERS_MAX ||
	    strchr(h.path, '?') != NULL || strpbrk(h.path, " \r\n") != NULL)
		__builtin_trap();
	(void)http_head_get(&h, "Host");
	return 0;
}
