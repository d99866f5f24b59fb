/*
 * options.c: the command line that every server shares, parsed once.
 *
 * All four servers take the same options, so one can be swapped for
 * another in a script; a model that cannot honour one (the sequential
 * server has no workers) refuses it here with a reason, and its usage
 * (up_server_usage) does not offer it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/server.h"

#define MAX_TIME_NS	(86400LL * UP_NS_PER_SEC)	/* one day */
#define MAX_CONNS	1000000L
#define MAX_WORKERS	4096L

/*
 * The options, for up_getopt: the letters, then the long options that
 * have none (their letters are only the codes up_getopt returns).
 */
static const char options[] =
    ":b:(bind)c:(max-conns)d:(delay)h(help)p:(port)q(quiet)t:(timeout)"
    "V(version)w:(workers)"
    "-C:(counter)-T(http)-L:(max-line)-P:(backend)-M:(backlog)-N(cpu)"
    "-O:(framing)-R:(request-timeout)-K:(locks)"
    "-G(gil)-S:(stack)-A:(accept)";

/* Which models an option of the usage belongs to. */
enum usage_need {
	ALL,		/* every model */
	POOL,		/* a model with workers and no event loop */
	LOOPS,		/* a model with workers and an event loop */
	LOOP,		/* a model with an event loop */
	CORO,		/* a model of coroutines */
	BLOCKING	/* a model without one */
};

/* The synopsis, a word an option, in the man page's order. */
static const struct usage_word {
	enum usage_need	 need;
	const char	*word;
} synopsis[] = {
	{ ALL, "[-hqV]" }, { ALL, "[-b addr]" }, { ALL, "[-c n]" },
	{ ALL, "[-d time]" }, { ALL, "[-p port]" }, { ALL, "[-t time]" },
	{ POOL, "[-w n]" }, { LOOPS, "[-w n]" },
	{ POOL, "[--accept mode]" }, { LOOPS, "[--accept mode]" },
	{ LOOP, "[--backend name]" }, { ALL, "[--backlog n]" },
	{ ALL, "[--counter mode]" }, { ALL, "[--cpu]" },
	{ ALL, "[--framing mode]" }, { ALL, "[--gil]" },
	{ ALL, "[--http]" },
	{ BLOCKING, "[--locks mode]" }, { ALL, "[--max-line n]" },
	{ ALL, "[--request-timeout time]" }, { CORO, "[--stack size]" }
};

/*
 * The option list of -h, a line an option; a LOOP line's %s is the
 * backends this build has.
 */
static const struct usage_word help[] = {
	{ ALL, "  -b, --bind ADDR      address to listen on (:: or 0.0.0.0"
	    " for all) [127.0.0.1]\n" },
	{ ALL, "  -p, --port PORT      port, 0 for any free one [40001]\n" },
	{ ALL, "  -d, --delay TIME     simulated work per request: 1.5,"
	    " 250ms, 2s, 0 [1s]\n" },
	{ ALL, "  -c, --max-conns N    connections served at once, more wait"
	    " [model's own]\n" },
	{ POOL, "  -w, --workers N      a pool of N workers instead of one"
	    " per connection\n" },
	{ LOOPS, "  -w, --workers N      N event loops, a process each [1]\n" },
	{ POOL, "      --accept MODE    with -w, who takes the next"
	    " connection: herd (all\n"
	    "                       poll), plain (all in accept), lock, pass"
	    " [herd]\n" },
	{ LOOPS, "      --accept MODE    with -w, who takes the next "
	    "connection: least (the\n"
	    "                       least loaded loops watch), herd, exclusive,"
	    " reuseport\n"
	    "                       [least]\n" },
	{ ALL, "  -t, --timeout TIME   close a connection idle this long, 0"
	    " never [60s]\n" },
	{ LOOP, "      --backend NAME   how the loop waits: %s [poll]\n" },
	{ ALL, "      --backlog N      the listen(2) backlog, capped by the"
	    " kernel [65535]\n" },
	{ ALL, "      --counter MODE   shared request counter: off, unsafe,"
	    " mutex, atomic [off]\n" },
	{ ALL, "      --cpu            spend the delay computing, not"
	    " waiting\n" },
	{ ALL, "      --framing MODE   a request: auto (a line, or what came"
	    " before a pause),\n"
	    "                       line, or read (one read(2)); not with"
	    " --http [auto]\n" },
	{ ALL, "      --gil            the work under one lock, as CPython's"
	    " GIL: let go\n"
	    "                       while waiting, handed over every 5 ms"
	    " computing\n" },
	{ ALL, "      --http           speak minimal HTTP/1.1 instead of"
	    " lines\n" },
	{ BLOCKING, "      --locks MODE     each request takes the board and"
	    " the sink: opposite\n"
	    "                       (deadlocks), ordered or backoff [off]\n" },
	{ ALL, "      --max-line N     longest request (HTTP: its head) in"
	    " one piece [65536]\n" },
	{ ALL, "      --request-timeout TIME  close a connection whose request"
	    " is not whole\n"
	    "                       this long after its first byte, 0 never"
	    " [30s]\n" },
	{ CORO, "      --stack SIZE     each coroutine's stack, 4k to 64m,"
	    " guarded [64k]\n" },
	{ ALL, "  -q, --quiet          log only listening and stopped\n" },
	{ ALL, "  -h, --help           show this help and exit\n" },
	{ ALL, "  -V, --version        show the version and exit\n" }
};

