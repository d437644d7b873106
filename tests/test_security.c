/*
 * Issue 16, "security at every edge", against the real binaries: a
 * fare-engine serve (not --dev: a token key file, the CRL required) and
 * the acquirer simulator, driven by clients of the tests' own where
 * terminal-sim cannot produce the input (a resumed session, forged CRLs,
 * a raw acquirer request).  One test per item, named after what broke.
 */
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "testutil.h"
#include "certs.h"
#include "limits.h"
#include "tap.h"
#include "tls.h"
#include "wire.h"

#include "engine-client.h"

static int http_port;
static char sim[512];

/* GET path on the engine's HTTP port: the status code, body into out. */
static int
http_get(const char *path, char *out, size_t outlen)
{
	struct sockaddr_in sin;
	char req[256];
	size_t n = 0;
	ssize_t r;
	int fd = socket(AF_INET, SOCK_STREAM, 0), status = 0;

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)http_port);
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	if (connect(fd, (struct sockaddr *)&sin, sizeof sin) == -1) {
		close(fd);
		return -1;
	}
	snprintf(req, sizeof req, "GET %s HTTP/1.0\r\n\r\n", path);
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		close(fd);
		return -1;
	}
	while (n + 1 < outlen && (r = read(fd, out + n, outlen - n - 1)) > 0)
		n += (size_t)r;
	out[n] = '\0';
	close(fd);
	sscanf(out, "HTTP/1.1 %d", &status);
	return status;
}

