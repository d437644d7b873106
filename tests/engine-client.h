/*
 * A validator of the tests' own against the real fare-engine binary: the
 * engine's pid and port, a client (the tls and wire modules) that sends
 * frames and keeps those it receives, and a bounded look into the
 * engine's log.  Header-only: each test binary that starts an engine
 * includes it once (test_engine.c, test_security.c).
 */
#ifndef ONECITY_ENGINE_CLIENT_H
#define ONECITY_ENGINE_CLIENT_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "testutil.h"
#include "tls.h"
#include "wire.h"

static char dir[64], engine[512];
static int port;
static pid_t pid;

struct client {
	struct event_base *base;
	struct tls_ctx	*ctx;
	struct tls_conn	*conn;
	int		 opened, closed, fd;
	int		 shared_ctx;	/* the ctx is the caller's */
	int		 no_deny;	/* keep no D frames (a test that
					 * changes the list runs before) */
	char		 reason[256];
	char		 frames[64][160];	/* "T:body" of frames received */
	size_t		 list_done;	/* 1 + frames before the list's end */
	int		 nframes;
};

static inline void
c_open(struct tls_conn *t, void *arg)
{
	(void)t;
	((struct client *)arg)->opened = 1;
}

static inline void
c_data(struct tls_conn *t, struct evbuffer *in, void *arg)
{
	struct client *c = arg;
	static struct wire_frame f;
	const char *why;
	size_t used;

	(void)t;
	while (wire_parse(evbuffer_pullup(in, -1), evbuffer_get_length(in), &f,
	    &used, &why) == 1) {
		evbuffer_drain(in, used);
		/* The end of the deny list sent on connect: a marker. */
		if (f.type == 'D' && strcmp(f.body, "=") == 0)
			c->list_done = c->nframes + 1;
		else if (f.type == 'D' && c->no_deny)
			continue;
		else if (c->nframes < 64)
			snprintf(c->frames[c->nframes++], 160, "%c:%.150s", f.type,
			    f.body);
	}
}

static inline void
c_close(struct tls_conn *t, const char *reason, void *arg)
{
	struct client *c = arg;

	(void)t;
	c->closed = 1;
	snprintf(c->reason, sizeof c->reason, "%s", reason);
}

static const struct tls_conn_cbs ccbs = {c_open, c_data, c_close};

static inline int
tcp_connect(void)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	if (connect(fd, (struct sockaddr *)&sin, sizeof sin) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static inline void
pump_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;	/* wakes the loop up only */
}

/*
 * Runs the client until it holds want_frames frames or is closed, for at
 * most 10 s of wall time: a silent engine fails the test instead of
 * hanging it (a 100 ms tick wakes each EVLOOP_ONCE up to look at the
 * clock).
 */
static inline void
pump(struct client *c, int want_frames)
{
	struct timeval tick = {0, 100000};
	struct event *t = event_new(c->base, -1, EV_PERSIST, pump_tick, NULL);
	struct timespec t0, now;

	assert_non_null(t);
	event_add(t, &tick);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!c->closed && c->nframes < want_frames) {
		event_base_loop(c->base, EVLOOP_ONCE);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec >= 10)
			break;
	}
	event_free(t);
}

static inline struct client *
client_new(const char *device, int tls_minor)
{
	struct client *c = calloc(1, sizeof *c);
	char err[256];

	c->base = event_base_new();
	c->ctx = tls_client_new(dir, device, err, sizeof err);
	if (c->ctx == NULL)
		fail_msg("client: %s", err);
	if (tls_minor)
		tls_ctx_max_version(c->ctx, tls_minor);
	c->fd = tcp_connect();
	assert_true(c->fd >= 0);
	c->conn = tls_conn_new(c->ctx, c->base, c->fd, &ccbs, c);
	assert_non_null(c->conn);
	return c;
}

/* A client on the caller's context: its saved session is resumed. */
static inline struct client *
client_on(struct tls_ctx *ctx)
{
	struct client *c = calloc(1, sizeof *c);

	c->base = event_base_new();
	c->ctx = ctx;
	c->shared_ctx = 1;
	c->fd = tcp_connect();
	assert_true(c->fd >= 0);
	c->conn = tls_conn_new(c->ctx, c->base, c->fd, &ccbs, c);
	assert_non_null(c->conn);
	return c;
}

static inline void
client_free(struct client *c)
{
	tls_conn_free(c->conn);
	if (!c->shared_ctx)
		tls_ctx_free(c->ctx);
	event_base_free(c->base);
	free(c);
}

static inline void
send_raw(struct client *c, const void *p, size_t n)
{
	tls_conn_write(c->conn, p, n);
}

static inline void
send_tap(struct client *c, const char *body)
{
	unsigned char buf[WIRE_HEADER + WIRE_BODY_MAX];
	size_t n;

	assert_int_equal(wire_encode('T', body, strlen(body), buf, sizeof buf,
	    &n), 0);
	send_raw(c, buf, n);
}

/* Whether the engine's log has a line containing text (bounded wait). */
static inline int
engine_logged(const char *text)
{
	char path[128], line[512];
	int tries, found = 0;
	FILE *f;

	snprintf(path, sizeof path, "%s/engine.log", dir);
	for (tries = 0; tries < 50 && !found; tries++) {
		if ((f = fopen(path, "r")) != NULL) {
			while (!found && fgets(line, sizeof line, f) != NULL)
				found = strstr(line, text) != NULL;
			fclose(f);
		}
		if (!found)
			usleep(20000);
	}
	return found;
}

/* A handshake the engine refuses, and its log line. */
static inline void
expect_tls_refused(const char *device, int minor, const char *logged)
{
	struct client *c = client_new(device, minor);

	pump(c, 1);
	assert_false(c->opened);
	assert_true(c->closed);
	client_free(c);
	if (!engine_logged(logged))
		fail_msg("the engine did not log '%s'", logged);
}

#endif
