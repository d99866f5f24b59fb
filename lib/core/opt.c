/*
 * opt.c: the command line of every program of the toolkit.
 *
 * getopt_long(3) wants each option twice, as a letter in a short-option
 * string and as a row of a table of long options, which then drift apart.
 * Here a program writes each option once, "c:(clients)" in the manner of
 * Solaris getopt(3C), and both forms are made from that; the usage errors
 * that follow from getopt's ':' and '?' are worded here once too.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"

#define MAX_OPTS	32	/* options in one spec */
#define NAMES_SIZE	512	/* their long names, each with its NUL */

/* what up_getopt last gave getopt_long, which up_opt_error looks up */
static char the_shorts[2 * MAX_OPTS + 2], the_names[NAMES_SIZE];
static struct option the_longs[MAX_OPTS + 1];

/*
 * Turns spec (see core.h) into getopt_long's short-option string and
 * long-option table. Returns 0, or -1 with EINVAL when spec is malformed
 * or longer than MAX_OPTS options or NAMES_SIZE bytes of names.
 */
static int
build(const char *spec, char *shorts, struct option *longs, char *names)
{
	size_t n = 0, ns = 0, nl = 0, nn = 0, k;
	const char *end;
	int code, arg, only_long;

	if (*spec == ':')	/* ':' for a missing value, not '?' */
		shorts[ns++] = *spec++;
	for (; *spec != '\0'; n++) {
		only_long = *spec == '-';
		spec += only_long;
		if (n == MAX_OPTS || (code = (unsigned char)*spec++) == '\0')
			goto invalid;
		arg = *spec == ':';
		spec += arg;
		if (!only_long) {
			shorts[ns++] = (char)code;
			if (arg)
				shorts[ns++] = ':';
		}
		if (*spec != '(') {
			if (only_long)
				goto invalid;
			continue;	/* a letter alone */
		}
		if ((end = strchr(spec, ')')) == NULL ||
		    (k = (size_t)(end - spec - 1)) >= NAMES_SIZE - nn)
			goto invalid;
		memcpy(names + nn, spec + 1, k);
		names[nn + k] = '\0';
		longs[nl].name = names + nn;
		longs[nl].has_arg = arg ? required_argument : no_argument;
		longs[nl].flag = NULL;
		longs[nl++].val = code;
		nn += k + 1;
		spec = end + 1;
	}
	shorts[ns] = '\0';
	memset(&longs[nl], 0, sizeof(longs[nl]));
	return 0;
invalid:
	errno = EINVAL;
	return -1;
}

/*
 * getopt_long over the options of spec. Returns what getopt_long returns,
 * or -1 with EINVAL for a malformed spec.
 */
int
up_getopt(int argc, char **argv, const char *spec)
{
	if (build(spec, the_shorts, the_longs, the_names) == -1)
		return -1;
	return getopt_long(argc, argv, the_shorts, the_longs, NULL);
}

/*
 * The usage error after up_getopt returned ch, ':' or '?', in buf:
 * "option -d needs a value", "option --cpu takes no value" or "unknown
 * option --nope". Returns buf.
 */
const char *
up_opt_error(int ch, char **argv, char *buf, size_t len)
{
	const char *arg = argv[optind - 1], *eq = strchr(arg, '=');
	const struct option *o;

	/*
	 * "--gil=x": getopt_long says '?' with the option's code in optopt,
	 * which may be no letter at all; name the option as it was written.
	 */
	for (o = the_longs; ch == '?' && eq != NULL && o->name != NULL; o++)
		if (o->val == optopt && o->has_arg == no_argument &&
		    strncmp(arg, "--", 2) == 0 &&
		    (size_t)(eq - arg - 2) == strlen(o->name) &&
		    strncmp(arg + 2, o->name, strlen(o->name)) == 0) {
			snprintf(buf, len, "option --%s takes no value",
			    o->name);
			return buf;
		}
	if (ch == ':')
		snprintf(buf, len, "option %s needs a value",
		    argv[optind - 1]);
	else if (optopt != 0)
		snprintf(buf, len, "unknown option -%c", (char)optopt);
	else
		snprintf(buf, len, "unknown option %s", argv[optind - 1]);
	return buf;
}
