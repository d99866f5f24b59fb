/*
 * kqueue.c: the event engine on kqueue(2), the BSDs' and macOS's
 * answer to C10K; compiled only where the system has it.
 *
 * As with epoll the interest set lives in the kernel, but as filters:
 * reading and writing are two separate registrations of a descriptor,
 * each added or deleted with kevent(2), and reported apart, so one
 * descriptor may come back twice in a batch.
 *
 * What each wait costs: kevent(2) copies out only what is ready. O(ready)
 * per wait, however many are watched, like epoll.
 */
#include "ev/backend.h"

#ifdef EV_HAVE_KQUEUE
#include <sys/types.h>
#include <sys/event.h>
#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#define FIRST_EVENTS	64

struct state {
	int		 kq;		/* the interest set, in the kernel */
	struct kevent	*ev;		/* what one wait hands back */
	int		 cap;
};

static void *
create(void)
{
	struct state *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->cap = FIRST_EVENTS;
	if ((s->ev = calloc((size_t)s->cap, sizeof(*s->ev))) == NULL ||
	    (s->kq = kqueue()) == -1) {
		free(s->ev);
		free(s);
		return NULL;
	}
	fcntl(s->kq, F_SETFD, FD_CLOEXEC);
	return s;
}

static void
destroy(void *p)
{
	struct state *s = p;

	close(s->kq);
	free(s->ev);
	free(s);
}

static int
change(void *p, int fd, int old, int mask)
{
	struct state *s = p;
	struct kevent ch[2];
	int n = 0;

	if ((old ^ mask) & UP_EV_READ)
		EV_SET(&ch[n++], fd, EVFILT_READ,
		    mask & UP_EV_READ ? EV_ADD : EV_DELETE, 0, 0, NULL);
	if ((old ^ mask) & UP_EV_WRITE)
		EV_SET(&ch[n++], fd, EVFILT_WRITE,
		    mask & UP_EV_WRITE ? EV_ADD : EV_DELETE, 0, 0, NULL);
	return kevent(s->kq, ch, n, NULL, 0, NULL) == -1 ? -1 : 0;
}

static int
wait_ready(void *p, struct up_ev_fired *out, int max, int timeout_ms)
{
	struct state *s = p;
	struct timespec ts, *tsp = NULL;
	struct kevent *ev;
	int i, n;

	/* Out of memory, fewer: the others are handed back next time. */
	if (max > s->cap &&
	    (ev = realloc(s->ev, (size_t)max * sizeof(*ev))) != NULL) {
		s->ev = ev;
		s->cap = max;
	}
	if (max > s->cap)
		max = s->cap;
	if (timeout_ms >= 0) {
		ts.tv_sec = timeout_ms / 1000;
		ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000;
		tsp = &ts;
	}
	if ((n = kevent(s->kq, NULL, 0, s->ev, max, tsp)) <= 0)
		return n;
	for (i = 0; i < n; i++) {
		out[i].fd = (int)s->ev[i].ident;
		out[i].events = s->ev[i].filter == EVFILT_WRITE ?
		    UP_EV_WRITE : UP_EV_READ;
	}
	return n;
}

const struct ev_backend ev_kqueue = {
	"kqueue", INT_MAX, create, destroy, NULL, change, wait_ready,
	NULL, NULL, NULL, NULL, NULL	/* readiness only: no completions */
};
#endif /* EV_HAVE_KQUEUE */
