/*
 * The TLS glue: handshakes over a socketpair driven by libevent, data both
 * ways, session resumption, and every refusal the engine relies on
 * (revoked, expired, foreign CA, no client-auth usage).
 */
#include <sys/socket.h>

#include <event2/thread.h>

#include "testutil.h"
#include "certs.h"
#include "tls.h"

static char dir[64], foreign[64];
/* Handshake threads of the servers made (0: on the loop's thread). */
static int hs_threads;

struct side {
	struct tls_conn	*conn;
	int		 opened;
	char		 reason[256];
	char		 got[64];
	int		 closed;
	int		 echo;
	int		 resumed;
};

struct pair {
	struct side	 srv, cli;
	struct event_base *base;
};

static void
open_cb(struct tls_conn *t, void *arg)
{
	struct side *s = arg;

	s->opened = 1;
	s->resumed = tls_conn_resumed(t);
	if (!s->echo)
		tls_conn_write(t, "hello", 5);
}

static void
data_cb(struct tls_conn *t, struct evbuffer *in, void *arg)
{
	struct side *s = arg;
	size_t n = evbuffer_get_length(in);

	if (n >= sizeof s->got)
		n = sizeof s->got - 1;
	evbuffer_remove(in, s->got, n);
	s->got[n] = '\0';
	if (s->echo)
		tls_conn_write(t, s->got, n);
	else
		tls_conn_close_after_flush(t);
}

static void
close_cb(struct tls_conn *t, const char *reason, void *arg)
{
	struct side *s = arg;

	(void)t;
	s->closed = 1;
	snprintf(s->reason, sizeof s->reason, "%s", reason);
}

static const struct tls_conn_cbs cbs = {open_cb, data_cb, close_cb};

/* Runs one connection between a server and a client context. */
static void
run_pair(struct tls_ctx *srv, struct tls_ctx *cli, struct pair *p,
    int save_session)
{
	struct timeval limit = {10, 0};
	int sv[2], i;

	memset(p, 0, sizeof *p);
	p->srv.echo = 1;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	p->base = event_base_new();
	p->srv.conn = tls_conn_new(srv, p->base, sv[0], &cbs, &p->srv);
	p->cli.conn = tls_conn_new(cli, p->base, sv[1], &cbs, &p->cli);
	assert_non_null(p->srv.conn);
	assert_non_null(p->cli.conn);
	event_base_loopexit(p->base, &limit);	/* a safety bound only */
	/* Until the server closes, or the client refused the server (or
	 * was refused: with handshake threads the client may hear the
	 * server's alert before the server's own close is back). */
	for (i = 0; i < 10000 && !p->srv.closed &&
	    !(p->cli.closed && !p->cli.opened && (hs_threads == 0 ||
	    p->srv.opened)); i++)
		event_base_loop(p->base, EVLOOP_ONCE);
	if (save_session && p->cli.opened)
		tls_conn_save_session(p->cli.conn);
	tls_conn_free(p->srv.conn);
	tls_conn_free(p->cli.conn);
	close(sv[0]);
	close(sv[1]);
	event_base_free(p->base);
}

static struct tls_ctx *
server(void)
{
	char err[256];
	struct tls_ctx *c = tls_server_new(dir, 1, err, sizeof err);

	if (c == NULL)
		fail_msg("server: %s", err);
	if (hs_threads > 0 && tls_ctx_handshake_threads(c, hs_threads, err,
	    sizeof err) == -1)
		fail_msg("server: %s", err);
	return c;
}

static struct tls_ctx *
client(const char *d, const char *id)
{
	char err[256];
	struct tls_ctx *c = tls_client_new(d, id, err, sizeof err);

	if (c == NULL)
		fail_msg("client %s: %s", id, err);
	return c;
}

