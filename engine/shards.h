/*
 * The audit commands over the shard databases of a cluster (README,
 * "The cluster deployment"): the operands that name them, and one
 * read-only view of them all together.
 */
#ifndef ONECITY_SHARDS_H
#define ONECITY_SHARDS_H

#include <stddef.h>

#include <sqlite3.h>

/* Shard databases one audit command takes: SQLite attaches at most 10
 * unless built otherwise, and Debian's allows 10. */
#define SHARDS_AUDIT_MAX	10

/* The databases named by the operands. */
struct shard_paths {
	char	*path[SHARDS_AUDIT_MAX];
	int	 n;
};

/*
 * ops[0..nops-1]: each a database file, or a directory whose *.db files
 * (sorted by name) are the shards.  0, or -1 with err naming the operand:
 * unreadable directory, one without *.db, more than SHARDS_AUDIT_MAX.
 * Free with shard_paths_free.
 */
int	shard_paths(char *const *ops, int nops, struct shard_paths *p,
	    char *err, size_t errlen);
void	shard_paths_free(struct shard_paths *);

/*
 * An in-memory database with every shard attached read-only (s0, s1,
 * ...) and, for each name in names (tables or views the shards all
 * have), a temporary view of that name over the union of the shards'
 * rows (UNION ALL): the queries of one database then read the cluster
 * whole.  NULL with err (the shard, SQLite's message) on failure.
 */
sqlite3	*shards_union(const struct shard_paths *p, const char *const *names,
	    size_t nnames, char *err, size_t errlen);

#endif
