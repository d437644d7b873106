/*
 * fare-engine serve's config file: an INI file with one [engine] section
 * whose keys are the serve flags' (README, "Running the engine").
 */
#ifndef ONECITY_CONFIG_H
#define ONECITY_CONFIG_H

#include <stddef.h>

#include "server.h"

/* The strings a config file gave c, owned until config_free. */
struct config_kept {
	char	*s[32];
	size_t	 n;
};
void	config_free(struct config_kept *);

/*
 * Reads FILE into c (values it names replace c's): 0, or 2 after naming
 * every problem on stderr as "<3>FILE:LINE: key: message" (an error line
 * of the log, journald's level 3; an unknown key, a
 * value out of its range or form, a key given twice, another section, a
 * line that is not "key = value").  The strings c points to are kept in
 * kept (zeroed by the caller) until config_free.
 */
int	config_read(const char *file, struct server_config *c,
	    struct config_kept *kept);
/* The same over text in memory (label names it in messages; fuzzing). */
int	config_read_mem(const char *label, const char *text, size_t len,
	    struct server_config *c, struct config_kept *kept);

#endif
