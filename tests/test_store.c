/*
 * The store on :memory:: each module's tables and statements, alone,
 * without the writer thread; write failures injected in-process with a
 * trigger that aborts the write, as a full disk would.
 */
#include <fcntl.h>
#include <sys/wait.h>

#include <mbedtls/platform_util.h>

#include "testutil.h"
#include "charges.h"
#include "deny.h"
#include "explain.h"
#include "journal.h"
#include "ledger.h"
#include "settlement.h"
#include "checkpoint.h"
#include "statement.h"
#include "store.h"
#include "tariff-version.h"

/* Accounts of the real forms (a PAR holds a letter; a token is hex). */
#define PAR_P		"par:V001000000000000000000000000P"
#define PAR_Q		"par:V001000000000000000000000000Q"
#define TOKEN_OLD	"0123456789abcdef0123456789abcdef"
#define TOKEN_NEW	"fedcba9876543210fedcba9876543210"

struct store {
	struct journal		*j;
	struct charges		*c;
	struct settlement	*st;
	struct ledger		*l;
	sqlite3			*db;
};

/* Card tokens and PARs of the real forms (SPEC §3): account keys check them. */
#define TOKA	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define TOKB	"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define TOKZ	"ffffffffffffffffffffffffffffffff"
#define PARA	"V001AAAAAAAAAAAAAAAAAAAAAAAAA"
#define PARB	"V001BBBBBBBBBBBBBBBBBBBBBBBBB"
#define PARC	"V001CCCCCCCCCCCCCCCCCCCCCCCCC"
#define PAR1	"V0011111111111111111111111111"

static int
setup(void **state)
{
	struct store *s = calloc(1, sizeof *s);
	char err[256] = "";

	assert_non_null(s);
	s->j = journal_open(":memory:", 1, 1024, err, sizeof err);
	assert_non_null(s->j);
	s->db = journal_db(s->j);
	s->c = charges_open(s->db, err, sizeof err);
	s->st = settlement_open(s->db, err, sizeof err);
	assert_int_equal(deny_schema(s->db, err, sizeof err), 0);
	s->l = ledger_open(s->db, err, sizeof err);
	assert_non_null(s->c);
	assert_non_null(s->st);
	assert_non_null(s->l);
	*state = s;
	return 0;
}

static int
teardown(void **state)
{
	struct store *s = *state;

	ledger_close(s->l);
	settlement_close(s->st);
	charges_close(s->c);
	journal_close(s->j);
	free(s);
	return 0;
}

static void
make_tap(struct jtap *x, const char *id, int64_t t, const char *token,
    const char *par)
{
	memset(x, 0, sizeof *x);
	snprintf(x->tap_id, sizeof x->tap_id, "%s", id);
	snprintf(x->device_id, sizeof x->device_id, "dev1");
	x->seq = 1;
	x->time_utc = t;
	x->received_utc = t;
	snprintf(x->token, sizeof x->token, "%s", token);
	snprintf(x->par, sizeof x->par, "%s", par);
	snprintf(x->network_id, sizeof x->network_id, "CITY");
	snprintf(x->stop_id, sizeof x->stop_id, "A");
}

static int64_t
count(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int64_t n = -1;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL),
	    SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* A tap is stored once; its resend is acknowledged, a changed one not. */
static void
test_tap_stored_once(void **state)
{
	struct store *s = *state;
	struct jtap x;

	make_tap(&x, "dev1:1", 1000, TOKA, "");
	assert_int_equal(journal_store_tap(s->j, &x), REFUSAL_NONE);
	assert_int_equal(journal_store_tap(s->j, &x), REFUSAL_NONE);
	assert_int_equal(count(s->db, "SELECT count(*) FROM taps"), 1);
	x.time_utc++;
	assert_int_equal(journal_store_tap(s->j, &x),
	    REFUSAL_CONFLICTING_RESEND);
}

/* A card's account is its least PAR once it showed one, else its token. */
static void
test_card_account_least_par(void **state)
{
	struct store *s = *state;
	struct jtap x;
	char acc[64];

	make_tap(&x, "dev1:1", 1000, TOKA, "");
	assert_int_equal(journal_update_card(s->j, &x), 0);
	journal_card_account(s->j, TOKA, acc, sizeof acc);
	assert_string_equal(acc, "tok:" TOKA);
	snprintf(x.par, sizeof x.par, PARB);
	assert_int_equal(journal_update_card(s->j, &x), 0);
	snprintf(x.par, sizeof x.par, PARA);
	assert_int_equal(journal_update_card(s->j, &x), 0);
	snprintf(x.par, sizeof x.par, PARC);
	assert_int_equal(journal_update_card(s->j, &x), 0);
	journal_card_account(s->j, TOKA, acc, sizeof acc);
	assert_string_equal(acc, "par:" PARA);
}

static int
collect_cb(const struct journal_tap *t, void *arg)
{
	int64_t *times = arg;

	times[++times[0]] = t->time_utc;
	return 0;
}

