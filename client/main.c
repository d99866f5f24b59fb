/*
 * upclient: sends lines to an up server and prints the replies.
 *
 * Everyday mode: with TEXT arguments, sends the words joined by spaces
 * plus a newline and prints the reply. Without, streams standard input to
 * the server while the replies stream to standard output, byte for byte;
 * see stream.c. --timeout, --verify and -v apply to it as well.
 *
 * Load mode, chosen by any of -c, -j, -n, -r, -s, -T or --literal: many
 * connections from this one process, each sending numbered or random
 * requests; see load.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "client.h"

#define MAX_CLIENTS	1000000L
#define MAX_REQUESTS	1000000000L
#define MAX_RANDOM	(16L * 1024 * 1024)
#define MAX_TIMEOUT_NS	(86400LL * UP_NS_PER_SEC)	/* one day */
/*
 * -R's ceiling: one request a microsecond, the histogram's resolution;
 * a schedule finer than that cannot be kept or measured by one process.
 */
#define MAX_RATE	1000000L
#define MAX_DURATION_NS	(86400LL * UP_NS_PER_SEC)	/* one day */

/*
 * The options, for up_getopt: the letters, and after '-' the long options
 * that have none (their letters are only the codes up_getopt returns).
 */
static const char options[] =
    ":c:(clients)D:(duration)H:(host)-g:(hist)-l(literal)h(help)j:(jobs)"
    "n:(requests)-e(paced)p:(port)R:(rate)r:(random)s(stats)T(timeline)"
    "-t:(timeout)v(verbose)-y(verify)V(version)";

static const char synopsis[] =
    "usage: upclient [-hsTVv] [-c n] [-D time] [-H host] [-j n] [-n n]"
    " [-p port]\n"
    "                [-R rate] [-r bytes] [--hist file] [--literal]"
    " [--paced]\n"
    "                [--timeout time] [--verify] [text ...]\n";

static const char help[] =
    "\n"
    "  -H, --host HOST      server to connect to, every address in turn"
    " [localhost]\n"
    "  -p, --port PORT      its port [40001]\n"
    "  -c, --clients N      open N connections at once [1] (not the"
    " servers' -c)\n"
    "  -n, --requests N     requests per connection, each after the last"
    " reply [1]\n"
    "  -j, --jobs N         at most N requests (connections) at a time"
    " [no limit]\n"
    "  -R, --rate N         open loop: N requests a second over all"
    " connections, on a\n"
    "                       fixed schedule, latency from when each was"
    " due [off]\n"
    "  -D, --duration TIME  with -R: send for TIME (instead of -n"
    " requests each)\n"
    "      --paced          with -R: hold a request due until the last"
    " reply is in,\n"
    "                       latency from sending (closed loop at a rate,"
    " as wrk)\n"
    "  -r, --random BYTES   send BYTES random letters a-z and a newline,"
    " not TEXT\n"
    "      --literal        send TEXT as it is, not numbered (for servers"
    " that do not\n"
    "                       echo: a reply is whole once as long as its"
    " request)\n"
    "      --verify         check that each reply is its request"
    " uppercased\n"
    "      --timeout TIME   fail when the server owes a reply (or its"
    " close, or a\n"
    "                       connect) and nothing comes for TIME, 0 never"
    " [5m]\n"
    "  -T, --timeline       draw when each connection waited and was"
    " answered\n"
    "  -s, --stats          print requests/s and latency percentiles\n"
    "      --hist FILE      write the latency histogram to FILE, for"
    " plotting\n"
    "  -v, --verbose        log the client's events on standard error\n"
    "  -h, --help           show this help and exit\n"
    "  -V, --version        show the version and exit\n"
    "\n"
    "With TEXT, sends the words joined by spaces and a newline, and prints"
    " the reply.\n"
    "Without, sends standard input and writes the replies to standard"
    " output (on a\n"
    "terminal: type lines, Ctrl-D ends). --verify, --timeout and -v apply"
    " there too.\n"
    "Any of -cDjnRrsT, --hist, --literal, --paced chooses the load mode"
    " instead:\n"
    "each connection sends \"TEXT C.R\" (connection C, request R) or -r"
    " random letters;\n"
    "replies to TEXT go to standard output as they complete, replies to -r"
    " do not;\n"
    "the timeline and the stats (\"key: value\" lines) go to standard"
    " error.\n"
    "With -R replies are not printed, and a connection whose reply has not"
    " come when\n"
    "its next request is due sends it anyway (pipelined): none is skipped."
    "\n"
    "Ctrl-C (SIGINT) in load mode stops sending, waits a second at most for"
    " the\n"
    "replies in flight, and prints the timeline and the stats so far.\n"
    "Exit status: 0 every reply received (and verified), 1 a connection or"
    " reply\n"
    "failed, 2 usage, 130 a load run interrupted by SIGINT.\n";

