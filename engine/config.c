/*
 * fare-engine serve's config file (INI, read with inih): the [engine]
 * section's keys, each value checked as its flag is (see config.c).
 */
#include <errno.h>
#include <ini.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "limits.h"
#include "log.h"
#include "parse.h"
#include "wire.h"

/* Every problem is an error line of the log (journald's level <3>, as
 * every line the engine writes has one), in the compiler's FILE:LINE form
 * an editor jumps to. */
#define CONFIG_ERR	"<3>"

/*
 * Reading the config file: inih calls back per key without a line number,
 * so the file is fed to it line by line (ini_parse_stream) and the line
 * counted here; every problem is "FILE:LINE: key: message" on stderr, and
 * any problem stops start-up with exit status 2 (issue 16: a mistyped
 * value must not start a broken engine).
 */
struct ini_ctx {
	struct server_config	*c;
	const char		*file;
	FILE			*f;		/* or, in memory: */
	const char		*text;
	size_t			 len, off;
	struct config_kept	*kept;
	unsigned		 line;
	unsigned		 errors;
	unsigned		 seen;		/* bit per key of ini_keys */
};

/* A string of the config file, kept in x->kept until config_free. */
static char *
keep(struct ini_ctx *x, const char *v)
{
	char *p;

	if (x->kept->n == sizeof x->kept->s / sizeof x->kept->s[0] ||
	    (p = strdup(v)) == NULL)
		return NULL;
	return x->kept->s[x->kept->n++] = p;
}

void
config_free(struct config_kept *k)
{
	while (k->n > 0)
		free(k->s[--k->n]);
}