/* An account's taps come back in time order, across its cards. */
static void
test_account_taps_in_order(void **state)
{
	struct store *s = *state;
	struct jtap x;
	int64_t times[8] = {0};

	make_tap(&x, "dev1:2", 2000, TOKA, PAR1);
	assert_int_equal(journal_store_tap(s->j, &x), REFUSAL_NONE);
	assert_int_equal(journal_update_card(s->j, &x), 0);
	make_tap(&x, "dev1:1", 1000, TOKB, PAR1);
	assert_int_equal(journal_store_tap(s->j, &x), REFUSAL_NONE);
	assert_int_equal(journal_update_card(s->j, &x), 0);
	assert_int_equal(journal_account_taps(s->j, "par:" PAR1, INT64_MIN,
	    collect_cb, times), 0);
	assert_int_equal(times[0], 2);
	assert_int_equal(times[1], 1000);
	assert_int_equal(times[2], 2000);
	/* From a time on, through the index; and what lies before it. */
	times[0] = 0;
	assert_int_equal(journal_account_taps(s->j, "par:" PAR1, 1500,
	    collect_cb, times), 0);
	assert_int_equal(times[0], 1);
	assert_int_equal(times[1], 2000);
	assert_int_equal(journal_account_has_taps_before(s->j, "par:" PAR1,
	    1500), 1);
	assert_int_equal(journal_account_has_taps_before(s->j, "par:" PAR1,
	    1000), 0);
	assert_int_equal(journal_account_has_taps_before(s->j, "tok:" TOKA,
	    5000), 1);
	assert_int_equal(journal_account_has_taps_before(s->j, "tok:" TOKZ,
	    5000), 0);
}

/* Every refusal, kind and state has a name; refused rows hold it. */
static void
test_names_complete(void **state)
{
	struct store *s = *state;
	struct jtap x;
	int r;

	for (r = 0; r < REFUSAL_MAX; r++)
		assert_non_null(refusal_name((enum refusal)r));
	for (r = 0; r < SETTLE_KIND_MAX; r++)
		assert_int_equal(settle_kind_parse(settle_kind_name(
		    (enum settle_kind)r)), r);
	for (r = 0; r < SETTLE_STATE_MAX; r++)
		assert_non_null(settle_state_name((enum settle_state)r));
	for (r = 0; r < DEBT_STATE_MAX; r++)
		assert_non_null(debt_state_name((enum debt_state)r));
	assert_int_equal(settle_kind_parse(""), -1);
	make_tap(&x, "dev1:1", 1000, "tokA", "");
	assert_int_equal(journal_store_refused(s->j, &x, REFUSAL_FLOOD), 0);
	assert_int_equal(count(s->db, "SELECT count(*) FROM refused WHERE "
	    "reason = 'flood'"), 1);
}

/* A disk that refuses writes: the tap is not stored, and says so. */
static void
test_store_write_fails(void **state)
{
	struct store *s = *state;
	struct jtap x;

	assert_int_equal(journal_exec(s->j, "CREATE TEMP TRIGGER f BEFORE "
	    "INSERT ON taps BEGIN SELECT RAISE(ABORT, 'injected'); END; "
	    "CREATE TEMP TRIGGER g BEFORE INSERT ON refused BEGIN "
	    "SELECT RAISE(ABORT, 'injected'); END;"), SQLITE_OK);
	make_tap(&x, "dev1:1", 1000, "tokA", "");
	assert_int_equal(journal_store_tap(s->j, &x), REFUSAL_STORE);
	assert_int_equal(journal_store_refused(s->j, &x, REFUSAL_FLOOD), -1);
	assert_int_equal(count(s->db, "SELECT count(*) FROM taps"), 0);
}

/* Ledger moves are balanced transactions of two entries each. */
static void
test_ledger_moves_balance(void **state)
{
	struct store *s = *state;

	assert_int_equal(ledger_move(s->l, "debt:par:P", "rider:par:P", 300,
	    "2026-11-28", "par:P", 1000, "decline"), 0);
	assert_int_equal(ledger_move(s->l, "clearing:acquirer", "debt:par:P",
	    300, "2026-11-28", "par:P", 2000, "recovery"), 0);
	assert_int_equal(count(s->db, "SELECT sum(amount_cents) FROM ledger"),
	    0);
	assert_int_equal(count(s->db, "SELECT count(*) FROM ledger"), 4);
	assert_int_equal(count(s->db, "SELECT count(DISTINCT txn_id) FROM "
	    "ledger"), 2);
}

/* A ledger write that fails reports it (the batch is rolled back). */
static void
test_ledger_write_fails(void **state)
{
	struct store *s = *state;

	assert_int_equal(journal_exec(s->j, "CREATE TEMP TRIGGER f BEFORE "
	    "INSERT ON ledger BEGIN SELECT RAISE(ABORT, 'injected'); END;"),
	    SQLITE_OK);
	assert_int_equal(ledger_move(s->l, "a", "b", 1, "2026-11-28", "x",
	    1, "test"), -1);
}

static void
deny_cb(const char *account, int on, void *arg)
{
	int *n = arg;

	(void)account;
	*n += on ? 1 : -1;
}

