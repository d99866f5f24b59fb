/*
 * net.c: listening, accepting and connecting, IPv4 and IPv6 alike.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/core.h"

int
up_fd_setup(int fd, int nonblock)
{
	int fl;

	if (fcntl(fd, F_SETFD, FD_CLOEXEC) == -1 ||
	    (fl = fcntl(fd, F_GETFL)) == -1)
		return -1;
	fl = nonblock ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
	return fcntl(fd, F_SETFL, fl);
}

/*
 * Raises the soft RLIMIT_NOFILE to the hard one, as far as setrlimit(2)
 * lets it. Returns the soft limit then, INT64_MAX for none, or -1 with
 * getrlimit's errno.
 */
int64_t
up_raise_nofile(void)
{
	struct rlimit rl;
	rlim_t cur;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return -1;
	cur = rl.rlim_cur;
	if (cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
			cur = rl.rlim_max;
	}
	if (cur == RLIM_INFINITY || cur > (rlim_t)INT64_MAX)
		return INT64_MAX;
	return (int64_t)cur;
}

#ifndef UP_LINUX
/*
 * The POSIX way to a new descriptor's flags, after the call that made it:
 * returns fd set up as up_fd_setup() says, or -1 with fd closed (and -1
 * for a call that failed, fd -1, with its errno).
 */
static int
setup_or_close(int fd, int nonblock)
{
	int saved;

	if (fd == -1 || up_fd_setup(fd, nonblock) == 0)
		return fd;
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}
#endif

int
up_socket(int domain, int type, int protocol, int nonblock)
{
#ifdef UP_LINUX
	return socket(domain, type | SOCK_CLOEXEC |
	    (nonblock ? SOCK_NONBLOCK : 0), protocol);
#else
	return setup_or_close(socket(domain, type, protocol), nonblock);
#endif
}

int
up_accept_fd(int lfd, struct sockaddr *sa, socklen_t *len, int nonblock)
{
	if (UP_FAULT("up/net/accept")) {
		/* The connection stays queued. */
		errno = UP_FAULT_ERRNO();
		return -1;
	}
#ifdef UP_LINUX
	return accept4(lfd, sa, len, SOCK_CLOEXEC |
	    (nonblock ? SOCK_NONBLOCK : 0));
#else
	/* Between accept and fcntl a fork+exec could inherit fd: POSIX. */
	return setup_or_close(accept(lfd, sa, len), nonblock);
#endif
}

/* "1.2.3.4:80" or "[::1]:80"; an IPv4-mapped IPv6 address prints as IPv4. */
const char *
up_format_addr(const struct sockaddr *sa, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], host,
			    sizeof(host));
			snprintf(buf, len, "%s:%u", host,
			    ntohs(in6->sin6_port));
		} else {
			inet_ntop(AF_INET6, &in6->sin6_addr, host,
			    sizeof(host));
			snprintf(buf, len, "[%s]:%u", host,
			    ntohs(in6->sin6_port));
		}
	} else
		snprintf(buf, len, "unknown");
	return buf;
}

/* "host:port", or "[host]:port" when host is an IPv6 address. */
const char *
up_format_hostport(const char *host, const char *port, char *buf, size_t len)
{
	if (strchr(host, ':') != NULL)
		snprintf(buf, len, "[%s]:%s", host, port);
	else
		snprintf(buf, len, "%s:%s", host, port);
	return buf;
}

/*
 * Whether name is "localhost" or a name under it ("a.localhost"), with or
 * without the final dot, in any case: the names RFC 6761 reserves for the
 * loopback addresses.
 */
static int
is_localhost(const char *name)
{
	static const char loc[] = "localhost";
	size_t n = strlen(name), k = sizeof(loc) - 1;

	if (n > 0 && name[n - 1] == '.')
		n--;
	if (n < k || strncasecmp(name + n - k, loc, k) != 0)
		return 0;
	return n == k || name[n - k - 1] == '.';
}

int
up_resolve(const char *host, const char *port, const struct addrinfo *hints,
    struct addrinfo **res)
{
	struct addrinfo loop;
	int gai;

	gai = getaddrinfo(host, port, hints, res);
	if (gai == 0 || host == NULL || !is_localhost(host))
		return gai;
	/*
	 * A minimal system may have no /etc/hosts, and then "localhost" goes
	 * to DNS, which need not know it. RFC 6761 reserves the name for the
	 * loopback addresses, and getaddrinfo(3) with no host and without
	 * AI_PASSIVE returns exactly those: ::1 and 127.0.0.1.
	 */
	loop = *hints;
	loop.ai_flags &= ~(AI_PASSIVE | AI_CANONNAME);
	return getaddrinfo(NULL, port, &loop, res) == 0 ? 0 : gai;
}