static int
setup(void **state)
{
	char err[256];

	(void)state;
	snprintf(dir, sizeof dir, "/tmp/onecity-tls-%d", (int)getpid());
	snprintf(foreign, sizeof foreign, "/tmp/onecity-tls-f-%d",
	    (int)getpid());
	if (certs_init(dir, 1, err, sizeof err) || certs_init(foreign, 1, err,
	    sizeof err) ||
	    certs_device(dir, "dev1", NULL, NULL, 1, 1, err, sizeof err) ||
	    certs_device(dir, "dev-revoked", NULL, NULL, 1, 1, err,
	    sizeof err) ||
	    certs_revoke(dir, "dev-revoked", err, sizeof err) ||
	    certs_device(dir, "dev-expired", "20200101000000",
	    "20210101000000", 1, 1, err, sizeof err) ||
	    certs_device(dir, "dev-noauth", NULL, NULL, 0, 1, err, sizeof err) ||
	    certs_device(foreign, "dev1", NULL, NULL, 1, 1, err, sizeof err)) {
		fprintf(stderr, "setup: %s\n", err);
		return -1;
	}
	/* The foreign device trusts our engine but has another CA's cert. */
	snprintf(err, sizeof err, "cp %s/ca.crt %s/ca.crt", dir, foreign);
	return system(err) == 0 ? 0 : -1;
}

static int
teardown(void **state)
{
	char cmd[200];

	(void)state;
	snprintf(cmd, sizeof cmd, "rm -rf %s %s", dir, foreign);
	return system(cmd) == 0 ? 0 : -1;
}

/* A good device completes mutual TLS; data flows; the CN is its id. */
static void
test_handshake_and_data(void **state)
{
	struct tls_ctx *s = server(), *c = client(dir, "dev1");
	struct pair p;

	(void)state;
	run_pair(s, c, &p, 0);
	assert_true(p.srv.opened);
	assert_true(p.cli.opened);
	assert_string_equal(p.srv.got, "hello");
	assert_string_equal(p.cli.got, "hello");
	tls_ctx_free(s);
	tls_ctx_free(c);
}

/* The server learns the device id from the certificate. */
static void
test_peer_cn(void **state)
{
	struct tls_ctx *s = server(), *c = client(dir, "dev1");
	struct pair p;
	int sv[2], i;

	(void)state;
	memset(&p, 0, sizeof p);
	p.srv.echo = 1;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	p.base = event_base_new();
	p.srv.conn = tls_conn_new(s, p.base, sv[0], &cbs, &p.srv);
	p.cli.conn = tls_conn_new(c, p.base, sv[1], &cbs, &p.cli);
	for (i = 0; i < 10000 && !(p.srv.opened && p.cli.opened); i++)
		event_base_loop(p.base, EVLOOP_ONCE);
	assert_string_equal(tls_conn_peer_cn(p.srv.conn), "dev1");
	assert_string_equal(tls_conn_peer_cn(p.cli.conn), "onecity-engine");
	tls_conn_free(p.srv.conn);
	tls_conn_free(p.cli.conn);
	close(sv[0]);
	close(sv[1]);
	event_base_free(p.base);
	tls_ctx_free(s);
	tls_ctx_free(c);
}

/* A second connection resumes the session from the ticket. */
static void
test_session_resumption(void **state)
{
	struct tls_ctx *s = server(), *c = client(dir, "dev1");
	struct pair p;

	(void)state;
	run_pair(s, c, &p, 1);
	assert_true(p.cli.opened);
	assert_false(p.srv.resumed);
	run_pair(s, c, &p, 0);
	assert_true(p.cli.opened);
	assert_true(p.srv.resumed);
	assert_true(p.cli.resumed);
	assert_string_equal(p.srv.got, "hello");
	tls_ctx_free(s);
	tls_ctx_free(c);
}

static void
expect_refused(const char *d, const char *id, const char *why)
{
	struct tls_ctx *s = server(), *c = client(d, id);
	struct pair p;

	run_pair(s, c, &p, 0);
	assert_false(p.srv.opened);
	assert_true(p.srv.closed);
	if (strstr(p.srv.reason, why) == NULL)
		fail_msg("%s: server said '%s', expected '%s'", id,
		    p.srv.reason, why);
	tls_ctx_free(s);
	tls_ctx_free(c);
}

/* Revoked, expired, foreign and non-client certificates are refused. */
static void
test_refusals(void **state)
{
	(void)state;
	expect_refused(dir, "dev-revoked", "revoked");
	expect_refused(dir, "dev-expired", "expired");
	expect_refused(foreign, "dev1", "not correctly signed");
	expect_refused(dir, "dev-noauth", "client-auth");
}

