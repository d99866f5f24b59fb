/*
 * fuzz_options.c: the servers' command line and the time and number
 * parsers under arbitrary input.
 *
 * The input, split at NUL bytes, is an argument vector. The harness checks
 * that parsing never crashes, that a parse which succeeds yields values
 * inside the documented ranges, and that a time that parses formats back
 * to a string that parses to the same value.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"

/* A model with no workers, as upserver-seq is. */
static const struct up_model model = { .name = "fuzz", .max_conns = 7 };

#define MAX_ARGS	16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy, *argv[MAX_ARGS + 2], err[256], fmt[64];
	struct up_options o;
	int64_t ns, again;
	size_t i, start;
	long n;
	int argc = 1;

	if ((copy = malloc(size + 1)) == NULL)
		abort();
	memcpy(copy, data, size);
	copy[size] = '\0';

	/* each piece alone through the value parsers */
	for (start = 0, i = 0; i <= size; i++) {
		if (copy[i] != '\0')
			continue;
		if (up_parse_time(copy + start, 86400LL * UP_NS_PER_SEC,
		    &ns) == 0) {
			if (ns < 0 || ns > 86400LL * UP_NS_PER_SEC)
				abort();
			up_format_time(ns, fmt, sizeof(fmt));
			if (up_parse_time(fmt, INT64_MAX, &again) != 0 ||
			    again != ns)
				abort();
			up_format_time_human(ns, fmt, sizeof(fmt));
			if (up_parse_time(fmt, INT64_MAX, &again) != 0 ||
			    again != ns)
				abort();
		}
		if (up_parse_number(copy + start, -5, 5, &n) == 0 &&
		    (n < -5 || n > 5))
			abort();
		if (argc <= MAX_ARGS)
			argv[argc++] = copy + start;
		start = i + 1;
	}
	argv[0] = "upserver-fuzz";
	argv[argc] = NULL;

	memset(&o, 0, sizeof(o));
	if (up_server_options(&o, &model, argc, argv, err,
	    sizeof(err)) == UP_PARSE_OK) {
		if (o.delay_ns < 0 || o.timeout_ns < 0 || o.max_line < 1 ||
		    o.max_line > UP_MAX_MAX_LINE || o.max_conns < 1 ||
		    o.workers != 0 || o.bind == NULL || o.port == NULL ||
		    o.counter > UP_COUNTER_ATOMIC)
			abort();
	} else if (memchr(err, '\0', sizeof(err)) == NULL)
		abort();
	free(copy);
	return 0;
}