static void
ini_problem(struct ini_ctx *x, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
ini_problem(struct ini_ctx *x, const char *key, const char *fmt, ...)
{
	char msg[256], shown[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	utf8_printable(key, shown, sizeof shown);
	fprintf(stderr, CONFIG_ERR "%s:%u: %s: %s\n", x->file, x->line, shown,
	    msg);
	x->errors++;
}

/* The next byte of the file or the text, or EOF. */
static int
config_getc(struct ini_ctx *x)
{
	if (x->f != NULL)
		return getc(x->f);
	return x->off < x->len ? (unsigned char)x->text[x->off++] : EOF;
}

/*
 * inih's reader: the next line (at most num - 1 bytes) of the file or
 * the text, counted.  A longer line is a problem, read past and handed
 * on empty: inih would take its tail as a line of its own (a long
 * comment ending in "late_tap_days = 1" set it).
 */
static char *
config_read_line(char *str, int num, void *stream)
{
	struct ini_ctx *x = stream;
	size_t n = 0;
	int ch = EOF;

	while (n + 1 < (size_t)num && (ch = config_getc(x)) != EOF) {
		str[n++] = (char)ch;
		if (ch == '\n')
			break;
	}
	str[n] = '\0';
	if (n == 0)
		return NULL;
	x->line++;
	if (str[n - 1] != '\n' && n + 1 == (size_t)num &&
	    (ch = config_getc(x)) != EOF && ch != '\n') {
		while ((ch = config_getc(x)) != EOF && ch != '\n')
			;
		fprintf(stderr, CONFIG_ERR "%s:%u: line longer than %d bytes\n",
		    x->file, x->line, num - 1);
		x->errors++;
		snprintf(str, (size_t)num, "\n");
	}
	return str;
}

/* A number of the config file, range-checked as its flag is. */
static int
ini_number(struct ini_ctx *x, const char *name, const char *value,
    int64_t lo, int64_t hi, int64_t *out)
{
	const char *why;

	if (parse_int(value, lo, hi, out, &why) == 0)
		return 1;
	ini_problem(x, name, "'%s': %s (%lld-%lld)", value, why,
	    (long long)lo, (long long)hi);
	return 0;
}

/* The config file's numeric keys: where each goes, and its range. */
static int
ini_numbers(struct ini_ctx *x, const char *name, const char *value)
{
	struct server_config *c = x->c;
	int64_t v;

	if (strcmp(name, "late_tap_days") == 0) {
		if (!ini_number(x, name, value, 1, 3650, &v))
			return 0;
		c->late_horizon_s = v * 86400;
	} else if (strcmp(name, "max_connections") == 0) {
		if (!ini_number(x, name, value, 1, LIMIT_CONNECTIONS_MAX, &v))
			return 0;
		c->max_connections = (long)v;
	} else if (strcmp(name, "handshake_timeout_s") == 0) {
		if (!ini_number(x, name, value, 1, 600, &v))
			return 0;
		c->handshake_timeout_s = (long)v;
	} else if (strcmp(name, "settle_grace_s") == 0)
		return ini_number(x, name, value, 0, 7 * 86400,
		    &c->settle_grace_s);
	else if (strcmp(name, "settle_interval_s") == 0) {
		if (!ini_number(x, name, value, 1, 3600, &v))
			return 0;
		c->settle_interval_s = (long)v;
	} else if (strcmp(name, "settle_timeout_ms") == 0) {
		if (!ini_number(x, name, value, 10, 60000, &v))
			return 0;
		c->settle_timeout_ms = (long)v;
	} else if (strcmp(name, "metrics_refresh_s") == 0) {
		if (!ini_number(x, name, value, 1, METRICS_REFRESH_S_MAX, &v))
			return 0;
		c->metrics_refresh_s = (long)v;
	} else if (strcmp(name, "debt_tap_gap_s") == 0)
		return ini_number(x, name, value, 0, 14 * 86400,
		    &c->debt_tap_gap_s);
	else if (strcmp(name, "account_cache") == 0) {
		if (!ini_number(x, name, value, 0, ACCOUNT_CACHE_ACCOUNTS, &v))
			return 0;
		c->account_cache = (long)v;
	} else if (strcmp(name, "shards") == 0) {
		if (!ini_number(x, name, value, 1, LIMIT_SHARDS_MAX, &v))
			return 0;
		c->shards = (long)v;
	} else
		return -1;
	return 1;
}

/* HOST:PORT keys: checked now, not when the engine binds them. */
static int
ini_address(struct ini_ctx *x, const char *name, const char *value,
    const char **dst)
{
	struct sockaddr_in sin;

	if (wire_parse_addr(value, &sin) == -1) {
		ini_problem(x, name, "'%s': not HOST:PORT (an IPv4 address and "
		    "a port)", value);
		return 0;
	}
	*dst = keep(x, value);
	return 1;
}

/* The config file's text keys. */
static int
ini_strings(struct ini_ctx *x, const char *name, const char *value)
{
	struct server_config *c = x->c;

	if (strcmp(name, "listen") == 0)
		return ini_address(x, name, value, &c->listen);
	if (strcmp(name, "http") == 0)
		return ini_address(x, name, value, &c->http);
	if (strcmp(name, "web") == 0)
		return ini_address(x, name, value, &c->web);
	if (strcmp(name, "acquirer") == 0) {
		if (strcmp(value, "none") == 0) {
			c->acquirer = NULL;
			return 1;
		}
		return ini_address(x, name, value, &c->acquirer);
	}
	if (strcmp(name, "log_level") == 0) {
		enum log_level l;
		if (log_level_parse(value, &l) == -1) {
			ini_problem(x, name, "'%s': err, warning, notice, info "
			    "or debug", value);
			return 0;
		}
		log_set_level(l);
		return 1;
	}
	if (strcmp(name, "synchronous") == 0) {
		if (strcmp(value, "full") != 0 && strcmp(value, "normal") != 0) {
			ini_problem(x, name, "'%s': full or normal", value);
			return 0;
		}
		c->synchronous_full = strcmp(value, "normal") != 0;
		return 1;
	}
	if (value[0] == '\0') {
		ini_problem(x, name, "empty");
		return 0;
	}
	if (strcmp(name, "db") == 0)
		c->db = keep(x, value);
	else if (strcmp(name, "tariff") == 0)
		c->tariff = keep(x, value);
	else if (strcmp(name, "certs") == 0)
		c->certs = keep(x, value);
	else if (strcmp(name, "token_key_file") == 0)
		c->token_key_file = keep(x, value);
	else if (strcmp(name, "ledger_key_file") == 0)
		c->ledger_key_file = keep(x, value);
	else if (strcmp(name, "checkpoint_file") == 0)
		c->checkpoint_file = keep(x, value);
	else if (strcmp(name, "nats") == 0)
		c->nats = keep(x, value);
	else if (strcmp(name, "nats_user") == 0)
		c->nats_user = keep(x, value);
	else if (strcmp(name, "nats_password_file") == 0)
		c->nats_password_file = keep(x, value);
	else if (strcmp(name, "nats_ca") == 0)
		c->nats_ca = keep(x, value);
	else if (strcmp(name, "nats_cert") == 0)
		c->nats_cert = keep(x, value);
	else if (strcmp(name, "nats_key") == 0)
		c->nats_key = keep(x, value);
	else
		return -1;
	return 1;
}

/* Every key the [engine] section may hold, once each. */
static const char *const ini_keys[] = {
	"listen", "http", "web", "db", "tariff", "certs", "token_key_file",
	"late_tap_days", "max_connections", "synchronous",
	"handshake_timeout_s", "acquirer", "settle_grace_s",
	"settle_interval_s", "settle_timeout_ms", "debt_tap_gap_s",
	"account_cache", "metrics_refresh_s", "log_level", "ledger_key_file",
	"checkpoint_file", "nats", "shards", "nats_user", "nats_password_file",
	"nats_ca", "nats_cert", "nats_key",
};

static int
ini_cb(void *user, const char *section, const char *name, const char *value)
{
	struct ini_ctx *x = user;
	size_t k;

	if (strcmp(section, "engine") != 0) {
		ini_problem(x, name, "in section [%s]: the only section is "
		    "[engine]", section);
		return 1;
	}
	for (k = 0; k < sizeof ini_keys / sizeof ini_keys[0]; k++)
		if (strcmp(name, ini_keys[k]) == 0)
			break;
	if (k == sizeof ini_keys / sizeof ini_keys[0]) {
		ini_problem(x, name, "unknown key");
		return 1;
	}
	if (x->seen & 1u << k) {
		ini_problem(x, name, "given twice");
		return 1;
	}
	x->seen |= 1u << k;
	if (ini_numbers(x, name, value) == -1)
		(void)ini_strings(x, name, value);
	return 1;
}

/* Runs inih over x's file or text: 0, or 2 after naming every problem. */
static int
config_parse(struct ini_ctx *x)
{
	int r;

	_Static_assert(sizeof ini_keys / sizeof ini_keys[0] <= 32,
	    "one bit per key");
	r = ini_parse_stream(config_read_line, x, ini_cb, x);
	if (r > 0) {
		/* inih's own (the handler never fails): the first line that
		 * is not "key = value" or a [section]. */
		fprintf(stderr, CONFIG_ERR "%s:%d: not 'key = value' or a "
		    "[section]\n", x->file, r);
		return 2;
	}
	if (r < 0) {
		fprintf(stderr, CONFIG_ERR "fare-engine: %s: out of memory\n",
		    x->file);
		return 2;
	}
	return x->errors > 0 ? 2 : 0;
}

int
config_read(const char *file, struct server_config *c,
    struct config_kept *kept)
{
	struct ini_ctx x = {c, file, NULL, NULL, 0, 0, kept, 0, 0, 0};
	int rc;

	if ((x.f = fopen(file, "r")) == NULL) {
		fprintf(stderr, CONFIG_ERR "fare-engine: %s: %s\n", file,
		    strerror(errno));
		return 2;
	}
	rc = config_parse(&x);
	fclose(x.f);
	return rc;
}

int
config_read_mem(const char *label, const char *text, size_t len,
    struct server_config *c, struct config_kept *kept)
{
	struct ini_ctx x = {c, label, NULL, text, len, 0, kept, 0, 0, 0};

	return config_parse(&x);
}