/* Without a CRL the server refuses to start unless told otherwise. */
static void
test_crl_required(void **state)
{
	char err[256], path[128];
	struct tls_ctx *c;

	(void)state;
	snprintf(path, sizeof path, "%s/crl.pem", dir);
	assert_int_equal(rename(path, "/tmp/onecity-crl.bak"), 0);
	assert_null(tls_server_new(dir, 1, err, sizeof err));
	assert_non_null(strstr(err, "crl.pem"));
	c = tls_server_new(dir, 0, err, sizeof err);
	assert_non_null(c);
	tls_ctx_free(c);
	assert_int_equal(rename("/tmp/onecity-crl.bak", path), 0);
}

/*
 * Issue 14 (the storm): a validator keeps the engine's certificate and
 * checks the engine presents exactly it; another engine's is refused.
 */
static void
test_client_pins_engine_certificate(void **state)
{
	char pinned[160], cmd[1200];
	struct tls_ctx *s = server(), *c;
	struct pair p;

	(void)state;
	/* dev1's identity from dir, but the other engine's certificate. */
	snprintf(pinned, sizeof pinned, "%s-pin", dir);
	snprintf(cmd, sizeof cmd, "rm -rf %s && cp -r %s %s && cp "
	    "%s/engine.crt %s/engine.crt", pinned, dir, pinned, foreign,
	    pinned);
	assert_int_equal(system(cmd), 0);
	c = client(pinned, "dev1");
	run_pair(s, c, &p, 0);
	assert_false(p.cli.opened);
	assert_non_null(strstr(p.cli.reason, "not the one this validator "
	    "keeps"));
	tls_ctx_free(c);
	tls_ctx_free(s);
	snprintf(cmd, sizeof cmd, "rm -rf %s", pinned);
	assert_int_equal(system(cmd), 0);
}

/* A CRL signed by another CA is refused at load (it would be checked
 * once there, not at every handshake). */
static void
test_crl_of_another_ca_refused(void **state)
{
	char err[256], cmd[600];

	(void)state;
	snprintf(cmd, sizeof cmd, "cp %s/crl.pem /tmp/onecity-crl2.bak && "
	    "cp %s/crl.pem %s/crl.pem", dir, foreign, dir);
	assert_int_equal(system(cmd), 0);
	assert_null(tls_server_new(dir, 1, err, sizeof err));
	assert_non_null(strstr(err, "not issued and signed by the CA"));
	snprintf(cmd, sizeof cmd, "mv /tmp/onecity-crl2.bak %s/crl.pem", dir);
	assert_int_equal(system(cmd), 0);
}

/* A device verified before (and so remembered as verified) is refused
 * once a reloaded CRL revokes it: the reload empties what was remembered.
 * (Whether the second handshake hit the cache is not visible here.) */
static void
test_revocation_bites_after_a_device_was_verified(void **state)
{
	char err[256];
	struct tls_ctx *s = server(), *c = client(dir, "dev1");
	struct pair p;

	(void)state;
	run_pair(s, c, &p, 0);
	assert_true(p.srv.opened);
	run_pair(s, c, &p, 0);
	assert_true(p.srv.opened);
	assert_int_equal(certs_revoke(dir, "dev1", err, sizeof err), 0);
	assert_int_equal(tls_ctx_reload_crl(s, err, sizeof err), 0);
	run_pair(s, c, &p, 0);
	assert_false(p.srv.opened);
	assert_non_null(strstr(p.srv.reason, "revoked"));
	tls_ctx_free(c);
	tls_ctx_free(s);
}

/*
 * Issue 14 (the storm): the same handshakes, refusals and revocation with
 * the server's handshake steps on two threads of their own.
 */
static void
test_handshake_threads(void **state)
{
	hs_threads = 2;
	test_handshake_and_data(state);
	test_peer_cn(state);
	test_session_resumption(state);
	test_refusals(state);
	hs_threads = 0;
}

/* A revoked device is refused after a CRL reload although it was
 * verified (and remembered) before, with handshake threads too. */
