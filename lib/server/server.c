/*
 * server.c: what every server does at start and at stop, so that the file
 * of each model holds its model and little else.
 */
#include <sys/resource.h>
#include <sys/socket.h>

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "server/server.h"

/* The name a binary was called by, without its directory. */
static const char *
basename_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash != NULL ? slash + 1 : path;
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

/* Fills s->msg and s->exit for a server that is not to run; -1. */
static int
not_to_run(struct up_server *s, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
not_to_run(struct up_server *s, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->msg, sizeof(s->msg), fmt, ap);
	va_end(ap);
	s->exit = status;
	return -1;
}

/*
 * The most connections s serves at once, as "listening" states it: one
 * for seq; with -w a pool of blocking workers, one each, whatever -c
 * says; else -c (an event loop's -w loops share it).
 */
static long
served_at_once(const struct up_server *s)
{
	if (s->model->one_at_a_time)
		return 1;
	if (s->opt.workers > 0 && !s->model->event_loop)
		return s->opt.workers;
	return s->opt.max_conns;
}

/*
 * Run once, in the server's first process, when it first sees a stop:
 * the listener is closed already; logs "draining" with the connections
 * still open, which it goes on serving until they end.
 */
static void
drain_notice(void *arg)
{
	struct up_server *s = arg;
	const char *name = up_signal_name(up_stop_signal());

	up_log("draining", s->addr, "connections=%ld signal=%s",
	    atomic_load(&s->shared->conns), name != NULL ? name : "?");
}

int
up_server_start(struct up_server *s, const struct up_model *m, int argc,
    char **argv)
{
	const char *name = basename_of(argv[0]);
	struct sockaddr_storage ss;
	char err[256], where[320], delay[32], extra[128] = "";
	char usage[UP_MSG_MAX];
	socklen_t len = sizeof(ss);
	size_t n;
	int gai;

	s->model = m;
	s->lfd = -1;
	switch (up_server_options(&s->opt, m, argc, argv, err, sizeof(err))) {
	case UP_PARSE_HELP:
		return not_to_run(s, 0, "%s", up_server_usage(m, name, 1,
		    usage, sizeof(usage)));
	case UP_PARSE_VERSION:
		return not_to_run(s, 0, "%s (up) %s\n", name, UP_VERSION);
	case UP_PARSE_ERROR:
		return not_to_run(s, 2, "%s: %s\n%s", name, err,
		    up_server_usage(m, name, 0, usage, sizeof(usage)));
	default:
		break;
	}
	s->proto.frame = up_framer(s->opt.http, s->opt.framing);
	s->proto.max_line = s->opt.max_line;
	s->proto.http = s->opt.http;
	s->proto.pause_ns = s->opt.framing == UP_FRAMING_AUTO &&
	    !s->opt.http ? UP_PAUSE_NS : 0;
	up_log_quiet(s->opt.quiet);
	up_raise_nofile();	/* as many descriptors as the hard limit */
	if (up_signals_init() == -1)
		return not_to_run(s, 1, "%s: signals: %s\n", name,
		    strerror(errno));
	if ((s->shared = up_shared_new(m->processes)) == NULL)
		return not_to_run(s, 1, "%s: shared memory: %s\n", name,
		    strerror(errno));
	if (s->opt.gil && (errno = up_gil_init(&s->gil)) != 0)
		return not_to_run(s, 1, "%s: --gil: %s\n", name,
		    strerror(errno));
	s->locks = NULL;
	s->handout = NULL;
	s->loops = NULL;
	if (s->opt.locks != UP_LOCKS_OFF &&
	    (s->locks = up_locks_new(m->processes)) == NULL)
		return not_to_run(s, 1, "%s: shared memory: %s\n", name,
		    strerror(errno));
	/* --accept reuseport: the first of a group, a listener a loop */
	up_listen_reuseport(s->opt.workers > 0 &&
	    s->opt.accept == UP_ACCEPT_REUSEPORT);
	s->lfd = up_listen(s->opt.bind, s->opt.port, (int)s->opt.backlog,
	    &gai);
	up_format_hostport(s->opt.bind, s->opt.port, where, sizeof(where));
	if (s->lfd == -1)
		return not_to_run(s, 1, "%s: bind %s: %s\n", name, where,
		    gai != 0 ? gai_strerror(gai) : strerror(errno));
	if (getsockname(s->lfd, (struct sockaddr *)&ss, &len) == -1)
		return not_to_run(s, 1, "%s: getsockname %s: %s\n", name,
		    where, strerror(errno));
	up_format_addr((struct sockaddr *)&ss, s->addr, sizeof(s->addr));
	if (up_stop_listener(s->lfd) == -1)
		return not_to_run(s, 1, "%s: socket: %s\n", name,
		    strerror(errno));
	up_stop_on_notice(drain_notice, s);
	if (s->opt.workers > 0 && !m->event_loop &&
	    (s->handout = up_handout_new(s->opt.accept, s->opt.workers,
	    s->lfd, m->processes)) == NULL)
		return not_to_run(s, 1, "%s: --accept %s: %s\n", name,
		    up_accept_name(s->opt.accept), strerror(errno));

	/* What differs from the defaults, and changes what a client sees. */
	n = 0;
	if (s->opt.workers > 0)
		n += (size_t)snprintf(extra + n, sizeof(extra) - n,
		    " workers=%ld", s->opt.workers);
	if (s->opt.http)
		n += (size_t)snprintf(extra + n, sizeof(extra) - n,
		    " proto=http");
	if (s->opt.framing != UP_FRAMING_AUTO && !s->opt.http)
		n += (size_t)snprintf(extra + n, sizeof(extra) - n,
		    " framing=%s", s->opt.framing == UP_FRAMING_READ ?
		    "read" : "line");
	if (s->opt.cpu)
		n += (size_t)snprintf(extra + n, sizeof(extra) - n,
		    " work=cpu");
	if (s->opt.gil)
		n += (size_t)snprintf(extra + n, sizeof(extra) - n, " gil=on");
	if (s->opt.backlog >= 0)
		n += (size_t)snprintf(extra + n, sizeof(extra) - n,
		    " backlog=%ld", s->opt.backlog);
	if (s->opt.workers > 0)
		n += (size_t)snprintf(extra + n, sizeof(extra) - n,
		    " accept=%s", up_accept_name(s->opt.accept));
	if (s->opt.locks != UP_LOCKS_OFF)
		snprintf(extra + n, sizeof(extra) - n, " locks=%s",
		    up_locks_name(s->opt.locks));
	up_log("listening", s->addr, "model=%s pid=%ld delay=%s "
	    "max-conns=%ld%s counter=%s%s%s", m->name, (long)getpid(),
	    up_format_time(s->opt.delay_ns, delay, sizeof(delay)),
	    served_at_once(s), extra, up_counter_name(s->opt.counter),
	    s->opt.backend != NULL ? " backend=" : "",
	    s->opt.backend != NULL ? s->opt.backend : "");
	return 0;
}

