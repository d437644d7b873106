/*
 * libFuzzer: the deny-list D frame as a validator reads it: the frame,
 * its body (wire_deny_body), the account in it (account_parse); an
 * account that parses is written back whole and parses to itself.
 */
#include <stdint.h>
#include <string.h>

#include "tap.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct wire_frame f;
	struct account_key k, k2;
	char text[ACCOUNT_TEXT_MAX], text2[ACCOUNT_TEXT_MAX];
	const char *why, *acc;
	size_t used, off = 0;
	int change;

	while (off < size && wire_parse(data + off, size - off, &f, &used,
	    &why) == 1) {
		off += used;
		if (f.type != 'D')
			continue;
		change = wire_deny_body(f.body, &acc);
		if (change != '+' && change != '-') {
			if (acc != NULL)
				__builtin_trap();
			continue;
		}
		if (account_parse(&k, acc) == -1)
			continue;
		account_format(&k, text, sizeof text);
		if (account_parse(&k2, text) == -1)
			__builtin_trap();
		account_format(&k2, text2, sizeof text2);
		if (strcmp(text, text2) != 0 || strlen(text) + 1 >
		    ACCOUNT_TEXT_MAX)
			__builtin_trap();
	}
	return 0;
}
