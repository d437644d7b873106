/*
 * The programs' command lines: one table per command (opt.h), parsed with
 * getopt_long, so that every command and subcommand of fare-engine and
 * terminal-sim answers -h/--help, says what is wrong with a bad call and
 * exits 2, and checks its numbers' ranges alike.
 */
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opt.h"
#include "parse.h"

/* More options than any command has; a table beyond it is a bug. */
#define OPT_MAX 64
/* getopt_long's value for option i: clear of every character. */
#define OPT_VAL0 1000

int
opt_fail(const struct opt_cmd *c, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", c->prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help'.\n", c->prog);
	return 2;
}

static size_t
opt_count(const struct opt *o)
{
	size_t n = 0;

	while (o[n].name != NULL)
		n++;
	return n;
}

void
opt_usage(const struct opt_cmd *c, const struct opt *o)
{
	size_t i, j, k = 0, n = opt_count(o);
	char left[96];

	printf("usage: %s", c->prog);
	for (i = 0; i < n; i++)
		if (o[i].flags & OPT_REQUIRED)
			printf(" --%s %s", o[i].name, o[i].arg ? o[i].arg : "");
	printf(" [OPTIONS]%s%s\n", c->operands[0] ? " " : "", c->operands);
	if (c->summary != NULL)
		printf("%s\n", c->summary);
	printf("\noptions:\n");
	for (i = 0; i < n; i++, k = 0) {
		snprintf(left, sizeof left, "--%s%s%s", o[i].name,
		    o[i].arg ? " " : "", o[i].arg ? o[i].arg : "");
		printf("  %-26s %s", left, o[i].help ? o[i].help : "");
		if (o[i].kind >= OPT_INT && o[i].kind <= OPT_DOUBLE)
			printf(" (%lld-%lld)", (long long)o[i].lo,
			    (long long)o[i].hi);
		if (o[i].flags & OPT_REQUIRED)
			printf(" (required)");
		if (o[i].flags & OPT_REPEAT)
			printf(" (repeatable)");
		for (j = 0, k = 0; j < n && o[i].group != 0; j++)
			if (j != i && o[j].group == o[i].group)
				printf("%s--%s", k++ ? ", " : " (not with ",
				    o[j].name);
		if (k > 0)
			printf(")");
		printf("\n");
	}
	printf("  %-26s %s\n", "-h, --help", "print this help and exit");
}

/* A number's text into the option's destination; -1 with why. */
static int
opt_number(const struct opt *o, const char *v, const char **why)
{
	int64_t x;
	double d;
	char *end;

	if (o->kind == OPT_DOUBLE) {
		d = strtod(v, &end);
		if (end == v || *end != '\0' || !isfinite(d)) {
			*why = "not a number";
			return -1;
		}
		if (d < (double)o->lo || d > (double)o->hi) {
			*why = "out of range";
			return -1;
		}
		*(double *)o->dst = d;
		return 0;
	}
	if (parse_int(v, o->lo, o->hi, &x, why) == -1)
		return -1;
	if (o->kind == OPT_INT)
		*(int *)o->dst = (int)x;
	else if (o->kind == OPT_LONG)
		*(long *)o->dst = (long)x;
	else if (o->kind == OPT_I64)
		*(int64_t *)o->dst = x;
	else
		*(uint64_t *)o->dst = (uint64_t)x;
	return 0;
}

/* One option's argument into its destination; -1 with why. */
static int
opt_value(const struct opt *o, const char *v, const char **why)
{
	int32_t days;

	switch (o->kind) {
	case OPT_FLAG:
		*(int *)o->dst = 1;
		return 0;
	case OPT_STR:
		if (*v == '\0') {
			*why = "empty";
			return -1;
		}
		*(const char **)o->dst = v;
		return 0;
	case OPT_DAY:
		if (parse_day(v, &days, why) == -1)
			return -1;
		*(const char **)o->dst = v;
		return 0;
	case OPT_TIME:
		return parse_rfc3339(v, (int64_t *)o->dst, why);
	case OPT_FN:
		return o->fn(o->dst, v, why);
	default:
		return opt_number(o, v, why);
	}
}

/* After the options: required ones given, exclusive ones not both. */
static int
opt_check(const struct opt_cmd *c, const struct opt *o, size_t n,
    const unsigned char *seen)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		if ((o[i].flags & OPT_REQUIRED) && !seen[i])
			return opt_fail(c, "missing --%s %s", o[i].name,
			    o[i].arg ? o[i].arg : "");
		for (j = i + 1; j < n && seen[i] && o[i].group != 0; j++)
			if (seen[j] && o[j].group == o[i].group)
				return opt_fail(c,
				    "--%s and --%s cannot be "
				    "used together",
				    o[i].name, o[j].name);
	}
	return OPT_RUN;
}

int
opt_parse(const struct opt_cmd *c, const struct opt *o, int argc, char **argv,
    int *first)
{
	struct option lo[OPT_MAX + 2];
	unsigned char seen[OPT_MAX];
	size_t i, n = opt_count(o);
	const char *why;
	int ch, nops;

	if (n > OPT_MAX)
		return opt_fail(c, "too many options in the table (bug)");
	for (i = 0; i < n; i++) {
		lo[i].name = o[i].name;
		lo[i].has_arg =
		    o[i].kind == OPT_FLAG ? no_argument : required_argument;
		lo[i].flag = NULL;
		lo[i].val = OPT_VAL0 + (int)i;
	}
	lo[n] = (struct option){ "help", no_argument, NULL, 'h' };
	lo[n + 1] = (struct option){ NULL, 0, NULL, 0 };
	memset(seen, 0, sizeof seen);
	optind = 0; /* glibc: start afresh */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		if (ch == 'h') {
			opt_usage(c, o);
			return 0;
		}
		if (ch == ':')
			return opt_fail(
			    c, "%s needs a value", argv[optind - 1]);
		if (ch == '?' && optopt >= OPT_VAL0)
			return opt_fail(c, "--%s takes no value",
			    o[optopt - OPT_VAL0].name);
		if (ch == '?')
			return optopt != 0 && optopt != 'h'
			    ? opt_fail(c, "unknown option '-%c'", optopt)
			    : opt_fail(
				  c, "unknown option '%s'", argv[optind - 1]);
		i = (size_t)(ch - OPT_VAL0);
		if (seen[i] && o[i].kind != OPT_FLAG &&
		    !(o[i].flags & OPT_REPEAT))
			return opt_fail(c, "--%s given twice", o[i].name);
		seen[i] = 1;
		if (opt_value(&o[i], optarg, &why) == -1) {
			if (o[i].kind >= OPT_INT && o[i].kind <= OPT_DOUBLE &&
			    strcmp(why, "out of range") == 0)
				return opt_fail(c,
				    "--%s '%s': out of range "
				    "(%lld-%lld)",
				    o[i].name, optarg, (long long)o[i].lo,
				    (long long)o[i].hi);
			return opt_fail(
			    c, "--%s '%s': %s", o[i].name, optarg, why);
		}
	}
	if ((ch = opt_check(c, o, n, seen)) != OPT_RUN)
		return ch;
	nops = argc - optind;
	if (nops < c->min_operands && nops == 0)
		return opt_fail(c, "missing %s", c->operands);
	if (nops < c->min_operands)
		return opt_fail(c, "expects %s, got %d operand%s", c->operands,
		    nops, nops == 1 ? "" : "s");
	if (nops > c->max_operands)
		return opt_fail(c, "unexpected operand '%s'",
		    argv[optind + c->max_operands]);
	*first = optind;
	return OPT_RUN;
}
