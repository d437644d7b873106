/*
 * Tariff versions in the database (see tariff-version.h): a snapshot of a
 * tariff directory, its content hash, storing it once, and writing it
 * back out for an audit to load.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/sha256.h>

#include "csv.h"
#include "store.h"
#include "tariff-version.h"

struct tariff_file {
	char		 name[256];
	unsigned char	*data;
	size_t		 len;
};

struct tariff_files {
	struct tariff_file	 f[TARIFF_VERSION_FILES_MAX];
	size_t			 n;
	char			 hash[65];
};

static const char schema[] =
"CREATE TABLE IF NOT EXISTS tariff_versions (id INTEGER PRIMARY KEY,"
"  sha256 TEXT NOT NULL UNIQUE, first_used_utc INTEGER NOT NULL);"
"CREATE TABLE IF NOT EXISTS tariff_files (version_id INTEGER NOT NULL,"
"  name TEXT NOT NULL, content BLOB NOT NULL,"
"  PRIMARY KEY (version_id, name)) WITHOUT ROWID;"
"CREATE VIEW IF NOT EXISTS v_tariff_versions AS SELECT v.id, v.sha256,"
"  strftime('%Y-%m-%dT%H:%M:%SZ', v.first_used_utc, 'unixepoch')"
"    AS first_used_utc,"
"  (SELECT count(*) FROM tariff_files f WHERE f.version_id = v.id) AS files,"
"  (SELECT sum(length(content)) FROM tariff_files f"
"    WHERE f.version_id = v.id) AS bytes FROM tariff_versions v;";

int
tariff_version_schema(sqlite3 *db, char *err, size_t errlen)
{
	return store_schema(db, schema, "tariff versions", err, errlen);
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(((const struct tariff_file *)a)->name,
	    ((const struct tariff_file *)b)->name);
}

/* SHA-256 over the files in name order (the rule in the header). */
static int
files_hash(const struct tariff_file *f, size_t n, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	mbedtls_sha256_context c;
	unsigned char h[32];
	char head[300];
	size_t i;
	int rc = 0;

	mbedtls_sha256_init(&c);
	rc |= mbedtls_sha256_starts_ret(&c, 0);
	for (i = 0; i < n; i++) {
		int k = snprintf(head, sizeof head, "%s\n%zu\n", f[i].name,
		    f[i].len);
		rc |= mbedtls_sha256_update_ret(&c, (unsigned char *)head,
		    (size_t)k);
		rc |= mbedtls_sha256_update_ret(&c, f[i].data, f[i].len);
	}
	rc |= mbedtls_sha256_finish_ret(&c, h);
	mbedtls_sha256_free(&c);
	for (i = 0; i < 32; i++) {
		out[2 * i] = hex[h[i] >> 4];
		out[2 * i + 1] = hex[h[i] & 15];
	}
	out[64] = '\0';
	return rc == 0 ? 0 : -1;
}

