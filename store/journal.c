/*
 * The journal's tables: taps (what validators sent, once each), cards
 * (each token that showed a PAR and the least PAR it showed, which makes
 * the account key; a token without a row is its own account)
 * and refused (every refusal with its reason).  Statements are prepared
 * once, at open, for the writer thread that owns the connection.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "journal.h"
#include "tap.h"
#include "limits.h"
#include "store.h"

struct journal {
	sqlite3		*db;
	sqlite3_stmt	*ins_tap, *get_tap, *ins_refused, *get_card;
	sqlite3_stmt	*up_card, *sel_par_taps, *sel_tok_taps;
	sqlite3_stmt	*par_before, *tok_before;
	sqlite3_stmt	*card_day_count, *card_state;
};

static const char *const refusal_names[REFUSAL_MAX] = {
	[REFUSAL_NONE] = "none",
	[REFUSAL_BAD_FIELDS] = "bad-fields",
	[REFUSAL_WRONG_DEVICE] = "wrong-device",
	[REFUSAL_BAD_TIME] = "bad-time",
	[REFUSAL_BAD_PAN] = "bad-pan",
	[REFUSAL_BAD_PAR] = "bad-par",
	[REFUSAL_UNKNOWN_NETWORK] = "unknown-network",
	[REFUSAL_UNKNOWN_STOP] = "unknown-stop",
	[REFUSAL_BAD_KIND] = "bad-kind",
	[REFUSAL_FUTURE] = "future",
	[REFUSAL_TOO_OLD] = "too-old",
	[REFUSAL_DENIED_AT_GATE] = "denied-at-gate",
	[REFUSAL_FLOOD] = "flood",
	[REFUSAL_CONFLICTING_RESEND] = "conflicting-resend",
	[REFUSAL_STORE] = "store",
	[REFUSAL_NOT_COMMITTED] = "not-committed",
	[REFUSAL_MOVED] = "moved-to-par-shard",
	[REFUSAL_PAR_CONFLICT] = "par-on-other-shard",
};

static const char *const kinds[] = {"in", "out"};

static const char schema[] =
"CREATE TABLE IF NOT EXISTS taps ("
"  tap_id TEXT PRIMARY KEY, device_id TEXT NOT NULL, seq INTEGER NOT NULL,"
"  time_utc INTEGER NOT NULL, token TEXT NOT NULL, par TEXT,"
"  network_id TEXT NOT NULL, stop_id TEXT NOT NULL, kind TEXT NOT NULL,"
"  received_utc INTEGER NOT NULL) WITHOUT ROWID;"
"CREATE INDEX IF NOT EXISTS taps_token ON taps(token, time_utc);"
/* A service day's taps in time order, without reading the table (the
 * dashboard's taps per minute and validators: engine/web-data.c). */
"CREATE INDEX IF NOT EXISTS taps_day ON taps(time_utc, device_id,"
"  received_utc);"
"CREATE TABLE IF NOT EXISTS cards (token TEXT PRIMARY KEY, par TEXT)"
"  WITHOUT ROWID;"
"CREATE INDEX IF NOT EXISTS cards_par ON cards(par);"
"CREATE TABLE IF NOT EXISTS refused (id INTEGER PRIMARY KEY,"
"  received_utc INTEGER NOT NULL, device_id TEXT NOT NULL,"
"  reason TEXT NOT NULL, detail TEXT NOT NULL, seq INTEGER);"
"CREATE VIEW IF NOT EXISTS v_taps AS SELECT t.tap_id, t.device_id,"
"  strftime('%Y-%m-%dT%H:%M:%SZ', t.time_utc, 'unixepoch') AS time_utc,"
"  CASE WHEN c.par IS NOT NULL THEN 'par:' || c.par"
"       ELSE 'tok:' || t.token END AS account,"
"  t.network_id, t.stop_id, t.kind,"
"  strftime('%Y-%m-%dT%H:%M:%SZ', t.received_utc, 'unixepoch')"
"    AS received_utc"
"  FROM taps t LEFT JOIN cards c ON c.token = t.token;";

/*
 * Columns refused gained after its first version, each known only for
 * some refusals (NULL otherwise): the tap_id once its sequence number
 * parsed, the tap's time once it parsed, the network and stop when the
 * tariff knows them, the account and its service day once the card was
 * read.  Added to older databases as they open.
 */
