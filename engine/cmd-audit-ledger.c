/*
 * fare-engine audit: the proofs of the ledger (SPEC §6 "Proof against an
 * insider").
 *
 *   audit keygen KEY       an ECDSA P-256 ledger key: KEY (0600) and
 *                          KEY.pub.
 *   audit checkpoint DB --key KEY [--clock RFC3339]
 *                          prints one signed checkpoint line of the
 *                          ledger as it stands.
 *   audit verify DB... [--checkpoints FILE[,FILE...] --pubkey KEY.pub]
 *                          the chain, the balances, postings against
 *                          charges, every closed account-day repriced
 *                          from its taps with its tariff version, gaps in
 *                          validators' sequence numbers (warnings), and
 *                          the checkpoints; exit 0, or 1 naming each
 *                          problem.  Several databases (or a
 *                          directory of them) are a cluster's shards:
 *                          each verified with its own checkpoints (the
 *                          files in the same order), then across them.
 *   audit reconcile DB|DIR REPORT... [--day YYYY-MM-DD]
 *                          the engine's settlements (or those of every
 *                          shard database in DIR) against the
 *                          acquirer's settlement reports (CSV).
 *
 * All read the database read-only, so they run beside the engine.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "checkpoint.h"
#include "cmd.h"
#include "explain.h"
#include "journal.h"
#include "jsbus.h"
#include "ledger.h"
#include "opt.h"
#include "parse.h"
#include "reconcile.h"
#include "tariff-version.h"
#include "reprice.h"
#include "shards.h"
#include "store.h"
#include "tap.h"

int
cmd_audit_keygen(int argc, char **argv)
{
	static const struct opt_cmd cmd = {"fare-engine audit keygen", "KEY",
	    1, 1, "Makes the ledger's ECDSA P-256 key pair: the private key in "
	    "KEY (mode 0600,\nnever overwritten), the public key in KEY.pub.  "
	    "The engine signs checkpoints\nwith KEY (ledger_key_file); "
	    "auditors check them with KEY.pub."};
	const struct opt o[] = {{.name = NULL}};
	struct checkpoint_key *k;
	char err[512], pub[4096];
	int first, rc;

	if ((rc = opt_parse(&cmd, o, argc, argv, &first)) != OPT_RUN)
		return rc;
	if (checkpoint_keygen(argv[first], err, sizeof err) == -1) {
		fprintf(stderr, "fare-engine: %s\n", err);
		return 1;
	}
	snprintf(pub, sizeof pub, "%s.pub", argv[first]);
	if ((k = checkpoint_key_load(pub, 0, err, sizeof err)) == NULL) {
		fprintf(stderr, "fare-engine: %s\n", err);
		return 1;
	}
	printf("ledger key %s: private key %s (mode 0600: keep it off the "
	    "database host), public key %s (for operators, the acquirer and "
	    "auditors)\n", checkpoint_key_id(k), argv[first], pub);
	checkpoint_key_free(k);
	return 0;
}

int
cmd_audit_checkpoint(int argc, char **argv)
{
	static const struct opt_cmd cmd = {"fare-engine audit checkpoint",
	    "DB", 1, 1, "Prints one signed checkpoint line of the ledger of "
	    "DB as it stands (entry\ncount, head hash, time), signed with "
	    "the ledger key; append it to the\ncheckpoints that operators, "
	    "the acquirer and auditors keep."};
	const char *keyfile = NULL;
	char line[CHECKPOINT_LINE_MAX], err[512];
	struct checkpoint_key *k;
	struct checkpoint c;
	int64_t now = (int64_t)time(NULL);
	sqlite3 *db;
	int first, rc = 1;
	const struct opt o[] = {
		{.name = "key", .kind = OPT_STR, .dst = &keyfile, .arg = "KEY",
		    .help = "the ledger's private key", .flags = OPT_REQUIRED},
		{.name = "clock", .kind = OPT_TIME, .dst = &now,
		    .arg = "RFC3339", .help = "the time to sign (default now)"},
		{.name = NULL},
	};

	if ((rc = opt_parse(&cmd, o, argc, argv, &first)) != OPT_RUN)
		return rc;
	rc = 1;
	if ((k = checkpoint_key_load(keyfile, 1, err, sizeof err)) == NULL) {
		fprintf(stderr, "fare-engine: %s\n", err);
		return 1;
	}
	if ((db = store_open_ro(argv[first])) == NULL) {
		checkpoint_key_free(k);
		return 1;
	}
	if (checkpoint_head(db, &c) == -1)
		fprintf(stderr, "fare-engine: %s: no ledger: %s\n",
		    argv[first], sqlite3_errmsg(db));
	else {
		c.time_utc = now;
		if (checkpoint_sign(k, &c, line, sizeof line, err, sizeof err)
		    == -1)
			fprintf(stderr, "fare-engine: %s\n", err);
		else {
			printf("%s\n", line);
			rc = 0;
		}
	}
	sqlite3_close(db);
	checkpoint_key_free(k);
	return rc;
}

/* Prints one validator's gaps as a warning. */
static int
gap_cb(const char *device, int64_t gaps, int64_t missing, int64_t after,
    void *arg)
{
	int64_t *n = arg;

	printf("warning: validator %s: %lld gap%s in its sequence numbers, "
	    "%lld number%s missing (the first after %lld): deleted taps?\n",
	    device, (long long)gaps, gaps == 1 ? "" : "s", (long long)missing,
	    missing == 1 ? "" : "s", (long long)after);
	n[0]++;
	n[1] += missing;
	return 0;
}

