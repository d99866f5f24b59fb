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

unsigned long
up_serve(struct up_conn *c, const struct up_options *o, struct up_shared *sh)
{
	const char *reason = NULL;
	int tmo = up_timeout_ms(o->timeout_ns);
	unsigned long served = 0;
	struct up_http_request h;
	struct up_reader r;
	char *req, *out = NULL, *reply;
	size_t len, cap = 0, body;
	long count = 0;
	int rc, keep = 1;

	if (up_reader_init(&r, o->max_line) == -1)
		goto fail;
	if (o->http) {
		/* a request head, and a response of the same size at most */
		r.frame = up_http_head_length;
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
				count = up_work(sh, o->counter, o->delay_ns);
			reply = out;
			len = up_http_response(&h, out, cap, &body);
			keep = h.keep_alive;
		} else {
			count = up_work(sh, o->counter, o->delay_ns);
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
	up_reader_free(&r);
	free(out);
	close(c->fd);
	c->fd = -1;
	up_log("closed", c->peer, "requests=%lu%s%s%s%s", served,
	    reason != NULL ? " reason=" : "", reason != NULL ? reason : "",
	    c->who[0] != '\0' ? " " : "", c->who);
	return served;
}
