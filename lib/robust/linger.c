/*
 * linger.c: the lingering close, for every model.
 *
 * A server that closes a socket with unread input makes the kernel send
 * a reset (RFC 1122, 4.2.2.13), and a reset can destroy the reply still
 * on its way: the client sees "connection reset" instead of the 400 it
 * was sent. So a connection that ends while its client may still be
 * sending (an HTTP error, "Connection: close" with more requests
 * pipelined behind it) first shuts down its sending side, then reads
 * and discards until the client closes too, for a bounded time and
 * number of bytes. nginx calls it lingering_close, Apache lingering
 * close; the blocking models wait for it in up_linger_close, the event
 * loop keeps the connection on a timer queue and reads when it can.
 */
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>

#include "robust/robust.h"

int
up_linger_start(struct up_linger *lg, int fd, int64_t now)
{
	lg->deadline = now + UP_LINGER_NS;
	lg->drained = 0;
	return shutdown(fd, SHUT_WR);
}

int
up_linger_read(struct up_linger *lg, int fd)
{
	char sink[4096];
	ssize_t n;

	do
		n = up_recv(fd, sink, sizeof(sink), 0);
	while (n == -1 && errno == EINTR);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (n <= 0)
		return 1;	/* the client closed too, or reset */
	lg->drained += (size_t)n;
	return lg->drained >= UP_LINGER_MAX;
}

void
up_linger_close(int fd)
{
	struct up_linger lg;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	if (up_linger_start(&lg, fd, up_now_ns()) == -1)
		return;
	while (poll(&pfd, 1, up_ms_until(lg.deadline)) > 0 &&
	    !up_linger_read(&lg, fd))
		;
}
