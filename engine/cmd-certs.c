/*
 * fare-engine certs init DIR | device DIR ID | revoke DIR ID: the
 * development CA and the certificates of the engine and validators.
 */
#include <stdio.h>

#include "certs.h"
#include "cmd.h"
#include "opt.h"

int
cmd_certs_init(int argc, char **argv)
{
	static const struct opt_cmd cmd = {"fare-engine certs init", "DIR", 1,
	    1, "Creates DIR with a CA, the engine's certificate (CN "
	    "onecity-engine) and an empty\nCRL (ECDSA P-256; keys written "
	    "0600).  Device certificates are issued on demand."};
	const struct opt o[] = {{.name = NULL}};
	char err[256];
	int first, rc;

	if ((rc = opt_parse(&cmd, o, argc, argv, &first)) != OPT_RUN)
		return rc;
	if (certs_init(argv[first], err, sizeof err) == -1) {
		fprintf(stderr, "fare-engine: certs init %s: %s\n", argv[first],
		    err);
		return 1;
	}
	printf("%s: CA, engine certificate and CRL created (ECDSA "
	    "P-256); device certificates are issued on demand\n", argv[first]);
	return 0;
}

int
cmd_certs_device(int argc, char **argv)
{
	static const struct opt_cmd cmd = {"fare-engine certs device",
	    "DIR DEVICE_ID", 2, 2, "Issues the client certificate of "
	    "validator DEVICE_ID (CN = DEVICE_ID, clientAuth)\ninto "
	    "DIR/devices/.  The other options make broken ones for tests."};
	int expired = 0, future = 0, no_client_auth = 0, first, rc;
	const struct opt o[] = {
		{.name = "expired", .kind = OPT_FLAG, .dst = &expired,
		    .help = "valid 2020-2021 only (tests)", .group = 1},
		{.name = "not-yet-valid", .kind = OPT_FLAG, .dst = &future,
		    .help = "valid from 2040 only (tests)", .group = 1},
		{.name = "no-client-auth", .kind = OPT_FLAG,
		    .dst = &no_client_auth, .help = "without the clientAuth "
		    "usage (tests)", .group = 1},
		{.name = NULL},
	};
	const char *nb = NULL, *na = NULL;
	char err[256];

	if ((rc = opt_parse(&cmd, o, argc, argv, &first)) != OPT_RUN)
		return rc;
	if (expired) {
		nb = "20200101000000";
		na = "20210101000000";
	} else if (future) {
		nb = "20400101000000";
		na = "20410101000000";
	}
	if (certs_device(argv[first], argv[first + 1], nb, na,
	    !no_client_auth, 1, err, sizeof err) == -1) {
		fprintf(stderr, "fare-engine: certs device %s: %s\n",
		    argv[first + 1], err);
		return 1;
	}
	printf("%s/devices/%s.crt issued\n", argv[first], argv[first + 1]);
	return 0;
}

int
cmd_certs_revoke(int argc, char **argv)
{
	static const struct opt_cmd cmd = {"fare-engine certs revoke",
	    "DIR DEVICE_ID", 2, 2, "Revokes validator DEVICE_ID's certificate "
	    "and rewrites DIR/crl.pem; send SIGHUP\nto the engine to load it "
	    "(it closes that device's connections)."};
	const struct opt o[] = {{.name = NULL}};
	char err[256];
	int first, rc;

	if ((rc = opt_parse(&cmd, o, argc, argv, &first)) != OPT_RUN)
		return rc;
	if (certs_revoke(argv[first], argv[first + 1], err, sizeof err) == -1) {
		fprintf(stderr, "fare-engine: certs revoke %s: %s\n",
		    argv[first + 1], err);
		return 1;
	}
	printf("%s revoked; %s/crl.pem rewritten\n", argv[first + 1],
	    argv[first]);
	return 0;
}