static int
setup(void **state)
{
	char err[256], exe[512], key[128], *d;
	int i, fd;
	FILE *f;

	(void)state;
	snprintf(dir, sizeof dir, "/tmp/onecity-sec-%d", (int)getpid());
	if (certs_init(dir, 1, err, sizeof err) == -1 ||
	    certs_device(dir, "rv1", NULL, NULL, 1, 1, err, sizeof err) ||
	    certs_device(dir, "ok1", NULL, NULL, 1, 1, err, sizeof err) ||
	    certs_device(dir, "gone", NULL, NULL, 1, 1, err, sizeof err) ||
	    certs_revoke(dir, "gone", err, sizeof err))
		return -1;
	snprintf(key, sizeof key, "%s/token.key", dir);
	if ((f = fopen(key, "w")) == NULL)
		return -1;
	fputs("a test token key of the security tests\n", f);
	fclose(f);
	chmod(key, 0600);
	i = (int)readlink("/proc/self/exe", exe, sizeof exe - 1);
	exe[i > 0 ? i : 0] = '\0';
	d = dirname(exe);
	snprintf(engine, sizeof engine, "%s/fare-engine", d);
	snprintf(sim, sizeof sim, "%s/terminal-sim", d);
	port = 18000 + getpid() % 1000 * 2;
	http_port = port + 1;
	if ((pid = fork()) == 0) {
		char listen[32], http[32], db[128];
		snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
		snprintf(http, sizeof http, "127.0.0.1:%d", http_port);
		snprintf(db, sizeof db, "%s/engine.log", dir);
		if (freopen(db, "w", stderr) == NULL)
			_exit(127);
		snprintf(db, sizeof db, "%s/engine.db", dir);
		execl(engine, engine, "serve", "--clock", "2026-11-28T12:00:00Z",
		    "--certs", dir, "--tariff", TU_MINI, "--db", db, "--listen",
		    listen, "--http", http, "--token-key-file", key,
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
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* Waits (bounded) until the client's connection is closed. */
static void
pump_until_closed(struct client *c)
{
	int i;

	for (i = 0; i < 200 && !c->closed; i++)
		pump(c, c->nframes + 1);
}

/*
 * Item 1, "a revoked validator keeps tapping": after certs revoke and
 * SIGHUP, its open connections are closed, and a new connection resuming
 * its old TLS session is refused; before, the same resumption works.
 */
static void
test_revoked_validator_keeps_tapping(void **state)
{
	char err[256];
	struct tls_ctx *ctx = tls_client_new(dir, "rv1", err, sizeof err);
	struct client *first, *resumed, *other, *again;

	(void)state;
	assert_non_null(ctx);
	first = client_on(ctx);
	send_tap(first, "rv1:1,2026-11-28T11:58:00Z,5555555555554444,,CITY,C,in");
	pump(first, 1);
	assert_string_equal(first->frames[0], "A:1,0,0,0");
	assert_int_equal(tls_conn_save_session(first->conn), 0);
	/* Resumption works while the certificate stands. */
	resumed = client_on(ctx);
	send_tap(resumed, "rv1:2,2026-11-28T11:58:10Z,5555555555554444,,CITY,D,"
	    "out");
	pump(resumed, 1);
	assert_true(tls_conn_resumed(resumed->conn));
	assert_int_equal(resumed->frames[0][0], 'A');
	other = client_new("ok1", 0);
	send_tap(other, "ok1:1,2026-11-28T11:58:00Z,4111111111111111,,CITY,C,in");
	pump(other, 1);
	assert_int_equal(other->frames[0][0], 'A');

	assert_int_equal(certs_revoke(dir, "rv1", err, sizeof err), 0);
	kill(pid, SIGHUP);
	pump_until_closed(first);
	pump_until_closed(resumed);
	assert_true(first->closed);
	assert_true(resumed->closed);
	if (!engine_logged("(CRL reloaded)"))
		fail_msg("no log line for the revoked connections");
	/* Another device's connection is untouched. */
	send_tap(other, "ok1:2,2026-11-28T11:58:30Z,4111111111111111,,CITY,D,"
	    "out");
	pump(other, 2);
	assert_false(other->closed);
	assert_int_equal(other->frames[1][0], 'A');

	/* The old session again: refused, no ack. */
	again = client_on(ctx);
	send_tap(again, "rv1:3,2026-11-28T11:59:00Z,5555555555554444,,CITY,C,in");
	pump_until_closed(again);
	assert_true(again->closed);
	assert_int_equal(again->nframes, 0);
	if (!engine_logged("event=validator_disconnected device=- "
	    "reason=\"The certificate has been revoked"))
		fail_msg("the resumed session was not refused as revoked");
	client_free(again);
	client_free(other);
	client_free(resumed);
	client_free(first);
	tls_ctx_free(ctx);
}

static void
crl_forge(int64_t this_update, int64_t next_update)
{
	char err[256];

	assert_int_equal(certs_crl(dir, this_update, next_update, err,
	    sizeof err), 0);
}

/* Waits (bounded) until GET /healthz answers want with text in it. */
static void
expect_health(int want, const char *text)
{
	char body[2048];
	int i, got = 0;

	for (i = 0; i < 100; i++) {
		got = http_get("/healthz", body, sizeof body);
		if (got == want && strstr(body, text) != NULL)
			return;
		usleep(100000);
	}
	fail_msg("/healthz: wanted %d with '%s', got %d: %s", want, text, got,
	    body);
}

/* A validator still served (the CRL in use still works). */
static void
expect_served(const char *device, int seq)
{
	struct client *c = client_new(device, 0);
	char body[160];

	snprintf(body, sizeof body, "%s:%d,2026-11-28T11:59:%02dZ,"
	    "4111111111111111,,CITY,C,in", device, seq, seq % 60);
	send_tap(c, body);
	pump(c, 1);
	assert_int_equal(c->frames[0][0], 'A');
	client_free(c);
}

/*
 * Item 4, "the CRL expires the whole fleet while /healthz says ok": a
 * CRL signed by another CA, an expired one and an older one are refused
 * with the old one kept (and said); /healthz warns days before
 * nextUpdate and fails once it has passed; `certs crl` re-issues it.
 */
static void
test_crl_cannot_expire_the_fleet(void **state)
{
	char foreign[96], cmd[1200], err[256];
	int64_t now = (int64_t)time(NULL);

	(void)state;
	expect_health(200, "\"crl_next_update\"");
	/* Signed by another CA: refused, the list in use kept. */
	snprintf(foreign, sizeof foreign, "%s-foreign", dir);
	assert_int_equal(certs_init(foreign, 1, err, sizeof err), 0);
	snprintf(cmd, sizeof cmd, "cp %s/crl.pem %s/crl.pem", foreign, dir);
	assert_int_equal(system(cmd), 0);
	kill(pid, SIGHUP);
	if (!engine_logged("not issued and signed by the CA (kept the list in "
	    "use)"))
		fail_msg("a foreign CRL was not refused");
	expect_served("ok1", 10);
	expect_tls_refused("gone", 0, "The certificate has been revoked");
	/* Expired: refused, kept. */
	crl_forge(now - 7200, now - 3600);
	kill(pid, SIGHUP);
	if (!engine_logged("the CRL expired"))
		fail_msg("an expired CRL was not refused");
	expect_served("ok1", 11);
	/* Two days left: a warning, still ok.  (Every CRL of the tool is
	 * dated an hour back; these follow suit, so that their order is the
	 * order they were made in.) */
	now = (int64_t)time(NULL);
	crl_forge(now - 3600, now + 2 * 86400);
	kill(pid, SIGHUP);
	expect_health(200, "\"warning\":\"CRL expires at");
	/* Older than the list in use: refused. */
	crl_forge(now - 3601, now + 20 * 86400);
	kill(pid, SIGHUP);
	if (!engine_logged("older than the one in use"))
		fail_msg("an older CRL was not refused");
	/* Passing its nextUpdate while in use: /healthz fails and says why. */
	now = (int64_t)time(NULL);
	crl_forge(now - 3600, now + 3);
	kill(pid, SIGHUP);
	expect_health(503, "CRL expired at");
	/* The operator's fix: certs crl, SIGHUP. */
	snprintf(cmd, sizeof cmd, "%s certs crl %s >/dev/null", engine, dir);
	assert_int_equal(system(cmd), 0);
	kill(pid, SIGHUP);
	expect_health(200, "\"status\":\"ok\"");
	expect_served("ok1", 12);
	snprintf(cmd, sizeof cmd, "rm -rf %s", foreign);
	assert_int_equal(system(cmd), 0);
}

/*
 * Item 2, "the acquirer link has no authentication": the simulator
 * speaks only mutual TLS with the engine's certificate, echoes account
 * and amount in its answer, and refuses a key reused with another amount.
 */
static void
test_acquirer_refuses_reused_key(void **state)
{
	char listen[32], journal[128], err[256], buf[1024];
	struct sockaddr_in sin;
	struct tls_ctx *ctx;
	struct tls_sync *t = NULL;
	pid_t apid;
	size_t n = 0;
	int i, fd, r, st;
	static const char req1[] = "CAPTURE 0123456789abcdef0123456789abcdef "
	    "tok:00000000000000000000000000000001 573 EUR 2026-11-28 "
	    "OC0000000000000000\n";
	static const char req2[] = "CAPTURE 0123456789abcdef0123456789abcdef "
	    "tok:00000000000000000000000000000001 1 EUR 2026-11-28 "
	    "OC0000000000000000\n";

	(void)state;
	snprintf(listen, sizeof listen, "127.0.0.1:%d", port + 500);
	snprintf(journal, sizeof journal, "%s/acq.journal", dir);
	if ((apid = fork()) == 0) {
		if (freopen("/dev/null", "w", stderr) == NULL ||
		    freopen("/dev/null", "w", stdout) == NULL)
			_exit(127);
		execl(sim, sim, "acquirer", "--listen", listen, "--journal",
		    journal, "--certs", dir, (char *)NULL);
		_exit(127);
	}
	ctx = tls_acquirer_client_new(dir, err, sizeof err);
	assert_non_null(ctx);
	wire_parse_addr(listen, &sin);
	for (i = 0; i < 200 && t == NULL; i++) {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&sin, sizeof sin) == 0)
			t = tls_sync_open(ctx, fd, 5000, err, sizeof err);
		else {
			close(fd);
			usleep(50000);
		}
	}
	if (t == NULL)
		fail_msg("no acquirer: %s", err);
	assert_int_equal(tls_sync_write(t, req1, strlen(req1)), 0);
	assert_int_equal(tls_sync_write(t, req2, strlen(req2)), 0);
	while (n + 1 < sizeof buf && (r = tls_sync_read(t, buf + n,
	    sizeof buf - n - 1, 5000)) > 0) {
		n += (size_t)r;
		buf[n] = '\0';
		if (strstr(buf, "REFUSED") != NULL)
			break;
	}
	buf[n] = '\0';
	tu_has(buf, "0123456789abcdef0123456789abcdef APPROVED "
	    "tok:00000000000000000000000000000001 573 EUR A000001\n");
	tu_has(buf, "0123456789abcdef0123456789abcdef REFUSED "
	    "key-reused-with-different-parameters\n");
	tls_sync_free(t);
	tls_ctx_free(ctx);
	kill(apid, SIGTERM);
	waitpid(apid, &st, 0);
}


/* The first line sqlite3 prints for sql on the engine's database. */
static void
db_query(const char *sql, char *out, size_t len)
{
	char cmd[2048];
	size_t n;
	FILE *p;

	snprintf(cmd, sizeof cmd, "sqlite3 %s/engine.db \"%s\"", dir, sql);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, len - 1, p);
	out[n] = '\0';
	pclose(p);
}

