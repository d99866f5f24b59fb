/*
 * accept.c: accepting for an event loop, one loop or several (-w).
 *
 * A blocking server accepts when it is free; an event loop must decide
 * whether to watch the listening socket at all. It does so only while it
 * may take another connection: below -c, and with -w no more loaded than
 * the other loops (loops.c); and it accepts a connection only into
 * memory reserved for it beforehand (robust/memory.c), and for a
 * coroutine server with its coroutine made (stack and all), since a
 * client accepted with no room could only be closed: it stays in the
 * backlog meanwhile, where nothing is lost. Out of memory or descriptors
 * (EMFILE, ENFILE, ENOBUFS), it stops watching for a while: the
 * listener stays readable, and watching it would spin the loop.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <unistd.h>

#include "pool/pool.h"

#define PAUSE_NS	(100 * UP_NS_PER_MS)	/* out of descriptors */

/*
 * Reserves all the next connection needs: its memory and, for a
 * coroutine server, its coroutine and stack. 0; or -1, the shortage
 * logged (as what failed: malloc, or the stack's mmap or mprotect) and
 * accepting paused: the client waits in the backlog, where nothing is
 * lost. The shortage is over, if one was on, once all could be had.
 */
static int
reserve(struct up_acceptor *a, int64_t now)
{
	const char *op;

	if (up_slots_reserve(a->slots, a->ev, a->size) == -1)
		op = "malloc";
	else if (a->sched != NULL && up_sched_reserve(a->sched) == -1)
		op = a->sched->failed;
	else {
		up_memory_reserved(a->memory, a->addr);
		return 0;
	}
	a->pause = up_memory_failed(a->memory, a->addr, op, errno, now);
	return -1;
}

/*
 * The end of a pause. After a shortage of memory what the next
 * connection needs is tried now, whether one waits or not, so that the
 * shortage is seen to end; if it fails again, the pause goes on.
 */
static void
resume(struct up_acceptor *a, int64_t now)
{
	a->pause = 0;
	if (a->memory->sh.active)
		(void)reserve(a, now);
}

int
up_acceptor_open(struct up_acceptor *a, int64_t now)
{
	if (a->pause != 0 && now >= a->pause)
		resume(a, now);
	return a->pause == 0 && a->slots->count < (size_t)a->max_conns &&
	    up_loops_may_accept(a->g, a->index);
}

void *
up_acceptor_next(struct up_acceptor *a, int64_t now, int *fd, char *peer,
    size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	void *c = NULL;
	int on = 1;

	for (;;) {
		if (reserve(a, now) == -1)
			return NULL;
		/* -c across the loops, and each loop its share */
		if (!up_loops_reserve(a->g, a->index)) {
			a->woken = 0;	/* another loop's turn: not ours */
			return NULL;
		}
		sslen = sizeof(ss);
		if ((*fd = up_accept_fd(a->lfd, (struct sockaddr *)&ss, &sslen,
		    1)) != -1 && (c = up_slots_take(a->slots, *fd)) != NULL)
			break;
		up_loops_unreserve(a->g, a->index);
		if (*fd == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (a->woken)	/* woken for nothing: wasted */
				up_loops_count(a->g, a->index, 0);
			a->woken = 0;
			return NULL;
		}
		if (*fd == -1 && up_accept_transient(errno))
			continue;
		/* EMFILE, ENFILE, ENOBUFS...: wait for a close */
		up_log_error(a->addr, a->who, *fd == -1 ? "accept" : "malloc",
		    errno);
		if (*fd != -1)
			close(*fd);
		a->pause = now + PAUSE_NS;
		return NULL;
	}
	up_loops_count(a->g, a->index, 1);
	a->woken = 0;
	up_format_addr((struct sockaddr *)&ss, peer, len);
	/* pipelined replies leave back to back, not held by Nagle */
	setsockopt(*fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	return c;
}

void
up_acceptor_release(struct up_acceptor *a)
{
	up_loops_unreserve(a->g, a->index);
}
