/*
 * Frame parser and encoder.  The parser never trusts the length: it is
 * bounded before anything is copied, and a body with a NUL is refused.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

int
wire_parse(const unsigned char *buf, size_t len, struct wire_frame *f,
    size_t *used, const char **why)
{
	uint32_t n;

	if (len < 4)
		return 0;
	n = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 |
	    (uint32_t)buf[2] << 8 | buf[3];
	if (n < 2 || n > WIRE_BODY_MAX + 2) {
		*why = "frame length out of range";
		return -1;
	}
	if (len < 4 + (size_t)n)
		return 0;
	if (buf[4] != WIRE_VERSION) {
		*why = "unsupported protocol version";
		return -1;
	}
	f->type = (char)buf[5];
	f->len = n - 2;
	if (memchr(buf + 6, '\0', f->len) != NULL) {
		*why = "NUL byte in a frame";
		return -1;
	}
	memcpy(f->body, buf + 6, f->len);
	f->body[f->len] = '\0';
	*used = 4 + (size_t)n;
	return 1;
}

int
wire_encode(char type, const char *body, size_t len, unsigned char *out,
    size_t outlen, size_t *n)
{
	uint32_t l = (uint32_t)len + 2;

	if (len > WIRE_BODY_MAX || outlen < WIRE_HEADER + len)
		return -1;
	out[0] = (unsigned char)(l >> 24);
	out[1] = (unsigned char)(l >> 16);
	out[2] = (unsigned char)(l >> 8);
	out[3] = (unsigned char)l;
	out[4] = WIRE_VERSION;
	out[5] = (unsigned char)type;
	memcpy(out + 6, body, len);
	*n = WIRE_HEADER + len;
	return 0;
}

size_t
wire_fields(char *body, char **field, size_t max)
{
	size_t n = 0;
	char *p = body, *c;

	while (n < max) {
		field[n++] = p;
		if ((c = strchr(p, ',')) == NULL)
			break;
		*c = '\0';
		p = c + 1;
	}
	return n;
}

int
wire_parse_addr(const char *hp, struct sockaddr_in *sin)
{
	char host[128];
	const char *colon = strrchr(hp, ':');
	long port;

	if (colon == NULL || (size_t)(colon - hp) >= sizeof host)
		return -1;
	memcpy(host, hp, (size_t)(colon - hp));
	host[colon - hp] = '\0';
	port = strtol(colon + 1, NULL, 10);
	if (port <= 0 || port > 65535)
		return -1;
	memset(sin, 0, sizeof *sin);
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &sin->sin_addr) == 1 ? 0 : -1;
}

int
wire_deny_body(const char *body, const char **account)
{
	*account = NULL;
	if (strcmp(body, "=") == 0)
		return '=';
	if ((body[0] != '+' && body[0] != '-') || body[1] == '\0' ||
	    strchr(body + 1, ',') != NULL)
		return 0;
	*account = body + 1;
	return body[0];
}
