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

#endif