/* The verdict of audit verify, with what was proved. */
static int
verify_report(const char *path, sqlite3 *db, size_t bad,
    const struct reprice_stats *rs, size_t ncp, int64_t latest,
    const char *key_id)
{
	long long entries = 0, txns = 0;
	sqlite3_stmt *s;

	if (sqlite3_prepare_v2(db, "SELECT count(*), count(DISTINCT txn_id) "
	    "FROM ledger", -1, &s, NULL) == SQLITE_OK) {
		if (sqlite3_step(s) == SQLITE_ROW) {
			entries = sqlite3_column_int64(s, 0);
			txns = sqlite3_column_int64(s, 1);
		}
		sqlite3_finalize(s);
	}
	if (bad > 0) {
		printf("%s: ledger NOT sound: %zu problem%s\n", path, bad,
		    bad == 1 ? "" : "s");
		return 1;
	}
	printf("%s: ledger sound: %lld entries in %lld balanced transactions, "
	    "hash chain intact, postings equal charges and revenue, "
	    "collections equal settlements and debts; %zu closed account-days "
	    "repriced from their taps with their tariff versions (legs, "
	    "charges and shares equal)", path, entries, txns, rs->repriced);
	if (rs->unversioned > 0)
		printf(", %zu priced before tariff versions were kept (not "
		    "repriced)", rs->unversioned);
	if (rs->open_legs > 0)
		printf(", %zu with legs still open (not final)", rs->open_legs);
	if (key_id != NULL && latest < entries)
		printf("; %zu checkpoint%s signed by ledger key %s hold: the "
		    "ledger extends the latest (%lld entries; the %lld after "
		    "it are in no checkpoint yet)\n", ncp, ncp == 1 ? "" : "s",
		    key_id, (long long)latest, (long long)(entries - latest));
	else if (key_id != NULL)
		printf("; %zu checkpoint%s signed by ledger key %s hold: the "
		    "ledger extends the latest (%lld entries)\n", ncp,
		    ncp == 1 ? "" : "s", key_id, (long long)latest);
	else
		printf("; no checkpoints given: a rewrite of the whole file "
		    "would not show\n");
	return 0;
}

/*
 * Across shard databases (cluster mode): no tap stored on two shards, no
 * account charged on two, no card with taps on two (a card is priced
 * whole under one account, SPEC §3: on two shards it is two accounts).  Attaches them all to one in-memory database
 * (SQLite attaches at most 10 by default; checked by the caller).  The
 * number of problems found (each printed), or -1 on an SQLite error.
 */
