/*
 * io.c: the waits a coroutine makes where a blocking server blocks: try
 * the call on the non-blocking descriptor, and when it would block,
 * park on the descriptor until the engine says it is ready, as asyncio's
 * sock_recv and sock_sendall do.
 */
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "coro/coro.h"

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL	0	/* SIGPIPE is ignored where it is missing */
#endif

ssize_t
up_coro_read(struct up_sched *s, int fd, void *buf, size_t len,
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

int
up_coro_send_all(struct up_sched *s, int fd, const void *buf, size_t len,
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