#define USAGE_COLUMNS	79	/* the synopsis wraps before this column */
#define USAGE_INDENT	"       "	/* under the name, after "usage: " */

/* Whether model m takes an option that need says it belongs to. */
static int
takes(const struct up_model *m, enum usage_need need)
{
	switch (need) {
	case POOL:
		return m->workers && !m->event_loop;
	case LOOPS:
		return m->workers && m->event_loop;
	case LOOP:
		return m->event_loop;
	case CORO:
		return m->stack != 0;
	case BLOCKING:
		return !m->event_loop;
	default:
		return 1;
	}
}

/*
 * Appends to buf (of size len, holding *n bytes) what fmt makes of arg,
 * truncated to fit; *n grows by what was appended.
 */
static void
append(char *buf, size_t len, size_t *n, const char *fmt, const char *arg)
{
	int w;

	if (*n >= len - 1)
		return;
	w = snprintf(buf + *n, len - *n, fmt, arg);
	if (w > 0)
		*n += (size_t)w < len - *n ? (size_t)w : len - *n - 1;
}

const char *
up_server_usage(const struct up_model *m, const char *name, int full,
    char *buf, size_t len)
{
	size_t i, n = 0, col, wlen;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	append(buf, len, &n, "usage: %s", name);
	col = n;
	for (i = 0; i < sizeof(synopsis) / sizeof(synopsis[0]); i++) {
		if (!takes(m, synopsis[i].need))
			continue;
		wlen = strlen(synopsis[i].word);
		if (col + 1 + wlen > USAGE_COLUMNS) {
			append(buf, len, &n, "\n" USAGE_INDENT "%s",
			    synopsis[i].word);
			col = strlen(USAGE_INDENT) + wlen;
		} else {
			append(buf, len, &n, " %s", synopsis[i].word);
			col += 1 + wlen;
		}
	}
	append(buf, len, &n, "%s", "\n");
	if (!full)
		return buf;
	append(buf, len, &n, "%s", "\n");
	for (i = 0; i < sizeof(help) / sizeof(help[0]); i++)
		if (takes(m, help[i].need))
			append(buf, len, &n, help[i].word,
			    up_ev_backends_all(1));
	return buf;
}

static const char *const counter_names[] = {
	"off", "unsafe", "mutex", "atomic"
};

/* The name of a counter mode. */
const char *
up_counter_name(enum up_counter_mode m)
{
	return counter_names[m];
}

/* Writes a reason into errbuf and returns UP_PARSE_ERROR. */
static int fail(char *, size_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errbuf, errlen, fmt, ap);
	va_end(ap);
	return UP_PARSE_ERROR;
}

/* Parses a duration option; 0 or UP_PARSE_ERROR with a reason. */
static int
time_arg(const char *name, const char *arg, int64_t *ns, char *errbuf,
    size_t errlen)
{
	if (up_parse_time(arg, MAX_TIME_NS, ns) == 0)
		return 0;
	if (errno == ERANGE)
		return fail(errbuf, errlen,
		    "%s: '%s' is out of range (at most one day)", name, arg);
	return fail(errbuf, errlen,
	    "%s: '%s' is not a time (try 1.5, 250ms, 2s or 0)", name, arg);
}

