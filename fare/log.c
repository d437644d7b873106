/*
 * The programs' log (log.h): levelled, one event per line, key=value
 * fields, one write(2)-sized fputs per line so that the lines of several
 * threads do not interleave.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "parse.h"
#include "tap.h"

/* A line is cut at this length (the key=value fields are bounded). */
#define LOG_LINE_MAX 2048

static atomic_int log_max = LOG_LEVEL_INFO;
static const char *_Atomic log_program = "fare-engine";

static const char *const log_names[] = {
	[LOG_LEVEL_ERR] = "err",
	[LOG_LEVEL_WARNING] = "warning",
	[LOG_LEVEL_NOTICE] = "notice",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

int
log_enabled(enum log_level l)
{
	return (int)l <= atomic_load(&log_max);
}

void
log_set_level(enum log_level max)
{
	atomic_store(&log_max, (int)max);
}

int
log_level_parse(const char *name, enum log_level *out)
{
	int l;

	for (l = LOG_LEVEL_ERR; l <= LOG_LEVEL_DEBUG; l++)
		if (strcmp(name, log_names[l]) == 0) {
			*out = (enum log_level)l;
			return 0;
		}
	return -1;
}

void
log_set_program(const char *name)
{
	atomic_store(&log_program, name);
}

const char *
log_quote(const char *s, char *buf, size_t len)
{
	size_t o = 0;
	const unsigned char *p;

	if (len < 8) {
		buf[0] = '\0';
		return buf;
	}
	if (s[0] != '\0' && strpbrk(s, " \"=\\") == NULL) {
		for (p = (const unsigned char *)s; *p >= 0x20 && *p != 0x7f;
		     p++)
			;
		if (*p == '\0') {
			snprintf(buf, len, "%s", s);
			return buf;
		}
	}
	buf[o++] = '"';
	for (p = (const unsigned char *)s; *p != '\0' && o + 6 < len; p++) {
		if (*p == '"' || *p == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)*p;
		} else if (*p < 0x20 || *p == 0x7f)
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x", *p);
		else
			buf[o++] = (char)*p;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

static void
log_write(enum log_level l, const char *event, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX], ts[21];
	int n;

	civil_format_utc((int64_t)time(NULL), ts);
	n = snprintf(line, sizeof line, "<%d>%s %s: event=%s", (int)l, ts,
	    atomic_load(&log_program), event);
	if (fmt != NULL && fmt[0] != '\0' && n > 0 &&
	    (size_t)n + 1 < sizeof line) {
		line[n++] = ' ';
		vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	}
	/* No PAN in a log line, whatever a field held (issue 16): digit
	 * runs of a PAN's length masked, accounts left whole. */
	tap_mask_pans(line);
	n = (int)strlen(line);
	if ((size_t)n + 1 >= sizeof line)
		n = (int)sizeof line - 2;
	line[n++] = '\n';
	line[n] = '\0';
	fputs(line, stderr);
}

void
log_event(enum log_level l, const char *event, const char *fmt, ...)
{
	va_list ap;

	if (!log_enabled(l))
		return;
	va_start(ap, fmt);
	log_write(l, event, fmt, ap);
	va_end(ap);
}

void
logmsg(const char *fmt, ...)
{
	char text[LOG_LINE_MAX];
	va_list ap;

	if (!log_enabled(LOG_LEVEL_INFO))
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	log_event(LOG_LEVEL_INFO, "message", "msg=%s",
	    log_quote(text, (char[LOG_LINE_MAX]){ 0 }, LOG_LINE_MAX));
}