/* Whether any file under the test directory holds text (grep -r). */
static int
anywhere(const char *text)
{
	char cmd[512];

	snprintf(cmd, sizeof cmd, "grep -r -a -q -F '%s' %s", text, dir);
	return system(cmd) == 0;
}

/*
 * Item 5, "PANs at rest": a PAN in a field other than card is masked in
 * v_refused_taps (and nowhere in the database or the log), a tap_id
 * cannot carry one, an all-digit PAR is refused, a lower-case PAR is the
 * same account as its upper-case self, and the deny list takes accounts
 * only.
 */
static void
test_pan_at_rest(void **state)
{
	struct client *c = client_new("ok1", 0);
	char out[1024], cmd[1024];

	(void)state;
	send_tap(c, "ok1:100,2026-11-28T11:50:00Z,4111111111111111,,CITY,"
	    "4000056655665556,in");
	send_tap(c, "ok1:4000056655665556,2026-11-28T11:50:00Z,"
	    "4111111111111111,,CITY,C,in");
	send_tap(c, "ok1:101,2026-11-28T11:50:00Z,4111111111111111,"
	    "40000566556655564000056655665,CITY,C,in");
	send_tap(c, "ok1:102,2026-11-28T11:51:00Z,5555555555554444,"
	    "v0010000000000000000000000abc,CITY,C,in");
	send_tap(c, "ok1:103,2026-11-28T11:52:00Z,4111111111111111,"
	    "V0010000000000000000000000ABC,CITY,D,out");
	pump(c, 5);
	assert_string_equal(c->frames[0], "R:100,unknown-stop");
	assert_string_equal(c->frames[1], "R:0,bad-fields");
	assert_string_equal(c->frames[2], "R:101,bad-par");
	assert_int_equal(c->frames[3][0], 'A');
	assert_int_equal(c->frames[4][0], 'A');
	client_free(c);
	db_query("SELECT detail FROM v_refused_taps WHERE detail LIKE "
	    "'unknown stop_id%' ORDER BY rowid DESC LIMIT 1", out, sizeof out);
	tu_has(out, "************5556");
	db_query("SELECT count(DISTINCT account) || ' ' || min(account) FROM "
	    "v_taps WHERE tap_id IN ('ok1:102', 'ok1:103')", out, sizeof out);
	assert_string_equal(out, "1 par:V0010000000000000000000000ABC\n");
	/* deny: a PAN as the account is refused; one in the reason masked. */
	snprintf(cmd, sizeof cmd, "%s deny add %s/engine.db tok:4000056655665556 "
	    "x 2>/dev/null", engine, dir);
	assert_int_equal(WEXITSTATUS(system(cmd)), 2);
	snprintf(cmd, sizeof cmd, "%s deny add %s/engine.db "
	    "par:V0010000000000000000000000ABC 'card 4000056655665556' "
	    ">/dev/null", engine, dir);
	assert_int_equal(system(cmd), 0);
	db_query("SELECT reason FROM v_deny_list", out, sizeof out);
	assert_string_equal(out, "card ************5556\n");
	snprintf(cmd, sizeof cmd, "%s deny remove %s/engine.db "
	    "par:v0010000000000000000000000abc >/dev/null", engine, dir);
	assert_int_equal(system(cmd), 0);
	db_query("SELECT count(*) FROM v_deny_list", out, sizeof out);
	assert_string_equal(out, "0\n");
	/* Nowhere: not in the database (WAL included), not in the log. */
	assert_false(anywhere("4000056655665556"));
	assert_false(anywhere("4111111111111111"));
	assert_false(anywhere("5555555555554444"));
}

