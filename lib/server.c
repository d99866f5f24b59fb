/*
 * server.c: what every server does at start and at stop, so that the file
 * of each model holds its model and little else.
 */
#include <sys/resource.h>
#include <sys/socket.h>

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "up.h"

/* The name a binary was called by, without its directory. */
static const char *
basename_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash != NULL ? slash + 1 : path;
}

/* Lets the process open as many descriptors as its hard limit allows. */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

long
up_fd_room(long want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_max != RLIM_INFINITY &&
	    rl.rlim_max < (rlim_t)want + UP_RESERVED_FDS)
		return rl.rlim_max > 2 * UP_RESERVED_FDS ?
		    (long)rl.rlim_max - UP_RESERVED_FDS : UP_RESERVED_FDS;
	return want;
}

int
up_server_start(struct up_server *s, int argc, char **argv,
    const char *model, unsigned refuse, int across_processes, char *msg,
    size_t msglen)
{
	const char *name = basename_of(argv[0]);
	struct sockaddr_storage ss;
	char err[256], where[320], delay[32], extra[128] = "";
	socklen_t len = sizeof(ss);
	size_t n;
	int gai;

	s->model = model;
	s->lfd = -1;
	switch (up_server_options(&s->opt, argc, argv, refuse, model, err,
	    sizeof(err))) {
	case UP_PARSE_HELP:
		snprintf(msg, msglen, "usage: %s%s%s", name,
		    up_server_synopsis, up_server_help);
		return 0;
	case UP_PARSE_VERSION:
		snprintf(msg, msglen, "%s (up) %s\n", name, UP_VERSION);
		return 0;
	case UP_PARSE_ERROR:
		snprintf(msg, msglen, "%s: %s\nusage: %s%s", name, err, name,
		    up_server_synopsis);
		return 2;
	default:
		break;
	}
	up_log_quiet(s->opt.quiet);
	raise_nofile();
	if (up_signals_init() == -1) {
		snprintf(msg, msglen, "%s: signals: %s\n", name,
		    strerror(errno));
		return 1;
	}
	s->shared = up_shared_new(across_processes);
	if (s->shared == NULL) {
		snprintf(msg, msglen, "%s: shared memory: %s\n", name,
		    strerror(errno));
		return 1;
	}
	s->lfd = up_listen(s->opt.bind, s->opt.port, (int)s->opt.backlog,
	    &gai);
	up_format_hostport(s->opt.bind, s->opt.port, where, sizeof(where));
	if (s->lfd == -1) {
		snprintf(msg, msglen, "%s: bind %s: %s\n", name, where,
		    gai != 0 ? gai_strerror(gai) : strerror(errno));
		return 1;
	}
	if (getsockname(s->lfd, (struct sockaddr *)&ss, &len) == -1) {
		snprintf(msg, msglen, "%s: getsockname %s: %s\n", name, where,
		    strerror(errno));
		return 1;
	}
	up_format_addr((struct sockaddr *)&ss, s->addr, sizeof(s->addr));

	/* What differs from the defaults, and changes what a client sees. */
	n = 0;
	if (s->opt.workers > 0)
		n += (size_t)snprintf(extra + n, sizeof(extra) - n,
		    " workers=%ld", s->opt.workers);
	if (s->opt.http)
		n += (size_t)snprintf(extra + n, sizeof(extra) - n,
		    " proto=http");
	if (s->opt.framing == UP_FRAMING_READ)
		n += (size_t)snprintf(extra + n, sizeof(extra) - n,
		    " framing=read");
	if (s->opt.cpu)
		n += (size_t)snprintf(extra + n, sizeof(extra) - n,
		    " work=cpu");
	if (s->opt.backlog >= 0)
		snprintf(extra + n, sizeof(extra) - n, " backlog=%ld",
		    s->opt.backlog);
	up_log("listening", s->addr, "model=%s pid=%ld delay=%s "
	    "max-conns=%ld%s counter=%s%s%s", model, (long)getpid(),
	    up_format_time(s->opt.delay_ns, delay, sizeof(delay)),
	    s->opt.max_conns, extra, up_counter_name(s->opt.counter),
	    s->opt.backend != NULL ? " backend=" : "",
	    s->opt.backend != NULL ? s->opt.backend : "");
	return -1;
}

int
up_server_accept(struct up_server *s, struct up_conn *c)
{
	int r;

	while ((r = up_accept(s->lfd, c)) == -1) {
		/*
		 * Out of descriptors or memory: the waiting client stays in
		 * the backlog. Say so, and wait a moment (or for a stop)
		 * for a connection to end, instead of spinning on accept.
		 */
		up_log_error(s->addr, NULL, "accept", errno);
		if (up_wait(up_stop_fd(), POLLIN, 100) > 0)
			return 0;
	}
	return r;
}

int
up_server_stop(struct up_server *s)
{
	unsigned long requests = atomic_load(&s->shared->requests);

	close(s->lfd);
	s->lfd = -1;
	if (s->opt.counter != UP_COUNTER_OFF)
		up_log("stopped", s->addr, "requests=%lu count=%ld", requests,
		    atomic_load(&s->shared->count));
	else
		up_log("stopped", s->addr, "requests=%lu", requests);
	return 0;
}