static long
verify_across(char **paths, int n)
{
	char sql[4096], u[3][3000];
	size_t ul[3] = {0, 0, 0};
	static const char *const what[3][2] = {{"tap", "stored"},
	    {"account", "charged"}, {"card", "priced"}};
	sqlite3 *db;
	sqlite3_stmt *s;
	long bad = 0;
	int i, k;

	if (sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_URI, NULL) !=
	    SQLITE_OK)
		return -1;
	for (i = 0; i < n; i++) {
		char *a = sqlite3_mprintf("ATTACH 'file:%q?mode=ro' AS s%d",
		    paths[i], i);
		int rc = sqlite3_exec(db, a, NULL, NULL, NULL);
		sqlite3_free(a);
		if (rc != SQLITE_OK) {
			fprintf(stderr, "fare-engine: audit verify: %s: %s\n",
			    paths[i], sqlite3_errmsg(db));
			sqlite3_close(db);
			return -1;
		}
		ul[0] += (size_t)snprintf(u[0] + ul[0], sizeof u[0] - ul[0],
		    "%sSELECT tap_id FROM s%d.taps", i ? " UNION ALL " : "", i);
		ul[1] += (size_t)snprintf(u[1] + ul[1], sizeof u[1] - ul[1],
		    "%sSELECT DISTINCT account, %d AS shard FROM s%d.charges",
		    i ? " UNION ALL " : "", i, i);
		ul[2] += (size_t)snprintf(u[2] + ul[2], sizeof u[2] - ul[2],
		    "%sSELECT DISTINCT token, %d AS shard FROM s%d.taps",
		    i ? " UNION ALL " : "", i, i);
	}
	for (k = 0; k < 3; k++) {
		if (k == 0)
			snprintf(sql, sizeof sql, "SELECT tap_id, count(*) FROM "
			    "(%s) GROUP BY tap_id HAVING count(*) > 1 LIMIT 20",
			    u[0]);
		else
			snprintf(sql, sizeof sql, "SELECT a, count(DISTINCT "
			    "shard) FROM (SELECT %s AS a, shard FROM (%s)) "
			    "GROUP BY a HAVING count(DISTINCT shard) > 1 LIMIT "
			    "20", k == 1 ? "account" : "token", u[k]);
		if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
			fprintf(stderr, "fare-engine: audit verify: %s\n",
			    sqlite3_errmsg(db));
			sqlite3_close(db);
			return -1;
		}
		while (sqlite3_step(s) == SQLITE_ROW) {
			printf("%s %s %s on %d shards\n", what[k][0],
			    (const char *)sqlite3_column_text(s, 0),
			    what[k][1], sqlite3_column_int(s, 1));
			bad++;
		}
		sqlite3_finalize(s);
	}
	sqlite3_close(db);
	return bad;
}

/*
 * The shards given are the cluster's, whole: each database's
 * shard_identity (written by its worker: shard K of N) names a
 * different K of one N, every K of 0..N-1 is there, and every account
 * charged on shard K hashes to K (jsbus_shard).  Databases without the
 * table (a gateway's, or a shard whose worker has not run since it was
 * added) are named when others have it.  The number of problems found
 * (each printed), or -1 on an SQLite error.
 */