/* Prints the usage error and returns exit status 2. */
static int
usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "upclient: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n%s", synopsis);
	return 2;
}

/*
 * Parses a number option into *out; returns 0, or the usage error's
 * exit status 2 after printing it.
 */
static int
number_arg(const char *opt, const char *what, const char *arg, long min,
    long max, unsigned long *out)
{
	char fmt[128];
	long v;

	if (up_parse_number(arg, min, max, &v) == -1) {
		snprintf(fmt, sizeof(fmt), "%s: '%%s' is not a number of %s"
		    " (%ld to %ld)", opt, what, min, max);
		return usage_error(fmt, arg);
	}
	*out = (unsigned long)v;
	return 0;
}

/*
 * Refuses -R (and -D) where the schedule cannot hold or other options
 * contradict it. Returns 0, or the usage error's exit status 2 after
 * printing it.
 */
static int
check_rate(const struct load_options *lo, int nset)
{
	char what[160];
	double total;

	if (lo->rate == 0 && lo->paced)
		return usage_error("%s", "--paced needs -R: the rate it"
		    " paces the closed loop at");
	if (lo->rate == 0)
		return lo->duration_ns != 0 ? usage_error("%s", "--duration"
		    " needs -R: the closed loop (the default) runs -n"
		    " requests each") : 0;
	if (lo->jobs != 0)
		return usage_error("%s", "-R and -j contradict each other:"
		    " an open loop never holds a request back");
	if (lo->duration_ns != 0 && nset)
		return usage_error("%s", "-R takes -D TIME or -n N, not both");
	if (lo->duration_ns == 0 && !nset)
		return usage_error("%s", "-R needs how long: -D TIME, or -n N"
		    " requests per connection");
	total = lo->duration_ns != 0 ?
	    (double)lo->duration_ns / 1e9 * (double)lo->rate :
	    (double)lo->requests * (double)lo->clients;
	if (total < (double)lo->clients) {
		snprintf(what, sizeof(what), "-R %lu for that long makes %.0f"
		    " requests, fewer than the %lu connections (-c): lower"
		    " -c or raise -R or -D", lo->rate, total, lo->clients);
		return usage_error("%s", what);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct stream_options so = { .host = UP_DEFAULT_HOST,
	    .port = UP_DEFAULT_PORT };
	struct load_options lo = { .clients = 1, .requests = 1, .random = -1,
	    .timeout_ns = DEFAULT_TIMEOUT_NS };
	char *text = NULL, msg[128], where[320];
	size_t textlen = 0, len;
	unsigned long bytes;
	int ch, i, load = 0, nset = 0, status;
	long port;

	opterr = 0;
	while ((ch = up_getopt(argc, argv, options)) != -1) {
		status = 0;
		switch (ch) {
		case 'c':
			status = number_arg("--clients", "connections", optarg,
			    1, MAX_CLIENTS, &lo.clients);
			break;
		case 'D':
			errno = 0;
			if (up_parse_time(optarg, MAX_DURATION_NS,
			    &lo.duration_ns) == -1 || lo.duration_ns == 0)
				return usage_error(errno == ERANGE ?
				    "--duration: '%s' is out of range (at most"
				    " one day)" : "--duration: '%s' is not a"
				    " time above 0 (try 10s, 1.5, 250ms)",
				    optarg);
			break;
		case 'H':
			so.host = optarg;
			break;
		case 'h':
			printf("%s%s", synopsis, help);
			return 0;
		case 'j':
			status = number_arg("--jobs", "jobs", optarg, 1,
			    MAX_CLIENTS, &lo.jobs);
			break;
		case 'n':
			status = number_arg("--requests", "requests", optarg,
			    1, MAX_REQUESTS, &lo.requests);
			break;
		case 'p':
			if (up_parse_number(optarg, 1, 65535, &port) == -1)
				return usage_error("--port: '%s' is not a port"
				    " (1 to 65535)", optarg);
			so.port = optarg;
			break;
		case 'R':
			status = number_arg("--rate", "requests a second",
			    optarg, 1, MAX_RATE, &lo.rate);
			break;
		case 'r':
			if ((status = number_arg("--random", "bytes", optarg,
			    0, MAX_RANDOM, &bytes)) == 0)
				lo.random = (long)bytes;
			break;
		case 's':
			lo.stats = 1;
			break;
		case 'T':
			lo.timeline = 1;
			break;
		case 'V':
			printf("upclient (up) %s\n", UP_VERSION);
			return 0;
		case 'v':
			lo.verbose = 1;
			break;
		case 't':	/* --timeout */
			if (up_parse_time(optarg, MAX_TIMEOUT_NS,
			    &lo.timeout_ns) == -1)
				return usage_error(errno == ERANGE ?
				    "--timeout: '%s' is out of range (at most"
				    " one day)" : "--timeout: '%s' is not a"
				    " time (try 1.5, 250ms, 2s or 0)", optarg);
			break;
		case 'y':	/* --verify */
			lo.verify = 1;
			break;
		case 'l':	/* --literal */
			lo.literal = 1;
			break;
		case 'g':	/* --hist */
			lo.hist = optarg;
			break;
		case 'e':	/* --paced */
			lo.paced = 1;
			break;
		default:	/* ':' or '?' */
			return usage_error("%s", up_opt_error(ch, argv, msg,
			    sizeof(msg)));
		}
		if (status != 0)
			return status;
		if (ch == 'n')
			nset = 1;
		if (strchr("cDegjlnRrsT", ch) != NULL)
			load = 1;	/* a load option: the load mode */
	}
	argc -= optind;
	argv += optind;

	if (load && argc == 0 && lo.random < 0)
		return usage_error("%s", "nothing to send: the load mode"
		    " needs TEXT or -r BYTES");
	if (load && argc > 0 && lo.random >= 0)
		return usage_error("%s", "give TEXT or -r BYTES, not both");
	if (lo.literal && argc == 0)
		return usage_error("%s", "--literal needs TEXT");
	if ((status = check_rate(&lo, nset)) != 0)
		return status;

	if (argc > 0) {
		/* The words joined by spaces, and a newline. */
		for (i = 0; i < argc; i++)
			textlen += strlen(argv[i]) + 1;
		if ((text = malloc(textlen)) == NULL) {
			fprintf(stderr, "upclient: %s\n", strerror(errno));
			return 1;
		}
		for (len = 0, i = 0; i < argc; i++) {
			memcpy(text + len, argv[i], strlen(argv[i]));
			len += strlen(argv[i]);
			text[len++] = i + 1 < argc ? ' ' : '\n';
		}
	}

	up_format_hostport(so.host, so.port, where, sizeof(where));
	if (load) {
		lo.host = so.host;
		lo.port = so.port;
		lo.where = where;
		lo.text = text;
		lo.textlen = text != NULL ? textlen - 1 : 0;	/* no '\n' */
		status = load_run(&lo);
	} else {
		so.where = where;
		so.text = text;
		so.textlen = textlen;
		so.timeout_ns = lo.timeout_ns;
		so.verify = lo.verify;
		so.verbose = lo.verbose;
		status = stream_run(&so);
	}
	free(text);
	return status;
}
