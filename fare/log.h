/*
 * The programs' log: one event per line on stderr, with a level that
 * journald understands (sd-daemon(3): "<3>" err ... "<7>" debug at the
 * start of the line), the UTC time, the program, the event's name and
 * key=value fields (logfmt: a value with a space, quote or '=' is quoted):
 *
 *   <6>2026-11-30T07:00:00Z fare-engine: event=validator_connected
 *       device=gate-asd-01 resumed=0
 *
 * (one line).  Levels: err, the program cannot do its job (a commit
 * fails, it cannot start); warning, something an operator must look at
 * (a reload refused, a limit reached, the acquirer down); notice, normal
 * but significant (start, stop, reloads, declines and debts); info,
 * routine (validators connecting and leaving); debug, detail.  Lines
 * above the level set with log_set_level (default info) are not written.
 *
 * The level and the program's name are the process's (set once at start,
 * read by every thread): the only globals of fare/, besides the clock
 * read for the time stamp.
 */
#ifndef ONECITY_LOG_H
#define ONECITY_LOG_H

#include <stddef.h>

enum log_level {
	LOG_LEVEL_ERR = 3,
	LOG_LEVEL_WARNING = 4,
	LOG_LEVEL_NOTICE = 5,
	LOG_LEVEL_INFO = 6,
	LOG_LEVEL_DEBUG = 7
};

/* One event: fmt (may be NULL) gives its key=value fields. */
void log_event(enum log_level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define log_err(ev, ...) log_event(LOG_LEVEL_ERR, ev, __VA_ARGS__)
#define log_warning(ev, ...) log_event(LOG_LEVEL_WARNING, ev, __VA_ARGS__)
#define log_notice(ev, ...) log_event(LOG_LEVEL_NOTICE, ev, __VA_ARGS__)
#define log_info(ev, ...) log_event(LOG_LEVEL_INFO, ev, __VA_ARGS__)
#define log_debug(ev, ...) log_event(LOG_LEVEL_DEBUG, ev, __VA_ARGS__)

/* Whether a line of this level would be written (skip costly fields). */
int log_enabled(enum log_level);
/* Lines above max are not written (default LOG_LEVEL_INFO). */
void log_set_level(enum log_level max);
/* "err", "warning", "notice", "info" or "debug" into *out; -1 if none. */
int log_level_parse(const char *name, enum log_level *out);
/* The program named on each line (default "fare-engine"). */
void log_set_program(const char *name);

/*
 * s as a logfmt value into buf (len bytes, always terminated): as it is
 * when it has no space, quote, '=' or control character and is not empty,
 * else in double quotes with \" \\ and \xNN escapes; truncated to fit.
 * Returns buf.  LOGQ(s) does it in a buffer of its own for one call.
 */
const char *log_quote(const char *s, char *buf, size_t len);
#define LOG_QUOTE_MAX 256
#define LOGQ(s) log_quote((s), (char[LOG_QUOTE_MAX]){ 0 }, LOG_QUOTE_MAX)

/* Before log_event: a line at level info with the text as event=message.
 * Kept for code written against it; new code says its level and event. */
void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