static const char *const refused_added[] = {
	"seq INTEGER",	/* the validator's sequence number (audit verify) */
	"tap_id TEXT", "time_utc INTEGER", "network_id TEXT", "stop_id TEXT",
	"account TEXT", "service_day TEXT",
};

/* SPEC §6's four columns, then what is known of the tap. */
static const char refused_view[] =
"CREATE INDEX IF NOT EXISTS refused_account ON refused(account,"
"  service_day) WHERE account IS NOT NULL;"
"DROP VIEW IF EXISTS v_refused_taps;"
"CREATE VIEW v_refused_taps AS SELECT"
"  strftime('%Y-%m-%dT%H:%M:%SZ', received_utc, 'unixepoch')"
"    AS received_utc, device_id, reason, detail, tap_id,"
"  strftime('%Y-%m-%dT%H:%M:%SZ', time_utc, 'unixepoch') AS time_utc,"
"  network_id, stop_id, account, service_day FROM refused;";

const char *
refusal_name(enum refusal r)
{
	return store_name(refusal_names, REFUSAL_MAX, (int)r);
}

/* Adds the columns an older refused table lacks, then its view. */
static int
refused_columns(struct journal *j, char *err, size_t errlen)
{
	char sql[128];
	sqlite3_stmt *s;
	size_t i;
	int has;

	for (i = 0; i < sizeof refused_added / sizeof *refused_added; i++) {
		size_t n = strcspn(refused_added[i], " ");
		if (sqlite3_prepare_v2(j->db, "SELECT 1 FROM pragma_table_info("
		    "'refused') WHERE name = ?", -1, &s, NULL) != SQLITE_OK)
			goto fail;
		sqlite3_bind_text(s, 1, refused_added[i], (int)n,
		    SQLITE_STATIC);
		has = sqlite3_step(s) == SQLITE_ROW;
		sqlite3_finalize(s);
		snprintf(sql, sizeof sql, "ALTER TABLE refused ADD COLUMN %s",
		    refused_added[i]);
		if (!has && journal_exec(j, sql) != SQLITE_OK)
			goto fail;
	}
	if (journal_exec(j, refused_view) == SQLITE_OK)
		return 0;
fail:
	snprintf(err, errlen, "refused taps: %s", sqlite3_errmsg(j->db));
	return -1;
}

static int
prep(struct journal *j, sqlite3_stmt **st, const char *sql)
{
	return store_prep(j->db, st, sql);
}

/* Read-only (audit): no statement that writes what older files lack. */
static int
prepare_all(struct journal *j, int ro)
{
	return prep(j, &j->ins_tap, "INSERT INTO taps VALUES "
	    "(?,?,?,?,?,?,?,?,?,?) ON CONFLICT(tap_id) DO NOTHING") ||
	    prep(j, &j->get_tap, "SELECT device_id, time_utc, token, "
	    "coalesce(par, ''), network_id, stop_id, kind FROM taps "
	    "WHERE tap_id = ?") ||
	    (!ro && prep(j, &j->ins_refused, "INSERT INTO refused "
	    "(received_utc, device_id, reason, detail, seq, tap_id, time_utc, "
	    "network_id, stop_id, account, service_day) VALUES "
	    "(?,?,?,?,nullif(?, 0),?,?,?,?,?,?)")) ||
	    prep(j, &j->get_card, "SELECT par FROM cards WHERE token = ?") ||
	    /* A card is written when its least PAR changes: most taps leave
	     * its row (and page) alone, and a card that never showed one has
	     * none (older files hold rows with a NULL PAR: alike). */
	    prep(j, &j->up_card, "INSERT INTO cards VALUES (?, ?) "
	    "ON CONFLICT(token) DO UPDATE SET par = excluded.par WHERE "
	    "excluded.par IS NOT NULL AND (cards.par IS NULL OR "
	    "excluded.par < cards.par)") ||
	    prep(j, &j->sel_par_taps, "SELECT time_utc, network_id, stop_id, "
	    "kind FROM taps WHERE token IN (SELECT token FROM cards WHERE "
	    "par = ?1) AND time_utc >= ?2 ORDER BY time_utc, tap_id") ||
	    prep(j, &j->sel_tok_taps, "SELECT time_utc, network_id, stop_id, "
	    "kind FROM taps WHERE token = ?1 AND time_utc >= ?2 "
	    "ORDER BY time_utc, tap_id") ||
	    prep(j, &j->par_before, "SELECT EXISTS (SELECT 1 FROM taps WHERE "
	    "token IN (SELECT token FROM cards WHERE par = ?1) AND "
	    "time_utc < ?2)") ||
	    prep(j, &j->tok_before, "SELECT EXISTS (SELECT 1 FROM taps WHERE "
	    "token = ?1 AND time_utc < ?2)") ||
	    prep(j, &j->card_day_count, "SELECT count(*) FROM taps WHERE "
	    "token = ? AND time_utc > ? AND time_utc <= ?") ||
	    prep(j, &j->card_state, "SELECT (SELECT par FROM cards WHERE "
	    "token = ?1), EXISTS (SELECT 1 FROM taps WHERE token = ?1)");
}