/* Deny entries are listed, and their changes fed once each. */
static void
test_deny_list_feed(void **state)
{
	struct store *s = *state;
	int64_t last = 0;
	int n = 0;

	assert_int_equal(deny_set(s->db, PAR_P, 1, "declined: x", 10), 0);
	assert_int_equal(deny_set(s->db, PAR_Q, 1, "operator", 11), 0);
	assert_int_equal(deny_each(s->db, deny_cb, &n), 0);
	assert_int_equal(n, 2);
	n = 0;
	assert_int_equal(deny_changes(s->db, &last, deny_cb, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(deny_set(s->db, PAR_P, 0, "", 12), 0);
	n = 0;
	assert_int_equal(deny_changes(s->db, &last, deny_cb, &n), 0);
	assert_int_equal(n, -1);
	/* Only accounts enter, spelt one way; a reason never holds a PAN
	 * or an escape (issue 16). */
	assert_int_equal(deny_set(s->db, "tok:4111111111111111", 1, "x", 13),
	    -1);
	assert_int_equal(deny_set(s->db, "par:" "00000000000000000000000000042",
	    1, "x", 13), -1);
	assert_int_equal(deny_set(s->db, "par:v001000000000000000000000000Q",
	    1, "card 4111111111111111 \x1b[31mred", 14), 0);
	assert_int_equal(count(s->db, "SELECT count(*) FROM deny WHERE "
	    "account = 'par:V001000000000000000000000000Q' AND reason = 'card "
	    "************1111 \\x1B[31mred'"), 1);
}

/*
 * A card tapping again makes its open debt due now, at most once a gap,
 * and only a card the account had before the debt opened (issue 16: a
 * fresh card showing the debtor's PAR burns no retry).
 */
static void
test_debt_due_on_tap(void **state)
{
	struct store *s = *state;

	assert_int_equal(settlement_any_debt(s->st), 0);
	assert_int_equal(journal_exec(s->j, "INSERT INTO debts (account, "
	    "service_day, amount_cents, opened_utc, last_try_utc, "
	    "next_retry_utc, state) VALUES ('" PAR_P "', '2026-11-28', 300, "
	    "100, 0, 90000, 'open')"), SQLITE_OK);
	assert_int_equal(journal_exec(s->j, "INSERT INTO taps VALUES "
	    "('d:1', 'd', 1, 50, '" TOKEN_OLD "', NULL, 'N', 'S', 'in', 60),"
	    "('d:2', 'd', 2, 50, '" TOKEN_NEW "', NULL, 'N', 'S', 'in', 200)"),
	    SQLITE_OK);
	assert_int_equal(settlement_any_debt(s->st), 1);
	assert_int_equal(settlement_debt_due(s->st, PAR_P, TOKEN_NEW, 5000,
	    3600), 0);
	assert_int_equal(count(s->db, "SELECT next_retry_utc FROM debts"),
	    90000);
	assert_int_equal(settlement_debt_due(s->st, PAR_P, TOKEN_OLD, 5000,
	    3600), 0);
	assert_int_equal(count(s->db, "SELECT next_retry_utc FROM debts"),
	    5000);
}

static const unsigned char secret_a[SETTLE_SECRET_LEN] = "settlement secret a";
static const unsigned char secret_b[SETTLE_SECRET_LEN] = "settlement secret b";

/* A request is decided once: pending to approved, never again. */
static void
test_settlement_decided_once(void **state)
{
	struct store *s = *state;
	struct settle_req r, *rs;
	char key1[sizeof r.key], ref1[sizeof r.reference];
	size_t n;

	memset(&r, 0, sizeof r);
	snprintf(r.account, sizeof r.account, "par:" PARA);
	snprintf(r.day, sizeof r.day, "2026-11-28");
	r.kind = SETTLE_CAPTURE;
	r.amount = 300;
	assert_int_equal(settlement_add(s->db, secret_a, &r, SETTLE_PENDING,
	    NULL, 10), 0);
	assert_int_equal(strlen(r.key), SETTLE_KEY_LEN);
	assert_int_equal(strlen(r.reference), SETTLE_REFERENCE_LEN);
	snprintf(key1, sizeof key1, "%s", r.key);
	snprintf(ref1, sizeof ref1, "%s", r.reference);
	rs = settlement_fetch(s->db, SETTLE_FETCH_PENDING, NULL, 0, 10, &n);
	assert_non_null(rs);
	assert_int_equal(n, 1);
	assert_int_equal(rs[0].kind, SETTLE_CAPTURE);
	/* The pending request is resent with its own key and reference. */
	assert_string_equal(rs[0].key, key1);
	assert_string_equal(rs[0].reference, ref1);
	free(rs);
	assert_int_equal(settlement_decide(s->db, r.id, 1, "ok", 20), 1);
	assert_int_equal(settlement_decide(s->db, r.id, 0, "no", 30), 0);
	assert_int_equal(count(s->db, "SELECT count(*) FROM settlements "
	    "WHERE state = 'approved'"), 1);
	assert_int_equal(settlement_add(s->db, secret_a, &r, SETTLE_PENDING,
	    NULL, 40), 0);
	assert_string_not_equal(r.key, key1);
	assert_string_not_equal(r.reference, ref1);
	assert_int_equal(count(s->db, "SELECT count(DISTINCT reference) FROM "
	    "v_settlements"), 2);
}

/*
 * Keys and references (SPEC §6): a function of the secret, the account-day
 * and n alone, different under another secret, never holding the account;
 * the reference is "OC" and 16 Crockford base32 digits.
 */
static void
test_settlement_reference(void **state)
{
	char k1[SETTLE_KEY_LEN + 1], r1[SETTLE_REFERENCE_LEN + 1];
	char k2[SETTLE_KEY_LEN + 1], r2[SETTLE_REFERENCE_LEN + 1];
	const char *acc = "tok:" TOKA;
	size_t i;

	(void)state;
	assert_int_equal(settlement_derive(secret_a, acc, "2026-11-28", 1, k1,
	    r1), 0);
	assert_int_equal(settlement_derive(secret_a, acc, "2026-11-28", 1, k2,
	    r2), 0);
	assert_string_equal(k1, k2);
	assert_string_equal(r1, r2);
	assert_int_equal(strncmp(r1, "OC", 2), 0);
	for (i = 2; i < SETTLE_REFERENCE_LEN; i++)
		assert_non_null(strchr("0123456789ABCDEFGHJKMNPQRSTVWXYZ",
		    r1[i]));
	assert_null(strstr(k1, TOKA));
	assert_int_equal(settlement_derive(secret_b, acc, "2026-11-28", 1, k2,
	    r2), 0);
	assert_string_not_equal(k1, k2);
	assert_string_not_equal(r1, r2);
	assert_int_equal(settlement_derive(secret_a, acc, "2026-11-29", 1, k2,
	    r2), 0);
	assert_string_not_equal(r1, r2);
	assert_int_equal(settlement_derive(secret_a, "tok:" TOKB,
	    "2026-11-28", 1, k2, r2), 0);
	assert_string_not_equal(r1, r2);
}

/* A settlements table from before references gains the column and view. */
static void
test_settlement_reference_migration(void **state)
{
	sqlite3 *db;
	char err[256] = "";

	(void)state;
	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE charges (account, "
	    "service_day, charge_cents, posted, uncapped_cents);"
	    "CREATE TABLE settlements (id INTEGER PRIMARY KEY, idem_key TEXT "
	    "NOT NULL UNIQUE, account TEXT NOT NULL, service_day TEXT NOT "
	    "NULL, kind TEXT NOT NULL, amount_cents INTEGER NOT NULL, state "
	    "TEXT NOT NULL, debt_id INTEGER, attempts INTEGER NOT NULL "
	    "DEFAULT 0, created_utc INTEGER NOT NULL, decided_utc INTEGER, "
	    "result TEXT);"
	    "CREATE VIEW v_settlements AS SELECT id, idem_key FROM "
	    "settlements;"
	    "INSERT INTO settlements (idem_key, account, service_day, kind, "
	    "amount_cents, state, created_utc) VALUES ('par:P/2026-11-28/1', "
	    "'par:P', '2026-11-28', 'capture', 300, 'approved', 1)",
	    NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(settlement_schema(db, err, sizeof err), 0);
	assert_int_equal(count(db, "SELECT count(*) FROM v_settlements WHERE "
	    "reference IS NULL AND result IS NULL"), 1);
	assert_int_equal(settlement_schema(db, err, sizeof err), 0);
	sqlite3_close(db);
}

/* A temporary directory for key files; removed by rm_dir. */
static void
rm_dir(const char *dir)
{
	char cmd[300];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/*
 * Checkpoints (SPEC §6): a signed line checks; its fields altered, a
 * non-canonical form, another key's line and a line of another format are
 * each refused with their reason; the ledger's head is what is signed.
 */
static void
test_checkpoint_lines(void **state)
{
	struct store *s = *state;
	char dir[] = "/tmp/test_store.XXXXXX", a[128], b[128], err[256];
	char line[CHECKPOINT_LINE_MAX], bad[CHECKPOINT_LINE_MAX], why[160];
	struct checkpoint_key *ka, *pa, *kb;
	struct checkpoint c, got;

	assert_non_null(mkdtemp(dir));
	snprintf(a, sizeof a, "%s/a.key", dir);
	snprintf(b, sizeof b, "%s/b.key", dir);
	assert_int_equal(checkpoint_keygen(a, err, sizeof err), 0);
	assert_int_equal(checkpoint_keygen(b, err, sizeof err), 0);
	assert_int_equal(checkpoint_keygen(a, err, sizeof err), -1);
	assert_non_null(strstr(err, "exists already"));
	strcat(a, ".pub");
	assert_non_null(pa = checkpoint_key_load(a, 0, err, sizeof err));
	a[strlen(a) - 4] = '\0';
	assert_non_null(ka = checkpoint_key_load(a, 1, err, sizeof err));
	assert_non_null(kb = checkpoint_key_load(b, 1, err, sizeof err));
	assert_string_equal(checkpoint_key_id(ka), checkpoint_key_id(pa));
	assert_int_equal(ledger_move(s->l, "clearing:acquirer", "rider:par:P",
	    300, "2026-11-28", "par:P", 10, "capture"), 0);
	assert_int_equal(checkpoint_head(s->db, &c), 0);
	assert_int_equal(c.entries, 2);
	c.time_utc = 1764460800;	/* 2025-11-30T00:00:00Z */
	assert_int_equal(checkpoint_sign(ka, &c, line, sizeof line, err,
	    sizeof err), 0);
	assert_int_equal(checkpoint_check_line(pa, line, &got, why,
	    sizeof why), 0);
	assert_int_equal(got.entries, 2);
	assert_string_equal(got.head, c.head);
	/* The count changed: the signature no longer holds. */
	snprintf(bad, sizeof bad, "%s", line);
	bad[strlen("onecity-checkpoint 1 ") + 17] = '3';
	assert_int_equal(checkpoint_check_line(pa, bad, &got, why,
	    sizeof why), -1);
	assert_non_null(strstr(why, "bad signature"));
	/* The same count with a leading zero: not canonical. */
	snprintf(bad, sizeof bad, "onecity-checkpoint 1 %s 02 %s",
	    checkpoint_key_id(ka), line + strlen("onecity-checkpoint 1 ") +
	    19);
	assert_int_equal(checkpoint_check_line(pa, bad, &got, why,
	    sizeof why), -1);
	/* Signed by another key. */
	assert_int_equal(checkpoint_sign(kb, &c, line, sizeof line, err,
	    sizeof err), 0);
	assert_int_equal(checkpoint_check_line(pa, line, &got, why,
	    sizeof why), -1);
	assert_non_null(strstr(why, "signed by key"));
	assert_int_equal(checkpoint_check_line(pa, "hello world", &got, why,
	    sizeof why), -1);
	/* A public key cannot sign. */
	assert_int_equal(checkpoint_sign(pa, &c, line, sizeof line, err,
	    sizeof err), -1);
	checkpoint_key_free(ka);
	checkpoint_key_free(kb);
	checkpoint_key_free(pa);
	rm_dir(dir);
}

/*
 * A tariff version is stored once by content hash and written back byte
 * for byte; a stored file altered is refused on the way out.
 */
static void
test_tariff_version_round_trip(void **state)
{
	struct store *s = *state;
	char dir[] = "/tmp/test_store.XXXXXX", err[256];
	struct tariff_files *tf, *back;
	int64_t id, again;

	assert_int_equal(tariff_version_schema(s->db, err, sizeof err), 0);
	assert_non_null(tf = tariff_files_read(TU_NL, err, sizeof err));
	assert_int_equal(tariff_version_store(s->db, tf, 10, &id), 0);
	assert_int_equal(tariff_version_store(s->db, tf, 20, &again), 0);
	assert_int_equal(id, again);
	assert_non_null(mkdtemp(dir));
	assert_int_equal(tariff_version_extract(s->db, id, dir, err,
	    sizeof err), 0);
	assert_non_null(back = tariff_files_read(dir, err, sizeof err));
	assert_string_equal(tariff_files_hash(back), tariff_files_hash(tf));
	tariff_files_free(back);
	rm_dir(dir);
	assert_int_equal(journal_exec(s->j, "UPDATE tariff_files SET content "
	    "= X'00' WHERE name = 'stops.txt'"), SQLITE_OK);
	memcpy(dir + strlen(dir) - 6, "XXXXXX", 6);
	assert_non_null(mkdtemp(dir));
	assert_int_equal(tariff_version_extract(s->db, id, dir, err,
	    sizeof err), -1);
	assert_non_null(strstr(err, "(altered)"));
	assert_int_equal(tariff_version_extract(s->db, id + 1, dir, err,
	    sizeof err), -1);
	rm_dir(dir);
	tariff_files_free(tf);
}

/*
 * The currency commands that read only the database show money in is the
 * latest tariff version's (issue 17: audit operators printed € for a USD
 * feed); none stored is euros.
 */
static void
test_tariff_version_currency(void **state)
{
	struct store *s = *state;
	struct tariff_files *tf;
	char err[256], cur[4];
	int64_t id;

	assert_int_equal(tariff_version_currency(s->db, cur), -1);
	assert_string_equal(cur, "EUR");
	assert_int_equal(tariff_version_schema(s->db, err, sizeof err), 0);
	assert_int_equal(tariff_version_currency(s->db, cur), -1);
	assert_string_equal(cur, "EUR");
	assert_non_null(tf = tariff_files_read(TU_NL, err, sizeof err));
	assert_int_equal(tariff_version_store(s->db, tf, 10, &id), 0);
	tariff_files_free(tf);
	memcpy(cur, "XXX", 4);
	assert_int_equal(tariff_version_currency(s->db, cur), 0);
	assert_string_equal(cur, "EUR");
	assert_int_equal(journal_exec(s->j, "INSERT INTO tariff_versions "
	    "VALUES (99, 'usd', 20); INSERT INTO tariff_files VALUES (99, "
	    "'fare_products.txt', CAST('fare_product_id,amount,currency' || "
	    "char(10) || 'ride,2.90,USD' || char(10) AS BLOB))"), SQLITE_OK);
	assert_int_equal(tariff_version_currency(s->db, cur), 0);
	assert_string_equal(cur, "USD");
}

/* A debt opens, is lowered, and is recovered when nothing is left. */
static void
test_debt_lifecycle(void **state)
{
	struct store *s = *state;
	struct settle_req r;
	int64_t id, owed;

	memset(&r, 0, sizeof r);
	snprintf(r.account, sizeof r.account, "par:P");
	snprintf(r.day, sizeof r.day, "2026-11-28");
	r.amount = 300;
	assert_int_equal(debt_open(s->db, &r, 10, 100), 0);
	assert_int_equal(debt_unrecovered(s->db, "par:P"), 1);
	assert_int_equal(debt_owed(s->db, "par:P", "2026-11-28", &id, &owed),
	    1);
	assert_int_equal(owed, 300);
	assert_int_equal(debt_reduce(s->db, id, 100), 0);
	assert_int_equal(debt_unrecovered(s->db, "par:P"), 1);
	assert_int_equal(debt_reduce(s->db, id, 200), 0);
	assert_int_equal(debt_unrecovered(s->db, "par:P"), 0);
	assert_int_equal(debt_owed(s->db, "par:P", "2026-11-28", &id, &owed),
	    0);
}

/* Charges and their view: v_charges.settled without a settled column. */
/* charges_stored_days' rows as "DAY DIGEST POSTED" ("none": no digest). */
static int
stored_cb(const char *day, int64_t digest, int has_digest, int posted,
    void *arg)
{
	char line[64];

	if (has_digest)
		snprintf(line, sizeof line, "%s %lld %d", day,
		    (long long)digest, posted);
	else
		snprintf(line, sizeof line, "%s none %d", day, posted);
	return strtab_intern(arg, line, strlen(line), NULL) == STRTAB_NONE ?
	    -1 : 0;
}

static void
test_charges_view(void **state)
{
	struct store *s = *state;
	struct strtab *t = strtab_new();

	assert_non_null(t);
	assert_int_equal(journal_exec(s->j, "INSERT INTO charges VALUES "
	    "('par:P', '2026-11-28', 300, 300, 1, 1, NULL, NULL, NULL)"), SQLITE_OK);
	assert_int_equal(count(s->db, "SELECT settled FROM v_charges"), 0);
	assert_int_equal(journal_exec(s->j, "INSERT INTO charges VALUES "
	    "('par:P', '2026-11-30', 100, 100, 0, 1, NULL, NULL, NULL)"), SQLITE_OK);
	assert_int_equal(journal_exec(s->j, "UPDATE charges SET digest_hi = 1, "
	    "digest_lo = 2, posted = 0 WHERE service_day = '2026-11-30'"),
	    SQLITE_OK);
	assert_int_equal(charges_stored_days(s->c, "par:P", "", "9999-12-31",
	    stored_cb, t), 0);
	assert_int_equal(strtab_count(t), 2);
	assert_string_equal(strtab_name(t, 0), "2026-11-28 none 1");
	assert_string_equal(strtab_name(t, 1),
	    "2026-11-30 2147483650 0");		/* 1 << 31 | 2 */
	strtab_clear(t);
	assert_int_equal(charges_stored_days(s->c, "par:P", "2026-11-29",
	    "9999-12-31", stored_cb, t), 0);
	assert_int_equal(strtab_count(t), 1);
	strtab_clear(t);
	/* Open legs: P's on the 28th and the 30th checked in at 1000 and
	 * 5000, Q's at 9000; R's leg is complete.  Those checked in before
	 * the time given, each account from its first day with one. */
	assert_int_equal(journal_exec(s->j, "INSERT INTO legs VALUES "
	    "('par:P', '2026-11-28', 1, 'NS', 'ut', NULL, 1000, NULL, 'open', "
	    "400, 400), ('par:P', '2026-11-30', 1, 'NS', 'ut', NULL, 5000, "
	    "NULL, 'open', 400, 400), ('tok:Q', '2026-11-30', 1, 'NS', 'ut', "
	    "NULL, 9000, NULL, 'open', 400, 400), ('tok:R', '2026-11-28', 1, "
	    "'NS', 'ut', 'asd', 100, 900, 'complete', 400, 400)"), SQLITE_OK);
	assert_int_equal(charges_open_accounts(s->c, 9000, "", t, 10), 0);
	assert_int_equal(strtab_count(t), 1);
	assert_string_equal(strtab_name(t, 0), "par:P 2026-11-28");
	strtab_clear(t);
	assert_int_equal(charges_open_accounts(s->c, 1000, "", t, 10), 0);
	assert_int_equal(strtab_count(t), 0);
	assert_int_equal(charges_open_accounts(s->c, 9001, "", t, 1), 0);
	assert_int_equal(strtab_count(t), 1);
	assert_string_equal(strtab_name(t, 0), "par:P 2026-11-28");
	strtab_clear(t);
	/* The next after it. */
	assert_int_equal(charges_open_accounts(s->c, 9001, "par:P", t, 1), 0);
	assert_int_equal(strtab_count(t), 1);
	assert_string_equal(strtab_name(t, 0), "tok:Q 2026-11-30");
	strtab_clear(t);
	assert_int_equal(charges_open_accounts(s->c, 9001, "", t, 10), 0);
	assert_int_equal(strtab_count(t), 2);
	/* Only the days from the one given are cleared. */
	assert_int_equal(charges_clear(s->c, "par:P", "2026-11-29",
	    "2026-11-30"), 0);
	assert_int_equal(count(s->db, "SELECT count(*) FROM charges"), 1);
	assert_int_equal(charges_clear(s->c, "par:P", "", "9999-12-31"), 0);
	assert_int_equal(count(s->db, "SELECT count(*) FROM charges"), 0);
	strtab_free(t);
}

/* text of the first column of the first row of sql, or "(null)". */
static void
text_of(sqlite3 *db, const char *sql, char *out, size_t len)
{
	sqlite3_stmt *st;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	snprintf(out, len, "%s", sqlite3_column_type(st, 0) == SQLITE_NULL ?
	    "(null)" : (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
}

/* v_refused_taps says what is known of a refused tap, NULL for the rest. */
static void
test_refused_view_known(void **state)
{
	struct store *s = *state;
	struct jtap x;
	char v[200];

	make_tap(&x, "dev1:7", 1795852800, TOKA, "");	/* 08:00Z 28 Nov */
	x.has_time = 1;
	snprintf(x.account, sizeof x.account, "tok:" TOKA);
	snprintf(x.service_day, sizeof x.service_day, "2026-11-28");
	snprintf(x.detail, sizeof x.detail, "account tok:" TOKA);
	assert_int_equal(journal_store_refused(s->j, &x,
	    REFUSAL_DENIED_AT_GATE), 0);
	text_of(s->db, "SELECT tap_id || ' ' || time_utc || ' ' || network_id "
	    "|| ' ' || stop_id || ' ' || account || ' ' || service_day || ' ' "
	    "|| reason FROM v_refused_taps", v, sizeof v);
	assert_string_equal(v, "dev1:7 2026-11-28T08:00:00Z CITY A tok:" TOKA
	    " 2026-11-28 denied-at-gate");
	/* A tap refused before its fields were read: only what was. */
	memset(&x, 0, sizeof x);
	snprintf(x.device_id, sizeof x.device_id, "dev1");
	snprintf(x.detail, sizeof x.detail, "expected 7 fields");
	assert_int_equal(journal_store_refused(s->j, &x, REFUSAL_BAD_FIELDS),
	    0);
	assert_int_equal(count(s->db, "SELECT count(*) FROM v_refused_taps "
	    "WHERE reason = 'bad-fields' AND tap_id IS NULL AND time_utc IS "
	    "NULL AND network_id IS NULL AND stop_id IS NULL AND account IS "
	    "NULL AND received_utc IS NOT NULL"), 1);
}

/* A database from before: refused and deny_log gain their columns. */
static void
test_old_tables_gain_columns(void **state)
{
	char path[] = "/tmp/test_store_XXXXXX", err[256];
	struct journal *j;
	sqlite3 *db;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE refused (id INTEGER "
	    "PRIMARY KEY, received_utc INTEGER NOT NULL, device_id TEXT NOT "
	    "NULL, reason TEXT NOT NULL, detail TEXT NOT NULL); INSERT INTO "
	    "refused VALUES (1, 0, 'd', 'flood', 'x'); CREATE VIEW "
	    "v_refused_taps AS SELECT received_utc, device_id, reason, detail "
	    "FROM refused; CREATE TABLE deny_log (id INTEGER PRIMARY KEY, "
	    "account TEXT NOT NULL, action TEXT NOT NULL, at_utc INTEGER NOT "
	    "NULL); INSERT INTO deny_log VALUES (1, 'par:P', '+', 0);", NULL,
	    NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	j = journal_open(path, 1, 1024, err, sizeof err);
	assert_non_null(j);
	db = journal_db(j);
	assert_int_equal(deny_schema(db, err, sizeof err), 0);
	assert_int_equal(count(db, "SELECT count(*) FROM v_refused_taps WHERE "
	    "reason = 'flood' AND tap_id IS NULL"), 1);
	assert_int_equal(count(db, "SELECT count(*) FROM v_deny_log WHERE "
	    "action = 'added' AND reason IS NULL"), 1);
	journal_close(j);
	unlink(path);
}

/* A database another process holds locked at start (an audit, the
 * sqlite3 shell): journal_open waits its busy timeout, then fails with
 * an error naming the file (it failed at once, with an empty error, when
 * the WAL pragma ran before the busy timeout was set). */
static void
test_journal_open_locked(void **state)
{
	char path[] = "/tmp/onecity-locked-XXXXXX", err[256] = "";
	struct journal *j;
	sqlite3 *db;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE t (x); BEGIN "
	    "EXCLUSIVE; INSERT INTO t VALUES (1);", NULL, NULL, NULL),
	    SQLITE_OK);
	j = journal_open(path, 1, 1024, err, sizeof err);
	assert_null(j);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "locked"));
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(db);
	unlink(path);
}

/* v_deny_log: every change of the list, when, and why (valid PARs: the
 * deny list takes no other accounts, issue 16). */
static void
test_deny_log_view(void **state)
{
	struct store *s = *state;
	char v[400];

	assert_int_equal(deny_set(s->db, PAR_P, 1, "declined: 51", 0), 0);
	assert_int_equal(deny_set(s->db, PAR_P, 0, "debt recovered", 86400),
	    0);
	assert_int_equal(deny_set(s->db, PAR_Q, 1, "operator", 90000), 0);
	text_of(s->db, "SELECT group_concat(at_utc || ' ' || account || ' ' || "
	    "action || ' ' || reason, '|') FROM (SELECT * FROM v_deny_log "
	    "ORDER BY id)", v, sizeof v);
	assert_string_equal(v, "1970-01-01T00:00:00Z " PAR_P " added declined: 51|"
	    "1970-01-02T00:00:00Z " PAR_P " lifted debt recovered|"
	    "1970-01-02T01:00:00Z " PAR_Q " added operator");
}

/* A day's statement adds up: a transfer, an incomplete leg, a cap. */
static void
test_statement_adds_up(void **state)
{
	struct store *s = *state;
	struct statement st;
	char err[256];
	int64_t sum = 0;
	size_t i;

	/* 3.00 + (2.00 - 1.00 transfer) + 4.00 incomplete + 0 cancelled =
	 * 8.00 uncapped, capped to 6.00 (the incomplete fare outside it). */
	assert_int_equal(journal_exec(s->j, "INSERT INTO legs VALUES "
	    "('par:P', '2026-11-28', 1, 'NS', 'asd', 'ut', 1000, 2000, "
	    "'complete', 300, 300), ('par:P', '2026-11-28', 2, 'GVB', 'ut', "
	    "'dom', 2100, 2500, 'complete', 200, 100), ('par:P', "
	    "'2026-11-28', 3, 'NS', 'ut', NULL, 3000, NULL, 'incomplete', 400, "
	    "400), ('par:P', '2026-11-28', 4, 'NS', 'asd', 'asd', 5000, 5100, "
	    "'cancelled', 0, 0); INSERT INTO charges (account, service_day, "
	    "charge_cents, uncapped_cents, open_legs, posted) VALUES ('par:P', "
	    "'2026-11-28', 600, 800, 0, 1); INSERT INTO settlements (idem_key, "
	    "account, service_day, kind, amount_cents, state, created_utc) "
	    "VALUES ('k1', 'par:P', '2026-11-28', 'capture', 600, 'declined', "
	    "9), ('k2', 'par:P', '2026-11-28', 'recovery', 600, 'approved', "
	    "10)"), SQLITE_OK);
	assert_int_equal(statement_load(s->db, "par:P", NULL, NULL, &st, err,
	    sizeof err), 0);
	assert_int_equal(st.ndays, 1);
	assert_int_equal(st.day[0].nrows, 5);	/* 4 legs and the cap */
	for (i = 0; i < st.day[0].nrows; i++) {
		const struct statement_row *r = &st.row[st.day[0].row_off + i];
		sum += r->charge_cents - r->credit_cents;
		assert_int_equal(r->day_total_cents, sum);
	}
	assert_int_equal(sum, 600);
	assert_int_equal(st.row[1].credit_cents, 100);	/* the transfer */
	assert_int_equal(st.row[4].kind, STATEMENT_CAP);
	assert_int_equal(st.row[4].credit_cents, 200);
	assert_int_equal(st.day[0].pay.declined_cents, 600);
	assert_int_equal(st.day[0].pay.recovered_cents, 600);
	statement_note(NULL, &st.row[2], err, sizeof err);
	assert_string_equal(err, "no check-out: maximum fare");
	/* The cap held the other fares; the maximum fare is outside it. */
	statement_note(NULL, &st.row[4], err, sizeof err);
	assert_string_equal(err, "fares €4.00 capped at €2.00 (maximum fares "
	    "come on top)");
	statement_free(&st);
	/* Days out of range: none. */
	assert_int_equal(statement_load(s->db, "par:P", "2026-11-29", NULL,
	    &st, err, sizeof err), 0);
	assert_int_equal(st.ndays, 0);
	statement_free(&st);
}

/* Money as a person reads it: one symbol, grouped thousands. */
static void
test_money_text(void **state)
{
	char b[MONEY_TEXT_MAX];

	(void)state;
	money_text("EUR", 3357286, b);
	assert_string_equal(b, "€33,572.86");
	money_text("EUR", -108, b);
	assert_string_equal(b, "-€1.08");
	money_text("USD", 290, b);
	assert_string_equal(b, "USD 2.90");
	money_text("EUR", INT64_MIN, b);
	assert_string_equal(b, "-€92,233,720,368,547,758.08");
	money_plain(123456, b);
	assert_string_equal(b, "1234.56");
}

/*
 * How many times half1 followed by half2 occurs in this process's
 * writable memory (read through /proc/self/mem).  The text is looked for
 * in two halves kept apart, so that the needle itself is no hit.
 */
static int
self_mem_count(const char *half1, const char *half2)
{
	static unsigned char chunk[1 << 20];
	size_t n1 = strlen(half1), n2 = strlen(half2);
	unsigned long lo, hi, off;
	char line[512], perms[8];
	int count = 0, fd = open("/proc/self/mem", O_RDONLY);
	FILE *maps = fopen("/proc/self/maps", "r");

	if (fd == -1 || maps == NULL)
		return -1;
	while (fgets(line, sizeof line, maps) != NULL) {
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 ||
		    perms[0] != 'r' || perms[1] != 'w')
			continue;
		/* Reservations of a sanitizer's shadow: nothing of ours. */
		if (hi - lo > 1UL << 30)
			continue;
		/* Whole chunks: a text split across two is missed, which
		 * only the control (found) could suffer from. */
		for (off = lo; off < hi; off += sizeof chunk) {
			size_t want = hi - off < sizeof chunk ? hi - off :
			    sizeof chunk;
			ssize_t got = pread(fd, chunk, want, (off_t)off);
			unsigned char *p = chunk, *hit;
			if (got <= 0)
				break;
			while ((hit = memmem(p, (size_t)got - (size_t)(p - chunk),
			    half1, n1)) != NULL) {
				if ((size_t)(hit - chunk) + n1 + n2 <= (size_t)got &&
				    memcmp(hit + n1, half2, n2) == 0)
					count++;
				p = hit + 1;
			}
		}
	}
	fclose(maps);
	close(fd);
	return count;
}

/*
 * In a child: SQLite (wiping or not) stores and reads back rows quoting
 * a card number, closes and shuts down; then its memory is searched.
 * The child's exit status: 0 text gone, 1 text found, 2 setup failed.
 */
static int
sqlite_leaves_text(int wipe)
{
	static const char half1[] = "card 40000566", half2[] = "55665556 seen";
	char text[64];
	sqlite3 *db;
	sqlite3_stmt *st;
	pid_t child;
	int i, st_code;

	if ((child = fork()) == 0) {
		if (sqlite3_shutdown() != SQLITE_OK ||
		    (wipe && store_wipe_freed_memory() != 0) ||
		    sqlite3_open(":memory:", &db) != SQLITE_OK ||
		    sqlite3_exec(db, "CREATE TABLE t (x TEXT)", NULL, NULL,
		    NULL) != SQLITE_OK ||
		    sqlite3_prepare_v2(db, "INSERT INTO t VALUES (?1 || ' ' || "
		    "?2)", -1, &st, NULL) != SQLITE_OK)
			_exit(2);
		snprintf(text, sizeof text, "%s%s", half1, half2);
		for (i = 0; i < 200; i++) {
			sqlite3_bind_text(st, 1, text, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int(st, 2, i);
			if (sqlite3_step(st) != SQLITE_DONE)
				_exit(2);
			sqlite3_reset(st);
		}
		mbedtls_platform_zeroize(text, sizeof text);
		sqlite3_finalize(st);
		if (sqlite3_exec(db, "SELECT x FROM t ORDER BY x DESC", NULL,
		    NULL, NULL) != SQLITE_OK || sqlite3_exec(db, "DELETE FROM t",
		    NULL, NULL, NULL) != SQLITE_OK)
			_exit(2);
		sqlite3_close(db);
		sqlite3_shutdown();
		i = self_mem_count(half1, half2);
		_exit(i < 0 ? 2 : i > 0);
	}
	if (child < 0 || waitpid(child, &st_code, 0) != child ||
	    !WIFEXITED(st_code))
		return 2;
	return WEXITSTATUS(st_code);
}

/*
 * Issue 16 item 8: SQLite's freed memory (page cache, statement values)
 * kept the rows it had held; with store_wipe_freed_memory() nothing of
 * them is left once the connection closes.  Without it the same search
 * finds the text (so the search can find it).
 */
static void
test_sqlite_memory_wiped_on_free(void **state)
{
	(void)state;
	assert_int_equal(sqlite_leaves_text(0), 1);
	assert_int_equal(sqlite_leaves_text(1), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tap_stored_once, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_card_account_least_par,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_account_taps_in_order,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_names_complete, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_store_write_fails, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_ledger_moves_balance,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_ledger_write_fails, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_deny_list_feed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_debt_due_on_tap, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_charges_view, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_settlement_decided_once,
		    setup, teardown),
		cmocka_unit_test(test_settlement_reference),
		cmocka_unit_test(test_settlement_reference_migration),
		cmocka_unit_test_setup_teardown(test_checkpoint_lines, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_tariff_version_currency,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_tariff_version_round_trip,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_debt_lifecycle, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_refused_view_known, setup,
		    teardown),
		cmocka_unit_test(test_old_tables_gain_columns),
		cmocka_unit_test_setup_teardown(test_deny_log_view, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_statement_adds_up, setup,
		    teardown),
		cmocka_unit_test(test_money_text),
		cmocka_unit_test(test_journal_open_locked),
		cmocka_unit_test(test_sqlite_memory_wiped_on_free),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
