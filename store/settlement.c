/*
 * Settlement's tables and the statements the writer thread runs on them.
 * The settlement thread (engine/settle.c) writes them on its own
 * connection.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static const char schema[] =
"CREATE TABLE IF NOT EXISTS settlements (id INTEGER PRIMARY KEY,"
"  idem_key TEXT NOT NULL UNIQUE, account TEXT NOT NULL,"
"  service_day TEXT NOT NULL, kind TEXT NOT NULL,"
"  amount_cents INTEGER NOT NULL, state TEXT NOT NULL,"
"  debt_id INTEGER, attempts INTEGER NOT NULL DEFAULT 0,"
"  created_utc INTEGER NOT NULL, decided_utc INTEGER, result TEXT);"
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
"CREATE INDEX IF NOT EXISTS debts_due ON debts(state, next_retry_utc);"
"DROP VIEW IF EXISTS v_charges;"
"CREATE VIEW v_charges AS SELECT c.account, c.service_day,"
"  c.charge_cents, (c.charge_cents = coalesce((SELECT sum(s.amount_cents)"
"    FROM settlements s WHERE s.account = c.account AND"
"    s.service_day = c.service_day AND s.state = 'approved'), 0)"
"    AND (c.charge_cents = 0 OR EXISTS (SELECT 1"
"    FROM settlements s WHERE s.account = c.account AND"
"    s.service_day = c.service_day AND s.state = 'approved'))) AS settled"
"  FROM charges c;"
"CREATE VIEW IF NOT EXISTS v_settlements AS SELECT id, idem_key, account,"
"  service_day, kind, amount_cents, state, attempts,"
"  strftime('%Y-%m-%dT%H:%M:%SZ', created_utc, 'unixepoch') AS created_utc,"
"  strftime('%Y-%m-%dT%H:%M:%SZ', decided_utc, 'unixepoch') AS decided_utc,"
"  result FROM settlements;"
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

int
settlement_schema(sqlite3 *db, char *err, size_t errlen)
{
	return store_schema(db, schema, "settlement", err, errlen);
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
	    "AND last_try_utc <= ?1 - ?3") != SQLITE_OK) {
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
settlement_debt_due(struct settlement *st, const char *account, int64_t now,
    int64_t gap_s)
{
	sqlite3_stmt *s = st->debt_tap;

	sqlite3_bind_int64(s, 1, now);
	sqlite3_bind_text(s, 2, account, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, gap_s);
	return store_step_done(s);
}