/*
 * Item 5 again, found in review: a card number written as cards print it,
 * in groups joined by spaces or dashes, in a stop_id, a network_id or a
 * deny reason, was stored whole.  Masked like a run of digits; dates
 * stay readable.
 */
static void
test_grouped_pan_at_rest(void **state)
{
	struct client *c = client_new("ok1", 0);
	char out[1024], cmd[1024];

	(void)state;
	c->no_deny = 1;
	send_tap(c, "ok1:150,2026-11-28T11:50:00Z,4111111111111111,,CITY,"
	    "4000 0566 5566 5556,in");
	send_tap(c, "ok1:151,2026-11-28T11:50:00Z,4111111111111111,,"
	    "3782-822463-10005,C,in");
	pump(c, 2);
	assert_string_equal(c->frames[0], "R:150,unknown-stop");
	assert_string_equal(c->frames[1], "R:151,unknown-network");
	client_free(c);
	db_query("SELECT detail FROM v_refused_taps WHERE tap_id = 'ok1:150'",
	    out, sizeof out);
	assert_string_equal(out, "unknown stop_id '**** **** **** 5556'\n");
	db_query("SELECT detail FROM v_refused_taps WHERE tap_id = 'ok1:151'",
	    out, sizeof out);
	assert_string_equal(out, "unknown network_id '****-******-*0005'\n");
	snprintf(cmd, sizeof cmd, "%s deny add %s/engine.db "
	    "par:V0010000000000000000000000GRP 'card 5555 5555 5555 4444 "
	    "stolen 2026-11-28 12:00' >/dev/null", engine, dir);
	assert_int_equal(system(cmd), 0);
	db_query("SELECT reason FROM v_deny_list", out, sizeof out);
	assert_string_equal(out, "card **** **** **** 4444 stolen 2026-11-28 "
	    "12:00\n");
	snprintf(cmd, sizeof cmd, "%s deny remove %s/engine.db "
	    "par:V0010000000000000000000000GRP >/dev/null", engine, dir);
	assert_int_equal(system(cmd), 0);
	assert_false(anywhere("0566 5566"));
	assert_false(anywhere("822463"));
	assert_false(anywhere("5555 5555"));
}

