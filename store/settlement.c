/*
 * Settlement's tables and every statement on them: the writer thread's
 * (is a debt open, a tap makes one due) on its connection, and the
 * settlement thread's (requests, outcomes, debts) on its own.  What to
 * ask the acquirer and when stays in engine/settle.c.
 */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/md.h>
#include <mbedtls/platform_util.h>

#include "log.h"
#include "settlement.h"
#include "store.h"

struct settlement {
	sqlite3_stmt	*any_debt, *debt_tap;
};

static const char *const kind_names[SETTLE_KIND_MAX] = {
	[SETTLE_CAPTURE] = "capture",
	[SETTLE_REFUND] = "refund",
	[SETTLE_RECOVERY] = "recovery",
};

static const char *const state_names[SETTLE_STATE_MAX] = {
	[SETTLE_PENDING] = "pending",
	[SETTLE_APPROVED] = "approved",
	[SETTLE_DECLINED] = "declined",
	[SETTLE_DEBT_ADJUSTED] = "debt-adjusted",
};

static const char *const debt_names[DEBT_STATE_MAX] = {
	[DEBT_OPEN] = "open",
	[DEBT_RECOVERED] = "recovered",
	[DEBT_EXHAUSTED] = "exhausted",
};

/* Tables first; views after the columns of older databases are added. */
static const char schema_tables[] =
"CREATE TABLE IF NOT EXISTS settlements (id INTEGER PRIMARY KEY,"
"  idem_key TEXT NOT NULL UNIQUE, account TEXT NOT NULL,"
"  service_day TEXT NOT NULL, kind TEXT NOT NULL,"
"  amount_cents INTEGER NOT NULL, state TEXT NOT NULL,"
"  debt_id INTEGER, attempts INTEGER NOT NULL DEFAULT 0,"
"  created_utc INTEGER NOT NULL, decided_utc INTEGER, result TEXT,"
"  reference TEXT);"
"CREATE INDEX IF NOT EXISTS settlements_day ON settlements(account,"
"  service_day);"
"CREATE INDEX IF NOT EXISTS settlements_pending ON settlements(state)"
"  WHERE state = 'pending';"
"CREATE TABLE IF NOT EXISTS debts (id INTEGER PRIMARY KEY,"
"  account TEXT NOT NULL, service_day TEXT NOT NULL,"
"  amount_cents INTEGER NOT NULL, opened_utc INTEGER NOT NULL,"
"  retries INTEGER NOT NULL DEFAULT 0, last_try_utc INTEGER NOT NULL,"
"  next_retry_utc INTEGER NOT NULL, state TEXT NOT NULL);"
"CREATE INDEX IF NOT EXISTS debts_account ON debts(account, state);"
"CREATE INDEX IF NOT EXISTS debts_due ON debts(state, next_retry_utc);";

static const char schema_views[] =
"CREATE INDEX IF NOT EXISTS settlements_reference ON"
"  settlements(reference) WHERE reference IS NOT NULL;"
"DROP VIEW IF EXISTS v_charges;"
"CREATE VIEW v_charges AS SELECT c.account, c.service_day,"
"  c.charge_cents, (c.charge_cents = coalesce((SELECT sum(s.amount_cents)"
"    FROM settlements s WHERE s.account = c.account AND"
"    s.service_day = c.service_day AND s.state = 'approved'), 0)"
"    AND (c.charge_cents = 0 OR EXISTS (SELECT 1"
"    FROM settlements s WHERE s.account = c.account AND"
"    s.service_day = c.service_day AND s.state = 'approved'))) AS settled,"
"  c.posted AS closed, c.uncapped_cents"
"  FROM charges c;"
"DROP VIEW IF EXISTS v_settlements;"
"CREATE VIEW v_settlements AS SELECT id, idem_key, account,"
"  service_day, kind, amount_cents, state, attempts,"
"  strftime('%Y-%m-%dT%H:%M:%SZ', created_utc, 'unixepoch') AS created_utc,"
"  strftime('%Y-%m-%dT%H:%M:%SZ', decided_utc, 'unixepoch') AS decided_utc,"
"  result, reference FROM settlements;"
"CREATE VIEW IF NOT EXISTS v_debts AS SELECT id, account, service_day,"
"  amount_cents, strftime('%Y-%m-%dT%H:%M:%SZ', opened_utc, 'unixepoch')"
"    AS opened_utc, retries,"
"  strftime('%Y-%m-%dT%H:%M:%SZ', next_retry_utc, 'unixepoch')"
"    AS next_retry_utc, state FROM debts;";

