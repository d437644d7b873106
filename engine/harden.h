/* The service's process-wide defences (see harden.c). */
#ifndef ONECITY_HARDEN_H
#define ONECITY_HARDEN_H

/*
 * Once, first thing in serve: umask 077, no core dumps (RLIMIT_CORE 0,
 * PR_SET_DUMPABLE 0), libevent's and SQLite's allocations wiped when
 * freed (before either allocates anything).  0, or -1
 * when a limit could not be set (logged; the service still runs).
 */
int	harden_process(void);
/*
 * A key file as a secret must be: a regular file (not a link), readable
 * by its owner alone.  0, or -1 with err.
 */
int	harden_secret_file(const char *path, char *err, size_t errlen);
/*
 * The card token key of serve and worker: FILE (NULL: the development
 * key); outside dev, FILE must pass harden_secret_file and not hold the
 * published development key.  NULL with err on refusal.
 */
struct tap_tokenizer;
struct tap_tokenizer *harden_token_key(const char *file, int dev, char *err,
	    size_t errlen);

#endif
