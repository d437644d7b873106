/*
 * fare-engine backup DB DEST: a consistent copy of the engine's database
 * with SQLite's online backup API, safe while the engine runs.
 *
 * The copy is made in one step, inside one read transaction on DB: in WAL
 * mode a reader never blocks the engine's writer, and a single step never
 * restarts when the engine commits meanwhile (several small steps would
 * start over after every commit of another connection).  The copy is what
 * DB held when the step began, WAL included; it is written to DEST.tmp,
 * switched to a rollback journal (one self-contained file), checked with
 * PRAGMA integrity_check, synced, then renamed to DEST.  An existing DEST
 * is never overwritten.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "cmd.h"
#include "opt.h"

/* Paths: Linux's PATH_MAX. */
#define BACKUP_PATH_MAX 4096

/* The first row's text of sql on db into out; -1 on an error. */
static int
one_text(sqlite3 *db, const char *sql, char *out, size_t len)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	rc = sqlite3_step(st);
	snprintf(out, len, "%s",
	    rc == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL
		? (const char *)sqlite3_column_text(st, 0)
		: "");
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* fsync a file or directory by path; -1 with errno. */
static int
sync_path(const char *path, int dir)
{
	int fd =
	    open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDWR) | O_CLOEXEC);
	int rc;

	if (fd == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* The copy into tmp; 0, or -1 after saying why. */
static int
backup_copy(const char *src, const char *tmp, int *pages)
{
	sqlite3 *s = NULL, *d = NULL;
	sqlite3_backup *b;
	char check[256];
	int rc = -1, fd;

	/* The copy is the database: readable by its owner alone, whatever
	 * the umask, and made here (never through a planted link). */
	if ((fd = open(tmp,
		 O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) ==
	    -1) {
		fprintf(stderr, "fare-engine: backup: %s: %s\n", tmp,
		    strerror(errno));
		return -1;
	}
	close(fd);
	if (sqlite3_open_v2(src, &s, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_open_v2(tmp, &d,
		SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW,
		NULL) != SQLITE_OK) {
		fprintf(stderr, "fare-engine: backup: %s\n",
		    s == NULL || sqlite3_errcode(s) != SQLITE_OK
			? sqlite3_errmsg(s)
			: sqlite3_errmsg(d));
		goto out;
	}
	sqlite3_busy_timeout(s, 10000);
	sqlite3_busy_timeout(d, 10000);
	if ((b = sqlite3_backup_init(d, "main", s, "main")) == NULL) {
		fprintf(stderr, "fare-engine: backup: %s\n", sqlite3_errmsg(d));
		goto out;
	}
	rc = sqlite3_backup_step(b, -1);
	*pages = sqlite3_backup_pagecount(b);
	if (sqlite3_backup_finish(b) != SQLITE_OK || rc != SQLITE_DONE) {
		fprintf(stderr, "fare-engine: backup: %s: %s\n", src,
		    sqlite3_errstr(
			rc == SQLITE_DONE ? sqlite3_errcode(d) : rc));
		rc = -1;
		goto out;
	}
	rc = -1;
	if (one_text(d, "PRAGMA journal_mode=DELETE", check, sizeof check) ==
		-1 ||
	    sqlite3_exec(d, "PRAGMA synchronous=FULL", NULL, NULL, NULL) !=
		SQLITE_OK ||
	    one_text(d, "PRAGMA integrity_check", check, sizeof check) == -1) {
		fprintf(stderr, "fare-engine: backup: %s: %s\n", tmp,
		    sqlite3_errmsg(d));
		goto out;
	}
	if (strcmp(check, "ok") != 0) {
		fprintf(stderr,
		    "fare-engine: backup: %s: integrity check: "
		    "%s\n",
		    tmp, check);
		goto out;
	}
	rc = 0;
out:
	sqlite3_close(s);
	if (sqlite3_close(d) != SQLITE_OK) {
		fprintf(stderr, "fare-engine: backup: %s: %s\n", tmp,
		    sqlite3_errmsg(d));
		rc = -1;
	}
	return rc;
}

int
cmd_backup(int argc, char **argv)
{
	static const struct opt_cmd cmd = { "fare-engine backup", "DB DEST", 2,
		2,
		"Copies the engine's database DB to DEST with SQLite's online "
		"backup API: safe\nwhile the engine runs (one read "
		"transaction; "
		"the engine keeps committing).\nDEST is one self-contained "
		"file "
		"(no -wal), checked with PRAGMA integrity_check;\nit must not "
		"exist.  Verify the ledger with: fare-engine audit verify "
		"DEST.\n"
		"To restore: stop the engine, move engine.db and any "
		"engine.db-wal "
		"aside, copy\nDEST to engine.db, start the engine." };
	const struct opt o[] = { { .name = NULL } };
	char tmp[BACKUP_PATH_MAX], dir[BACKUP_PATH_MAX], *slash;
	const char *src, *dst;
	struct stat st;
	int first, rc, pages = 0;

	if ((rc = opt_parse(&cmd, o, argc, argv, &first)) != OPT_RUN)
		return rc;
	src = argv[first];
	dst = argv[first + 1];
	if (src[0] == '\0')
		return opt_fail(&cmd, "DB is empty");
	if (dst[0] == '\0')
		return opt_fail(&cmd, "DEST is empty");
	if (stat(src, &st) == -1) {
		fprintf(stderr, "fare-engine: backup: %s: %s\n", src,
		    strerror(errno));
		return 1;
	}
	if (stat(dst, &st) == 0 && S_ISDIR(st.st_mode)) {
		fprintf(stderr,
		    "fare-engine: backup: %s is a directory; name the "
		    "file to create in it\n",
		    dst);
		return 1;
	}
	if (lstat(dst, &st) == 0) {
		fprintf(stderr,
		    "fare-engine: backup: %s exists; not "
		    "overwritten\n",
		    dst);
		return 1;
	}
	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", dst) >= sizeof tmp)
		return opt_fail(&cmd, "DEST too long");
	unlink(tmp);
	/* backup_copy says why itself (errno is SQLite's leftover then). */
	if (backup_copy(src, tmp, &pages) == -1) {
		unlink(tmp);
		return 1;
	}
	if (sync_path(tmp, 0) == -1 || rename(tmp, dst) == -1) {
		fprintf(stderr, "fare-engine: backup: %s: %s\n", dst,
		    strerror(errno));
		unlink(tmp);
		return 1;
	}
	snprintf(dir, sizeof dir, "%s", dst);
	slash = strrchr(dir, '/');
	if (slash == NULL)
		snprintf(dir, sizeof dir, ".");
	else
		slash[slash == dir ? 1 : 0] = '\0';
	(void)sync_path(dir, 1);
	if (stat(dst, &st) == 0)
		printf("%s: backup of %s: %d pages, %lld bytes, integrity ok; "
		       "check the ledger with: fare-engine audit verify %s\n",
		    dst, src, pages, (long long)st.st_size, dst);
	return 0;
}
