/*
 * The programs' command-line conventions (GNU habits), one table per
 * command: getopt_long underneath; -h and --help print the usage to stdout
 * and exit 0; bad usage names what is wrong on stderr and exits 2; numbers
 * are range-checked with parse_int; mutually exclusive options are refused.
 *
 * Adding a flag is one row in the command's table, for instance
 *
 *	{.name = "settle-grace", .kind = OPT_I64, .dst = &c.settle_grace_s,
 *	    .arg = "S", .lo = 0, .hi = 604800,
 *	    .help = "seconds after a service day closes"},
 *
 * and the table ends with {.name = NULL}.  Options sharing a non-zero
 * .group are mutually exclusive; OPT_REQUIRED makes an option required.
 */
#ifndef ONECITY_OPT_H
#define ONECITY_OPT_H

#include <stdint.h>

enum opt_kind {
	OPT_FLAG, /* int *: set to 1 */
	OPT_STR, /* const char **: the argument as given */
	OPT_INT, /* int *: an integer in [lo, hi] */
	OPT_LONG, /* long *: an integer in [lo, hi] */
	OPT_I64, /* int64_t *: an integer in [lo, hi] */
	OPT_U64, /* uint64_t *: an integer in [lo, hi], lo >= 0 */
	OPT_DOUBLE, /* double *: a decimal number in [lo, hi] */
	OPT_DAY, /* const char **: a valid YYYY-MM-DD */
	OPT_TIME, /* int64_t *: RFC 3339 into UTC seconds */
	OPT_FN /* calls fn(dst, arg, &why): 0, or -1 with why */
};

#define OPT_REQUIRED 0x1u /* missing is bad usage */
#define OPT_REPEAT 0x2u /* may be given more than once */

struct opt {
	const char *name; /* the long name without "--"; NULL ends */
	enum opt_kind kind;
	void *dst;
	const char *arg; /* the argument's name in the usage ("FILE") */
	const char *help; /* one line for --help */
	int64_t lo, hi;
	unsigned flags;
	int group; /* non-zero: exclusive with the same group */
	int (*fn)(void *dst, const char *arg, const char **why);
};

/* What a command is, for its usage and messages. */
struct opt_cmd {
	const char *prog; /* "fare-engine price" */
	const char *operands; /* "TAPS.csv", or "" */
	int min_operands, max_operands;
	const char *summary; /* what it does, for --help */
};

/* opt_parse's answer when the command should go on and run. */
#define OPT_RUN (-1)

/*
 * Parses argv (argv[0] is the command's own name) against the table o.
 * Returns OPT_RUN with the operands at argv[*first .. argc), 0 after
 * printing the usage for -h/--help, or 2 after saying on stderr what is
 * wrong (an unknown option, a missing or bad value, a number out of
 * range, two exclusive options, a missing required option, too few or too
 * many operands).  argv may be permuted (operands after options).
 */
int opt_parse(const struct opt_cmd *c, const struct opt *o, int argc,
    char **argv, int *first);
/* The usage of c (for --help) on stdout. */
void opt_usage(const struct opt_cmd *c, const struct opt *o);
/* "PROG: message" and the --help hint on stderr; returns 2. */
int opt_fail(const struct opt_cmd *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
