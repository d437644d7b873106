/*
 * A fault-injection hook for tests, as SQLite's own tests do it: an SQLite
 * VFS wrapping the default one whose Nth to (N+M-1)th writes fail with an
 * I/O error (or "disk full").  It is linked only into the test binary
 * bin/fare-engine-faults (the real fare-engine has no trace of it) and
 * installs itself before main() when ONECITY_FAULT_WRITES=N:M[:full]
 * asks; a malformed value stops the binary.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "log.h"

struct ffile {
	sqlite3_file	 base;
	sqlite3_file	*real;		/* follows this struct */
};

static sqlite3_vfs	 faulty;
static sqlite3_vfs	*real_vfs;
static long		 fail_from, fail_count, writes;
static int		 fail_code = SQLITE_IOERR_WRITE;

#define REAL(f)	(((struct ffile *)(f))->real)

static int
f_close(sqlite3_file *f)
{
	return REAL(f)->pMethods->xClose(REAL(f));
}

static int
f_read(sqlite3_file *f, void *b, int n, sqlite3_int64 off)
{
	return REAL(f)->pMethods->xRead(REAL(f), b, n, off);
}

static int
f_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 off)
{
	long k = __atomic_add_fetch(&writes, 1, __ATOMIC_SEQ_CST);

	if (k >= fail_from && k < fail_from + fail_count)
		return fail_code;
	return REAL(f)->pMethods->xWrite(REAL(f), b, n, off);
}

static int
f_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	return REAL(f)->pMethods->xTruncate(REAL(f), size);
}

static int
f_sync(sqlite3_file *f, int flags)
{
	return REAL(f)->pMethods->xSync(REAL(f), flags);
}

static int
f_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int
f_lock(sqlite3_file *f, int l)
{
	return REAL(f)->pMethods->xLock(REAL(f), l);
}

static int
f_unlock(sqlite3_file *f, int l)
{
	return REAL(f)->pMethods->xUnlock(REAL(f), l);
}

static int
f_reserved(sqlite3_file *f, int *out)
{
	return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}

static int
f_control(sqlite3_file *f, int op, void *arg)
{
	return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}

static int
f_sector(sqlite3_file *f)
{
	return REAL(f)->pMethods->xSectorSize(REAL(f));
}

static int
f_chars(sqlite3_file *f)
{
	return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

static int
f_shmmap(sqlite3_file *f, int pg, int sz, int ext, void volatile **p)
{
	return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, ext, p);
}

static int
f_shmlock(sqlite3_file *f, int off, int n, int flags)
{
	return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}

static void
f_shmbarrier(sqlite3_file *f)
{
	REAL(f)->pMethods->xShmBarrier(REAL(f));
}

static int
f_shmunmap(sqlite3_file *f, int del)
{
	return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}

static int
f_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **p)
{
	return REAL(f)->pMethods->xFetch(REAL(f), off, n, p);
}

static int
f_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	return REAL(f)->pMethods->xUnfetch(REAL(f), off, p);
}

static const sqlite3_io_methods f_methods = {
	3, f_close, f_read, f_write, f_truncate, f_sync, f_size, f_lock,
	f_unlock, f_reserved, f_control, f_sector, f_chars, f_shmmap,
	f_shmlock, f_shmbarrier, f_shmunmap, f_fetch, f_unfetch
};

static int
f_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags,
    int *out)
{
	struct ffile *ff = (struct ffile *)f;
	int rc;

	(void)vfs;
	ff->real = (sqlite3_file *)(ff + 1);
	rc = real_vfs->xOpen(real_vfs, name, ff->real, flags, out);
	/* Our methods only around a file the real VFS opened. */
	f->pMethods = ff->real->pMethods != NULL ? &f_methods : NULL;
	return rc;
}

static int
faultvfs_install(void)
{
	const char *spec = getenv("ONECITY_FAULT_WRITES");
	char mode[8] = "";

	if (spec == NULL)
		return 0;
	if (sscanf(spec, "%ld:%ld:%7s", &fail_from, &fail_count, mode) < 2 ||
	    fail_from < 1 || fail_count < 1) {
		log_err("fault_injection_bad", "ONECITY_FAULT_WRITES=%s "
		    "msg=\"expected N:M[:full]\"", LOGQ(spec));
		return -1;
	}
	if (strcmp(mode, "full") == 0)
		fail_code = SQLITE_FULL;
	if ((real_vfs = sqlite3_vfs_find(NULL)) == NULL)
		return -1;
	/* The real VFS's other methods read only its pAppData: a copy
	 * of its table with our xOpen is a complete VFS. */
	faulty = *real_vfs;
	faulty.zName = "onecity-faulty";
	faulty.szOsFile = (int)sizeof(struct ffile) + real_vfs->szOsFile;
	faulty.xOpen = f_open;
	faulty.pNext = NULL;
	if (sqlite3_vfs_register(&faulty, 1) != SQLITE_OK)
		return -1;
	log_warning("fault_injection", "first_write=%ld last_write=%ld "
	    "error=%s msg=\"FAULT INJECTION\"", fail_from,
	    fail_from + fail_count - 1, fail_code == SQLITE_FULL ?
	    "disk_full" : "io_error");
	return 0;
}

/* Before main(), so that every connection the engine opens is wrapped. */
__attribute__((constructor)) static void
faultvfs_init(void)
{
	if (faultvfs_install() == -1)
		exit(1);
}
