/*
 * serve.c: one connection from accept to close, for the blocking models.
 *
 * The sequential, fork and thread servers differ only in who calls
 * up_serve() and how many run at once; the service itself is here once.
 * Each step blocks: the read until a whole request is in, the work, the
 * send until the reply is out. The protocol (what a request is, what its
 * reply is, what comes after) is proto/service.c's, as for the event
 * loop, which does the same steps without ever blocking.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "server/server.h"

/*
 * Does the work of request r: logs "received" as it begins (in mutex
 * mode, once the lock is ours), with the counter as the request read
 * it, spends the delay, and returns the counter as the request left it.
 * Under --gil it holds the GIL as it says, the times it waited for it in
 * *gil_waits; the GIL is taken inside the counter's mutex, never around
 * it: a thread blocked on a lock holds no GIL, as in CPython. Under
 * --locks the delay is spent between taking the board and the sink
 * (locks.c), *retries is what backoff retried, or -1 for a request
 * abandoned deadlocked at a stop (the counter then left as it was).
 */
static long
work(struct up_server *s, const struct up_conn *c, const struct up_request *r,
    unsigned long *gil_waits, int *retries)
{
	long seen;

	seen = up_work_begin(s->shared, s->opt.counter);
	up_log_received(c->peer, c->who, r->len, r->cut,
	    up_count_read_shown(s->opt.counter), seen);
	*gil_waits = 0;
	*retries = 0;
	if (s->opt.locks != UP_LOCKS_OFF)
		*retries = up_locks_work(s->locks, s->opt.locks, s->addr,
		    c->who, s->opt.delay_ns, s->opt.cpu);
	else if (s->opt.gil)
		*gil_waits = up_gil_spend(&s->gil, s->opt.delay_ns,
		    s->opt.cpu);
	else
		up_work_spend(s->opt.delay_ns, s->opt.cpu);
	if (*retries == -1) {
		if (s->opt.counter == UP_COUNTER_MUTEX)
			pthread_mutex_unlock(&s->shared->lock);
		return seen;
	}
	return up_work_end(s->shared, s->opt.counter, seen);
}

/*
 * The tag that ends "responded": under --gil "gil-waits=N", under
 * --locks backoff "retries=N", before the model's own (pid=, tid=), in
 * buf (of size len); else the model's own.
 */
static const char *
responded_tag(const struct up_server *s, const struct up_conn *c,
    unsigned long gil_waits, int retries, char *buf, size_t len)
{
	if (s->opt.gil)
		snprintf(buf, len, "gil-waits=%lu%s%s", gil_waits,
		    c->who[0] != '\0' ? " " : "", c->who);
	else if (s->opt.locks == UP_LOCKS_BACKOFF)
		snprintf(buf, len, "retries=%d%s%s", retries,
		    c->who[0] != '\0' ? " " : "", c->who);
	else
		return c->who;
	return buf;
}

/* The reason a read or a send failed, as "closed" says it. */
static const char *
failure(const struct up_conn *c, const char *op, int err)
{
	if (err == ETIMEDOUT)
		return "idle";
	if (err == ECANCELED)
		return "stop";
	up_log_error(c->peer, c->who, op, err);
	return "error";
}

/*
 * A connection found no memory (errno) for a buffer: it waits and tries
 * again, as long as its deadline allows (lib/robust/memory.c), so that a
 * shortage costs its client time, not the connection. Returns NULL to
 * try again, or the reason to close ("idle", "stop").
 */
static const char *
starved(struct up_server *s, struct up_conn *c, struct up_memory_wait *w,
    int64_t deadline)
{
	if (up_memory_pause(&s->shared->memory, w, s->addr, errno,
	    deadline) == 0)
		return NULL;
	return failure(c, "malloc", errno);
}

/* When a wait for memory beginning now gives up: -t, as idle; 0: never. */
static int64_t
memory_deadline(const struct up_options *o)
{
	return o->timeout_ns != 0 ? up_now_ns() + o->timeout_ns : 0;
}

