/* Framing of the validator protocol (docs/protocol.md). */
#ifndef ONECITY_WIRE_H
#define ONECITY_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "limits.h"

#define WIRE_VERSION	1
#define WIRE_HEADER	6

struct wire_frame {
	char		 type;
	size_t		 len;
	char		 body[WIRE_BODY_MAX + 1];	/* NUL-terminated */
};

/*
 * Parses one frame from buf: 1 with the frame and *used bytes consumed,
 * 0 when more bytes are needed, -1 on a broken frame (*why says why).
 */
int	wire_parse(const unsigned char *buf, size_t len, struct wire_frame *f,
	    size_t *used, const char **why);
/* Encodes a frame into out (WIRE_HEADER + len bytes); -1 if too long. */
int	wire_encode(char type, const char *body, size_t len,
	    unsigned char *out, size_t outlen, size_t *n);
struct sockaddr_in;
/* "HOST:PORT" (IPv4 address) into sin; -1 when malformed. */
int	wire_parse_addr(const char *hp, struct sockaddr_in *sin);
/*
 * A deny-list frame's body (type 'D'): '=' once the whole list has been
 * sent, '+' or '-' and *account for a change, or 0 for anything else.
 * The account's own form is the caller's to check (account_parse).
 */
int	wire_deny_body(const char *body, const char **account);
/* Splits a body at commas into at most max fields (in place). */
size_t	wire_fields(char *body, char **field, size_t max);

#endif
