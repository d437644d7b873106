/*
 * A streaming RFC 4180 CSV reader: quoted fields with embedded commas,
 * quotes and line breaks, an optional UTF-8 BOM, CRLF or LF line ends.
 * Records are bounded (LIMIT_CSV_RECORD bytes, LIMIT_CSV_FIELDS fields);
 * fields are NUL-terminated views into the reader's buffer, valid until
 * the next csv_next().  It is small enough to audit, which is why we keep
 * it instead of a dependency.
 */
#ifndef ONECITY_CSV_H
#define ONECITY_CSV_H

#include <stddef.h>
#include <stdio.h>

struct csv;

struct csv_record {
	size_t		 nfields;
	const char	*field[64];
	size_t		 len[64];
	unsigned long	 line;	/* physical line where the record starts */
};

/* Opens a file; NULL with errno set when it cannot be opened. */
struct csv	*csv_open(const char *path);
/* Reads from memory (tests, fuzzing); the buffer must outlive the reader. */
struct csv	*csv_open_mem(const char *buf, size_t len);
void		 csv_close(struct csv *);

/*
 * Reads the next non-empty record: 1 on a record, 0 at the end, -1 on a
 * malformed one (csv_error() says why, rec->line where).  After an error
 * the reader skips to the next line, so callers may go on collecting
 * problems.
 */
int		 csv_next(struct csv *, struct csv_record *rec);
const char	*csv_error(const struct csv *);
/* Whether the last error ends the file (a read error, a quoted field
 * still open at the end): then stop reading; else the next record is
 * read after the bad one. */
int		 csv_error_ends(const struct csv *);

/*
 * Maps header names to column indexes: idx[i] is the column of names[i],
 * or -1.  Returns the index of a duplicate header name, or -1.
 */
int		 csv_header_map(const struct csv_record *hdr,
		    const char *const *names, int *idx, size_t nnames);

/* The field of column col, or "" when col is -1 or beyond the record. */
const char	*csv_field(const struct csv_record *rec, int col);

#endif
