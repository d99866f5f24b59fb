/*
 * evloop.c: the frame of an event loop, around its connections.
 *
 * Redis splits its event loop (ae.c) from what the loop serves
 * (networking.c); so does the toolkit. What every event loop here does
 * whatever its connections are (upserver-poll's state machine, or
 * coroutines): an engine that watches, besides the connections, the
 * stop pipes (this process's and, in a -w loop, its parent's) and the
 * wake-up pipe another loop writes to; the listener, watched only while
 * a connection may be accepted (accept.c); and after each wait, what the
 * ready descriptors that are not connections mean. The connections'
 * events are handed back to the caller, to serve them first: a socket
 * closed meanwhile keeps its number until the caller accepts, so a late
 * event for it cannot reach a new connection.
 */
#include <errno.h>
#include <unistd.h>

#include "pool/pool.h"

int
up_evloop_init(struct up_evloop *l, const char *backend, int *lfd,
    const char *addr, long max_conns, size_t size, struct up_loops *g,
    long index, const char *who)
{
	int e;

	*l = (struct up_evloop){ .lfd = lfd, .g = g, .index = index,
	    .who = who, .memory.sh.who = who,
	    .parent_stop = up_parent_stop_fd(),
	    .wake = up_loops_enter(g, index) };
	if ((l->ev = up_ev_new(backend)) == NULL) {
		l->failed = errno == ENOMEM ? "allocating its engine" :
		    "creating its engine";
		return -1;
	}
	/* --accept reuseport: loop 0 keeps the first listener, the
	 * others open their own on the same port */
	if (index > 0 && up_loops_accept(g) == UP_ACCEPT_REUSEPORT &&
	    up_listen_again(*lfd) == -1) {
		l->failed = "opening its own listener (SO_REUSEPORT)";
		e = errno;
		up_evloop_free(l);
		errno = e;
		return -1;
	}
	l->acc = (struct up_acceptor){ .lfd = *lfd, .addr = addr, .who = who,
	    .max_conns = max_conns, .slots = &l->conns, .size = size,
	    .ev = l->ev, .memory = &l->memory, .g = g, .index = index };
	l->now = up_now_ns();
	if (up_ev_set(l->ev, up_stop_fd(), UP_EV_READ) == -1 ||
	    up_ev_set(l->ev, l->wake, UP_EV_READ) == -1 ||
	    (l->parent_stop != -1 &&
	    up_ev_set(l->ev, l->parent_stop, UP_EV_READ) == -1)) {
		l->failed = "watching the stop pipes";
		e = errno;
		up_evloop_free(l);
		errno = e;
		return -1;
	}
	return 0;
}

/*
 * The stop begins: the listener is unwatched and closed at once (the
 * signal handler may have closed it already).
 */
static void
begin_stop(struct up_evloop *l)
{
	l->stopping = 1;
	up_ev_set(l->ev, *l->lfd, 0);
	up_stop_notice();	/* closes it, and says "draining" */
	*l->lfd = -1;		/* what took its place is closed at exit */
	up_ev_set(l->ev, up_stop_fd(), 0);	/* readable for good now */
	if (l->parent_stop != -1)
		up_ev_set(l->ev, l->parent_stop, 0);
}

int
up_evloop_wait(struct up_evloop *l, int timeout_ms,
    struct up_ev_fired **fired, int *what)
{
	struct up_ev_fired *f = NULL;
	int i, n, conns = 0, stop = 0;

	*what = 0;
	/* listen with room for one more, here and across the loops */
	if (!l->stopping)
		up_ev_set(l->ev, *l->lfd, !up_acceptor_open(&l->acc, l->now) ?
		    0 : up_loops_accept(l->g) == UP_ACCEPT_EXCLUSIVE ?
		    UP_EV_READ | UP_EV_EXCLUSIVE : UP_EV_READ);
	n = up_ev_wait(l->ev, timeout_ms, &f);
	l->now = up_now_ns();
	if (n == -1 && errno != EINTR)
		return -1;
	for (i = 0; i < n; i++) {
		if (f[i].fd == up_stop_fd())
			continue;	/* up_stopping() says it */
		if (f[i].fd == l->parent_stop) {
			stop = 1;
			up_stop_seen();
		}
		else if (f[i].fd == l->wake) {
			up_loops_drain(l->g, l->index);
			*what |= UP_EVLOOP_WOKEN;
		} else if (!l->stopping && f[i].fd == *l->lfd) {
			*what |= UP_EVLOOP_ACCEPT;
			l->acc.woken = 1;	/* see up_acceptor_next */
		}
		else
			f[conns++] = f[i];	/* a connection's */
	}
	if (!l->stopping && (stop || up_stopping())) {
		begin_stop(l);
		*what = (*what | UP_EVLOOP_STOP) & ~UP_EVLOOP_ACCEPT;
	}
	if (l->memory.retry_at != 0 && l->now >= l->memory.retry_at) {
		l->memory.retry_at = 0;
		*what |= UP_EVLOOP_MEMORY;
	}
	*fired = f;
	return conns;
}

int
up_evloop_timeout(const struct up_evloop *l, int64_t deadline)
{
	deadline = up_earliest(deadline, l->acc.pause);
	deadline = up_earliest(deadline, l->memory.retry_at);
	return up_ms_until(deadline);
}

void
up_evloop_free(struct up_evloop *l)
{
	up_slots_free(&l->conns);
	up_ev_free(l->ev);
	l->ev = NULL;
}
