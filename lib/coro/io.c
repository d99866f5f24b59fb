/*
 * io.c: the waits a coroutine makes where a blocking server blocks, on
 * a readiness engine (select, poll, epoll, kqueue): try the call on the
 * non-blocking descriptor, and when it would block, park on the
 * descriptor until the engine says it is ready, as asyncio's sock_recv
 * and sock_sendall do. uring.c has the same functions on a completion
 * engine: diff the two.
 */
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "coro/coro.h"

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL	0	/* SIGPIPE is ignored where it is missing */
#endif

/* up_coro_fill on a readiness engine: read, and park while none came. */
static ssize_t
fill(struct up_sched *s, struct up_reader *in, int fd, size_t max,
    int64_t deadline)
{
	ssize_t n;
	int w;

	for (;;) {
		/* try: the socket is non-blocking */
		if ((n = up_reader_fill(in, fd, max)) > 0 ||
		    (n == 0 && in->eof))
			return n;
		if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if (deadline == UP_CORO_NOW) {
			errno = EAGAIN;
			return -1;
		}
		/* except BlockingIOError: add a reader, await its future */
		if ((w = up_coro_wait(s, fd, UP_EV_READ, deadline)) == -1)
			return -1;
		if (w == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
	}
}

/* up_coro_read on a readiness engine. */
static ssize_t
co_read(struct up_sched *s, int fd, void *buf, size_t len,
    int64_t deadline)
{
	ssize_t n;
	int w;

	for (;;) {
		if ((n = read(fd, buf, len)) >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		/* except BlockingIOError: add a reader, await its future */
		if ((w = up_coro_wait(s, fd, UP_EV_READ, deadline)) == -1)
			return -1;
		if (w == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
	}
}

/* up_coro_send_all on a readiness engine. */
static int
send_all(struct up_sched *s, int fd, const void *buf, size_t len,
    int64_t deadline)
{
	const char *p = buf;
	ssize_t n;
	int w;

	while (len > 0) {
		if ((n = send(fd, p, len, MSG_NOSIGNAL)) >= 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if ((w = up_coro_wait(s, fd, UP_EV_WRITE, deadline)) == -1)
			return -1;
		if (w == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
	}
	return 0;
}

const struct up_coro_io up_coro_readiness = {
	fill, co_read, send_all, NULL, NULL
};
