/*
 * The real fare-engine binary under bad input: a test client (the tls and
 * wire modules) sends crafted frames over loopback mutual TLS and checks
 * each answer, and that the engine keeps serving everyone else.
 */
#include <arpa/inet.h>
#include <libgen.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "testutil.h"
#include "certs.h"
#include "limits.h"
#include "tls.h"
#include "wire.h"
#include <mbedtls/ssl.h>

#include "engine-client.h"

static int
setup(void **state)
{
	char err[256], exe[512], *d;
	int i, fd;

	(void)state;
	snprintf(dir, sizeof dir, "/tmp/onecity-eng-%d", (int)getpid());
	if (certs_init(dir, 1, err, sizeof err) == -1 ||
	    certs_device(dir, "dev1", NULL, NULL, 1, 1, err, sizeof err) ||
	    certs_device(dir, "dev2", NULL, NULL, 1, 1, err, sizeof err) ||
	    certs_device(dir, "old", "20200101000000", "20210101000000", 1, 1,
	    err, sizeof err) ||
	    certs_device(dir, "gone", NULL, NULL, 1, 1, err, sizeof err) ||
	    certs_revoke(dir, "gone", err, sizeof err))
		return -1;
	/* The engine binary sits next to this test binary. */
	i = (int)readlink("/proc/self/exe", exe, sizeof exe - 1);
	exe[i > 0 ? i : 0] = '\0';
	d = dirname(exe);
	snprintf(engine, sizeof engine, "%s/fare-engine", d);
	port = 16000 + getpid() % 1000 * 2;  /* below the ephemeral range */
	if ((pid = fork()) == 0) {
		char listen[32], db[128];
		snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
		snprintf(db, sizeof db, "%s/engine.db", dir);
		snprintf(db, sizeof db, "%s/engine.log", dir);
		freopen(db, "w", stderr);
		snprintf(db, sizeof db, "%s/engine.db", dir);
		execl(engine, engine, "serve", "--dev", "--strict-clock",
		    "--clock", "2026-11-28T12:00:00Z", "--certs", dir,
		    "--tariff", TU_MINI, "--db", db, "--listen", listen,
		    (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 200; i++) {
		if ((fd = tcp_connect()) != -1) {
			close(fd);
			return 0;
		}
		usleep(50000);
	}
	return -1;
}

static int
teardown(void **state)
{
	char cmd[128];
	int st;

	(void)state;
	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		return -1;
	/* SIGTERM is a clean stop: exit status 0. */
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

#define TAP(seq, time, stop) "dev1:" seq "," time ",5555555555554444,,CITY," \
	stop ",in"

/* A good tap is acknowledged with fare feedback; a resend again, once. */
static void
test_ack_and_resend(void **state)
{
	struct client *c = client_new("dev1", 0);

	(void)state;
	send_tap(c, TAP("1", "2026-11-28T11:58:00Z", "C"));
	pump(c, 1);
	assert_string_equal(c->frames[0], "A:1,0,0,0");
	send_tap(c, TAP("1", "2026-11-28T11:58:00Z", "C"));
	send_tap(c, TAP("1", "2026-11-28T11:58:00Z", "D"));
	pump(c, 3);
	assert_string_equal(c->frames[1], "A:1,0,0,0");
	assert_string_equal(c->frames[2], "R:1,conflicting-resend");
	client_free(c);
}

/* Taps are refused with a reason; the connection stays up. */
static void
test_refusals(void **state)
{
	struct client *c = client_new("dev1", 0);

	(void)state;
	send_tap(c, TAP("10", "2026-11-28T12:06:00Z", "C"));
	send_tap(c, TAP("11", "2026-11-28T11:59:00Z", "NOWHERE"));
	send_tap(c, "dev2:12,2026-11-28T11:59:00Z,5555555555554444,,CITY,C,in");
	send_tap(c, "dev1:13,2026-11-28T11:59:00Z,5555555555554445,,CITY,C,in");
	send_tap(c, TAP("14", "2026-10-01T11:59:00Z", "C"));
	send_tap(c, "dev1:15,2026-11-28T11:59:00Z");
	pump(c, 6);
	assert_false(c->closed);
	assert_string_equal(c->frames[0], "R:10,future");
	assert_string_equal(c->frames[1], "R:11,unknown-stop");
	assert_string_equal(c->frames[2], "R:12,wrong-device");
	assert_string_equal(c->frames[3], "R:13,bad-pan");
	assert_string_equal(c->frames[4], "R:14,too-old");
	assert_string_equal(c->frames[5], "R:15,bad-fields");
	client_free(c);
}

static void
expect_broken(const void *frame, size_t n, const char *why)
{
	struct client *c = client_new("dev1", 0), *ok;

	pump(c, 0);
	send_raw(c, frame, n);
	pump(c, 1);
	assert_true(c->nframes >= 1);
	if (strstr(c->frames[0], why) == NULL)
		fail_msg("got '%s', expected '%s'", c->frames[0], why);
	pump(c, 99);
	assert_true(c->closed);
	client_free(c);
	/* Everyone else is still served. */
	ok = client_new("dev2", 0);
	send_tap(ok, "dev2:1,2026-11-28T11:59:00Z,4111111111111111,,FERRY,F1,in");
	pump(ok, 1);
	assert_string_equal(ok->frames[0], "A:1,100,100,0");
	client_free(ok);
}

/* Broken framing gets one error frame and that connection is closed. */
static void
test_broken_frames(void **state)
{
	static const unsigned char bad_version[] = {0, 0, 0, 3, 9, 'T', 'x'};
	static const unsigned char oversized[] = {0, 1, 0, 0, 1, 'T', 'x'};
	static const unsigned char unknown[] = {0, 0, 0, 3, 1, 'Q', 'x'};
	static const unsigned char nul[] = {0, 0, 0, 4, 1, 'T', 'x', 0};

	(void)state;
	expect_broken(bad_version, sizeof bad_version, "version");
	expect_broken(oversized, sizeof oversized, "length");
	expect_broken(unknown, sizeof unknown, "unknown frame type");
	expect_broken(nul, sizeof nul, "NUL");
}

/* A half-sent frame (a slow client) holds up nobody else. */
static void
test_slow_client(void **state)
{
	static const unsigned char half[] = {0, 0, 0, 60, 1, 'T', 'd', 'e'};
	struct client *slow = client_new("dev1", 0), *ok;

	(void)state;
	pump(slow, 0);
	send_raw(slow, half, sizeof half);
	pump(slow, 0);
	ok = client_new("dev2", 0);
	send_tap(ok, "dev2:2,2026-11-28T11:50:00Z,4111111111111111,,FERRY,F2,in");
	pump(ok, 1);
	assert_string_equal(ok->frames[0], "A:2,100,200,0");
	assert_false(slow->closed);
	client_free(ok);
	client_free(slow);
}

/* A client that never reads its acks: the engine stops reading from it
 * and goes on serving the others. */
static void
test_client_never_reads(void **state)
{
	struct client *greedy = client_new("dev1", 0), *ok;
	char body[128];
	int i;

	(void)state;
	pump(greedy, 0);
	for (i = 0; i < 3000; i++) {
		snprintf(body, sizeof body, "dev1:%d,2026-11-28T11:%02d:%02dZ,"
		    "4000056655665556,,FERRY,F2,in", 1000 + i, i / 60 % 60,
		    i % 60);
		send_tap(greedy, body);
	}
	/* Flush what the socket takes without reading anything back. */
	for (i = 0; i < 200; i++)
		event_base_loop(greedy->base, EVLOOP_NONBLOCK);
	ok = client_new("dev2", 0);
	send_tap(ok, "dev2:3,2026-11-28T11:59:40Z,4111111111111111,,FERRY,F2,in");
	pump(ok, 1);
	assert_string_equal(ok->frames[0], "A:3,100,300,0");
	client_free(ok);
	client_free(greedy);
}

/* A flood of taps for one card is refused beyond the daily limit, and the
 * engine goes on serving other validators. */
static void
test_flood_one_card(void **state)
{
	struct client *c = client_new("dev1", 0), *ok;
	char body[160];
	int i, refused = 0, acked = 0;

	(void)state;
	pump(c, 0);
	for (i = 0; i < LIMIT_CARD_TAPS_PER_DAY + 20; i++) {
		snprintf(body, sizeof body, "dev1:%d,2026-11-28T%02d:%02d:%02dZ,"
		    "6011111111111117,,FERRY,F1,in", 50000 + i, 8 + i / 3600,
		    i / 60 % 60, i % 60);
		send_tap(c, body);
	}
	/* Count the answers (only the first 64 are kept as text). */
	c->nframes = 0;
	for (i = 0; i < 200000 && refused + acked < LIMIT_CARD_TAPS_PER_DAY +
	    20 && !c->closed; i++) {
		int k;
		event_base_loop(c->base, EVLOOP_ONCE);
		for (k = 0; k < c->nframes; k++) {
			if (c->frames[k][0] == 'A')
				acked++;
			else if (strstr(c->frames[k], "flood") != NULL)
				refused++;
		}
		c->nframes = 0;
	}
	assert_int_equal(acked, LIMIT_CARD_TAPS_PER_DAY);
	assert_int_equal(refused, 20);
	client_free(c);
	ok = client_new("dev2", 0);
	send_tap(ok, "dev2:9,2026-11-28T11:59:50Z,4111111111111111,,FERRY,F1,in");
	pump(ok, 1);
	assert_int_equal(ok->frames[0][0], 'A');
	client_free(ok);
}

/* Deny-list changes reach connected validators; newcomers get the list. */
static void
test_deny_list_push(void **state)
{
	static const char acc[] = "tok:00000000000000000000000000000042";
	struct client *c = client_new("dev1", 0), *late;
	char cmd[1024];

	(void)state;
	pump(c, 0);
	while (!c->opened && !c->closed)
		event_base_loop(c->base, EVLOOP_ONCE);
	snprintf(cmd, sizeof cmd, "%s deny add %s/engine.db %s 'test' "
	    ">/dev/null", engine, dir, acc);
	assert_int_equal(system(cmd), 0);
	pump(c, 1);
	assert_string_equal(c->frames[0], "D:+tok:00000000000000000000000000000042");
	late = client_new("dev2", 0);
	pump(late, 1);
	assert_string_equal(late->frames[0],
	    "D:+tok:00000000000000000000000000000042");
	/* The whole list came first, then its end marker. */
	while (late->list_done == 0 && !late->closed)
		event_base_loop(late->base, EVLOOP_ONCE);
	assert_int_equal(late->list_done, 2);
	snprintf(cmd, sizeof cmd, "%s deny remove %s/engine.db %s >/dev/null",
	    engine, dir, acc);
	assert_int_equal(system(cmd), 0);
	pump(c, 2);
	assert_string_equal(c->frames[1], "D:-tok:00000000000000000000000000000042");
	client_free(late);
	client_free(c);
}

/* No certificate, expired, revoked, or TLS 1.1: refused and logged. */
static void
test_tls_refusals(void **state)
{
	(void)state;
	expect_tls_refused(NULL, 0, "event=validator_disconnected device=- "
	    "reason=\"handshake");
	expect_tls_refused("old", 0, "event=validator_disconnected device=- "
	    "reason=\"The certificate validity has expired");
	expect_tls_refused("gone", 0, "event=validator_disconnected device=- "
	    "reason=\"The certificate has been revoked");
	expect_tls_refused("dev1", MBEDTLS_SSL_MINOR_VERSION_2,
	    "event=validator_disconnected device=- reason=\"handshake");
}

/*
 * Text fields are UTF-8 without control characters (SPEC §2, §3): such a
 * tap is refused, and no refusal's detail ends in half a character.
 */
static void
test_tap_text_not_utf8_refused(void **state)
{
	struct client *c = client_new("dev1", 0);
	char cmd[600], stop[200], frame[400], out[512];
	FILE *p;
	size_t n;

	(void)state;
	send_tap(c, "dev1:20,2026-11-28T11:59:00Z,5555555555554444,,CITY,"
	    "C\xc0\xaf,in");
	send_tap(c, "dev1:21,2026-11-28T11:59:00Z,5555555555554444,,CI\x01TY,"
	    "C,in");
	/* An unknown stop of 99 'S' and an e-acute: cut before the e. */
	memset(stop, 'S', 99);
	memcpy(stop + 99, "\xc3\xa9", 3);
	snprintf(frame, sizeof frame, "dev1:22,2026-11-28T11:59:00Z,"
	    "5555555555554444,,CITY,%s,in", stop);
	send_tap(c, frame);
	pump(c, 3);
	assert_string_equal(c->frames[0], "R:20,bad-fields");
	assert_string_equal(c->frames[1], "R:21,bad-fields");
	assert_string_equal(c->frames[2], "R:22,unknown-stop");
	client_free(c);
	snprintf(cmd, sizeof cmd, "sqlite3 %s/engine.db \"SELECT hex(detail) "
	    "FROM refused WHERE detail LIKE 'unknown stop_id%%' ORDER BY id DESC "
	    "LIMIT 1\"", dir);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, sizeof out - 1, p);
	out[n] = '\0';
	pclose(p);
	/* ...SSS' (53 53 27): the lone C3 lead byte is gone. */
	tu_has(out, "535327\n");
	tu_lacks(out, "C327");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ack_and_resend),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_tap_text_not_utf8_refused),
		cmocka_unit_test(test_broken_frames),
		cmocka_unit_test(test_slow_client),
		cmocka_unit_test(test_client_never_reads),
		cmocka_unit_test(test_tls_refusals),
		cmocka_unit_test(test_flood_one_card),
		cmocka_unit_test(test_deny_list_push),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("engine", tests, setup, teardown);
}