static long
verify_layout(char **paths, int n)
{
	long k[SHARDS_AUDIT_MAX], nn[SHARDS_AUDIT_MAX], shards = -1, bad = 0;
	int i, j, have = 0;

	for (i = 0; i < n; i++) {
		sqlite3 *db = NULL;
		sqlite3_stmt *s = NULL;
		char *uri = sqlite3_mprintf("file:%s?mode=ro", paths[i]);
		k[i] = nn[i] = -1;
		if (uri == NULL || sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY |
		    SQLITE_OPEN_URI, NULL) != SQLITE_OK) {
			fprintf(stderr, "fare-engine: audit verify: %s: %s\n",
			    paths[i], db != NULL ? sqlite3_errmsg(db) :
			    "cannot open");
			sqlite3_free(uri);
			sqlite3_close(db);
			return -1;
		}
		sqlite3_free(uri);
		sqlite3_busy_timeout(db, 5000);
		if (sqlite3_prepare_v2(db, "SELECT shard, shards FROM "
		    "shard_identity LIMIT 1", -1, &s, NULL) == SQLITE_OK &&
		    sqlite3_step(s) == SQLITE_ROW) {
			k[i] = sqlite3_column_int64(s, 0);
			nn[i] = sqlite3_column_int64(s, 1);
			have++;
		}
		sqlite3_finalize(s);
		/* Every account charged here belongs here. */
		if (k[i] >= 0 && nn[i] > 0 && sqlite3_prepare_v2(db, "SELECT "
		    "DISTINCT account FROM charges", -1, &s, NULL) ==
		    SQLITE_OK) {
			long wrong = 0;
			const char *first = NULL;
			char acc[ACCOUNT_TEXT_MAX] = "";
			while (sqlite3_step(s) == SQLITE_ROW) {
				first = (const char *)sqlite3_column_text(s, 0);
				if (jsbus_shard(first, (unsigned)nn[i]) !=
				    (unsigned)k[i] && wrong++ == 0)
					snprintf(acc, sizeof acc, "%s", first);
			}
			if (wrong > 0) {
				printf("%s: %ld account%s charged on shard %ld "
				    "of %ld that belong%s to another (%s)\n",
				    paths[i], wrong, wrong == 1 ? "" : "s",
				    k[i], nn[i], wrong == 1 ? "s" : "", acc);
				bad++;
			}
		}
		sqlite3_finalize(s);
		sqlite3_close(db);
	}
	if (have == 0)
		return bad;
	for (i = 0; i < n; i++) {
		if (k[i] < 0) {
			printf("%s: not a worker's shard database (no "
			    "shard_identity: a gateway's?)\n", paths[i]);
			bad++;
			continue;
		}
		if (shards < 0)
			shards = nn[i];
		else if (nn[i] != shards) {
			printf("%s: shard %ld of %ld, but another database is "
			    "of %ld shards\n", paths[i], k[i], nn[i], shards);
			bad++;
		}
		for (j = 0; j < i; j++)
			if (k[j] == k[i] && nn[j] == nn[i]) {
				printf("%s: shard %ld of %ld given twice (also "
				    "%s)\n", paths[i], k[i], nn[i], paths[j]);
				bad++;
			}
	}
	for (j = 0; shards > 0 && j < shards; j++) {
		for (i = 0; i < n && !(k[i] == j && nn[i] == shards); i++)
			;
		if (i == n) {
			printf("shard %d of %ld not given: the totals miss its "
			    "accounts\n", j, shards);
			bad++;
		}
	}
	return bad;
}

/* The gap warnings of the taps in db (one database, or the shards'
 * union), labelled with path. */
static void
verify_gaps(const char *path, sqlite3 *db)
{
	int64_t gaps[2] = {0, 0}, jumps = 0;

	if (journal_seq_gaps(db, gap_cb, gaps, &jumps) == -1)
		printf("warning: sequence numbers not checked: %s\n",
		    sqlite3_errmsg(db));
	if (gaps[0] > 0)
		printf("%s: %lld validator%s with gaps in their sequence "
		    "numbers, %lld number%s missing (warnings)\n", path,
		    (long long)gaps[0], gaps[0] == 1 ? "" : "s",
		    (long long)gaps[1], gaps[1] == 1 ? "" : "s");
	if (jumps > 0)
		printf("%s: %lld jump%s of more than %d sequence numbers (a "
		    "validator renumbered; not counted as gaps)\n", path,
		    (long long)jumps, jumps == 1 ? "" : "s", JOURNAL_SEQ_JUMP);
}

/* One database, as audit verify checks it: 0 sound, 1 not.  A shard's
 * gaps are not its own (a validator's taps go to every shard): gaps 0
 * leaves them to the caller. */
