/*
 * upclient: sends lines to an up server and prints the replies.
 *
 * Everyday mode: with TEXT arguments, sends the words joined by spaces
 * plus a newline and prints the reply. Without, streams standard input to
 * the server while the replies stream to standard output, byte for byte:
 * one poll(2) loop moves both directions at once, so neither side ever
 * waits on the other and a file of any size passes through in two 64 KiB
 * buffers.
 *
 * Load mode, chosen by any of -c, -j, -n, -r, -s, -T, -v, --verify or
 * --timeout: many connections from this one process, each sending
 * numbered or random requests; see load.c.
 */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "client.h"

#define BUFSIZE	65536

#define MAX_CLIENTS	1000000L
#define MAX_REQUESTS	1000000000L
#define MAX_RANDOM	(16L * 1024 * 1024)
#define MAX_TIMEOUT_NS	(86400LL * UP_NS_PER_SEC)	/* one day */

/*
 * The options, for up_getopt: the letters, and after '-' the long options
 * that have none (their letters are only the codes up_getopt returns).
 */
static const char options[] =
    ":c:(clients)H:(host)-l(literal)h(help)j:(jobs)n:(requests)p:(port)"
    "r:(random)s(stats)T(timeline)-t:(timeout)v(verbose)-y(verify)"
    "V(version)";

static const char synopsis[] =
    "usage: upclient [-hsTVv] [-c n] [-H host] [-j n] [-n n] [-p port]"
    " [-r bytes]\n"
    "                [--literal] [--timeout time] [--verify] [text ...]\n";

static const char help[] =
    "\n"
    "  -H, --host HOST      server to connect to, every address in turn"
    " [localhost]\n"
    "  -p, --port PORT      its port [40001]\n"
    "  -c, --clients N      open N connections at once [1]\n"
    "  -n, --requests N     requests per connection, each after the last"
    " reply [1]\n"
    "  -j, --jobs N         at most N requests (connections) at a time"
    " [no limit]\n"
    "  -r, --random BYTES   send BYTES random letters a-z and a newline,"
    " not TEXT\n"
    "      --literal        send TEXT as it is, not numbered (for servers"
    " that do not\n"
    "                       echo: a reply is whole once as long as its"
    " request)\n"
    "      --verify         check that each reply is its request"
    " uppercased\n"
    "      --timeout TIME   fail a connect or a reply after TIME, 0 never"
    " [0]\n"
    "  -T, --timeline       draw when each connection waited and was"
    " answered\n"
    "  -s, --stats          print requests/s and latency percentiles\n"
    "  -v, --verbose        log the client's events on standard error\n"
    "  -h, --help           show this help and exit\n"
    "  -V, --version        show the version and exit\n"
    "\n"
    "With TEXT, sends the words joined by spaces and a newline, and prints"
    " the reply.\n"
    "Without, sends standard input and writes the replies to standard"
    " output.\n"
    "Any of -cjnrsTv, --literal, --verify, --timeout chooses the load"
    " mode instead:\n"
    "each connection sends \"TEXT C.R\" (connection C, request R) or -r"
    " random letters;\n"
    "replies to TEXT go to standard output as they complete, replies to -r"
    " do not;\n"
    "the timeline and the stats (\"key: value\" lines) go to standard"
    " error.\n"
    "Ctrl-C (SIGINT) in load mode stops sending, waits a second at most for"
    " the\n"
    "replies in flight, and prints the timeline and the stats so far.\n"
    "Exit status: 0 every reply received (and verified), 1 a connection or"
    " reply\n"
    "failed, 2 usage, 130 a load run interrupted by SIGINT.\n";

struct client {
	const char	*host;
	const char	*port;
	char		 where[320];	/* "host:port" for messages */
};

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
 * Moves in (TEXT in memory, or standard input when text is NULL) to the
 * server on fd and the replies to standard output until the server closes.
 * Returns the exit status: 0 when every byte sent came back, 1 otherwise.
 */
