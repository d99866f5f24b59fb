/*
 * serve.c: one connection from accept to close, for the blocking models.
 *
 * The sequential, fork and thread servers differ only in who calls
 * up_serve() and how many run at once; the service itself is here once.
 */
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <unistd.h>

#include "up.h"

/*
 * Sends a whole reply, waiting at most timeout_ms each time the client's
 * window is full: a client that stops reading is an idle client too.
 * Returns 0, or -1 with errno (ETIMEDOUT, EPIPE, ECONNRESET, ...).
 */
static int
send_reply(int fd, const char *p, size_t len, int timeout_ms)
{
	struct pollfd pfd;
	ssize_t n;
	int r;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
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

unsigned long
up_serve(struct up_conn *c, const struct up_options *o, struct up_shared *sh)
{
	const char *sep = c->who[0] != '\0' ? " " : "";
	const char *reason = NULL;
	int tmo = up_timeout_ms(o->timeout_ns);
	unsigned long served = 0;
	struct up_reader r;
	char *req;
	size_t len;
	long count;
	int rc;

	if (up_reader_init(&r, o->max_line) == -1) {
		up_log_error(c->peer, c->who, "malloc", errno);
		reason = "error";
		goto out;
	}
	for (;;) {
		rc = up_reader_next(&r, c->fd, tmo, &req, &len);
		if (rc == 0)
			break;
		if (rc == -1) {
			if (errno == ETIMEDOUT)
				reason = "idle";
			else if (errno == ECANCELED)
				reason = "stop";
			else {
				up_log_error(c->peer, c->who, "read", errno);
				reason = "error";
			}
			break;
		}
		count = up_work(sh, o->counter, o->delay_ns);
		up_uppercase(req, len);
		if (send_reply(c->fd, req, len, tmo) == -1) {
			if (errno == ETIMEDOUT)
				reason = "idle";
			else {
				up_log_error(c->peer, c->who, "write", errno);
				reason = "error";
			}
			break;
		}
		served++;
		atomic_fetch_add(&sh->requests, 1);
		if (o->counter != UP_COUNTER_OFF)
			up_log("responded", c->peer, "bytes=%zu count=%ld%s%s",
			    len, count, sep, c->who);
		else
			up_log("responded", c->peer, "bytes=%zu%s%s", len, sep,
			    c->who);
	}
	up_reader_free(&r);
out:
	close(c->fd);
	c->fd = -1;
	if (reason != NULL)
		up_log("closed", c->peer, "requests=%lu reason=%s%s%s", served,
		    reason, sep, c->who);
	else
		up_log("closed", c->peer, "requests=%lu%s%s", served, sep,
		    c->who);
	return served;
}
