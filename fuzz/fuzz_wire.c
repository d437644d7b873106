/* libFuzzer: the validator frame parser and field splitter. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct wire_frame f;
	const char *why;
	size_t used, off = 0;
	char *fields[8];

	while (off < size) {
		int r = wire_parse(data + off, size - off, &f, &used, &why);
		if (r != 1)
			break;
		if (used > size - off || f.len > WIRE_BODY_MAX)
			__builtin_trap();
		(void)wire_fields(f.body, fields, 8);
		off += used;
	}
	return 0;
}
