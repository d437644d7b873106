/*
 * The cluster's shared parts on NATS JetStream: see jsbus.h.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/platform_util.h>

#include "diag.h"
#include "harden.h"

#include "jsbus.h"
#include "limits.h"

const char *
jsbus_error(natsStatus s, char *buf, size_t len)
{
	natsStatus ls;
	const char *last = nats_GetLastError(&ls);

	snprintf(buf, len, "%s%s%s", natsStatus_GetText(s),
	    last != NULL && *last ? ": " : "", last != NULL ? last : "");
	return buf;
}

/* Adds the stream TAPS unless it exists. */
static natsStatus
ensure_stream(struct jsbus *b, char *err, size_t errlen)
{
	jsStreamConfig sc;
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	const char *subjects[] = {"taps.>"};
	natsStatus s;
	char why[256];

	s = js_GetStreamInfo(&si, b->js, JSBUS_STREAM, NULL, &jerr);
	if (s == NATS_OK) {
		jsStreamInfo_Destroy(si);
		return NATS_OK;
	}
	jsStreamConfig_Init(&sc);
	sc.Name = JSBUS_STREAM;
	sc.Subjects = subjects;
	sc.SubjectsLen = 1;
	sc.Storage = js_FileStorage;
	sc.Replicas = b->replicas;
	sc.Duplicates = (int64_t)120 * 1000000000;	/* 2 min, ns */
	jerr = 0;
	s = js_AddStream(&si, b->js, &sc, NULL, &jerr);
	if (s == NATS_OK)
		jsStreamInfo_Destroy(si);
	else if (jerr == JSStreamNameExistErr)
		s = NATS_OK;	/* another process was first */
	else
		snprintf(err, errlen, "stream %s: %s (JetStream error %d)",
		    JSBUS_STREAM, jsbus_error(s, why, sizeof why), (int)jerr);
	return s;
}

static natsStatus
ensure_kv(struct jsbus *b, kvStore **kv, const char *bucket, char *err,
    size_t errlen)
{
	kvConfig kc;
	natsStatus s;
	char why[256];

	if ((s = js_KeyValue(kv, b->js, bucket)) == NATS_OK)
		return s;
	kvConfig_Init(&kc);
	kc.Bucket = bucket;
	kc.History = 1;
	kc.StorageType = js_FileStorage;
	kc.Replicas = b->replicas;
	if ((s = js_CreateKeyValue(kv, b->js, &kc)) != NATS_OK &&
	    (s = js_KeyValue(kv, b->js, bucket)) != NATS_OK)
		snprintf(err, errlen, "key-value bucket %s: %s", bucket,
		    jsbus_error(s, why, sizeof why));
	return s;
}

const char *
jsbus_security_check(const struct jsbus_security *sec)
{
	if (sec == NULL)
		return NULL;
	if ((sec->user == NULL) != (sec->password_file == NULL))
		return "a NATS user and its password file go together";
	if ((sec->cert == NULL) != (sec->key == NULL))
		return "a NATS client certificate and its key go together";
	if (sec->cert != NULL && sec->ca == NULL)
		return "a NATS client certificate needs the servers' CA (TLS)";
	return NULL;
}

/* The first line of the secret file path (at most len - 1 bytes), in
 * buf; -1 with err. */
static int
read_password(const char *path, char *buf, size_t len, char *err,
    size_t errlen)
{
	FILE *f;
	size_t n;

	if (harden_secret_file(path, err, errlen) == -1)
		return -1;
	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: cannot read the NATS password", path);
		return -1;
	}
	if (fgets(buf, (int)len, f) == NULL)
		buf[0] = '\0';
	fclose(f);
	n = strcspn(buf, "\r\n");
	if (n == 0 || n + 1 >= len) {
		mbedtls_platform_zeroize(buf, len);
		snprintf(err, errlen, "%s: the NATS password is the first line, "
		    "1 to %zu bytes", path, len - 2);
		return -1;
	}
	buf[n] = '\0';
	return 0;
}