/*
 * Accepts one connection, waiting in poll(2) on the listening socket and
 * the stop pipe. The listening socket is non-blocking so that when several
 * processes or threads wait on it, those that lose the race go back to
 * waiting instead of blocking in accept(2) past a stop request.
 */
int
up_accept(int lfd, struct up_conn *c)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, r;

	for (;;) {
		if (up_stopping()) {
			up_stop_notice();
			return 0;
		}
		r = up_wait(lfd, POLLIN, -1);
		if (r == UP_WAIT_STOP)
			return 0;
		if (r == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		len = sizeof(ss);
		fd = up_accept_fd(lfd, (struct sockaddr *)&ss, &len, 0);
		if (fd >= 0)
			break;
		if (up_stopping())
			continue;	/* what took the listener's place */
		if (errno != EAGAIN && !up_accept_transient(errno))
			return -1;	/* EAGAIN: another worker took it */
	}
	c->fd = fd;
	up_format_addr((struct sockaddr *)&ss, c->peer, sizeof(c->peer));
	c->who[0] = '\0';
	return 1;
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
up_server_take(struct up_server *s, long i, struct up_conn *c)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	for (;;) {
		len = sizeof(ss);
		fd = up_handout_take(s->handout, i, s->lfd,
		    (struct sockaddr *)&ss, &len);
		if (fd == UP_HANDOUT_STOP)
			return 0;
		if (fd >= 0)
			break;
		/* a shortage, as up_server_accept */
		up_log_error(s->addr, NULL, "accept", errno);
		if (up_wait(up_stop_fd(), POLLIN, 100) > 0)
			return 0;
	}
	c->fd = fd;
	up_format_addr((struct sockaddr *)&ss, c->peer, sizeof(c->peer));
	c->who[0] = '\0';
	return 1;
}

int
up_server_pass(struct up_server *s)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, r;

	while (!up_stopping()) {
		r = up_wait(s->lfd, POLLIN, -1);
		if (r == UP_WAIT_STOP)
			break;
		if (r != 1)
			continue;	/* EINTR */
		len = sizeof(ss);
		if ((fd = up_accept_fd(s->lfd, (struct sockaddr *)&ss, &len,
		    0)) != -1) {
			up_handout_give(s->handout, fd,
			    (struct sockaddr *)&ss, len);
			continue;
		}
		if (up_stopping() || errno == EAGAIN ||
		    up_accept_transient(errno))
			continue;
		/* a shortage: say so, and give a close time to come */
		up_log_error(s->addr, NULL, "accept", errno);
		if (up_wait(up_stop_fd(), POLLIN, 100) > 0)
			break;
	}
	up_stop_notice();
	up_handout_close(s->handout);
	return 0;
}

int
up_server_stop(struct up_server *s)
{
	unsigned long requests = atomic_load(&s->shared->requests);
	long count = atomic_load(&s->shared->count);
	char counts[4096];

	up_stop_notice();	/* "draining", should no wait have said it */
	up_stop_listener(-1);
	close(s->lfd);
	s->lfd = -1;
	/* each request adds one: what the counter lacks was lost */
	counts[0] = '\0';
	if ((s->handout != NULL &&
	    up_handout_counts(s->handout, counts, sizeof(counts)) >=
	    sizeof(counts)) || (s->loops != NULL && s->opt.workers > 0 &&
	    up_loops_counts(s->loops, counts, sizeof(counts)) >=
	    sizeof(counts)))
		counts[0] = '\0';	/* too many workers to show */
	if (s->opt.counter != UP_COUNTER_OFF)
		up_log("stopped", s->addr,
		    "requests=%lu count=%ld lost=%ld%s", requests, count,
		    (long)requests - count, counts);
	else
		up_log("stopped", s->addr, "requests=%lu%s", requests,
		    counts);
	up_handout_free(s->handout);
	return 0;
}