const char *
settle_kind_name(enum settle_kind k)
{
	return store_name(kind_names, SETTLE_KIND_MAX, (int)k);
}

const char *
settle_state_name(enum settle_state s)
{
	return store_name(state_names, SETTLE_STATE_MAX, (int)s);
}

const char *
debt_state_name(enum debt_state s)
{
	return store_name(debt_names, DEBT_STATE_MAX, (int)s);
}

int
settle_kind_parse(const char *name)
{
	int k;

	for (k = 0; k < SETTLE_KIND_MAX; k++)
		if (strcmp(name, kind_names[k]) == 0)
			return k;
	return -1;
}

/*
 * A database from before settlement references: its requests keep no
 * reference (NULL; resent pending ones carry "-").
 */
static int
add_reference_column(sqlite3 *db, char *err, size_t errlen)
{
	sqlite3_stmt *s;
	int has;

	if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info("
	    "'settlements') WHERE name = 'reference'", -1, &s, NULL) !=
	    SQLITE_OK) {
		snprintf(err, errlen, "settlement: %s", sqlite3_errmsg(db));
		return -1;
	}
	has = sqlite3_step(s) == SQLITE_ROW;
	sqlite3_finalize(s);
	if (has)
		return 0;
	return store_schema(db, "ALTER TABLE settlements ADD COLUMN reference "
	    "TEXT", "settlement: adding 'reference'", err, errlen);
}

int
settlement_schema(sqlite3 *db, char *err, size_t errlen)
{
	if (store_schema(db, schema_tables, "settlement", err, errlen) == -1 ||
	    add_reference_column(db, err, errlen) == -1)
		return -1;
	return store_schema(db, schema_views, "settlement", err, errlen);
}

/*
 * HMAC-SHA256(secret, "<label>\n<account>\n<day>\n<n>"): the labels keep
 * the key and the reference of one request independent.
 */
static int
derive_mac(const unsigned char *secret, const char *label,
    const char *account, const char *day, int64_t n, unsigned char mac[32])
{
	char msg[256];
	int len;

	len = snprintf(msg, sizeof msg, "%s\n%s\n%s\n%lld", label, account,
	    day, (long long)n);
	if (len < 0 || (size_t)len >= sizeof msg)
		return -1;
	return mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256),
	    secret, SETTLE_SECRET_LEN, (const unsigned char *)msg, (size_t)len,
	    mac) == 0 ? 0 : -1;
}

int
settlement_derive(const unsigned char secret[SETTLE_SECRET_LEN],
    const char *account, const char *day, int64_t n,
    char key[SETTLE_KEY_LEN + 1], char reference[SETTLE_REFERENCE_LEN + 1])
{
	/* Crockford's base32: no I, L, O or U to misread on a statement. */
	static const char b32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
	static const char hex[] = "0123456789abcdef";
	unsigned char mac[32];
	uint64_t bits = 0;
	int i;

	assert(n >= 1);
	if (derive_mac(secret, "idempotency-key", account, day, n, mac) == -1)
		return -1;
	for (i = 0; i < SETTLE_KEY_LEN / 2; i++) {
		key[2 * i] = hex[mac[i] >> 4];
		key[2 * i + 1] = hex[mac[i] & 15];
	}
	key[SETTLE_KEY_LEN] = '\0';
	if (derive_mac(secret, "reference", account, day, n, mac) == -1)
		return -1;
	/* 80 bits: 16 digits of 5 bits, from two 40-bit halves. */
	memcpy(reference, SETTLE_REFERENCE_PREFIX, 2);
	for (i = 0; i < 16; i++) {
		if (i % 8 == 0) {
			int b;
			bits = 0;
			for (b = 0; b < 5; b++)
				bits = bits << 8 | mac[i / 8 * 5 + b];
		}
		reference[2 + i] = b32[(bits >> (35 - 5 * (i % 8))) & 31];
	}
	reference[SETTLE_REFERENCE_LEN] = '\0';
	mbedtls_platform_zeroize(mac, sizeof mac);
	return 0;
}

