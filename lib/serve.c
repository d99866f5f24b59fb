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
#include <stdlib.h>
#include <unistd.h>

#include "up.h"

/*
 * Closes a connection the server ends while the client may still be
 * sending (an HTTP error, "Connection: close" with more pipelined behind
 * it). Closing with unread input makes the kernel send a reset, which can
 * destroy the reply still in flight; so the server first shuts down its
 * sending side, then reads and discards what comes, for a second or
 * 1 MiB at most, until the client closes too.
 */
static void
linger_close(int fd)
{
	char sink[4096];
	int64_t deadline = up_now_ns() + UP_NS_PER_SEC;
	size_t drained = 0;
	struct pollfd pfd;
	ssize_t n;

	if (shutdown(fd, SHUT_WR) == -1)
		return;
	while (drained < 1024 * 1024) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, up_ms_until(deadline)) <= 0)
			break;
		n = up_read(fd, sink, sizeof(sink));
		if (n <= 0)
			break;
		drained += (size_t)n;
	}
}

/*
 * Does the work of a request of `bytes` bytes: logs "received" as it
 * begins (in mutex mode, once the lock is ours), with the counter as the
 * request read it, spends the delay, and returns the counter as the
 * request left it.
 */
static long
work(const struct up_conn *c, const struct up_options *o,
    struct up_shared *sh, size_t bytes)
{
	long seen;

	seen = up_work_begin(sh, o->counter);
	up_log_received(c->peer, c->who, bytes, o->counter != UP_COUNTER_OFF,
	    seen);
	up_work_spend(o->delay_ns, o->cpu);
	return up_work_end(sh, o->counter, seen);
}

unsigned long
up_serve(struct up_conn *c, const struct up_options *o, struct up_shared *sh)
{
	const char *reason = NULL;
	int tmo = up_timeout_ms(o->timeout_ns);
	unsigned long served = 0;
	struct up_http_request h;
	struct up_reader r;
	char *req, *out = NULL, *reply;
	size_t len, cap = 0, body, pending;
	long count = 0;
	int rc, keep = 1;

	if (up_reader_init(&r, o->max_line) == -1)
		goto fail;
	r.frame = up_framer(o);
	if (o->http) {
		/* a response the size of a request head at most */
		cap = UP_HTTP_HEAD_MAX + o->max_line + 1;
		if ((out = malloc(cap)) == NULL)
			goto fail;
	}
	while (keep) {
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
		if (o->http) {
			/* a refused request costs no work, then closes */
			up_http_parse(req, len, o->max_line, &h);
			if (h.status == 200)
				count = work(c, o, sh, len);
			else
				up_log_received(c->peer, c->who, len, 0, 0);
			reply = out;
			len = up_http_response(&h, out, cap, &body);
			keep = h.keep_alive;
		} else {
			count = work(c, o, sh, len);
			up_uppercase(req, len);
			reply = req;
			body = len;
			h.status = 200;
		}
		/* a client that takes none of its reply for -t is idle too */
		if (up_send_all(c->fd, reply, len, tmo) == -1) {
			if (errno == ETIMEDOUT)
				reason = "idle";
			else {
				up_log_error(c->peer, c->who, "write", errno);
				reason = "error";
			}
			break;
		}
		served++;
		if (h.status == 200)
			atomic_fetch_add(&sh->requests, 1);
		up_log_responded(c->peer, o, body, h.status, count, c->who);
		if (!keep)
			linger_close(c->fd);
	}
	goto out;
fail:
	up_log_error(c->peer, c->who, "malloc", errno);
	reason = "error";
out:
	/* A line the client began and never ended is lost: say so. */
	pending = reason != NULL ? up_reader_pending(&r) : 0;
	up_reader_free(&r);
	free(out);
	close(c->fd);
	c->fd = -1;
	up_log_closed(c->peer, c->who, served, reason, pending);
	return served;
}
