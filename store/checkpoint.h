/*
 * Signed checkpoints of the ledger (SPEC §6 "Proof against an insider").
 * A hash chain alone proves nothing to someone who can rewrite the whole
 * database; a checkpoint is the ledger's entry count and head hash at a
 * time, signed with a ledger key (ECDSA P-256, mbedTLS) that is kept
 * apart from the database, and copied by operators, the acquirer and
 * auditors.  A rewritten database cannot rewrite their copies.
 *
 * The canonical line (one per checkpoint, LF-terminated in a file):
 *
 *   onecity-checkpoint 1 <key_id> <entries> <head> <time> <signature>
 *
 *   key_id     16 hex digits: the start of SHA-256 over the public key
 *              (DER SubjectPublicKeyInfo), naming the key that signed;
 *   entries    the number of ledger entries (decimal, no sign or zeros);
 *   head       the hash of entry <entries>, 64 hex digits, or "genesis"
 *              for an empty ledger;
 *   time       when it was signed, YYYY-MM-DDTHH:MM:SSZ (UTC);
 *   signature  hex of the DER ECDSA signature over SHA-256 of the line
 *              up to and without the space before it.
 */
#ifndef ONECITY_CHECKPOINT_H
#define ONECITY_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <sqlite3.h>

#define CHECKPOINT_LINE_MAX	512	/* a line: ~110 + 2 x 72 hex */
#define CHECKPOINT_FILE_LINES_MAX 10000000	/* 27,000 years of days */

/*
 * Writes a new ECDSA P-256 key pair: the private key to path (PEM, mode
 * 0600, created with O_EXCL|O_NOFOLLOW: an existing file or a link is
 * refused) and the public key to path.pub (PEM, 0644, O_EXCL too).
 * 0, or -1 with err.
 */
int	checkpoint_keygen(const char *path, char *err, size_t errlen);

struct checkpoint_key;

/* Loads a private (PEM or DER) or public key; NULL with err. */
struct checkpoint_key *checkpoint_key_load(const char *path, int private_key,
	    char *err, size_t errlen);
void	checkpoint_key_free(struct checkpoint_key *);
/* The key's id (16 hex digits). */
const char *checkpoint_key_id(const struct checkpoint_key *);

/* One checkpoint, as signed. */
struct checkpoint {
	char		 key_id[17];
	int64_t		 entries;
	char		 head[65];
	int64_t		 time_utc;
};

/*
 * The ledger's entry count and head hash now (its last entry's stored
 * hash; "genesis" when empty), read in one statement.  0 or -1.
 */
int	checkpoint_head(sqlite3 *, struct checkpoint *out);
/* Signs c with a private key into line (no newline).  0 or -1 with err. */
int	checkpoint_sign(struct checkpoint_key *, struct checkpoint *c,
	    char *line, size_t len, char *err, size_t errlen);
/*
 * Parses a line and checks its signature with a public key: 0 good, -1
 * with why (malformed, signed by another key, bad signature).
 */
int	checkpoint_check_line(struct checkpoint_key *, const char *line,
	    struct checkpoint *out, char *why, size_t whylen);
/* Appends line and a newline to path and syncs it.  0 or -1 with err. */
int	checkpoint_append(const char *path, const char *line, char *err,
	    size_t errlen);

/*
 * Checks a database against a file of checkpoints (one line each): every
 * signature is good; the entry at each checkpoint's count has the
 * checkpoint's hash (nothing at or before it altered, removed or
 * reordered); the ledger has not shrunk below the latest checkpoint.
 * Prints each problem to out (naming the line) and returns how many;
 * *nlines gets the checkpoints read, *latest the largest count.
 */
size_t	checkpoint_verify_file(sqlite3 *, struct checkpoint_key *pub,
	    const char *path, FILE *out, size_t *nlines, int64_t *latest);

#endif