/*
 * Item 6, "a validator can burn a debtor's recovery retries": taps denied
 * at the gate with fresh cards showing the debtor's PAR leave the debt's
 * schedule alone; the debtor's own card, seen before the debt opened,
 * makes it due.
 */
static void
test_fresh_cards_cannot_burn_recovery_retries(void **state)
{
	static const char par[] = "V0010000000000000000000000DEB";
	struct client *c = client_new("ok1", 0);
	char body[200], sql[512], out[256];
	static const char *const fresh[] = {"4012888888881881",
	    "4222222222222", "5105105105105100", "378282246310005",
	    "6011000990139424", "3566002020360505"};
	size_t i;

	(void)state;
	c->no_deny = 1;		/* test_pan_at_rest's deny changes */
	snprintf(body, sizeof body, "ok1:200,2026-11-28T11:40:00Z,"
	    "4242424242424242,%s,CITY,C,in", par);
	send_tap(c, body);
	pump(c, 1);
	assert_int_equal(c->frames[0][0], 'A');
	snprintf(sql, sizeof sql, "INSERT INTO debts (account, service_day, "
	    "amount_cents, opened_utc, last_try_utc, next_retry_utc, state) "
	    "SELECT 'par:%s', '2026-11-27', 300, max(received_utc) + 1, 0, "
	    "max(received_utc) + 864000, 'open' FROM taps", par);
	db_query(sql, out, sizeof out);
	for (i = 0; i < 6; i++) {
		snprintf(body, sizeof body, "ok1:%zu,2026-11-28T11:%02zu:00Z,"
		    "%s,%s,CITY,C,in,denied", 210 + i, 41 + i, fresh[i], par);
		send_tap(c, body);
	}
	pump(c, 7);
	for (i = 1; i < 7; i++)
		tu_has(c->frames[i], "denied-at-gate");
	db_query("SELECT next_retry_utc - opened_utc FROM debts", out,
	    sizeof out);
	assert_string_equal(out, "863999\n");
	/* The debtor's own card at a gate: due now. */
	snprintf(body, sizeof body, "ok1:220,2026-11-28T11:50:00Z,"
	    "4242424242424242,%s,CITY,C,in,denied", par);
	send_tap(c, body);
	pump(c, 8);
	tu_has(c->frames[7], "denied-at-gate");
	db_query("SELECT next_retry_utc - opened_utc < 3600 FROM debts", out,
	    sizeof out);
	assert_string_equal(out, "1\n");
	db_query("DELETE FROM debts", out, sizeof out);
	client_free(c);
}

/*
 * Item 10, input edge cases on the wire: an all-zero PAN is refused, a
 * gate denial has exactly 8 fields, and a refusal's detail holds no raw
 * escape.
 */
