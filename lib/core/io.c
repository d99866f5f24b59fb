/*
 * io.c: reads and writes that survive signals and partial transfers.
 *
 * A write(2) on a socket may take fewer bytes than asked; a reader that
 * forgets it loses data (the classic bug of resuming from the wrong
 * offset). Everything here loops until done.
 */
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/core.h"

/* A length cut short at random, 1 to len - 1, for a "reduce" fault. */
static size_t
shorter(size_t len)
{
	return len > 1 ? 1 + (size_t)random() % (len - 1) : len;
}

ssize_t
up_send(int fd, const void *buf, size_t len, int flags)
{
	if (UP_FAULT("up/net/send/reduce"))
		len = shorter(len);
	return send(fd, buf, len, flags);
}

ssize_t
up_recv(int fd, void *buf, size_t len, int flags)
{
	if (UP_FAULT("up/net/recv/reduce"))
		len = shorter(len);
	return recv(fd, buf, len, flags);
}

/* read(2), retried when a signal interrupts it. */
ssize_t
up_read(int fd, void *buf, size_t len)
{
	ssize_t n;

	while ((n = read(fd, buf, len)) == -1 && errno == EINTR)
		;
	return n;
}

/*
 * Writes all of buf with write(2), or on a socket with send(2) and
 * MSG_NOSIGNAL, so that a peer that went away is an EPIPE error, not a
 * SIGPIPE. Whenever the descriptor (or the socket's window) is full it
 * waits at most timeout_ms (-1: for ever). Returns 0, or -1 with errno,
 * ETIMEDOUT when a wait ran out.
 */
static int
transfer_all(int fd, const char *p, size_t len, int on_socket,
    int timeout_ms)
{
	struct pollfd pfd;
	ssize_t n;
	int r;

	while (len > 0) {
		n = on_socket ?
		    up_send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT) :
		    write(fd, p, len);
		if (n >= 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -1;
		pfd.fd = fd;
		pfd.events = POLLOUT;
		r = poll(&pfd, 1, timeout_ms);
		if (r == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (r == -1 && errno != EINTR)
			return -1;
	}
	return 0;
}

int
up_write_all(int fd, const void *buf, size_t len)
{
	return transfer_all(fd, buf, len, 0, -1);
}

int
up_send_all(int fd, const void *buf, size_t len, int timeout_ms)
{
	return transfer_all(fd, buf, len, 1, timeout_ms);
}
