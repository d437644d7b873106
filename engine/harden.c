/*
 * The service's own defences, set once at start-up before anything else
 * runs (issue 16): no core dumps (a dump of the engine held a refused
 * tap's plaintext frame with its PAN), files created readable by the
 * engine's user alone (the database, its WAL and SHM), and libevent's
 * memory wiped when it is freed, so that the plaintext frames that went
 * through its buffers do not linger in freed heap; SQLite's likewise
 * (store_wipe_freed_memory).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <event2/event.h>

#include <mbedtls/platform_util.h>

#include "log.h"
#include "harden.h"
#include "store.h"
#include "tap.h"

/* Each block carries its size in front (16 bytes keep the alignment
 * malloc gives), so that it can be wiped whole when it is freed. */
#define WIPE_HDR	16

static void *
wipe_malloc(size_t n)
{
	unsigned char *p;

	if (n > SIZE_MAX - WIPE_HDR || (p = malloc(n + WIPE_HDR)) == NULL)
		return NULL;
	memcpy(p, &n, sizeof n);
	return p + WIPE_HDR;
}

static size_t
wipe_size(const void *q)
{
	size_t n;

	memcpy(&n, (const unsigned char *)q - WIPE_HDR, sizeof n);
	return n;
}

static void
wipe_free(void *q)
{
	if (q == NULL)
		return;
	mbedtls_platform_zeroize(q, wipe_size(q));
	free((unsigned char *)q - WIPE_HDR);
}

/* Never realloc in place: the old block is wiped, then freed. */
static void *
wipe_realloc(void *q, size_t n)
{
	void *r;
	size_t old;

	if (q == NULL)
		return wipe_malloc(n);
	if (n == 0) {
		wipe_free(q);
		return NULL;
	}
	if ((r = wipe_malloc(n)) == NULL)
		return NULL;
	old = wipe_size(q);
	memcpy(r, q, old < n ? old : n);
	wipe_free(q);
	return r;
}

int
harden_process(void)
{
	struct rlimit zero = {0, 0};
	int rc = 0;

	umask(077);
	if (setrlimit(RLIMIT_CORE, &zero) == -1) {
		log_warning("core_dumps_on", "msg=\"cannot set RLIMIT_CORE "
		    "to 0\"");
		rc = -1;
	}
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1) {
		log_warning("core_dumps_on", "msg=\"cannot make the process "
		    "undumpable\"");
		rc = -1;
	}
	/* Before libevent allocates anything. */
	event_set_mem_functions(wipe_malloc, wipe_realloc, wipe_free);
	/* And before SQLite initialises: its freed pages and values wiped. */
	if (store_wipe_freed_memory() == -1) {
		log_warning("sqlite_memory_not_wiped", "msg=\"SQLite was "
		    "initialised before the process was hardened\"");
		rc = -1;
	}
	return rc;
}

int
harden_secret_file(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (lstat(path, &st) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: a key must be a regular file (not a "
		    "link or a device)", path);
		return -1;
	}
	if ((st.st_mode & 077) != 0) {
		snprintf(err, errlen, "%s: mode %04o lets %s read a secret key; "
		    "chmod 600 it", path, (unsigned)(st.st_mode & 07777),
		    (st.st_mode & 07) ? "everyone" : "its group");
		return -1;
	}
	return 0;
}

struct tap_tokenizer *
harden_token_key(const char *file, int dev, char *err, size_t errlen)
{
	struct tap_tokenizer *tk;

	if (file != NULL && !dev && harden_secret_file(file, err, errlen) == -1)
		return NULL;
	if (file != NULL)
		tk = tap_tokenizer_from_file(file, err, errlen);
	else
		tk = tap_tokenizer_new((const unsigned char *)TAP_DEV_TOKEN_KEY,
		    strlen(TAP_DEV_TOKEN_KEY));
	if (tk != NULL && !dev && tap_tokenizer_is_dev(tk)) {
		snprintf(err, errlen, "%s holds the published development key: "
		    "anyone can compute its card tokens and settlement "
		    "references; generate a key (head -c 32 /dev/urandom | "
		    "base64 > FILE; chmod 600 FILE), or run with --dev",
		    file != NULL ? file : "no token_key_file: the default");
		tap_tokenizer_free(tk);
		return NULL;
	}
	return tk;
}
