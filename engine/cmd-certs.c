/*
 * fare-engine certs init DIR [--force] | device DIR ID | revoke DIR ID |
 * crl DIR [--days N] | acquirer DIR: the CA, the certificates of the
 * engine, the validators and the acquirer, and the CRL (valid 30 days:
 * re-issue it from a daily timer).
 */
#include <stdio.h>
#include <time.h>

#include "certs.h"
#include "cmd.h"
#include "limits.h"
#include "opt.h"

int
cmd_certs_init(int argc, char **argv)
{
	static const struct opt_cmd cmd = {"fare-engine certs init", "DIR", 1,
	    1, "Creates DIR with a CA, the engine's certificate (CN "
	    "onecity-engine), the acquirer\nsimulator's (CN onecity-acquirer) "
	    "and an empty CRL (ECDSA P-256; keys written\n0600).  Device "
	    "certificates are issued on demand.  A DIR that holds a CA is\n"
	    "refused: replacing it orphans every device certificate."};
	int force = 0, first, rc;
	const struct opt o[] = {
		{.name = "force", .kind = OPT_FLAG, .dst = &force,
		    .help = "replace the CA DIR already holds"},
		{.name = NULL},
	};
	char err[512];

	if ((rc = opt_parse(&cmd, o, argc, argv, &first)) != OPT_RUN)
		return rc;
	if (certs_init(argv[first], force, err, sizeof err) == -1) {
		fprintf(stderr, "fare-engine: certs init %s: %s\n", argv[first],
		    err);
		return 1;
	}
	printf("%s: CA, engine and acquirer certificates and CRL created "
	    "(ECDSA P-256); device certificates are issued on demand; keep "
	    "ca.key offline once they are\n", argv[first]);
	return 0;
}

int
cmd_certs_crl(int argc, char **argv)
{
	static const struct opt_cmd cmd = {"fare-engine certs crl", "DIR", 1,
	    1, "Re-issues DIR/crl.pem with the revoked certificates as they "
	    "stand, valid N days\n(needs ca.key).  Run it daily from a timer "
	    "and send SIGHUP to the engine: an\nexpired CRL refuses every "
	    "validator."};
	int64_t days = CRL_VALID_DAYS_DEFAULT, now = (int64_t)time(NULL);
	const struct opt o[] = {
		{.name = "days", .kind = OPT_I64, .dst = &days, .arg = "N",
		    .lo = 1, .hi = CRL_VALID_DAYS_MAX,
		    .help = "days until nextUpdate (default 30)"},
		{.name = NULL},
	};
	char err[256];
	int first, rc;

	if ((rc = opt_parse(&cmd, o, argc, argv, &first)) != OPT_RUN)
		return rc;
	if (certs_crl(argv[first], now - 3600, now + days * 86400, err,
	    sizeof err) == -1) {
		fprintf(stderr, "fare-engine: certs crl %s: %s\n", argv[first],
		    err);
		return 1;
	}
	printf("%s/crl.pem re-issued, valid %lld days; send SIGHUP to the "
	    "engine\n", argv[first], (long long)days);
	return 0;
}

int
cmd_certs_acquirer(int argc, char **argv)
{
	static const struct opt_cmd cmd = {"fare-engine certs acquirer", "DIR",
	    1, 1, "Re-issues the acquirer simulator's certificate "
	    "DIR/acquirer.crt and its key; the\nengine pins that "
	    "certificate (restart it)."};
	const struct opt o[] = {{.name = NULL}};
	char err[256];
	int first, rc;

	if ((rc = opt_parse(&cmd, o, argc, argv, &first)) != OPT_RUN)
		return rc;
	if (certs_acquirer(argv[first], err, sizeof err) == -1) {
		fprintf(stderr, "fare-engine: certs acquirer %s: %s\n",
		    argv[first], err);
		return 1;
	}
	printf("%s/acquirer.crt issued\n", argv[first]);
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
