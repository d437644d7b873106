/*
 * fare-engine certs init DIR | device DIR ID [--expired] | revoke DIR ID:
 * the development CA and the certificates of the engine and validators.
 */
#include <stdio.h>
#include <string.h>

#include "certs.h"
#include "cmd.h"

static int
certs_usage(void)
{
	fprintf(stderr, "usage: fare-engine certs init DIR\n"
	    "       fare-engine certs device DIR DEVICE_ID [--expired | "
	    "--not-yet-valid | --no-client-auth]\n"
	    "       fare-engine certs revoke DIR DEVICE_ID\n");
	return 2;
}

int
cmd_certs(int argc, char **argv)
{
	char err[256];

	if (argc == 3 && strcmp(argv[1], "init") == 0) {
		if (certs_init(argv[2], err, sizeof err) == -1) {
			fprintf(stderr, "fare-engine: certs init %s: %s\n",
			    argv[2], err);
			return 1;
		}
		printf("%s: CA, engine certificate and CRL created (ECDSA "
		    "P-256); device certificates are issued on demand\n",
		    argv[2]);
		return 0;
	}
	if ((argc == 4 || argc == 5) && strcmp(argv[1], "device") == 0) {
		const char *nb = NULL, *na = NULL;
		int client_auth = 1;
		if (argc == 5 && strcmp(argv[4], "--expired") == 0) {
			nb = "20200101000000";
			na = "20210101000000";
		} else if (argc == 5 && strcmp(argv[4], "--not-yet-valid") == 0) {
			nb = "20400101000000";
			na = "20410101000000";
		} else if (argc == 5 && strcmp(argv[4], "--no-client-auth") == 0)
			client_auth = 0;
		else if (argc == 5)
			return certs_usage();
		if (certs_device(argv[2], argv[3], nb, na, client_auth, 1, err,
		    sizeof err) == -1) {
			fprintf(stderr, "fare-engine: certs device %s: %s\n",
			    argv[3], err);
			return 1;
		}
		printf("%s/devices/%s.crt issued\n", argv[2], argv[3]);
		return 0;
	}
	if (argc == 4 && strcmp(argv[1], "revoke") == 0) {
		if (certs_revoke(argv[2], argv[3], err, sizeof err) == -1) {
			fprintf(stderr, "fare-engine: certs revoke %s: %s\n",
			    argv[3], err);
			return 1;
		}
		printf("%s revoked; %s/crl.pem rewritten\n", argv[3], argv[2]);
		return 0;
	}
	return certs_usage();
}