static void
test_revocation_bites_with_handshake_threads(void **state)
{
	char err[256];

	assert_int_equal(certs_device(dir, "dev2", NULL, NULL, 1, 1, err,
	    sizeof err), 0);
	hs_threads = 2;
	{
		struct tls_ctx *s = server(), *c = client(dir, "dev2");
		struct pair p;

		(void)state;
		run_pair(s, c, &p, 1);
		assert_true(p.srv.opened);
		assert_int_equal(certs_revoke(dir, "dev2", err, sizeof err), 0);
		assert_int_equal(tls_ctx_reload_crl(s, err, sizeof err), 0);
		/* A full handshake and a resumed session: both refused. */
		run_pair(s, c, &p, 0);
		assert_false(p.srv.opened);
		assert_non_null(strstr(p.srv.reason, "revoked"));
		tls_ctx_free(c);
		c = client(dir, "dev2");
		run_pair(s, c, &p, 0);
		assert_false(p.srv.opened);
		assert_non_null(strstr(p.srv.reason, "revoked"));
		tls_ctx_free(c);
		tls_ctx_free(s);
	}
	hs_threads = 0;
}

/*
 * Many handshakes at once on two handshake threads: every one opens; and
 * connections freed while a thread holds them (and the context freed
 * then) are released, not touched after (ASan in make SAN=1 test).
 */
#define STORM_N 24
static void
test_handshake_threads_storm_and_free(void **state)
{
	struct tls_ctx *s, *c = client(dir, "dev1");
	struct side srv[STORM_N], cli[STORM_N];
	struct event_base *base;
	int sv[STORM_N][2], i, k, open;

	(void)state;
	hs_threads = 2;
	s = server();
	hs_threads = 0;
	for (k = 0; k < 2; k++) {
		struct timeval limit = {300, 0};
		memset(srv, 0, sizeof srv);
		memset(cli, 0, sizeof cli);
		base = event_base_new();
		for (i = 0; i < STORM_N; i++) {
			srv[i].echo = 1;
			assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0,
			    sv[i]), 0);
			srv[i].conn = tls_conn_new(s, base, sv[i][0], &cbs,
			    &srv[i]);
			cli[i].conn = tls_conn_new(c, base, sv[i][1], &cbs,
			    &cli[i]);
			assert_non_null(srv[i].conn);
			assert_non_null(cli[i].conn);
		}
		event_base_loopexit(base, &limit);	/* a safety bound */
		/* The first round runs until all are open; the second is cut
		 * short after a few events, with handshakes in flight. */
		for (open = 0; (k == 0 ? open < STORM_N : open == 0) &&
		    !event_base_got_exit(base);) {
			event_base_loop(base, EVLOOP_ONCE);
			for (open = 0, i = 0; i < STORM_N; i++)
				open += srv[i].opened;
		}
		if (k == 0)
			assert_int_equal(open, STORM_N);
		for (i = 0; i < STORM_N; i++) {
			tls_conn_free(srv[i].conn);
			tls_conn_free(cli[i].conn);
			close(sv[i][0]);
			close(sv[i][1]);
		}
		if (k == 1)
			tls_ctx_free(s);	/* releases those in flight */
		else	/* those handed out come back, then go */
			for (i = 0; i < 200; i++)
				event_base_loop(base, EVLOOP_NONBLOCK);
		event_base_free(base);
	}
	tls_ctx_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake_and_data),
		cmocka_unit_test(test_peer_cn),
		cmocka_unit_test(test_session_resumption),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_crl_required),
		cmocka_unit_test(test_client_pins_engine_certificate),
		cmocka_unit_test(test_crl_of_another_ca_refused),
		/* Before dev1 is revoked (the next test). */
		cmocka_unit_test(test_handshake_threads),
		cmocka_unit_test(test_handshake_threads_storm_and_free),
		cmocka_unit_test(test_revocation_bites_after_a_device_was_verified),
		cmocka_unit_test(test_revocation_bites_with_handshake_threads),
	};

	evthread_use_pthreads();	/* before any base (the handshake threads) */

	return cmocka_run_group_tests_name("tls", tests, setup, teardown);
}