struct settlement *
settlement_open(sqlite3 *db, char *err, size_t errlen)
{
	struct settlement *st = calloc(1, sizeof *st);

	if (st == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (settlement_schema(db, err, errlen) == -1)
		goto fail;
	if (store_prep(db, &st->any_debt, "SELECT EXISTS (SELECT 1 FROM "
	    "debts WHERE state = 'open')") != SQLITE_OK ||
	    store_prep(db, &st->debt_tap, "UPDATE debts SET next_retry_utc = "
	    "?1 WHERE account = ?2 AND state = 'open' AND next_retry_utc > ?1 "
	    "AND last_try_utc <= ?1 - ?3 AND EXISTS (SELECT 1 FROM taps t "
	    "WHERE t.token = ?4 AND t.received_utc < debts.opened_utc)") !=
	    SQLITE_OK) {
		snprintf(err, errlen, "settlement: %s", sqlite3_errmsg(db));
		goto fail;
	}
	return st;
fail:
	settlement_close(st);
	return NULL;
}

void
settlement_close(struct settlement *st)
{
	if (st == NULL)
		return;
	sqlite3_finalize(st->any_debt);
	sqlite3_finalize(st->debt_tap);
	free(st);
}

int
settlement_any_debt(struct settlement *st)
{
	sqlite3_stmt *e = st->any_debt;
	int any;

	any = sqlite3_step(e) == SQLITE_ROW && sqlite3_column_int(e, 0) != 0;
	sqlite3_reset(e);
	return any;
}

int
settlement_debt_due(struct settlement *st, const char *account,
    const char *token, int64_t now, int64_t gap_s)
{
	sqlite3_stmt *s = st->debt_tap;

	sqlite3_bind_int64(s, 1, now);
	sqlite3_bind_text(s, 2, account, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, gap_s);
	sqlite3_bind_text(s, 4, token, -1, SQLITE_STATIC);
	return store_step_done(s);
}

/* ---- the settlement thread's side ---- */

static int
prepare(sqlite3 *db, sqlite3_stmt **st, const char *sql)
{
	if (sqlite3_prepare_v2(db, sql, -1, st, NULL) == SQLITE_OK)
		return 0;
	log_err("settlement_sql_failed", "error=%s",
	    LOGQ(sqlite3_errmsg(db)));
	return -1;
}

/*
 * Runs sql with arguments bound from fmt: 'i' int64, 's' text.  Returns 0
 * when it ran to the end.
 */
static int
step_sql(sqlite3 *db, const char *sql, const char *fmt, ...)
{
	sqlite3_stmt *st;
	va_list ap;
	int i, rc;

	if (prepare(db, &st, sql) == -1)
		return -1;
	va_start(ap, fmt);
	for (i = 0; fmt[i] != '\0'; i++)
		if (fmt[i] == 'i')
			sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
		else
			sqlite3_bind_text(st, i + 1, va_arg(ap, const char *),
			    -1, SQLITE_TRANSIENT);
	va_end(ap);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		return 0;
	log_err("settlement_sql_failed", "error=%s",
	    LOGQ(sqlite3_errmsg(db)));
	return -1;
}

static int64_t
query_int(sqlite3 *db, const char *sql, const char *a, const char *b)
{
	sqlite3_stmt *st;
	int64_t v = 0;

	if (prepare(db, &st, sql) == -1)
		return 0;
	sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
	if (b != NULL)
		sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/*
 * The three fetches; their columns are those of load_req().  ?1 is the
 * limit, ?2 (if used) the text or the number given.
 */
static const char *const fetch_sql[SETTLE_FETCH_MAX] = {
	[SETTLE_FETCH_PENDING] = "SELECT id, idem_key, account, service_day, "
	    "kind, amount_cents, coalesce(debt_id, 0), coalesce(reference, "
	    "'') FROM settlements WHERE state = 'pending' ORDER BY id LIMIT "
	    "?1",
	[SETTLE_FETCH_DEBTS] = "SELECT 0, '', d.account, d.service_day, "
	    "'recovery', d.amount_cents, d.id, '' FROM debts d WHERE d.state = "
	    "'open' AND d.next_retry_utc <= ?2 AND NOT EXISTS (SELECT 1 FROM "
	    "settlements x WHERE x.debt_id = d.id AND x.state = 'pending') "
	    "ORDER BY d.next_retry_utc LIMIT ?1",
	[SETTLE_FETCH_DAYS] = "WITH a AS (SELECT account, service_day, "
	    "sum(amount_cents) AS asked FROM settlements WHERE kind IN "
	    "('capture', 'refund') GROUP BY account, service_day) "
	    "SELECT 0, '', c.account, c.service_day, '', c.charge_cents - "
	    "coalesce(a.asked, 0), 0, '' FROM charges c LEFT JOIN a ON "
	    "a.account "
	    "= c.account AND a.service_day = c.service_day WHERE "
	    "c.service_day < ?2 AND c.posted = 1 AND c.open_legs = 0 AND "
	    "c.charge_cents != "
	    "coalesce(a.asked, 0) UNION ALL SELECT 0, '', a.account, "
	    "a.service_day, '', -a.asked, 0, '' FROM a WHERE a.asked != 0 AND "
	    "a.service_day < ?2 AND NOT EXISTS (SELECT 1 FROM charges c WHERE "
	    "c.account = a.account AND c.service_day = a.service_day) "
	    "LIMIT ?1",
};

static void
load_req(sqlite3_stmt *st, struct settle_req *r)
{
	int kind;

	memset(r, 0, sizeof *r);
	r->id = sqlite3_column_int64(st, 0);
	snprintf(r->key, sizeof r->key, "%s", sqlite3_column_text(st, 1));
	snprintf(r->account, sizeof r->account, "%s",
	    sqlite3_column_text(st, 2));
	snprintf(r->day, sizeof r->day, "%s", sqlite3_column_text(st, 3));
	/* Account-days to settle come without one: the caller decides. */
	kind = settle_kind_parse((const char *)sqlite3_column_text(st, 4));
	r->kind = kind < 0 ? SETTLE_CAPTURE : (enum settle_kind)kind;
	r->amount = sqlite3_column_int64(st, 5);
	r->debt_id = sqlite3_column_int64(st, 6);
	snprintf(r->reference, sizeof r->reference, "%s",
	    sqlite3_column_text(st, 7));
}

struct settle_req *
settlement_fetch(sqlite3 *db, enum settle_fetch what, const char *text,
    int64_t num, size_t max, size_t *n)
{
	sqlite3_stmt *st;
	struct settle_req *rs;

	assert(what >= 0 && what < SETTLE_FETCH_MAX);
	*n = 0;
	if ((rs = calloc(max, sizeof *rs)) == NULL)
		return NULL;
	if (prepare(db, &st, fetch_sql[what]) == -1) {
		free(rs);
		return NULL;
	}
	sqlite3_bind_int64(st, 1, (int64_t)max);
	if (sqlite3_bind_parameter_count(st) < 2)
		;
	else if (text != NULL)
		sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int64(st, 2, num);
	while (*n < max && sqlite3_step(st) == SQLITE_ROW)
		load_req(st, &rs[(*n)++]);
	sqlite3_finalize(st);
	return rs;
}

int
settlement_add(sqlite3 *db, const unsigned char secret[SETTLE_SECRET_LEN],
    struct settle_req *r, enum settle_state state, const char *result,
    int64_t now)
{
	int64_t n = query_int(db, "SELECT count(*) FROM settlements WHERE "
	    "account = ? AND service_day = ?", r->account, r->day);
	char key[SETTLE_KEY_LEN + 1];

	_Static_assert(sizeof r->key > SETTLE_KEY_LEN, "key fits");
	if (settlement_derive(secret, r->account, r->day, n + 1, key,
	    r->reference) == -1) {
		log_err("settlement_key_failed", "account=%s service_day=%s",
		    LOGQ(r->account), LOGQ(r->day));
		return -1;
	}
	snprintf(r->key, sizeof r->key, "%s", key);
	if (step_sql(db, "INSERT INTO settlements (idem_key, account, "
	    "service_day, kind, amount_cents, state, debt_id, created_utc, "
	    "decided_utc, result, reference) VALUES (?,?,?,?,?,?,nullif(?, "
	    "0),?,CASE WHEN ?6 = 'pending' THEN NULL ELSE ?8 END,?,?)",
	    "ssssisiiss", r->key, r->account, r->day,
	    settle_kind_name(r->kind), r->amount, settle_state_name(state),
	    r->debt_id, now, result, r->reference) == -1)
		return -1;
	r->id = sqlite3_last_insert_rowid(db);
	return 0;
}

int
settlement_attempted(sqlite3 *db, int64_t id)
{
	return step_sql(db, "UPDATE settlements SET attempts = attempts + 1 "
	    "WHERE id = ?", "i", id);
}

int
settlement_decide(sqlite3 *db, int64_t id, int approved, const char *result,
    int64_t now)
{
	char clean[512];

	assert(approved == 0 || approved == 1);
	/* The acquirer's words: stored without escapes or a PAN. */
	store_clean_text(result, clean, sizeof clean);
	result = clean;
	/* The one legal transition: pending to approved or declined. */
	if (step_sql(db, "UPDATE settlements SET state = ?, decided_utc = ?, "
	    "result = ?, attempts = attempts + 1 WHERE id = ? AND state = ?",
	    "sisis", settle_state_name(approved ? SETTLE_APPROVED :
	    SETTLE_DECLINED), now, result, id,
	    settle_state_name(SETTLE_PENDING)) == -1)
		return -1;
	return sqlite3_changes(db) == 1;
}

int
debt_open(sqlite3 *db, const struct settle_req *r, int64_t now,
    int64_t next_retry)
{
	return step_sql(db, "INSERT INTO debts (account, service_day, "
	    "amount_cents, opened_utc, last_try_utc, next_retry_utc, state) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?)", "ssiiiis", r->account, r->day,
	    r->amount, now, now, next_retry, debt_state_name(DEBT_OPEN));
}

int
debt_recovered(sqlite3 *db, int64_t id, int64_t now)
{
	return step_sql(db, "UPDATE debts SET state = ?, retries = retries + "
	    "1, last_try_utc = ? WHERE id = ?", "sii",
	    debt_state_name(DEBT_RECOVERED), now, id);
}

void
debt_history(sqlite3 *db, int64_t id, int64_t now, int64_t *opened,
    int *retries)
{
	sqlite3_stmt *st;

	*opened = now;
	*retries = 0;
	if (prepare(db, &st, "SELECT opened_utc, retries FROM debts WHERE "
	    "id = ?") == -1)
		return;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*opened = sqlite3_column_int64(st, 0);
		*retries = sqlite3_column_int(st, 1);
	}
	sqlite3_finalize(st);
}

int
debt_retried(sqlite3 *db, int64_t id, int64_t now, int64_t next_retry)
{
	return step_sql(db, "UPDATE debts SET retries = retries + 1, "
	    "last_try_utc = ?, next_retry_utc = ?, state = ? WHERE id = ?",
	    "iisi", now, next_retry < 0 ? now : next_retry,
	    debt_state_name(next_retry < 0 ? DEBT_EXHAUSTED : DEBT_OPEN), id);
}

int
debt_owed(sqlite3 *db, const char *account, const char *day, int64_t *id,
    int64_t *owed)
{
	sqlite3_stmt *st;

	*id = *owed = 0;
	if (prepare(db, &st, "SELECT id, amount_cents FROM debts WHERE "
	    "account = ? AND service_day = ? AND state != 'recovered' AND "
	    "amount_cents > 0 ORDER BY id LIMIT 1") == -1)
		return 0;
	sqlite3_bind_text(st, 1, account, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, day, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		*owed = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	return *id != 0;
}

int
debt_reduce(sqlite3 *db, int64_t id, int64_t cents)
{
	return step_sql(db, "UPDATE debts SET amount_cents = amount_cents - "
	    "?1, state = CASE WHEN amount_cents - ?1 = 0 THEN 'recovered' ELSE "
	    "state END WHERE id = ?2", "ii", cents, id);
}

int64_t
debt_unrecovered(sqlite3 *db, const char *account)
{
	return query_int(db, "SELECT count(*) FROM debts WHERE account = ? AND "
	    "state != 'recovered'", account, NULL);
}
