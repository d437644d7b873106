/*
 * A set of taps priced together (SPEC §3, §4): validation of each tap,
 * tap_id deduplication, accounts by PAR or card token, and the walk over
 * accounts in byte order.  Used by `price`, the replay checker and tests.
 * PANs are kept only in memory, to order duplicates, and wiped on free.
 */
#ifndef ONECITY_TAPSET_H
#define ONECITY_TAPSET_H

#include <stdint.h>

#include "diag.h"
#include "price.h"
#include "tap.h"
#include "tariff.h"

struct tapset;

struct tapset	*tapset_new(const struct tariff *, struct tap_tokenizer *);
void		 tapset_free(struct tapset *);
/*
 * Adds one tap from its text fields; -1 with a reason when a field is bad
 * (the tap is not added).
 */
int		 tapset_add(struct tapset *, const char *tap_id,
		    const char *time, const char *pan, const char *par,
		    const char *network_id, const char *stop_id,
		    const char *kind, const char **why);
/*
 * Reads a SPEC §3 tap file.  Bad rows are reported in diag as
 * "FILE:LINE: message"; returns -1 when the file cannot be read at all.
 */
int		 tapset_read(struct tapset *, const char *path,
		    struct diag *);
size_t		 tapset_count(const struct tapset *);
/*
 * Progress of tapset_read(): fn is called every TAPSET_PROGRESS_ROWS rows
 * and once at the end (done = 1) with the rows read, the bytes of them
 * (fields and separators: near the file's bytes) and the file's size in
 * bytes (0 when unknown).  For a person watching a big file.
 */
#define TAPSET_PROGRESS_ROWS	65536
typedef void	(*tapset_progress_fn)(void *arg, uint64_t rows,
		    uint64_t bytes, uint64_t size, int done);
void		 tapset_set_progress(struct tapset *, tapset_progress_fn,
		    void *arg);

typedef int	(*tapset_emit_fn)(void *arg, const char *account,
		    const struct price_result *, const struct price_day *);
/*
 * Prices every account, in account order, calling emit for each
 * (account, service day) with legs.  Returns 0, or -1 when out of memory
 * or when emit fails.
 */
int		 tapset_price(struct tapset *, tapset_emit_fn, void *arg);

/* SPEC §5 JSON line of one account-day, appended to out (with LF). */
struct buf;
void		 price_json_day(const struct tariff *, const char *account,
		    const struct price_result *, const struct price_day *,
		    struct buf *out);

#endif
