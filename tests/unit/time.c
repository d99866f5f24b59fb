/*
 * time.c: durations written back, for a person (up_format_time_human:
 * whole minutes as minutes, as the man pages write "5m") and for the
 * event log (up_format_time: never minutes), each read back exactly.
 */
#include <string.h>

#include "core/core.h"
#include "check.h"

#define S	UP_NS_PER_SEC
#define MS	UP_NS_PER_MS

static const struct {
	int64_t		ns;
	const char	*human;
	const char	*log;
} cases[] = {
	{ 0,			"0",		"0" },
	{ 300 * S,		"5m",		"300s" },
	{ 60 * S,		"1m",		"60s" },
	{ 86400 * S,		"1440m",	"86400s" },
	{ 90 * S,		"90s",		"90s" },
	{ 59 * S,		"59s",		"59s" },
	{ 1 * S,		"1s",		"1s" },
	{ 1500 * MS,		"1.5s",		"1.5s" },
	{ 60 * S + 500 * MS,	"60.5s",	"60.5s" },
	{ 250 * MS,		"250ms",	"250ms" },
	{ 100000,		"100us",	"0.0001s" },
	{ 1234,			"0.000001234s",	"0.000001234s" },
};

int
main(void)
{
	char buf[32];
	int64_t back;
	size_t i;

	for (i = 0; i < NITEMS(cases); i++) {
		up_format_time_human(cases[i].ns, buf, sizeof(buf));
		CHECK(strcmp(buf, cases[i].human) == 0,
		    "%lld ns reads \"%s\" to a person (got \"%s\")",
		    (long long)cases[i].ns, cases[i].human, buf);
		CHECK(up_parse_time(buf, INT64_MAX, &back) == 0 &&
		    back == cases[i].ns, "\"%s\" reads back as %lld ns", buf,
		    (long long)cases[i].ns);
		up_format_time(cases[i].ns, buf, sizeof(buf));
		CHECK(strcmp(buf, cases[i].log) == 0,
		    "%lld ns is \"%s\" in the log (got \"%s\")",
		    (long long)cases[i].ns, cases[i].log, buf);
	}
	return check_done("time");
}