static void
test_input_edge_cases(void **state)
{
	struct client *c = client_new("ok1", 0);
	char out[512];

	(void)state;
	c->no_deny = 1;
	send_tap(c, "ok1:300,2026-11-28T11:50:00Z,000000000000,,CITY,C,in");
	send_tap(c, "ok1:301,2026-11-28T11:50:00Z,4111111111111111,,CITY,C,in,"
	    "denied,junk");
	send_tap(c, "ok1:302,2026-11-28T11:50:00Z,4111111111111111,,CITY,C,in,"
	    "junk");
	send_tap(c, "\x1b[2J\x1b[31mok1=303,2026-11-28T11:50:00Z,"
	    "4111111111111111,,CITY,C,in");
	pump(c, 4);
	assert_string_equal(c->frames[0], "R:300,bad-pan");
	assert_string_equal(c->frames[1], "R:301,bad-fields");
	assert_string_equal(c->frames[2], "R:302,bad-fields");
	tu_has(c->frames[3], "bad-fields");
	client_free(c);
	db_query("SELECT hex(detail) FROM refused ORDER BY id DESC LIMIT 1",
	    out, sizeof out);
	tu_lacks(out, "1B");		/* no ESC byte stored */
	db_query("SELECT detail FROM refused ORDER BY id DESC LIMIT 1", out,
	    sizeof out);
	tu_has(out, "\\x1B[2J");
}

/*
 * Found in review: a validator whose TLS stack sends its certificate
 * chain (the device certificate and the CA's, as OpenSSL does by
 * default) was refused as "not correctly signed by the trusted CA"; it
 * is served, and a chain through a CA of its own is still refused.
 */
static void
test_validator_sending_its_chain_is_served(void **state)
{
	char err[256], cmd[1200], foreign[96];
	struct client *c;

	(void)state;
	assert_int_equal(certs_device(dir, "chain1", NULL, NULL, 1, 1, err,
	    sizeof err), 0);
	snprintf(cmd, sizeof cmd, "cat %s/ca.crt >>%s/devices/chain1.crt", dir,
	    dir);
	assert_int_equal(system(cmd), 0);
	c = client_new("chain1", 0);
	c->no_deny = 1;
	send_tap(c, "chain1:1,2026-11-28T11:57:00Z,4111111111111111,,CITY,C,in");
	pump(c, 1);
	assert_true(c->opened);
	assert_int_equal(c->frames[0][0], 'A');
	client_free(c);
	/* Signed by another CA, with that CA in the chain: refused. */
	snprintf(foreign, sizeof foreign, "%s-chain", dir);
	assert_int_equal(certs_init(foreign, 1, err, sizeof err), 0);
	assert_int_equal(certs_device(foreign, "chain2", NULL, NULL, 1, 1, err,
	    sizeof err), 0);
	snprintf(cmd, sizeof cmd, "cat %s/devices/chain2.crt %s/ca.crt "
	    ">%s/devices/chain2.crt && cp %s/devices/chain2.key %s/devices/",
	    foreign, foreign, dir, foreign, dir);
	assert_int_equal(system(cmd), 0);
	expect_tls_refused("chain2", 0, "not correctly signed by the trusted "
	    "CA");
	snprintf(cmd, sizeof cmd, "rm -rf %s", foreign);
	assert_int_equal(system(cmd), 0);
}

/* How many lines of the engine's log hold text. */
static int
engine_log_count(const char *text)
{
	char path[128], line[512];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof path, "%s/engine.log", dir);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof line, f) != NULL)
		n += strstr(line, text) != NULL;
	fclose(f);
	return n;
}

/* SIGHUP, then waits (bounded) until the engine says the CRL reloaded. */
static void
reload_crl(void)
{
	int before = engine_log_count("event=crl_reloaded"), i;

	kill(pid, SIGHUP);
	for (i = 0; i < 200 && engine_log_count("event=crl_reloaded") ==
	    before; i++)
		usleep(50000);
	assert_true(engine_log_count("event=crl_reloaded") > before);
}

/*
 * A handshake the engine must refuse, pumped without blocking for at
 * most 10 s (an accepted connection that is sent nothing would block
 * pump() for ever): closed, never opened, no frame.
 */
static void
expect_refused_bounded(const char *device)
{
	struct client *c = client_new(device, 0);
	int i;

	for (i = 0; i < 1000 && !c->closed; i++) {
		event_base_loop(c->base, EVLOOP_NONBLOCK);
		usleep(10000);
	}
	if (!c->closed || c->opened)
		fail_msg("%s: the engine accepted a revoked certificate",
		    device);
	client_free(c);
}

/*
 * Item 1 again, found in review: `certs revoke DIR ID` revoked the
 * device's latest certificate only; one issued to it before (a renewal,
 * or the stolen device's own) kept tapping.  Revoking an id revokes
 * every certificate issued to it; a certificate issued after is good.
 */