int
journal_exec(struct journal *j, const char *sql)
{
	return sqlite3_exec(j->db, sql, NULL, NULL, NULL);
}


struct journal *
journal_open(const char *path, int synchronous_full, int cache_kib,
    char *err, size_t errlen)
{
	struct journal *j = calloc(1, sizeof *j);
	char pragma[256];

	if (j == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (sqlite3_open_v2(path, &j->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, j->db ?
		    sqlite3_errmsg(j->db) : "cannot open");
		goto fail;
	}
	/* A page cache of cache_kib: the writer's working set (indexes of
	 * taps, legs, charges, ledger) stays in memory instead of being read
	 * back from the OS on every batch.  secure_delete: a deleted row's
	 * bytes are overwritten in the file, not left in a free page
	 * (Debian's SQLite is built with it on; other builds are not). */
	/* The busy timeout first: switching to WAL needs a moment alone
	 * with the file (a reader, the sqlite3 shell, may hold it). */
	snprintf(pragma, sizeof pragma, "PRAGMA busy_timeout=5000; "
	    "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s; "
	    "PRAGMA cache_size=-%d; PRAGMA temp_store=MEMORY; "
	    "PRAGMA secure_delete=ON;",
	    synchronous_full ? "FULL" : "NORMAL", cache_kib);
	if (journal_exec(j, pragma) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(j->db));
		goto fail;
	}
	if (store_schema(j->db, schema, path, err, errlen) == -1 ||
	    refused_columns(j, err, errlen) == -1)
		goto fail;
	if (prepare_all(j, 0) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(j->db));
		goto fail;
	}
	return j;
fail:
	journal_close(j);
	return NULL;
}

