/*
 * ev.c: the event engine, the part every readiness mechanism shares.
 *
 * Modelled on Redis's ae.c: the engine keeps, for every descriptor, what
 * it is watched for, and hands the changes and the waits to a backend of
 * a few dozen lines (select.c, poll.c, epoll.c, kqueue.c).
 * Read two backends side by side to see the C10K lesson: what is
 * rebuilt, copied and walked on every wait, and what is not.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "ev/backend.h"

#ifdef EV_HAVE_EPOLL
#include <sys/epoll.h>
#endif

#define FIRST_FIRED	64	/* ready slots to start with */
#define MAX_FIRED	4096	/* the most handed back by one wait */

static const struct ev_backend *const backends[] = {
	&ev_select,
	&ev_poll,
#ifdef EV_HAVE_EPOLL
	&ev_epoll,
#endif
#ifdef EV_HAVE_KQUEUE
	&ev_kqueue,
#endif
#ifdef EV_HAVE_URING
	&ev_uring,
#endif
};
#define NBACKENDS	(sizeof(backends) / sizeof(backends[0]))

static const char *const known[] = {
	"select", "poll", "epoll", "kqueue", "uring"
};

struct up_ev {
	const struct ev_backend *b;
	void		*state;
	int		*mask;		/* by descriptor: the events watched */
	int		 maskcap;
	int		 watched;	/* descriptors with a mask */
	struct up_ev_fired *fired;
	int		 firedcap;
};

/* The backend called name in this build, or NULL with errno. */
static const struct ev_backend *
find(const char *name)
{
	size_t i;

	for (i = 0; i < NBACKENDS; i++)
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i];
	errno = EINVAL;
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(known[i], name) == 0)
			errno = ENOSYS;
	return NULL;
}

const char *
up_ev_backends(void)
{
	return "select, poll"
#ifdef EV_HAVE_EPOLL
	    ", epoll"
#endif
#ifdef EV_HAVE_KQUEUE
	    ", kqueue"
#endif
	    ;
}

const char *
up_ev_backends_all(int completion)
{
#ifdef EV_HAVE_URING
	if (completion)
		return "select, poll"
#ifdef EV_HAVE_EPOLL
		    ", epoll"
#endif
		    ", uring";
#endif
	(void)completion;
	return up_ev_backends();
}

/* The cheapest backend of this build: epoll, else kqueue, else poll. */
const char *
up_ev_best(void)
{
#if defined(EV_HAVE_EPOLL)
	return "epoll";
#elif defined(EV_HAVE_KQUEUE)
	return "kqueue";
#else
	return "poll";
#endif
}

int
up_ev_exclusive(const char *name)
{
#if defined(EV_HAVE_EPOLL) && defined(EPOLLEXCLUSIVE)
	return strcmp(name, "epoll") == 0;
#else
	(void)name;
	return 0;
#endif
}

int
up_ev_max_fd(const char *name)
{
	const struct ev_backend *b = find(name);

	return b != NULL ? b->max_fd : -1;	/* errno from find */
}

struct up_ev *
up_ev_new(const char *name)
{
	const struct ev_backend *b;
	struct up_ev *ev;

	if ((b = find(name)) == NULL)
		return NULL;
	if ((ev = calloc(1, sizeof(*ev))) == NULL)
		return NULL;
	ev->b = b;
	ev->firedcap = FIRST_FIRED;
	if ((ev->fired = calloc((size_t)ev->firedcap,
	    sizeof(*ev->fired))) == NULL ||
	    (ev->state = b->create()) == NULL) {
		free(ev->fired);
		free(ev);
		return NULL;
	}
	return ev;
}

void
up_ev_free(struct up_ev *ev)
{
	if (ev == NULL)
		return;
	ev->b->destroy(ev->state);
	free(ev->mask);
	free(ev->fired);
	free(ev);
}

/* Makes mask[] cover fd; 0 or -1 with errno. */
static int
grow_mask(struct up_ev *ev, int fd)
{
	int cap = ev->maskcap > 0 ? ev->maskcap : 64;
	int *p;

	while (cap <= fd)
		cap = cap > INT_MAX / 2 ? INT_MAX : cap * 2;
	if ((p = realloc(ev->mask, (size_t)cap * sizeof(*p))) == NULL)
		return -1;
	memset(p + ev->maskcap, 0, (size_t)(cap - ev->maskcap) * sizeof(*p));
	ev->mask = p;
	ev->maskcap = cap;
	return 0;
}

int
up_ev_reserve(struct up_ev *ev, int nfds)
{
	if (nfds > ev->b->max_fd)
		nfds = ev->b->max_fd;
	if (nfds > ev->maskcap && grow_mask(ev, nfds - 1) == -1)
		return -1;
	return ev->b->reserve != NULL ? ev->b->reserve(ev->state, nfds) : 0;
}

int
up_ev_set(struct up_ev *ev, int fd, int mask)
{
	int old;

	if (fd < 0 || fd >= ev->b->max_fd) {
		errno = EINVAL;
		return -1;
	}
	if (fd >= ev->maskcap) {
		if (mask == 0)
			return 0;
		if (grow_mask(ev, fd) == -1)
			return -1;
	}
	if ((old = ev->mask[fd]) == mask)
		return 0;
	if (ev->b->change(ev->state, fd, old, mask) == -1)
		return -1;
	ev->mask[fd] = mask;
	ev->watched += (old == 0) - (mask == 0);
	return 0;
}

int
up_ev_wait(struct up_ev *ev, int timeout_ms, struct up_ev_fired **fired)
{
	struct up_ev_fired *p;
	int cap = ev->firedcap;

	/*
	 * Room for every watched descriptor, up to MAX_FIRED per wait; out
	 * of memory, fewer: the rest are still ready at the next wait.
	 */
	while (cap < ev->watched && cap < MAX_FIRED)
		cap *= 2;
	if (cap != ev->firedcap &&
	    (p = realloc(ev->fired, (size_t)cap * sizeof(*p))) != NULL) {
		ev->fired = p;
		ev->firedcap = cap;
	}
	*fired = ev->fired;
	return ev->b->wait(ev->state, ev->fired, ev->firedcap, timeout_ms);
}

int
up_ev_completes(const struct up_ev *ev)
{
	return ev->b->submit != NULL;
}

int
up_ev_submit(struct up_ev *ev, struct up_ev_op *op)
{
	if (ev->b->submit == NULL) {
		errno = ENOTSUP;
		return -1;
	}
	return ev->b->submit(ev->state, op);
}

int
up_ev_cancel(struct up_ev *ev, struct up_ev_op *op)
{
	if (ev->b->cancel == NULL) {
		errno = ENOTSUP;
		return -1;
	}
	return ev->b->cancel(ev->state, op);
}

int
up_ev_multishot(const struct up_ev *ev)
{
	return ev->b->multishot != NULL && ev->b->multishot(ev->state);
}

size_t
up_ev_received(struct up_ev *ev, const struct up_ev_op *op, char **p)
{
	return ev->b->received != NULL ? ev->b->received(ev->state, op, p) :
	    0;
}

void
up_ev_consume(struct up_ev *ev, struct up_ev_op *op, size_t n)
{
	if (ev->b->consume != NULL)
		ev->b->consume(ev->state, op, n);
}
