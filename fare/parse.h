/*
 * Exact parsers for the numbers and times in tariffs and taps.  Money is
 * parsed from decimal text into integer units (never through a float);
 * every parser takes the whole string and rejects anything left over.
 * Each returns 0 on success or -1 with a short reason in *why.
 */
#ifndef ONECITY_PARSE_H
#define ONECITY_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* "-1.08" with at most max_decimals decimals into units of 10^-max_decimals. */
int	parse_decimal(const char *s, int max_decimals, int64_t max_abs,
	    int64_t *out, const char **why);
/* A plain integer in [lo, hi]. */
int	parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out,
	    const char **why);
/* "HH:MM:SS" into seconds, HH up to max_hours (24:00:00 allowed at 24). */
int	parse_hms(const char *s, int max_hours, int32_t *out, const char **why);
/* GTFS "YYYYMMDD" into days since 1970-01-01. */
int	parse_yyyymmdd(const char *s, int32_t *days, const char **why);
/* "YYYY-MM-DD" (a real date) into days since 1970-01-01. */
int	parse_day(const char *s, int32_t *days, const char **why);
/* RFC 3339 date-time into UTC seconds since the epoch (fraction dropped). */
int	parse_rfc3339(const char *s, int64_t *utc, const char **why);

/* Proleptic Gregorian calendar arithmetic (H. Hinnant's algorithms). */
int32_t	civil_to_days(int64_t y, unsigned m, unsigned d);
void	civil_from_days(int64_t days, int *y, unsigned *m, unsigned *d);
/* 0 = Monday ... 6 = Sunday. */
int	civil_weekday(int64_t days);
/* "YYYY-MM-DD" into buf (11 bytes). */
void	civil_format_day(int64_t days, char buf[11]);
/* "YYYY-MM-DDTHH:MM:SSZ" into buf (21 bytes). */
void	civil_format_utc(int64_t utc, char buf[21]);
/* Floor division by 86400 for negative times too. */
int64_t	civil_day_of(int64_t secs);

/*
 * Text fields are UTF-8 as GTFS defines them (SPEC §2): 0 when the n bytes
 * at s are valid UTF-8 (RFC 3629) without a control character U+0000 to
 * U+001F; else -1 with the offending byte's offset in *at and a reason in
 * *why ("an overlong form", "a surrogate ...", "a code point above
 * U+10FFFF", "a stray continuation byte", "a truncated sequence", "a
 * control character").
 */
int	utf8_check(const char *s, size_t n, size_t *at, const char **why);
/*
 * s made safe to print into out (len bytes, always terminated): valid
 * UTF-8 is copied, control characters, DEL and invalid bytes become
 * "\xNN".  Returns the length written; truncates at a character boundary.
 */
size_t	utf8_printable(const char *s, char *out, size_t len);
/* The length of s's longest prefix of at most max bytes that does not end
 * inside a UTF-8 sequence (for "%.*s" of valid UTF-8 text). */
size_t	utf8_cut(const char *s, size_t max);

#endif