/* Reads one regular file whole into f; 0 or -1 with err. */
static int
read_one(int dfd, const char *name, struct tariff_file *f, int64_t *total,
    char *err, size_t errlen)
{
	struct stat st;
	size_t off = 0;
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);

	if (fd == -1 || fstat(fd, &st) == -1) {
		if (snprintf(err, errlen, "%s: %s", name, strerror(errno)) >=
		    (int)errlen)
			err[errlen - 1] = '\0';	/* cut: still named */
		if (fd != -1)
			close(fd);
		return -1;
	}
	*total += st.st_size;
	if (*total > TARIFF_VERSION_BYTES_MAX) {
		snprintf(err, errlen, "tariff larger than %lld bytes",
		    (long long)TARIFF_VERSION_BYTES_MAX);
		close(fd);
		return -1;
	}
	snprintf(f->name, sizeof f->name, "%s", name);
	f->len = (size_t)st.st_size;
	if ((f->data = malloc(f->len + 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		close(fd);
		return -1;
	}
	while (off < f->len) {
		ssize_t r = read(fd, f->data + off, f->len - off);
		if (r <= 0) {
			if (snprintf(err, errlen, "%s: %s", name, r == 0 ?
			    "changed while read" : strerror(errno)) >=
			    (int)errlen)
				err[errlen - 1] = '\0';	/* cut */
			close(fd);
			return -1;
		}
		off += (size_t)r;
	}
	close(fd);
	return 0;
}

/* Whether a directory entry is a tariff file: a regular *.txt. */
static int
is_tariff_file(int dfd, const struct dirent *e)
{
	size_t n = strlen(e->d_name);
	struct stat st;

	return n > 4 && n < 256 && strcmp(e->d_name + n - 4, ".txt") == 0 &&
	    fstatat(dfd, e->d_name, &st, 0) == 0 && S_ISREG(st.st_mode);
}

struct tariff_files *
tariff_files_read(const char *dir, char *err, size_t errlen)
{
	struct tariff_files *tf = calloc(1, sizeof *tf);
	struct dirent *e;
	int64_t total = 0;
	DIR *d;

	if (tf == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if ((d = opendir(dir)) == NULL) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		free(tf);
		return NULL;
	}
	while ((e = readdir(d)) != NULL) {
		char why[256];
		if (!is_tariff_file(dirfd(d), e))
			continue;
		if (tf->n == TARIFF_VERSION_FILES_MAX) {
			snprintf(err, errlen, "%s: more than %d files", dir,
			    TARIFF_VERSION_FILES_MAX);
			goto fail;
		}
		if (read_one(dirfd(d), e->d_name, &tf->f[tf->n], &total, why,
		    sizeof why) == -1) {
			snprintf(err, errlen, "%s/%s", dir, why);
			tf->n++;
			goto fail;
		}
		tf->n++;
	}
	closedir(d);
	d = NULL;
	qsort(tf->f, tf->n, sizeof tf->f[0], by_name);
	if (files_hash(tf->f, tf->n, tf->hash) == -1) {
		snprintf(err, errlen, "%s: cannot hash", dir);
		goto fail;
	}
	return tf;
fail:
	if (d != NULL)
		closedir(d);
	tariff_files_free(tf);
	return NULL;
}

void
tariff_files_free(struct tariff_files *tf)
{
	size_t i;

	if (tf == NULL)
		return;
	for (i = 0; i < tf->n; i++)
		free(tf->f[i].data);
	free(tf);
}

const char *
tariff_files_hash(const struct tariff_files *tf)
{
	return tf->hash;
}

/* The id of a stored hash: 1 found, 0 not, -1 error. */
static int
find_version(sqlite3 *db, const char *hash, int64_t *id)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(db, "SELECT id FROM tariff_versions WHERE "
	    "sha256 = ?", -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(s, 1, hash, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*id = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int
tariff_version_store(sqlite3 *db, const struct tariff_files *tf, int64_t now,
    int64_t *id)
{
	sqlite3_stmt *s = NULL;
	size_t i;
	int rc;

	if ((rc = find_version(db, tf->hash, id)) != 0)
		return rc == 1 ? 0 : -1;
	if (sqlite3_exec(db, "SAVEPOINT tariff_version", NULL, NULL, NULL) !=
	    SQLITE_OK)
		return -1;
	if (sqlite3_prepare_v2(db, "INSERT INTO tariff_versions (sha256, "
	    "first_used_utc) VALUES (?, ?)", -1, &s, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_text(s, 1, tf->hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, now);
	if (sqlite3_step(s) != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(s);
	*id = sqlite3_last_insert_rowid(db);
	if (sqlite3_prepare_v2(db, "INSERT INTO tariff_files VALUES (?, ?, ?)",
	    -1, &s, NULL) != SQLITE_OK)
		goto fail;
	for (i = 0; i < tf->n; i++) {
		sqlite3_bind_int64(s, 1, *id);
		sqlite3_bind_text(s, 2, tf->f[i].name, -1, SQLITE_STATIC);
		sqlite3_bind_blob64(s, 3, tf->f[i].data, tf->f[i].len,
		    SQLITE_STATIC);
		if (store_step_done(s) != 0)
			goto fail;
	}
	sqlite3_finalize(s);
	return sqlite3_exec(db, "RELEASE tariff_version", NULL, NULL, NULL) ==
	    SQLITE_OK ? 0 : -1;
fail:
	sqlite3_finalize(s);
	sqlite3_exec(db, "ROLLBACK TO tariff_version; RELEASE tariff_version",
	    NULL, NULL, NULL);
	return -1;
}

/* Reads version id's files from the database into tf and the hash. */
static int
load_version(sqlite3 *db, int64_t id, struct tariff_files *tf, char *stored,
    char *err, size_t errlen)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(db, "SELECT v.sha256, f.name, f.content FROM "
	    "tariff_versions v LEFT JOIN tariff_files f ON f.version_id = v.id "
	    "WHERE v.id = ? ORDER BY f.name", -1, &s, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "no tariff versions: %s",
		    sqlite3_errmsg(db));
		return -1;
	}
	sqlite3_bind_int64(s, 1, id);
	stored[0] = '\0';
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct tariff_file *f = &tf->f[tf->n];
		const void *p = sqlite3_column_blob(s, 2);
		snprintf(stored, 65, "%s", sqlite3_column_text(s, 0));
		if (sqlite3_column_type(s, 1) == SQLITE_NULL)
			continue;	/* a version without files */
		if (tf->n == TARIFF_VERSION_FILES_MAX) {
			rc = SQLITE_TOOBIG;
			break;
		}
		snprintf(f->name, sizeof f->name, "%s",
		    sqlite3_column_text(s, 1));
		f->len = (size_t)sqlite3_column_bytes(s, 2);
		if ((f->data = malloc(f->len + 1)) == NULL) {
			rc = SQLITE_NOMEM;
			break;
		}
		tf->n++;
		if (f->len > 0)
			memcpy(f->data, p, f->len);
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE || stored[0] == '\0') {
		snprintf(err, errlen, "tariff version %lld: %s", (long long)id,
		    stored[0] == '\0' ? "not in the database" :
		    "cannot be read");
		return -1;
	}
	return 0;
}

int
tariff_version_extract(sqlite3 *db, int64_t id, const char *dir, char *err,
    size_t errlen)
{
	struct tariff_files *tf = calloc(1, sizeof *tf);
	char stored[65], path[4096];
	size_t i;
	int rc = -1;

	if (tf == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (load_version(db, id, tf, stored, err, errlen) == -1)
		goto out;
	/* Names sort the same in SQL (BINARY) and strcmp: the same order. */
	if (files_hash(tf->f, tf->n, tf->hash) == -1 ||
	    strcmp(tf->hash, stored) != 0) {
		snprintf(err, errlen, "tariff version %lld: its files hash to "
		    "%.16s..., not the stored %.16s... (altered)", (long long)id,
		    tf->hash, stored);
		goto out;
	}
	for (i = 0; i < tf->n; i++) {
		FILE *f;
		if (strchr(tf->f[i].name, '/') != NULL) {
			snprintf(err, errlen, "tariff version %lld: bad file "
			    "name", (long long)id);
			goto out;
		}
		snprintf(path, sizeof path, "%s/%s", dir, tf->f[i].name);
		if ((f = fopen(path, "wx")) == NULL) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto out;
		}
		if ((fwrite(tf->f[i].data, 1, tf->f[i].len, f) !=
		    tf->f[i].len) | (fclose(f) != 0)) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto out;
		}
	}
	rc = 0;
out:
	tariff_files_free(tf);
	return rc;
}

/* The first 3-letter currency of a fare_products.txt in memory. */
static int
currency_of(const char *text, size_t len, char cur[4])
{
	static const char *const names[] = {"currency"};
	struct csv_record rec;
	struct csv *c;
	int col = -1, rc = -1;

	if ((c = csv_open_mem(text, len)) == NULL)
		return -1;
	if (csv_next(c, &rec) == 1 && csv_header_map(&rec, names, &col, 1) ==
	    -1 && col >= 0)
		while (rc == -1 && csv_next(c, &rec) == 1)
			if (strlen(csv_field(&rec, col)) == 3) {
				memcpy(cur, csv_field(&rec, col), 4);
				rc = 0;
			}
	csv_close(c);
	return rc;
}

int
tariff_version_currency(sqlite3 *db, char cur[4])
{
	sqlite3_stmt *s;
	int rc = -1;

	memcpy(cur, "EUR", 4);
	if (sqlite3_prepare_v2(db, "SELECT content FROM tariff_files WHERE "
	    "name = 'fare_products.txt' ORDER BY version_id DESC LIMIT 1", -1,
	    &s, NULL) != SQLITE_OK)
		return -1;	/* a database from before tariff versions */
	if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_bytes(s, 0) > 0)
		rc = currency_of(sqlite3_column_blob(s, 0),
		    (size_t)sqlite3_column_bytes(s, 0), cur);
	sqlite3_finalize(s);
	if (rc == -1)
		memcpy(cur, "EUR", 4);
	return rc;
}
