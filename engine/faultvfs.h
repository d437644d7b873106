/* Test-only SQLite fault injection (see faultvfs.c); a no-op in fare-engine. */
#ifndef ONECITY_FAULTVFS_H
#define ONECITY_FAULTVFS_H

/* Installs the failing VFS when ONECITY_FAULT_WRITES asks; -1 if bad. */
int	faultvfs_install(void);

#endif