static int
verify_db(const char *path, const char *cpfile, struct checkpoint_key *pub,
    int gaps)
{
	struct reprice_stats rs;
	int64_t latest = -1;
	size_t bad, ncp = 0;
	sqlite3 *db;
	int rc;

	if ((db = store_open_ro(path)) == NULL)
		return 1;
	bad = ledger_verify(db, stdout);
	bad += reprice_verify(path, db, stdout, &rs);
	if (pub != NULL)
		bad += checkpoint_verify_file(db, pub, cpfile, stdout, &ncp,
		    &latest);
	rc = verify_report(path, db, bad, &rs, ncp, latest,
	    pub != NULL ? checkpoint_key_id(pub) : NULL);
	if (gaps)
		verify_gaps(path, db);
	sqlite3_close(db);
	return rc;
}

int
cmd_audit_verify(int argc, char **argv)
{
	static const struct opt_cmd cmd = {"fare-engine audit verify",
	    "DB...", 1, SHARDS_AUDIT_MAX, "Proves the ledger of database DB "
	    "sound: every transaction sums to 0, the hash\nchain is intact, "
	    "nothing removed or reordered, postings equal charges and\nshares, "
	    "collected and owed equal settlements and debts, and every "
	    "closed\naccount-day repriced from its taps with its tariff version "
	    "gives its legs,\ncharge and shares; warns of gaps in validators' "
	    "sequence numbers.  With\n--checkpoints and --pubkey: every "
	    "checkpoint is signed by the ledger key and\nthe ledger extends "
	    "each.  Several databases (or a directory of *.db) are the "
	    "shards of a\ncluster (at most 10): each is verified, with its "
	    "own checkpoint file (the\n--checkpoints files comma-separated, "
	    "in the databases' order), then no tap\nand no account may be on "
	    "two of them.  Exit 0, or 1 naming each problem."};
	const char *cpfile = NULL, *pubfile = NULL;
	struct checkpoint_key *pub = NULL;
	struct shard_paths sp;
	char err[512], *cps = NULL, *cp[SHARDS_AUDIT_MAX];
	long across = 0;
	int first, rc, i, bad = 0, n, ncp = 0;
	const struct opt o[] = {
		{.name = "checkpoints", .kind = OPT_STR, .dst = &cpfile,
		    .arg = "FILE", .help = "signed checkpoints, one a line"},
		{.name = "pubkey", .kind = OPT_STR, .dst = &pubfile,
		    .arg = "KEY.pub", .help = "the ledger's public key"},
		{.name = NULL},
	};

	if ((rc = opt_parse(&cmd, o, argc, argv, &first)) != OPT_RUN)
		return rc;
	if ((cpfile == NULL) != (pubfile == NULL))
		return opt_fail(&cmd, "--checkpoints and --pubkey go together");
	if (shard_paths(argv + first, argc - first, &sp, err, sizeof err) ==
	    -1) {
		fprintf(stderr, "fare-engine: audit verify: %s\n", err);
		return 1;
	}
	n = sp.n;
	/* One checkpoint file per shard: each worker signs its own. */
	if (cpfile != NULL && (cps = strdup(cpfile)) != NULL) {
		char *save = NULL, *f;
		for (f = strtok_r(cps, ",", &save); f != NULL && ncp <
		    SHARDS_AUDIT_MAX; f = strtok_r(NULL, ",", &save))
			cp[ncp++] = f;
	}
	if (cpfile != NULL && ncp != n) {
		free(cps);
		shard_paths_free(&sp);
		return opt_fail(&cmd, "--checkpoints: %d file%s for %d "
		    "database%s (one per shard, comma-separated, in the "
		    "databases' order)", ncp, ncp == 1 ? "" : "s", n,
		    n == 1 ? "" : "s");
	}
	if (pubfile != NULL && (pub = checkpoint_key_load(pubfile, 0, err,
	    sizeof err)) == NULL) {
		fprintf(stderr, "fare-engine: %s\n", err);
		free(cps);
		shard_paths_free(&sp);
		return 1;
	}
	for (i = 0; i < n; i++)
		bad += verify_db(sp.path[i], cpfile != NULL ? cp[i] : NULL,
		    pub, n == 1) != 0;
	checkpoint_key_free(pub);
	free(cps);
	if (n > 1) {	/* the validators' numbers over all the shards */
		static const char *const names[] = {"taps", "refused"};
		sqlite3 *u = shards_union(&sp, names, 2, err, sizeof err);
		char label[32];
		snprintf(label, sizeof label, "%d shards", n);
		if (u == NULL)
			printf("warning: sequence numbers not checked: %s\n",
			    err);
		else
			verify_gaps(label, u);
		sqlite3_close(u);
	}
	if (n > 1 && (across = verify_across(sp.path, n)) >= 0) {
		long l = verify_layout(sp.path, n);
		across = l < 0 ? l : across + l;
	}
	if (n > 1 && across != 0) {
		if (across > 0)
			printf("%d shards: %ld problem%s across shards\n", n,
			    across, across == 1 ? "" : "s");
		shard_paths_free(&sp);
		return 1;
	}
	if (n > 1 && bad == 0)
		printf("%d shards: all sound; no tap, no account and no card "
		    "on two shards%s\n", n, pubfile != NULL ? "; each shard's "
		    "checkpoints hold" : "");
	shard_paths_free(&sp);
	return bad > 0 ? 1 : 0;
}