/* sec into o; -1 with err. */
static int
set_security(natsOptions *o, const struct jsbus_security *sec, char *err,
    size_t errlen)
{
	char pw[256], why[256];
	const char *bad;
	natsStatus s = NATS_OK;

	if (sec == NULL)
		return 0;
	if ((bad = jsbus_security_check(sec)) != NULL) {
		snprintf(err, errlen, "%s", bad);
		return -1;
	}
	if (sec->user != NULL) {
		if (read_password(sec->password_file, pw, sizeof pw, err,
		    errlen) == -1)
			return -1;
		s = natsOptions_SetUserInfo(o, sec->user, pw);
		mbedtls_platform_zeroize(pw, sizeof pw);
		if (s != NATS_OK) {
			snprintf(err, errlen, "NATS user: %s",
			    jsbus_error(s, why, sizeof why));
			return -1;
		}
	}
	if (sec->key != NULL && harden_secret_file(sec->key, err, errlen) ==
	    -1)
		return -1;
	if (sec->ca != NULL) {
		s = natsOptions_SetSecure(o, true);
		if (s == NATS_OK)
			s = natsOptions_LoadCATrustedCertificates(o, sec->ca);
		if (s != NATS_OK) {
			snprintf(err, errlen, "NATS TLS: CA %s: %s", sec->ca,
			    jsbus_error(s, why, sizeof why));
			return -1;
		}
	}
	if (sec->cert != NULL && (s = natsOptions_LoadCertificatesChain(o,
	    sec->cert, sec->key)) != NATS_OK) {
		snprintf(err, errlen, "NATS TLS: certificate %s, key %s: %s",
		    sec->cert, sec->key, jsbus_error(s, why, sizeof why));
		return -1;
	}
	return 0;
}

/* The stream's next sequence (its last plus one); 0 on failure. */
static uint64_t
next_seq(struct jsbus *b)
{
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	uint64_t n = 0;

	if (js_GetStreamInfo(&si, b->js, JSBUS_STREAM, NULL, &jerr) ==
	    NATS_OK) {
		n = si->State.LastSeq + 1;
		jsStreamInfo_Destroy(si);
	}
	return n;
}

int
jsbus_layout(struct jsbus *b, unsigned shards, int record, uint64_t *since,
    char *err, size_t errlen)
{
	char want[48], why[256];
	kvEntry *e = NULL;
	uint64_t rev, from = 1;
	natsStatus s = NATS_OK;
	unsigned long long have = 0, seq;
	int tries, n;

	if (record && (from = next_seq(b)) == 0) {
		snprintf(err, errlen, "cannot read stream %s's last sequence",
		    JSBUS_STREAM);
		return -1;
	}
	snprintf(want, sizeof want, "%u %llu", shards, (unsigned long long)
	    from);
	for (tries = 0; tries < 3; tries++) {
		if (record)
			s = kvStore_PutString(&rev, b->layout,
			    JSBUS_LAYOUT_SHARDS, want);
		else
			s = kvStore_CreateString(&rev, b->layout,
			    JSBUS_LAYOUT_SHARDS, want);
		if (s == NATS_OK) {
			CLUSTER_LOG(LOG_LEVEL_NOTICE, "layout_recorded",
			    "the cluster has %u shard(s) from stream "
			    "sequence %llu on (bucket %s, key %s)", shards,
			    (unsigned long long)from, JSBUS_LAYOUT,
			    JSBUS_LAYOUT_SHARDS);
			if (since != NULL)
				*since = from;
			return 0;
		}
		if (record)
			break;
		/* Recorded already (or a failure): read it. */
		if ((s = kvStore_Get(&e, b->layout, JSBUS_LAYOUT_SHARDS)) ==
		    NATS_OK) {
			seq = 1;
			n = sscanf(kvEntry_ValueString(e), "%llu %llu", &have,
			    &seq);
			kvEntry_Destroy(e);
			if (n >= 1 && have == shards) {
				if (since != NULL)
					*since = seq;
				return 0;
			}
			snprintf(err, errlen, "the cluster has %llu shard(s) "
			    "(bucket %s, key %s), not --shards %u: an "
			    "account's taps would be priced on two shards; "
			    "start every gateway and worker with --shards "
			    "%llu, or add a shard as the README says", have,
			    JSBUS_LAYOUT, JSBUS_LAYOUT_SHARDS, shards, have);
			return -1;
		}
		if (s != NATS_NOT_FOUND)
			break;
	}
	snprintf(err, errlen, "cannot read or record the cluster's shards "
	    "(bucket %s): %s", JSBUS_LAYOUT, jsbus_error(s, why, sizeof why));
	return -1;
}

