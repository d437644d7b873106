/*
 * IANA time zones, read from the system's compiled TZif files (RFC 8536)
 * with the POSIX TZ footer for times past the last listed transition.
 * Lookups are pure: UTC seconds in, offset out, no libc time zone state.
 */
#ifndef ONECITY_TZ_H
#define ONECITY_TZ_H

#include <stddef.h>
#include <stdint.h>

struct tz;

/* Whether name looks like an IANA zone name (letters, digits, / _ - +,
 * no "..": never a path out of the zoneinfo directory). */
int		 tz_name_ok(const char *name);
/* Loads NAME (e.g. "Europe/Amsterdam") from $TZDIR or /usr/share/zoneinfo. */
struct tz	*tz_load(const char *name, char *err, size_t errlen);
/* Parses a TZif image already in memory (tests, fuzzing). */
struct tz	*tz_parse(const unsigned char *buf, size_t len, char *err,
		    size_t errlen);
void		 tz_free(struct tz *);
/* Seconds east of UTC in force at utc. */
int32_t		 tz_offset(const struct tz *, int64_t utc);
/*
 * Whether a local time of day (seconds after midnight) falls in an hour
 * that a clock change since 1970 skips or repeats.
 */
int		 tz_tod_unstable(const struct tz *, int32_t tod_s);

#endif
