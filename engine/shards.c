/*
 * The shard databases of audit commands (shards.h).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "shards.h"

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds path to p: 0, or -1 with err when p is full or memory is not. */
static int
add_path(struct shard_paths *p, const char *dir, const char *name,
    char *err, size_t errlen)
{
	size_t len = strlen(name) + (dir != NULL ? strlen(dir) + 1 : 0) + 1;

	if (p->n == SHARDS_AUDIT_MAX) {
		snprintf(err, errlen, "more than %d shard databases",
		    SHARDS_AUDIT_MAX);
		return -1;
	}
	if ((p->path[p->n] = malloc(len)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (dir != NULL)
		snprintf(p->path[p->n], len, "%s/%s", dir, name);
	else
		snprintf(p->path[p->n], len, "%s", name);
	p->n++;
	return 0;
}

/* The *.db files of directory dir, sorted, added to p. */
static int
add_dir(struct shard_paths *p, const char *dir, char *err, size_t errlen)
{
	struct dirent *e;
	DIR *d;
	int first = p->n, rc = 0;

	if ((d = opendir(dir)) == NULL) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	while (rc == 0 && (e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);
		if (l > 3 && strcmp(e->d_name + l - 3, ".db") == 0)
			rc = add_path(p, dir, e->d_name, err, errlen);
	}
	closedir(d);
	if (rc == 0 && p->n == first) {
		snprintf(err, errlen, "%s: a directory with no *.db file", dir);
		return -1;
	}
	qsort(p->path + first, (size_t)(p->n - first), sizeof p->path[0],
	    by_name);
	return rc;
}

int
shard_paths(char *const *ops, int nops, struct shard_paths *p, char *err,
    size_t errlen)
{
	struct stat st;
	int i;

	p->n = 0;
	for (i = 0; i < nops; i++) {
		int rc = stat(ops[i], &st) == 0 && S_ISDIR(st.st_mode) ?
		    add_dir(p, ops[i], err, errlen) :
		    add_path(p, NULL, ops[i], err, errlen);
		if (rc == -1) {
			shard_paths_free(p);
			return -1;
		}
	}
	return 0;
}

void
shard_paths_free(struct shard_paths *p)
{
	int i;

	for (i = 0; i < p->n; i++)
		free(p->path[i]);
	p->n = 0;
}

sqlite3 *
shards_union(const struct shard_paths *p, const char *const *names,
    size_t nnames, char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	size_t k;
	int i;

	if (sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_URI, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "in-memory database: %s",
		    db != NULL ? sqlite3_errmsg(db) : "cannot open");
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 5000);
	for (i = 0; i < p->n; i++) {
		char *a = sqlite3_mprintf("ATTACH 'file:%q?mode=ro' AS s%d",
		    p->path[i], i);
		int rc = a != NULL ? sqlite3_exec(db, a, NULL, NULL, NULL) :
		    SQLITE_NOMEM;
		sqlite3_free(a);
		if (rc != SQLITE_OK) {
			snprintf(err, errlen, "%s: %s", p->path[i],
			    sqlite3_errmsg(db));
			sqlite3_close(db);
			return NULL;
		}
	}
	for (k = 0; k < nnames; k++) {
		char *v = sqlite3_mprintf("CREATE TEMP VIEW \"%w\" AS ",
		    names[k]);
		int rc;
		for (i = 0; v != NULL && i < p->n; i++) {
			char *w = sqlite3_mprintf("%s%sSELECT * FROM s%d.\"%w\"",
			    v, i ? " UNION ALL " : "", i, names[k]);
			sqlite3_free(v);
			v = w;
		}
		rc = v != NULL ? sqlite3_exec(db, v, NULL, NULL, NULL) :
		    SQLITE_NOMEM;
		sqlite3_free(v);
		if (rc != SQLITE_OK) {
			snprintf(err, errlen, "the shards' %s: %s", names[k],
			    sqlite3_errmsg(db));
			sqlite3_close(db);
			return NULL;
		}
	}
	return db;
}