int
jsbus_open(struct jsbus *b, const char *urls, const char *name,
    const struct jsbus_security *sec, jsOptions *jsopts, char *err,
    size_t errlen)
{
	natsOptions *o = NULL;
	natsStatus s;
	char why[256];
	char list[1024], *url[JSBUS_URLS_MAX], *p, *save = NULL;
	struct timespec half = {0, 500000000};
	int n = 0, tries;

	memset(b, 0, sizeof *b);
	b->replicas = 3;
	snprintf(list, sizeof list, "%s", urls);
	for (p = strtok_r(list, ",", &save); p != NULL && n < JSBUS_URLS_MAX;
	    p = strtok_r(NULL, ",", &save))
		url[n++] = p;
	if (n == 0 || strlen(urls) >= sizeof list) {
		snprintf(err, errlen, "--nats '%s': not a list of "
		    "nats://HOST:PORT", urls);
		return -1;
	}
	s = natsOptions_Create(&o);
	if (s == NATS_OK)
		s = natsOptions_SetServers(o, (const char **)url, n);
	if (s == NATS_OK)
		s = natsOptions_SetName(o, name);
	if (s == NATS_OK)	/* a gateway or worker outlives any outage */
		s = natsOptions_SetMaxReconnect(o, -1);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectWait(o, 250);
	if (s == NATS_OK)
		s = natsOptions_SetTimeout(o, 5000);
	if (s == NATS_OK && set_security(o, sec, err, errlen) == -1) {
		natsOptions_Destroy(o);
		return -1;
	}
	if (s == NATS_OK)
		s = natsConnection_Connect(&b->nc, o);
	natsOptions_Destroy(o);
	if (s != NATS_OK) {
		snprintf(err, errlen, "cannot connect to NATS at %s: %s", urls,
		    jsbus_error(s, why, sizeof why));
		return -1;
	}
	if ((s = natsConnection_JetStream(&b->js, b->nc, jsopts)) != NATS_OK) {
		snprintf(err, errlen, "JetStream: %s",
		    jsbus_error(s, why, sizeof why));
		jsbus_close(b);
		return -1;
	}
	/* A cluster that is still electing its leaders (or a loaded
	 * machine) answers slowly: try again for JSBUS_SETUP_WAIT_S. */
	for (tries = 0;; tries++) {
		if (ensure_stream(b, err, errlen) == NATS_OK &&
		    (b->cards != NULL || ensure_kv(b, &b->cards, JSBUS_CARDS,
		    err, errlen) == NATS_OK) &&
		    (b->deny != NULL || ensure_kv(b, &b->deny, JSBUS_DENY, err,
		    errlen) == NATS_OK) &&
		    (b->layout != NULL || ensure_kv(b, &b->layout,
		    JSBUS_LAYOUT, err, errlen) == NATS_OK))
			return 0;
		if (tries >= JSBUS_SETUP_WAIT_S * 2)
			break;
		if (tries == 0)
			CLUSTER_LOG(LOG_LEVEL_WARNING, "jetstream_setup_retry", "%s; trying again for %d s", err,
			    JSBUS_SETUP_WAIT_S);
		nanosleep(&half, NULL);
	}
	jsbus_close(b);
	return -1;
}

void
jsbus_close(struct jsbus *b)
{
	if (b->cards != NULL)
		kvStore_Destroy(b->cards);
	if (b->deny != NULL)
		kvStore_Destroy(b->deny);
	if (b->layout != NULL)
		kvStore_Destroy(b->layout);
	if (b->js != NULL)
		jsCtx_Destroy(b->js);
	if (b->nc != NULL) {
		natsConnection_Flush(b->nc);
		natsConnection_Destroy(b->nc);
	}
	memset(b, 0, sizeof *b);
}

