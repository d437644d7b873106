/*
 * fare-engine serve's config file: an INI file with one [engine] section
 * whose keys are the serve flags' (README, "Running the engine").
 */
#ifndef ONECITY_CONFIG_H
#define ONECITY_CONFIG_H

#include <stddef.h>

#include "server.h"

/*
 * Reads FILE into c (values it names replace c's): 0, or 2 after naming
 * every problem on stderr as "FILE:LINE: key: message" (an unknown key, a
 * value out of its range or form, a key given twice, another section, a
 * line that is not "key = value").  Strings kept in c live as long as the
 * process.
 */
int	config_read(const char *file, struct server_config *c);
/* The same over text in memory (label names it in messages; fuzzing). */
int	config_read_mem(const char *label, const char *text, size_t len,
	    struct server_config *c);

#endif