/*
 * Resolves host and port and, for each address in turn, makes a socket
 * (non-blocking or not) and hands it to attempt(), until one attempt
 * returns 0. Returns that socket; or -1 with the errno of the last
 * failure, or with *gai set when the name does not resolve.
 */
static int
each_address(const char *host, const char *port, int ai_flags,
    int nonblock, int (*attempt)(int, const struct addrinfo *, int),
    int arg, int *gai)
{
	struct addrinfo hints, *res, *ai;
	int fd = -1, saved = EADDRNOTAVAIL;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = ai_flags;
	*gai = up_resolve(host, port, &hints, &res);
	if (*gai != 0)
		return -1;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = up_socket(ai->ai_family, ai->ai_socktype,
		    ai->ai_protocol, nonblock);
		if (fd == -1) {
			saved = errno;
			continue;
		}
		if (attempt(fd, ai, arg) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd == -1)
		errno = saved;
	return fd;
}

/*
 * Binds and listens. Every server sets SO_REUSEADDR, so a server restarted
 * on the port of one that just stopped binds at once instead of waiting
 * out TIME_WAIT (the tutorial's "Address already in use" after a restart).
 *
 * The backlog bounds the queue of connections whose handshake the kernel
 * has completed and that wait for accept(2). On Linux, when that queue is
 * full, a client's SYN is dropped, not refused: the client retransmits it
 * after about 1 s, then 3 s, 7 s..., which is what the tutorial's
 * listen(5) does to a sixth client of a busy server.
 */
static int reuseport;		/* up_listen_reuseport */
static int last_backlog = UP_BACKLOG;	/* up_listen's, for up_listen_again */

static int
bind_and_listen(int fd, const struct addrinfo *ai, int backlog)
{
	int on = 1;

	last_backlog = backlog;
#ifdef SO_REUSEPORT
	if (reuseport &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) == -1)
		return -1;
#endif
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
	    listen(fd, backlog) == -1)
		return -1;
	return 0;
}

/* A non-blocking listening socket on the first address that binds. */
int
up_listen(const char *host, const char *port, int backlog, int *gai)
{
	return each_address(host, port, AI_PASSIVE, 1, bind_and_listen,
	    backlog < 0 ? UP_BACKLOG : backlog, gai);
}

int
up_reuseport_spreads(void)
{
#if defined(__linux__) && defined(SO_REUSEPORT)
	return 1;	/* since 3.9, by a hash of the client's address */
#else
	return 0;	/* BSDs: the last socket bound takes them all */
#endif
}

void
up_listen_reuseport(int on)
{
	reuseport = on;
}

int
up_listen_again(int lfd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd, e, on = 1;

	if (getsockname(lfd, (struct sockaddr *)&ss, &len) == -1 ||
	    (fd = up_socket(ss.ss_family, SOCK_STREAM, 0, 1)) == -1)
		return -1;
	if (
#ifdef SO_REUSEPORT
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) == -1 ||
#endif
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
	    bind(fd, (struct sockaddr *)&ss, len) == -1 ||
	    listen(fd, last_backlog) == -1 || dup2(fd, lfd) == -1 ||
	    up_fd_setup(lfd, 1) == -1) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	close(fd);
	return 0;
}

/* Failures of accept(2) that concern that connection only. */
int
up_accept_transient(int err)
{
	switch (err) {
	case EINTR:
	case ECONNABORTED:	/* the client gave up while waiting */
	case EPROTO:
	case EPERM:		/* a firewall said no */
#ifdef ENONET
	case ENONET:
#endif
	case ENETDOWN: case ENOPROTOOPT: case EHOSTDOWN:
	case EHOSTUNREACH: case EOPNOTSUPP:
	case ENETUNREACH:	/* pending network errors, see accept(2) */
		return 1;
	default:
		return 0;
	}
}

/* Connects fd to ai; 0 or -1 with errno. */
static int
connect_to(int fd, const struct addrinfo *ai, int unused)
{
	(void)unused;
	return connect(fd, ai->ai_addr, ai->ai_addrlen);
}

/* Connects to each address of host:port in turn until one answers. */
int
up_connect(const char *host, const char *port, int *gai)
{
	return each_address(host, port, 0, 0, connect_to, 0, gai);
}