static void
test_reissued_device_keeps_older_certificate(void **state)
{
	char err[256], cmd[1200];
	struct client *c;

	(void)state;
	assert_int_equal(certs_device(dir, "re1", NULL, NULL, 1, 1, err,
	    sizeof err), 0);
	snprintf(cmd, sizeof cmd, "cp %s/devices/re1.crt %s/devices/re1old.crt "
	    "&& cp %s/devices/re1.key %s/devices/re1old.key", dir, dir, dir,
	    dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(certs_device(dir, "re1", NULL, NULL, 1, 1, err,
	    sizeof err), 0);
	assert_int_equal(certs_revoke(dir, "re1", err, sizeof err), 0);
	reload_crl();
	expect_refused_bounded("re1old");
	expect_refused_bounded("re1");
	/* Issued after the revocation: served. */
	assert_int_equal(certs_device(dir, "re1", NULL, NULL, 1, 1, err,
	    sizeof err), 0);
	c = client_new("re1", 0);
	c->no_deny = 1;
	send_tap(c, "re1:1,2026-11-28T11:57:00Z,4111111111111111,,CITY,C,in");
	pump(c, 1);
	assert_int_equal(c->frames[0][0], 'A');
	client_free(c);
}

/*
 * How many times needle occurs in the engine's writable memory (heap,
 * stacks, thread arenas, data), read through /proc/PID/mem as a debugger
 * or an insider with ptrace rights would; -1 when it cannot be read.
 * where gets the first hit's mapping.
 */
static int
engine_mem_count(const char *needle, char *where, size_t wlen)
{
	static unsigned char chunk[(1 << 20) + 64];
	char path[64], line[512], perms[8], name[256];
	unsigned long lo, hi, off;
	size_t nl = strlen(needle);
	int count = 0, fd;
	FILE *maps;

	snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
	if ((maps = fopen(path, "r")) == NULL)
		return -1;
	snprintf(path, sizeof path, "/proc/%d/mem", (int)pid);
	if ((fd = open(path, O_RDONLY)) == -1) {
		fclose(maps);
		return -1;
	}
	while (fgets(line, sizeof line, maps) != NULL) {
		name[0] = '\0';
		if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %255s", &lo, &hi, perms,
		    name) < 3 || perms[0] != 'r' || perms[1] != 'w')
			continue;
		/* Reservations of a sanitizer's shadow: nothing of ours. */
		if (hi - lo > 1UL << 30)
			continue;
		for (off = lo; off < hi; off += sizeof chunk - 64) {
			size_t want = hi - off < sizeof chunk ? hi - off :
			    sizeof chunk;
			ssize_t got = pread(fd, chunk, want, (off_t)off);
			unsigned char *p = chunk, *hit;
			if (got <= 0)
				break;
			while ((hit = memmem(p, (size_t)got - (size_t)(p - chunk),
			    needle, nl)) != NULL) {
				/* A hit in the overlap is counted once. */
				if (off == lo || hit - chunk + nl > 64) {
					if (count++ == 0)
						snprintf(where, wlen, "%s+%#lx",
						    name[0] ? name : "[anon]",
						    (unsigned long)(off - lo +
						    (size_t)(hit - chunk)));
				}
				p = hit + 1;
			}
			if (hi - off <= sizeof chunk)
				break;
		}
	}
	close(fd);
	fclose(maps);
	return count;
}

/* Asserts that the engine's memory holds text n times (0 or at least 1). */
static void
expect_in_memory(const char *text, int present, const char *what)
{
	char where[300] = "";
	int n = engine_mem_count(text, where, sizeof where);

	if (n == -1)
		fail_msg("cannot read the engine's memory (/proc/%d/mem): run "
		    "as root or with CAP_SYS_PTRACE", (int)pid);
	if (present && n == 0)
		fail_msg("%s: '%s' not found in the engine's memory: the "
		    "search cannot see what it looks for", what, text);
	if (!present && n > 0)
		fail_msg("%s: '%s' found %d time(s) in the engine's memory, "
		    "first at %s", what, text, n, where);
}

/*
 * Item 8, "crash dumps", as an insider with the engine's memory (a core
 * dump, /proc/PID/mem, a swap file) sees it: no card number outlives
 * its tap.  A frame still pending holds its PAN (that the search finds
 * it shows the search works); the frame consumed before it in the same
 * read, refused taps carrying a PAN in other fields, a PAN in an HTTP
 * request and one in a broken frame are gone from memory once handled.
 */