unsigned
jsbus_shard(const char *account, unsigned shards)
{
	uint64_t h = 14695981039346656037ULL;
	const unsigned char *p;

	for (p = (const unsigned char *)account; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return shards == 0 ? 0 : (unsigned)(h % shards);
}

static int
clean(const char *s)
{
	return strpbrk(s, "\t\n\r") == NULL;
}

int
jsbus_tap_encode(const struct jtap *x, char *buf, size_t len)
{
	int n;

	if (!clean(x->tap_id) || !clean(x->device_id) || !clean(x->token) ||
	    !clean(x->par) || !clean(x->network_id) || !clean(x->stop_id))
		return -1;
	n = snprintf(buf, len, "1\t%s\t%s\t%" PRIu64 "\t%" PRId64 "\t%" PRId64
	    "\t%s\t%s\t%s\t%s\t%u\t%d", x->tap_id, x->device_id, x->seq,
	    x->time_utc, x->received_utc, x->token, x->par, x->network_id,
	    x->stop_id, (unsigned)x->kind,
	    x->refuse == REFUSAL_DENIED_AT_GATE);
	return n < 0 || (size_t)n >= len ? -1 : n;
}

/* Copies field f (not NUL-terminated, n bytes) into out of size cap. */
static int
field(char *out, size_t cap, const char *f, size_t n)
{
	if (n >= cap)
		return -1;
	memcpy(out, f, n);
	out[n] = '\0';
	return 0;
}

int
jsbus_tap_decode(const char *rec, size_t len, struct jtap *x,
    const char **why)
{
	const char *f[12], *p = rec, *end = rec + len;
	size_t fl[12];
	char num[24];
	int k;
	long long v[3];
	unsigned long kind, denied;

	memset(x, 0, sizeof *x);
	for (k = 0; k < 12; k++) {
		const char *tab = memchr(p, '\t', (size_t)(end - p));
		f[k] = p;
		fl[k] = (size_t)((tab != NULL ? tab : end) - p);
		if (tab == NULL) {
			if (k != 11) {
				*why = "a tap record has 12 fields";
				return -1;
			}
			break;
		}
		p = tab + 1;
	}
	if (k != 11 || fl[0] != 1 || f[0][0] != '1') {
		*why = "not a version 1 tap record";
		return -1;
	}
	for (k = 0; k < 3; k++) {
		char *e;
		if (field(num, sizeof num, f[3 + k], fl[3 + k]) == -1) {
			*why = "a number field is too long";
			return -1;
		}
		v[k] = strtoll(num, &e, 10);
		if (*e != '\0' || e == num) {
			*why = "a number field is not a number";
			return -1;
		}
	}
	if (field(num, sizeof num, f[10], fl[10]) == -1 ||
	    (kind = strtoul(num, NULL, 10)) > 1 ||
	    field(num, sizeof num, f[11], fl[11]) == -1 ||
	    (denied = strtoul(num, NULL, 10)) > 1 ||
	    field(x->tap_id, sizeof x->tap_id, f[1], fl[1]) == -1 ||
	    field(x->device_id, sizeof x->device_id, f[2], fl[2]) == -1 ||
	    field(x->token, sizeof x->token, f[6], fl[6]) == -1 ||
	    field(x->par, sizeof x->par, f[7], fl[7]) == -1 ||
	    field(x->network_id, sizeof x->network_id, f[8], fl[8]) == -1 ||
	    field(x->stop_id, sizeof x->stop_id, f[9], fl[9]) == -1 ||
	    fl[1] == 0 || fl[6] == 0) {
		*why = "a field of the tap record is out of range";
		return -1;
	}
	x->seq = (uint64_t)v[0];
	x->time_utc = v[1];
	x->received_utc = v[2];
	x->kind = (uint8_t)kind;
	x->refuse = denied ? REFUSAL_DENIED_AT_GATE : REFUSAL_NONE;
	return 0;
}