/*
 * --http: tells a client that took longer than --request-timeout to send
 * its head so, with a 408, as well as a second allows, before the
 * lingering close lets the response arrive.
 */
static void
too_slow(int fd)
{
	char buf[UP_HTTP_HEAD_MAX];
	size_t n;

	if ((n = up_http_timeout_response(buf, sizeof(buf))) > 0 &&
	    up_send_all(fd, buf, n, 1000) == 0)
		up_linger_close(fd);
}

unsigned long
up_serve(struct up_server *s, struct up_conn *c)
{
	const struct up_options *o = &s->opt;
	const char *reason = NULL;
	int tmo = up_timeout_ms(o->timeout_ns);
	unsigned long served = 0;
	struct up_request r;
	struct up_reader in = { 0 };	/* freed at out: even if never set */
	struct up_buf out = { NULL, 0 };
	struct up_memory_wait mem = { 0 };
	int64_t deadline;
	char *req;
	size_t len, pending;
	long count;
	unsigned long gil_waits = 0;
	int rc, retries = 0;
	char tag[64];

	atomic_fetch_add(&s->shared->conns, 1);	/* for "draining" */
	deadline = memory_deadline(o);
	while (up_reader_init(&in, o->max_line) == -1)
		if ((reason = starved(s, c, &mem, deadline)) != NULL)
			goto out;
	up_memory_got(&s->shared->memory, &mem, s->addr);
	in.frame = s->proto.frame;
	in.pause_ns = s->proto.pause_ns;
	in.request_ns = o->request_timeout_ns;
	for (;;) {
		rc = up_reader_next(&in, c->fd, tmo, &req, &len);
		if (rc == 0)
			break;		/* the client is done */
		if (rc == -1 && in.expired) {
			/* a request begun and not whole in time: slowloris */
			reason = "request-timeout";
			if (s->proto.http)
				too_slow(c->fd);
			break;
		}
		if (rc == -1) {
			reason = failure(c, "read", errno);
			break;
		}
		up_request_open(&s->proto, &r, req, len);
		r.cut = up_request_cut(&s->proto, req, len, in.eof);
		if (r.room > out.cap) {		/* the response buffer grows */
			deadline = memory_deadline(o);
			while (up_buf_room(&out, r.room) == -1)
				if ((reason = starved(s, c, &mem,
				    deadline)) != NULL)
					goto out;
			up_memory_got(&s->shared->memory, &mem, s->addr);
		}
		/* a request refused (HTTP) costs no work */
		count = 0;
		if (r.status == 200) {
			count = work(s, c, &r, &gil_waits, &retries);
			if (retries == -1) {
				/* deadlocked, abandoned at the stop */
				reason = "deadlock";
				break;
			}
		} else
			up_log_received(c->peer, c->who, r.len, NULL, 0, 0);
		up_request_reply(&s->proto, &r, out.p);
		/* a client that takes none of its reply for -t is idle too */
		if (up_send_all(c->fd, r.reply, r.replylen, tmo) == -1) {
			reason = failure(c, "write", errno);
			break;
		}
		served++;
		if (r.status == 200)
			atomic_fetch_add(&s->shared->requests, 1);
		up_log_responded(c->peer, responded_tag(s, c, gil_waits,
		    retries, tag, sizeof(tag)), r.body,
		    up_request_status(&s->proto, &r),
		    o->counter != UP_COUNTER_OFF && r.status == 200, count);
		if (r.next == UP_NEXT_LINGER) {
			up_linger_close(c->fd);
			break;
		}
	}
out:
	/* A line the client began and never ended is lost: say so. */
	pending = reason != NULL ? up_reader_pending(&in) : 0;
	up_reader_free(&in);
	free(out.p);
	close(c->fd);
	c->fd = -1;
	up_log_closed(c->peer, c->who, served, reason, pending);
	atomic_fetch_sub(&s->shared->conns, 1);
	return served;
}