static void
test_no_pan_in_engine_memory(void **state)
{
	char pan[6][17], grouped[24], body[200], out[64];
	unsigned char buf[2 * (WIRE_HEADER + 200)];
	size_t n, m;
	int i;
	struct client *c = client_new("ok1", 0);

	(void)state;
	c->no_deny = 1;
	for (i = 0; i < 6; i++)
		tap_make_pan((char)('3' + i % 3), 731500000000ULL + (uint64_t)i *
		    7919, pan[i]);
	snprintf(grouped, sizeof grouped, "%.4s %.4s %.4s %.4s", pan[3],
	    pan[3] + 4, pan[3] + 8, pan[3] + 12);
	/* One write: a whole tap, then a tap without its last bytes. */
	snprintf(body, sizeof body, "ok1:500,2026-11-28T11:55:00Z,%s,,CITY,C,"
	    "in", pan[0]);
	assert_int_equal(wire_encode('T', body, strlen(body), buf, sizeof buf,
	    &n), 0);
	snprintf(body, sizeof body, "ok1:501,2026-11-28T11:55:10Z,%s,,CITY,"
	    "ZZZ,in", pan[1]);
	assert_int_equal(wire_encode('T', body, strlen(body), buf + n,
	    sizeof buf - n, &m), 0);
	send_raw(c, buf, n + m - 3);
	pump(c, 1);
	assert_string_equal(c->frames[0], "A:500,0,0,0");
	expect_in_memory(pan[1], 1, "a frame still pending");
	expect_in_memory(pan[0], 0, "the frame consumed before it");
	/* The rest; refused taps with a PAN in other fields. */
	send_raw(c, buf + n + m - 3, 3);
	snprintf(body, sizeof body, "ok1:502,2026-11-28T11:55:20Z,"
	    "4111111111111111,,CITY,%s,in", pan[2]);
	send_tap(c, body);
	snprintf(body, sizeof body, "ok1:503,2026-11-28T11:55:30Z,"
	    "4111111111111111,,%s,C,in", grouped);
	send_tap(c, body);
	pump(c, 4);
	assert_string_equal(c->frames[1], "R:501,unknown-stop");
	assert_string_equal(c->frames[2], "R:502,unknown-stop");
	assert_string_equal(c->frames[3], "R:503,unknown-network");
	/* A PAN in an HTTP request (a rider typing a card number). */
	snprintf(body, sizeof body, "/healthz?card=%s", pan[4]);
	assert_int_equal(http_get(body, (char *)buf, sizeof buf), 200);
	/* And in a broken frame, which closes the connection. */
	assert_int_equal(wire_encode('X', pan[5], 16, buf, sizeof buf, &n), 0);
	send_raw(c, buf, n);
	pump_until_closed(c);
	assert_true(c->closed);
	client_free(c);
	for (i = 0; i < 100; i++) {
		db_query("SELECT count(*) FROM refused WHERE tap_id IN "
		    "('ok1:501', 'ok1:502', 'ok1:503')", out, sizeof out);
		if (strcmp(out, "3\n") == 0)
			break;
		usleep(50000);
	}
	assert_string_equal(out, "3\n");
	expect_in_memory(pan[0], 0, "an acknowledged tap's card");
	expect_in_memory(pan[1], 0, "a refused tap's card");
	expect_in_memory(pan[2], 0, "a PAN in a refused tap's stop_id");
	expect_in_memory(pan[3], 0, "a grouped PAN in a network_id");
	expect_in_memory(grouped, 0, "a grouped PAN in a network_id");
	expect_in_memory(pan[4], 0, "a PAN in an HTTP request");
	expect_in_memory(pan[5], 0, "a PAN in a broken frame");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_revoked_validator_keeps_tapping),
		cmocka_unit_test(test_crl_cannot_expire_the_fleet),
		cmocka_unit_test(test_acquirer_refuses_reused_key),
		cmocka_unit_test(test_pan_at_rest),
		cmocka_unit_test(test_grouped_pan_at_rest),
		cmocka_unit_test(test_fresh_cards_cannot_burn_recovery_retries),
		cmocka_unit_test(test_input_edge_cases),
		cmocka_unit_test(test_no_pan_in_engine_memory),
		cmocka_unit_test(test_validator_sending_its_chain_is_served),
		cmocka_unit_test(test_reissued_device_keeps_older_certificate),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("security", tests, setup, teardown);
}