/* Parses a count option in [min, max]; 0 or UP_PARSE_ERROR. */
static int
number_arg(const char *name, const char *arg, long min, long max, long *v,
    char *errbuf, size_t errlen)
{
	if (up_parse_number(arg, min, max, v) == 0)
		return 0;
	if (errno == EINVAL)
		return fail(errbuf, errlen, "%s: '%s' is not a number",
		    name, arg);
	return fail(errbuf, errlen, "%s: '%s' is out of range (%ld to %ld)",
	    name, arg, min, max);
}

/*
 * Sets o->accept to the --accept mode named arg, which model m must
 * have and this build must offer. Returns 0, or UP_PARSE_ERROR with the
 * reason in errbuf.
 */
static int
accept_arg(struct up_options *o, const struct up_model *m, const char *arg,
    char *errbuf, size_t errlen)
{
	enum up_accept_mode a;
	int loops = m->event_loop;

	if (!m->workers)
		return fail(errbuf, errlen, "--accept: the %s model has no "
		    "workers", m->name);
	if (up_accept_mode(arg, &a) == -1 || (!loops && a > UP_ACCEPT_PASS) ||
	    (loops && a < UP_ACCEPT_LEAST && a != UP_ACCEPT_HERD))
		return fail(errbuf, errlen, "--accept: unknown mode '%s' "
		    "(%s)", arg, loops ? "least, herd, exclusive or "
		    "reuseport" : "herd, plain, lock or pass");
	if (a == UP_ACCEPT_REUSEPORT && !up_reuseport_spreads())
		return fail(errbuf, errlen, "--accept reuseport: this "
		    "system's SO_REUSEPORT does not spread connections over "
		    "the sockets (Linux does)");
	o->accept = a;
	return 0;
}

/*
 * Checks that --backend names an engine this build has, and that -c fits
 * under its ceiling: select watches descriptors below FD_SETSIZE only, so
 * an explicit -c beyond that is refused, and the default is lowered to it
 * (the listening line shows max-conns=). 0 or UP_PARSE_ERROR.
 */
static int
backend_check(struct up_options *o, int explicit_conns, char *errbuf,
    size_t errlen)
{
	const char *have = up_ev_backends_all(1);
	int max_fd = up_ev_max_fd(o->backend);
	struct up_ev *ev;
	long most;

	if (max_fd == -1 && errno == ENOSYS)
		return fail(errbuf, errlen, "--backend: %s is not available"
		    " in this build (it has %s)", o->backend, have);
	if (max_fd == -1)
		return fail(errbuf, errlen, "--backend: unknown backend '%s'"
		    " (%s)", o->backend, have);
	/* the kernel may refuse io_uring: ask it now, not at the first
	 * connection */
	if (strcmp(o->backend, "uring") == 0) {
		if ((ev = up_ev_new(o->backend)) == NULL)
			return fail(errbuf, errlen, "--backend: uring: the "
			    "kernel refuses io_uring (%s); the backends that "
			    "work here: %s", strerror(errno),
			    up_ev_backends());
		up_ev_free(ev);
	}
	most = (long)max_fd - UP_RESERVED_FDS;
	if (o->max_conns <= most)
		return UP_PARSE_OK;
	if (explicit_conns)
		return fail(errbuf, errlen, "--max-conns: %ld is more than"
		    " %s can watch: its bitmaps stop at FD_SETSIZE (%d)"
		    " descriptors, so at most %ld connections (or use"
		    " --backend poll)", o->max_conns, o->backend, max_fd,
		    most);
	o->max_conns = most;
	return UP_PARSE_OK;
}

#define STACK_MIN	4096			/* --stack: a page */
#define STACK_MAX	(64L * 1024 * 1024)	/* 64 MiB */

/*
 * Parses a --stack size, bytes or with a k or m suffix (KiB, MiB), into
 * *size. 0, or -1 with the message in errbuf.
 */