struct journal *
journal_open_ro(const char *path, char *err, size_t errlen)
{
	struct journal *j = calloc(1, sizeof *j);

	if (j == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (sqlite3_open_v2(path, &j->db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK || sqlite3_busy_timeout(j->db, 5000) != SQLITE_OK ||
	    prepare_all(j, 1) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, j->db ?
		    sqlite3_errmsg(j->db) : "cannot open");
		journal_close(j);
		return NULL;
	}
	return j;
}

void
journal_close(struct journal *j)
{
	size_t i;

	if (j == NULL)
		return;
	sqlite3_stmt *all[] = {j->ins_tap, j->get_tap, j->ins_refused,
	    j->get_card, j->up_card, j->sel_par_taps, j->sel_tok_taps,
	    j->par_before, j->tok_before,
	    j->card_day_count, j->card_state};
	for (i = 0; i < sizeof all / sizeof all[0]; i++)
		sqlite3_finalize(all[i]);
	sqlite3_close_v2(j->db);
	free(j);
}

sqlite3 *
journal_db(struct journal *j)
{
	return j->db;
}

/* Whether the card already has its day's worth of taps around x. */
static int
card_flooding(struct journal *j, const struct jtap *x)
{
	sqlite3_stmt *s = j->card_day_count;
	int64_t n = 0;

	sqlite3_bind_text(s, 1, x->token, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, x->time_utc - 86400);
	sqlite3_bind_int64(s, 3, x->time_utc);
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return n >= LIMIT_CARD_TAPS_PER_DAY;
}

static int
tap_stored(struct journal *j, const char *tap_id)
{
	sqlite3_stmt *g = j->get_tap;
	int stored;

	sqlite3_bind_text(g, 1, tap_id, -1, SQLITE_STATIC);
	stored = sqlite3_step(g) == SQLITE_ROW;
	sqlite3_reset(g);
	return stored;
}

/* A resend: the same content is acknowledged again, not stored. */
static enum refusal
check_resend(struct journal *j, const struct jtap *x)
{
	sqlite3_stmt *s = j->get_tap;
	enum refusal why = REFUSAL_NONE;

	sqlite3_bind_text(s, 1, x->tap_id, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW &&
	    (strcmp((const char *)sqlite3_column_text(s, 0), x->device_id) ||
	    sqlite3_column_int64(s, 1) != x->time_utc ||
	    strcmp((const char *)sqlite3_column_text(s, 2), x->token) ||
	    strcmp((const char *)sqlite3_column_text(s, 3), x->par) ||
	    strcmp((const char *)sqlite3_column_text(s, 4), x->network_id) ||
	    strcmp((const char *)sqlite3_column_text(s, 5), x->stop_id) ||
	    strcmp((const char *)sqlite3_column_text(s, 6), kinds[x->kind])))
		why = REFUSAL_CONFLICTING_RESEND;
	sqlite3_reset(s);
	return why;
}

enum refusal
journal_store_tap(struct journal *j, const struct jtap *x)
{
	/* A resend of a stored tap is still acknowledged. */
	if (card_flooding(j, x) && !tap_stored(j, x->tap_id))
		return REFUSAL_FLOOD;
	return journal_store_tap_below_flood(j, x);
}

enum refusal
journal_store_tap_below_flood(struct journal *j, const struct jtap *x)
{
	sqlite3_stmt *s = j->ins_tap;
	int rc;

	assert(x->kind < 2);
	sqlite3_bind_text(s, 1, x->tap_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, x->device_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)x->seq);
	sqlite3_bind_int64(s, 4, x->time_utc);
	sqlite3_bind_text(s, 5, x->token, -1, SQLITE_STATIC);
	if (x->par[0] != '\0')
		sqlite3_bind_text(s, 6, x->par, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 6);
	sqlite3_bind_text(s, 7, x->network_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 8, x->stop_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 9, kinds[x->kind], -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 10, x->received_utc);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return REFUSAL_STORE;
	if (sqlite3_changes(j->db) == 1)
		return REFUSAL_NONE;
	return check_resend(j, x);
}

/* Text where known, else NULL. */
static void
bind_known(sqlite3_stmt *s, int col, const char *v)
{
	if (*v != '\0')
		sqlite3_bind_text(s, col, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, col);
}

int
journal_store_refused(struct journal *j, const struct jtap *x,
    enum refusal why)
{
	sqlite3_stmt *s = j->ins_refused;
	char detail[sizeof x->detail * 4];

	assert(why > REFUSAL_NONE && why < REFUSAL_MAX);
	/* Whatever a validator sent: control characters (ANSI escapes)
	 * shown as \xNN, digit runs of a PAN's length masked (SPEC §6). */
	store_clean_text(x->detail, detail, sizeof detail);
	sqlite3_bind_int64(s, 1, x->received_utc);
	sqlite3_bind_text(s, 2, x->device_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, refusal_name(why), -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, detail, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 5, (sqlite3_int64)x->seq);
	bind_known(s, 6, x->tap_id);
	if (x->has_time)
		sqlite3_bind_int64(s, 7, x->time_utc);
	else
		sqlite3_bind_null(s, 7);
	bind_known(s, 8, x->network_id);
	bind_known(s, 9, x->stop_id);
	bind_known(s, 10, x->account);
	bind_known(s, 11, x->service_day);
	return store_step_done(s);
}

/* The account of the card whose PAR (or NULL) is column 0 of s's row. */
static int
card_row_account(sqlite3_stmt *s, int has_row, const char *token,
    struct account_key *a)
{
	if (!has_row || sqlite3_column_type(s, 0) == SQLITE_NULL ||
	    account_from(a, ACCOUNT_PAR,
	    (const char *)sqlite3_column_text(s, 0)) == -1) {
		(void)account_from(a, ACCOUNT_TOKEN, token);
		return 0;
	}
	return 1;
}

void
journal_card_state(struct journal *j, const char *token, char *out,
    size_t len, int *fresh)
{
	sqlite3_stmt *s = j->card_state;
	struct account_key a;
	int row, par;

	sqlite3_bind_text(s, 1, token, -1, SQLITE_STATIC);
	row = sqlite3_step(s) == SQLITE_ROW;
	par = card_row_account(s, row, token, &a);
	/* Unknown (a failed step) counts as not fresh: read it back. */
	*fresh = row && !par && sqlite3_column_int(s, 1) == 0;
	sqlite3_reset(s);
	account_format(&a, out, len);
}