static int
stream(struct client *cl, int fd, const char *text, size_t textlen)
{
	static char inbuf[BUFSIZE], outbuf[BUFSIZE];
	const char *pending = text;	/* to send: pending[0..npending) */
	size_t npending = text != NULL ? textlen : 0;
	int in_eof = text != NULL, shut = 0;
	unsigned long long sent = 0, received = 0;
	struct pollfd pfd[2];
	ssize_t n;

	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == -1) {
		fprintf(stderr, "upclient: fcntl: %s\n", strerror(errno));
		return 1;
	}
	for (;;) {
		if (in_eof && npending == 0 && !shut) {
			/* All sent: tell the server, and wait for the rest. */
			if (shutdown(fd, SHUT_WR) == -1 && errno != ENOTCONN) {
				fprintf(stderr, "upclient: shutdown %s: %s\n",
				    cl->where, strerror(errno));
				return 1;
			}
			shut = 1;
		}
		pfd[0].fd = !in_eof && npending == 0 ? STDIN_FILENO : -1;
		pfd[0].events = POLLIN;
		pfd[1].fd = fd;
		pfd[1].events = POLLIN | (npending > 0 ? POLLOUT : 0);
		if (poll(pfd, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "upclient: poll: %s\n",
			    strerror(errno));
			return 1;
		}
		if (pfd[0].revents != 0) {
			n = up_read(STDIN_FILENO, inbuf, sizeof(inbuf));
			if (n == -1) {
				fprintf(stderr,
				    "upclient: read standard input: %s\n",
				    strerror(errno));
				return 1;
			}
			if (n == 0)
				in_eof = 1;
			pending = inbuf;
			npending = (size_t)n;
		}
		if (pfd[1].revents & POLLIN || (pfd[1].revents &
		    (POLLHUP | POLLERR) && !(pfd[1].revents & POLLOUT))) {
			n = up_recv(fd, outbuf, sizeof(outbuf), 0);
			if (n == -1 && errno != EAGAIN && errno != EINTR) {
				fprintf(stderr, "upclient: read %s: %s\n",
				    cl->where, strerror(errno));
				return 1;
			}
			if (n == 0)
				break;
			if (n > 0) {
				if (up_write_all(STDOUT_FILENO, outbuf,
				    (size_t)n) == -1) {
					fprintf(stderr, "upclient: write "
					    "standard output: %s\n",
					    strerror(errno));
					return 1;
				}
				received += (unsigned long long)n;
			}
		}
		if (pfd[1].revents & (POLLOUT | POLLERR) && npending > 0) {
			n = up_send(fd, pending, npending, MSG_NOSIGNAL);
			if (n == -1 && errno != EAGAIN && errno != EINTR) {
				fprintf(stderr, "upclient: write %s: %s\n",
				    cl->where, strerror(errno));
				return 1;
			}
			if (n > 0) {
				pending += n;
				npending -= (size_t)n;
				sent += (unsigned long long)n;
			}
		}
	}
	if (!in_eof || npending > 0 || received != sent) {
		fprintf(stderr, "upclient: %s closed the connection after "
		    "%llu of %llu bytes\n", cl->where, received,
		    sent + npending);
		return 1;
	}
	return 0;
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

int
main(int argc, char **argv)
{
	struct client cl = { UP_DEFAULT_HOST, UP_DEFAULT_PORT, "" };
	struct load_options lo = { .clients = 1, .requests = 1, .random = -1 };
	char *text = NULL, msg[128];
	size_t textlen = 0, len;
	unsigned long bytes;
	int ch, fd, gai, i, load = 0, status;
	long port;

	opterr = 0;
	while ((ch = up_getopt(argc, argv, options)) != -1) {
		status = 0;
		switch (ch) {
		case 'c':
			status = number_arg("--clients", "connections", optarg,
			    1, MAX_CLIENTS, &lo.clients);
			break;
		case 'H':
			cl.host = optarg;
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
			cl.port = optarg;
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
		default:	/* ':' or '?' */
			return usage_error("%s", up_opt_error(ch, argv, msg,
			    sizeof(msg)));
		}
		if (status != 0)
			return status;
		if (ch != 'H' && ch != 'p')
			load = 1;	/* any other option: the load mode */
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

	up_format_hostport(cl.host, cl.port, cl.where, sizeof(cl.where));
	if (load) {
		lo.host = cl.host;
		lo.port = cl.port;
		lo.where = cl.where;
		lo.text = text;
		lo.textlen = text != NULL ? textlen - 1 : 0;	/* no '\n' */
		status = load_run(&lo);
		free(text);
		return status;
	}
	if ((fd = up_connect(cl.host, cl.port, &gai)) == -1) {
		fprintf(stderr, "upclient: connect %s: %s\n", cl.where,
		    gai != 0 ? gai_strerror(gai) : strerror(errno));
		free(text);
		return 1;
	}
	status = stream(&cl, fd, text, textlen);
	close(fd);
	free(text);
	return status;
}