static int
size_arg(const char *name, const char *arg, size_t *size, char *errbuf,
    size_t errlen)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(arg, &end, 10);
	if (end != arg && (*end == 'k' || *end == 'K') && end[1] == '\0') {
		if (n <= STACK_MAX / 1024)
			n *= 1024;
		end++;
	} else if (end != arg && (*end == 'm' || *end == 'M') &&
	    end[1] == '\0') {
		if (n <= STACK_MAX / (1024 * 1024))
			n *= 1024 * 1024;
		end++;
	}
	if (end == arg || *end != '\0' || errno != 0 || n < STACK_MIN ||
	    n > STACK_MAX)
		return fail(errbuf, errlen, "%s: '%s' is not a size from 4k "
		    "to 64m (bytes, or with k or m)", name, arg);
	*size = (size_t)n;
	return 0;
}

int
up_server_options(struct up_options *o, const struct up_model *m, int argc,
    char **argv, char *errbuf, size_t errlen)
{
	long n, port;
	int framing_set = 0;
	size_t i;
	int ch, e, explicit_conns = 0, accept_set = 0;

	/* an event loop's connections are descriptors: as many as fit */
	o->max_conns = m->event_loop ? up_fd_room(m->max_conns) :
	    m->max_conns;
	o->bind = UP_DEFAULT_BIND;
	o->port = UP_DEFAULT_PORT;
	o->delay_ns = UP_NS_PER_SEC;
	o->workers = 0;
	o->timeout_ns = 60 * UP_NS_PER_SEC;
	o->request_timeout_ns = 30 * UP_NS_PER_SEC;
	o->counter = UP_COUNTER_OFF;
	o->max_line = UP_DEFAULT_MAX_LINE;
	o->quiet = 0;
	o->http = 0;
	o->backend = m->event_loop ? "poll" : NULL;
	o->framing = UP_FRAMING_AUTO;
	o->cpu = 0;
	o->backlog = -1;
	o->gil = 0;
	o->locks = UP_LOCKS_OFF;
	o->stack = m->stack;
	/* today's way: pools poll and race; the least loaded loops */
	o->accept = m->event_loop ? UP_ACCEPT_LEAST : UP_ACCEPT_HERD;

	opterr = 0;	/* the library does not print: we explain below */
#ifdef __GLIBC__
	optind = 0;	/* glibc: a full reset, for a caller parsing twice */
#else
	optind = 1;
#endif
	while ((ch = up_getopt(argc, argv, options)) != -1) {
		switch (ch) {
		case 'b':
			o->bind = optarg;
			break;
		case 'c':
			if (number_arg("--max-conns", optarg, 1, MAX_CONNS, &n,
			    errbuf, errlen) != 0)
				return UP_PARSE_ERROR;
			if (!m->one_at_a_time)
				o->max_conns = n;
			explicit_conns = 1;
			break;
		case 'd':
			if (time_arg("--delay", optarg, &o->delay_ns, errbuf,
			    errlen) != 0)
				return UP_PARSE_ERROR;
			break;
		case 'h':
			return UP_PARSE_HELP;
		case 'p':
			if (number_arg("--port", optarg, 0, 65535, &port,
			    errbuf, errlen) != 0)
				return UP_PARSE_ERROR;
			o->port = optarg;
			break;
		case 'q':
			o->quiet = 1;
			break;
		case 't':
			if (time_arg("--timeout", optarg, &o->timeout_ns,
			    errbuf, errlen) != 0)
				return UP_PARSE_ERROR;
			break;
		case 'V':
			return UP_PARSE_VERSION;
		case 'w':
			if (!m->workers)
				return fail(errbuf, errlen,
				    "--workers: the %s model has no worker "
				    "pool", m->name);
			if (number_arg("--workers", optarg, 1, MAX_WORKERS,
			    &o->workers, errbuf, errlen) != 0)
				return UP_PARSE_ERROR;
			break;
		case 'C':	/* --counter */
			for (i = 0; i < sizeof(counter_names) /
			    sizeof(counter_names[0]); i++)
				if (strcmp(optarg, counter_names[i]) == 0)
					break;
			if (i == sizeof(counter_names) /
			    sizeof(counter_names[0]))
				return fail(errbuf, errlen,
				    "--counter: unknown mode '%s' (off, "
				    "unsafe, mutex or atomic)", optarg);
			o->counter = (enum up_counter_mode)i;
			break;
		case 'T':	/* --http */
			o->http = 1;
			break;
		case 'L':	/* --max-line */
			if (number_arg("--max-line", optarg, 1, UP_MAX_MAX_LINE,
			    &n, errbuf, errlen) != 0)
				return UP_PARSE_ERROR;
			o->max_line = (size_t)n;
			break;
		case 'P':	/* --backend */
			if (!m->event_loop)
				return fail(errbuf, errlen,
				    "--backend: the %s model has no event loop",
				    m->name);
			o->backend = optarg;
			break;
		case 'M':	/* --backlog */
			if (number_arg("--backlog", optarg, 0, UP_BACKLOG,
			    &o->backlog, errbuf, errlen) != 0)
				return UP_PARSE_ERROR;
			break;
		case 'N':	/* --cpu */
			o->cpu = 1;
			break;
		case 'G':	/* --gil */
			o->gil = 1;
			break;
		case 'R':	/* --request-timeout */
			if (time_arg("--request-timeout", optarg,
			    &o->request_timeout_ns, errbuf, errlen) != 0)
				return UP_PARSE_ERROR;
			break;
		case 'O':	/* --framing */
			if (strcmp(optarg, "auto") == 0)
				o->framing = UP_FRAMING_AUTO;
			else if (strcmp(optarg, "line") == 0)
				o->framing = UP_FRAMING_LINE;
			else if (strcmp(optarg, "read") == 0)
				o->framing = UP_FRAMING_READ;
			else
				return fail(errbuf, errlen,
				    "--framing: unknown mode '%s' "
				    "(auto, line or read)", optarg);
			framing_set = 1;
			break;
		case 'S':	/* --stack */
			if (m->stack == 0)
				return fail(errbuf, errlen, "--stack: the %s "
				    "model has no coroutines", m->name);
			if (size_arg("--stack", optarg, &o->stack, errbuf,
			    errlen) != 0)
				return UP_PARSE_ERROR;
			break;
		case 'K':	/* --locks */
			if (m->event_loop)
				return fail(errbuf, errlen, "--locks: the %s "
				    "model has one thread: a request waiting "
				    "for a lock would stop the loop, not "
				    "wait (use upserver-thread or -fork)",
				    m->name);
			if (up_locks_mode(optarg, &o->locks) == -1 ||
			    o->locks == UP_LOCKS_OFF)
				return fail(errbuf, errlen,
				    "--locks: unknown mode '%s' (opposite, "
				    "ordered or backoff)", optarg);
			break;
		case 'A':	/* --accept */
			if ((e = accept_arg(o, m, optarg, errbuf, errlen)) != 0)
				return e;
			accept_set = 1;
			break;
		default:	/* ':' or '?' */
			up_opt_error(ch, argv, errbuf, errlen);
			return UP_PARSE_ERROR;
		}
	}
	if (optind < argc)
		return fail(errbuf, errlen, "unexpected argument '%s'",
		    argv[optind]);
	/* Any mode, auto too: --http would silently ignore it. */
	if (o->http && framing_set)
		return fail(errbuf, errlen, "--framing does not apply with "
		    "--http: HTTP frames a request by its head");
	if (o->gil && o->locks != UP_LOCKS_OFF)
		return fail(errbuf, errlen,
		    "--gil and --locks: one lesson at a time");
	if (accept_set && o->workers == 0)
		return fail(errbuf, errlen, "--accept: needs -w: without "
		    "workers one %s accepts every connection", m->event_loop ?
		    "loop" : "process");
	if (o->accept == UP_ACCEPT_EXCLUSIVE && !up_ev_exclusive(o->backend))
		return fail(errbuf, errlen, "--accept exclusive: needs "
		    "EPOLLEXCLUSIVE, which %s (use --backend epoll on "
		    "Linux 4.5 or later)", up_ev_exclusive("epoll") ?
		    "only --backend epoll has" : "this build lacks");
	if (o->backend != NULL)
		return backend_check(o, explicit_conns, errbuf, errlen);
	return UP_PARSE_OK;
}