int
cmd_audit_reconcile(int argc, char **argv)
{
	static const struct opt_cmd cmd = {"fare-engine audit reconcile",
	    "DB|DIR REPORT.csv...", 2, 100000, "Compares the settlements of "
	    "database DB (the first operand) that the acquirer\ndecided "
	    "with the acquirer's settlement reports: a settlement missing on "
	    "either\nside, or a different amount, outcome, account, day or "
	    "reference.  A directory\nDIR: the settlements of all its *.db "
	    "(a cluster's shards) together.  Exit 0,\nor 1 naming each "
	    "difference."};
	static const char *const names[] = {"settlements"};
	struct shard_paths sp;
	char err[512] = "";
	const char *day = NULL;
	char net[MONEY_TEXT_MAX], cur[4];
	struct reconcile_stats st;
	size_t bad;
	sqlite3 *db;
	int first, rc;
	const struct opt o[] = {
		{.name = "day", .kind = OPT_DAY, .dst = &day,
		    .arg = "YYYY-MM-DD", .help = "only this service day"},
		{.name = NULL},
	};

	if ((rc = opt_parse(&cmd, o, argc, argv, &first)) != OPT_RUN)
		return rc;
	if (shard_paths(argv + first, 1, &sp, err, sizeof err) == -1) {
		fprintf(stderr, "fare-engine: audit reconcile: %s\n", err);
		return 1;
	}
	if (sp.n > 1 || strcmp(sp.path[0], argv[first]) != 0)
		db = shards_union(&sp, names, 1, err, sizeof err);
	else
		db = store_open_ro(argv[first]);
	shard_paths_free(&sp);
	if (db == NULL) {
		if (err[0] != '\0')	/* store_open_ro said why */
			fprintf(stderr, "fare-engine: audit reconcile: %s\n",
			    err);
		return 1;
	}
	bad = reconcile_reports(db, (const char *const *)argv + first + 1,
	    (size_t)(argc - first - 1), day, stdout, &st);
	(void)tariff_version_currency(db, cur);
	sqlite3_close(db);
	if (bad > 0) {
		printf("%s: NOT reconciled: %zu difference%s with the "
		    "acquirer's report\n", argv[first], bad,
		    bad == 1 ? "" : "s");
		return 1;
	}
	money_text(cur, st.net_cents, net);
	printf("%s: reconciled%s%s: %zu settlements (%zu approved, %s net) "
	    "equal the acquirer's %zu report rows\n", argv[first],
	    day ? " for " : "", day ? day : "", st.engine, st.approved, net,
	    st.report);
	return 0;
}
