/*
 * The tariff versions the engine priced with (SPEC §6): every file of each
 * version, byte for byte, and the version's content hash, kept in the
 * database (tariff_versions, tariff_files, v_tariff_versions), so that an
 * audit reprices a day with the version that priced it and needs nothing
 * but the database.  Each priced day names its version
 * (charges.tariff_version).
 *
 * The content hash is SHA-256, as 64 lowercase hex digits, over each file
 * of the version in the byte order of the names: "<name>\n<size>\n" and
 * the file's bytes.  A version's files are the regular *.txt files of the
 * tariff directory (GTFS and our extensions; nothing else is read).
 */
#ifndef ONECITY_TARIFF_VERSION_H
#define ONECITY_TARIFF_VERSION_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#define TARIFF_VERSION_FILES_MAX	64	/* GTFS has ~40 file kinds */
/* A national stops.txt is ~100 MB; ten times that is a mistake. */
#define TARIFF_VERSION_BYTES_MAX	((int64_t)1 << 30)

/* A snapshot of a tariff directory's files, read into memory. */
struct tariff_files;

/* Reads dir's files; NULL with err (unreadable, too many, too large). */
struct tariff_files *tariff_files_read(const char *dir, char *err,
	    size_t errlen);
void	tariff_files_free(struct tariff_files *);
/* The content hash (64 hex digits). */
const char *tariff_files_hash(const struct tariff_files *);

/* Creates the tables and the view.  0 or -1 with err. */
int	tariff_version_schema(sqlite3 *, char *err, size_t errlen);
/*
 * Stores a version once per content hash (its files with it; the first
 * time it was used is now); *id gets its id.  0 or -1.
 */
int	tariff_version_store(sqlite3 *, const struct tariff_files *,
	    int64_t now, int64_t *id);
/*
 * Writes version id's files into dir (an empty directory), checking them
 * against the stored hash first: 0, or -1 with err (no such version, a
 * file that does not match its hash, a write that failed).
 */
int	tariff_version_extract(sqlite3 *, int64_t id, const char *dir,
	    char *err, size_t errlen);

/*
 * The currency of the latest version's fare_products.txt (SPEC §2: one
 * per feed; ISO 4217, 3 letters) into cur: 0, or -1 when the database
 * keeps no version or its file names none, and cur is then "EUR" (money
 * is euro cents where nothing says otherwise).  Lets commands that read
 * only the database show money in the tariff's currency.
 */
int	tariff_version_currency(sqlite3 *, char cur[4]);

#endif