void
journal_card_account(struct journal *j, const char *token, char *out,
    size_t len)
{
	sqlite3_stmt *s = j->get_card;

	struct account_key a;

	sqlite3_bind_text(s, 1, token, -1, SQLITE_STATIC);
	(void)card_row_account(s, sqlite3_step(s) == SQLITE_ROW, token, &a);
	sqlite3_reset(s);
	account_format(&a, out, len);
}

int
journal_update_card(struct journal *j, const struct jtap *x)
{
	sqlite3_stmt *s = j->up_card;

	if (x->par[0] == '\0')
		return 0;
	sqlite3_bind_text(s, 1, x->token, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, x->par, -1, SQLITE_STATIC);
	return store_step_done(s);
}

int
journal_account_taps(struct journal *j, const char *account, int64_t since,
    int (*fn)(const struct journal_tap *, void *), void *arg)
{
	struct account_key a;
	sqlite3_stmt *s;
	struct journal_tap t;
	int rc = 0;

	if (account_parse(&a, account) == -1)
		return -1;
	s = a.kind == ACCOUNT_PAR ? j->sel_par_taps : j->sel_tok_taps;
	sqlite3_bind_text(s, 1, a.id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 2, since);
	while (rc == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		t.time_utc = sqlite3_column_int64(s, 0);
		t.network_id = (const char *)sqlite3_column_text(s, 1);
		t.stop_id = (const char *)sqlite3_column_text(s, 2);
		t.out = tap_parse_kind((const char *)sqlite3_column_text(s,
		    3)) == 1;
		rc = fn(&t, arg) == -1 ? -1 : 0;
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
journal_account_has_taps_before(struct journal *j, const char *account,
    int64_t before)
{
	struct account_key a;
	sqlite3_stmt *s;
	int rc;

	if (account_parse(&a, account) == -1)
		return -1;
	s = a.kind == ACCOUNT_PAR ? j->par_before : j->tok_before;
	sqlite3_bind_text(s, 1, a.id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 2, before);
	rc = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) != 0 :
	    -1;
	sqlite3_reset(s);
	return rc;
}

int64_t
journal_changes(struct journal *j)
{
	return sqlite3_total_changes64(j->db);
}

int
journal_seq_gaps(sqlite3 *db, int (*fn)(const char *device_id,
    int64_t gaps, int64_t missing, int64_t first_after, void *), void *arg,
    int64_t *jumps)
{
	sqlite3_stmt *s;
	int rc, has_seq;
	char sql[1024];

	*jumps = 0;
	/* Refused taps used their numbers too (older files: not kept). */
	if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info("
	    "'refused') WHERE name = 'seq'", -1, &s, NULL) != SQLITE_OK)
		return -1;
	has_seq = sqlite3_step(s) == SQLITE_ROW;
	sqlite3_finalize(s);
	/* Gaps up to JOURNAL_SEQ_JUMP per validator, then the jumps. */
	snprintf(sql, sizeof sql, "WITH s AS (SELECT device_id, seq FROM taps "
	    "%s), g AS (SELECT device_id, seq, lag(seq) OVER (PARTITION BY "
	    "device_id ORDER BY seq) AS prev FROM s) SELECT device_id, "
	    "count(*), sum(seq - prev - 1), min(prev), 0 FROM g WHERE seq - "
	    "prev > 1 AND seq - prev - 1 <= %lld GROUP BY device_id UNION ALL "
	    "SELECT NULL, 0, 0, 0, count(*) FROM g WHERE seq - prev - 1 > %lld "
	    "ORDER BY 1", has_seq ? "UNION SELECT device_id, seq FROM refused "
	    "WHERE seq IS NOT NULL" : "", (long long)JOURNAL_SEQ_JUMP,
	    (long long)JOURNAL_SEQ_JUMP);
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (sqlite3_column_type(s, 0) == SQLITE_NULL) {
			*jumps = sqlite3_column_int64(s, 4);
			continue;
		}
		if (fn((const char *)sqlite3_column_text(s, 0),
		    sqlite3_column_int64(s, 1), sqlite3_column_int64(s, 2),
		    sqlite3_column_int64(s, 3), arg) == -1)
			break;
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}
