/*
 * sched.c: the scheduler: a ready queue, coroutines parked on a
 * descriptor (by descriptor) or on a deadline (a binary heap: deadlines
 * differ, a sleep, an idle timeout, a pause), and a turn that waits on
 * the engine once, the nearest deadline as its timeout. coro.h maps
 * each step to asyncio's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "coro/coro.h"

#if defined(__SANITIZE_ADDRESS__)
#define UP_ASAN	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UP_ASAN	1
#endif
#endif
#ifdef UP_ASAN
#include <sanitizer/asan_interface.h>
#endif

/* The scheduler whose coroutine starts next: entry() takes it. */
static struct up_sched *starting;

/* ---- the deadline heap --------------------------------------------- */

/* Swaps heap places i and j. */
static void
heap_swap(struct up_sched *s, size_t i, size_t j)
{
	struct up_coro *t = s->heap[i];

	s->heap[i] = s->heap[j];
	s->heap[j] = t;
	s->heap[i]->heapi = i;
	s->heap[j]->heapi = j;
}

/* Restores the heap order around place i. */
static void
heap_fix(struct up_sched *s, size_t i)
{
	size_t l, m;

	while (i > 0 && s->heap[(i - 1) / 2]->deadline > s->heap[i]->deadline) {
		heap_swap(s, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	for (;;) {
		l = 2 * i + 1;
		m = i;
		if (l < s->nheap && s->heap[l]->deadline < s->heap[m]->deadline)
			m = l;
		if (l + 1 < s->nheap &&
		    s->heap[l + 1]->deadline < s->heap[m]->deadline)
			m = l + 1;
		if (m == i)
			return;
		heap_swap(s, i, m);
		i = m;
	}
}

/* Puts c on the heap at its deadline. 0, or -1 with errno. */
static int
heap_push(struct up_sched *s, struct up_coro *c)
{
	struct up_coro **h;
	size_t cap;

	if (s->nheap == s->heapcap) {
		cap = s->heapcap ? 2 * s->heapcap : 64;
		if ((h = realloc(s->heap, cap * sizeof(*h))) == NULL)
			return -1;
		s->heap = h;
		s->heapcap = cap;
	}
	c->heapi = s->nheap;
	s->heap[s->nheap++] = c;
	heap_fix(s, c->heapi);
	return 0;
}

/* Takes c off the heap. */
static void
heap_remove(struct up_sched *s, struct up_coro *c)
{
	size_t i = c->heapi;

	if (--s->nheap != i) {
		heap_swap(s, i, s->nheap);
		heap_fix(s, i);
	}
	c->heapi = (size_t)-1;
}

/* ---- the ready queue ----------------------------------------------- */

/* Puts c at the tail of the ready queue. */
static void
ready(struct up_sched *s, struct up_coro *c)
{
	c->state = UP_CORO_READY;
	c->next = NULL;
	if (s->tail != NULL)
		s->tail->next = c;
	else
		s->head = c;
	s->tail = c;
}

/* Unparks c (off the heap, off its descriptor) and readies it. */
static void
wake(struct up_sched *s, struct up_coro *c, int events)
{
	if (c->heapi != (size_t)-1)
		heap_remove(s, c);
	if (c->fd >= 0 && c->fd < s->nbyfd && s->byfd[c->fd] == c)
		s->byfd[c->fd] = NULL;
	c->fd = -1;
	c->events = events;
	ready(s, c);
}

/* ---- coroutines ---------------------------------------------------- */

/*
 * Where every coroutine begins: runs its function, then is done and
 * switches back to the scheduler for good. Never returns.
 */
static void
entry(void)
{
	struct up_sched *s = starting;
	struct up_coro *c = s->cur;

	c->fn(c->arg);
	c->state = UP_CORO_DONE;
	s->live--;
	s->cur = &s->main;
	s->switches++;
	up_coro_switch(c, &s->main);
}

int
up_sched_init(struct up_sched *s, struct up_ev *ev, size_t stack)
{
	memset(s, 0, sizeof(*s));
	s->ev = ev;
	/* the engine's kind decides how a coroutine waits */
	s->io = &up_coro_readiness;
#ifdef UP_URING
	if (ev != NULL && up_ev_completes(ev))
		s->io = &up_coro_completion;
#endif
	s->stack = stack != 0 ? stack : UP_CORO_STACK_DEFAULT;
	s->cur = &s->main;
	s->main.fd = -1;
	s->main.heapi = (size_t)-1;
	return up_coro_main_init(&s->main);
}

/*
 * Frees c, done or never to run: its standing receive with it, which
 * coro_done has let go of (or, when the scheduler is freed, the
 * engine, about to be freed too, will never complete).
 */
static void
coro_free(struct up_coro *c)
{
	free(c->rx);
	up_coro_stack_unmap(c);
	free(c->uc);
	free(c);
}

void
up_sched_free(struct up_sched *s)
{
	struct up_coro *c;
	size_t i;
	int fd;

	while ((c = s->head) != NULL) {
		s->head = c->next;
		coro_free(c);
	}
	for (i = 0; i < s->nheap; i++) {
		c = s->heap[i];
		if (c->fd >= 0 && c->fd < s->nbyfd && s->byfd[c->fd] == c)
			s->byfd[c->fd] = NULL;
		coro_free(c);
	}
	for (fd = 0; fd < s->nbyfd; fd++)
		if (s->byfd[fd] != NULL)
			coro_free(s->byfd[fd]);
	if (s->spare != NULL)
		coro_free(s->spare);
	while ((c = s->cache) != NULL) {
		s->cache = c->next;
		coro_free(c);
	}
	free(s->heap);
	free(s->byfd);
	free(s->main.uc);
	memset(s, 0, sizeof(*s));
}

/*
 * A coroutine that is done: kept, stack and all, for the next one while
 * fewer than UP_CORO_CACHE are, else freed. A server whose connections
 * come and go (churn) then maps no stack a connection: mmap, mprotect
 * and munmap and the page faults of a fresh stack were a third of its
 * CPU time per connection.
 */
static void
coro_done(struct up_sched *s, struct up_coro *c)
{
	if (s->io->drop != NULL)
		s->io->drop(s, c);
	if (s->ncache >= UP_CORO_CACHE) {
		coro_free(c);
		return;
	}
#ifdef UP_ASAN
	/* the frames it ended in left their red zones poisoned */
	ASAN_UNPOISON_MEMORY_REGION(c->map + (c->maplen - c->stack),
	    c->stack);
#endif
	c->next = s->cache;
	s->cache = c;
	s->ncache++;
}

/*
 * A new coroutine, its stack mapped and ready to start in entry(); NULL
 * with errno, and s->failed naming the call that failed.
 */
static struct up_coro *
coro_new(struct up_sched *s)
{
	struct up_coro *c;
	int e;

	if ((c = s->cache) != NULL) {
		/* one that is done: its stack and guard page as they were */
		s->cache = c->next;
		s->ncache--;
		c->next = NULL;
		c->state = 0;
		c->events = 0;
		c->deadline = 0;
		c->name[0] = '\0';
	} else if ((c = calloc(1, sizeof(*c))) == NULL) {
		s->failed = "malloc";
		return NULL;
	} else if (up_coro_stack_map(c, s->stack, &s->failed) == -1)
		goto fail;
	if (up_coro_prepare(c, entry) == 0)
		return c;
	/* ucontext's: its memory, or getcontext */
	s->failed = errno == ENOMEM ? "malloc" : "getcontext";
fail:
	e = errno;
	coro_free(c);
	errno = e;
	return NULL;
}

int
up_sched_reserve(struct up_sched *s)
{
	if (s->spare == NULL && (s->spare = coro_new(s)) == NULL)
		return -1;
	return 0;
}

struct up_coro *
up_coro_spawn(struct up_sched *s, void (*fn)(void *), void *arg,
    const char *name)
{
	struct up_coro *c = s->spare;

	if (c != NULL)
		s->spare = NULL;
	else if ((c = coro_new(s)) == NULL)
		return NULL;
	c->fn = fn;
	c->arg = arg;
	c->s = s;
	c->fd = -1;
	c->heapi = (size_t)-1;
	if (name != NULL)
		strncpy(c->name, name, sizeof(c->name) - 1);
	s->live++;
	ready(s, c);
	return c;
}

struct up_coro *
up_coro_self(struct up_sched *s)
{
	return s->cur == &s->main ? NULL : s->cur;
}

/* Switches from the running coroutine back to the scheduler. */
static void
park(struct up_sched *s)
{
	struct up_coro *c = s->cur;

	s->cur = &s->main;
	s->switches++;
	up_coro_switch(c, &s->main);
}

int
up_coro_wait(struct up_sched *s, int fd, int events, int64_t deadline)
{
	struct up_coro *c = s->cur, **b;
	int n;

	if (fd >= s->nbyfd) {
		n = s->nbyfd ? s->nbyfd : 64;
		while (n <= fd)
			n *= 2;
		if ((b = realloc(s->byfd, (size_t)n * sizeof(*b))) == NULL)
			return -1;
		memset(b + s->nbyfd, 0, (size_t)(n - s->nbyfd) * sizeof(*b));
		s->byfd = b;
		s->nbyfd = n;
	}
	/* unchanged, costs nothing: a connection that reads again */
	if (up_ev_set(s->ev, fd, events) == -1)
		return -1;
	if (deadline != 0) {
		c->deadline = deadline;
		if (heap_push(s, c) == -1)
			return -1;
	}
	c->fd = fd;
	c->events = 0;
	c->state = UP_CORO_PARKED;
	s->byfd[fd] = c;
	park(s);
	return c->events;
}

void
up_coro_sleep(struct up_sched *s, int64_t deadline)
{
	struct up_coro *c = s->cur;

	c->deadline = deadline;
	c->fd = -1;
	c->state = UP_CORO_PARKED;
	if (heap_push(s, c) == -1) {
		ready(s, c);	/* no room to park: runs again next turn */
		park(s);
		return;
	}
	park(s);
}

void
up_coro_park(struct up_sched *s)
{
	struct up_coro *c = s->cur;

	c->fd = -1;
	c->state = UP_CORO_PARKED;
	park(s);
}

void
up_coro_ready(struct up_sched *s, struct up_coro *c)
{
	if (c != NULL && c->state == UP_CORO_PARKED)
		wake(s, c, 0);
}

int64_t
up_sched_deadline(const struct up_sched *s)
{
	if (s->head != NULL)
		return -1;
	return s->nheap > 0 ? s->heap[0]->deadline : 0;
}

ssize_t
up_coro_fill(struct up_sched *s, struct up_reader *in, int fd, size_t max,
    int64_t deadline)
{
	return s->io->fill(s, in, fd, max, deadline);
}

ssize_t
up_coro_read(struct up_sched *s, int fd, void *buf, size_t len,
    int64_t deadline)
{
	return s->io->read(s, fd, buf, len, deadline);
}

int
up_coro_send_all(struct up_sched *s, int fd, const void *buf, size_t len,
    int64_t deadline)
{
	return s->io->send_all(s, fd, buf, len, deadline);
}

void
up_coro_yield(struct up_sched *s)
{
	ready(s, s->cur);
	park(s);
}

void
up_coro_forget(struct up_sched *s, int fd)
{
	if (s->ev != NULL)
		up_ev_set(s->ev, fd, 0);
	if (fd >= 0 && fd < s->nbyfd)
		s->byfd[fd] = NULL;
	if (s->io != NULL && s->io->forget != NULL)
		s->io->forget(s, fd);
}

int
up_sched_fire(struct up_sched *s, int fd, int events)
{
	struct up_coro *c;

	if (fd < 0 || fd >= s->nbyfd || (c = s->byfd[fd]) == NULL ||
	    c->state != UP_CORO_PARKED) {
		/* nobody waits: stop watching until someone does */
		up_ev_set(s->ev, fd, 0);
		return 0;
	}
	wake(s, c, events);
	return 1;
}

int
up_sched_expire(struct up_sched *s, int64_t now)
{
	int n = 0;

	while (s->nheap > 0 && s->heap[0]->deadline <= now) {
		wake(s, s->heap[0], 0);
		n++;
	}
	return n;
}

int
up_sched_run(struct up_sched *s)
{
	struct up_coro *c, *last = s->tail;
	int n = 0, end = 0;

	while (!end && (c = s->head) != NULL) {
		end = c == last;
		if ((s->head = c->next) == NULL)
			s->tail = NULL;
		c->next = NULL;
		starting = s;
		s->cur = c;
		s->switches++;
		up_coro_switch(&s->main, c);
		if (c->state == UP_CORO_DONE)
			coro_done(s, c);
		n++;
	}
	return n;
}

int
up_sched_timeout(const struct up_sched *s, int64_t now)
{
	int64_t ms;

	if (s->head != NULL)
		return 0;
	if (s->nheap == 0)
		return -1;
	if (s->heap[0]->deadline <= now)
		return 0;
	/* rounded up: waking early would only wait again */
	ms = (s->heap[0]->deadline - now + UP_NS_PER_MS - 1) / UP_NS_PER_MS;
	return ms > 1000000 ? 1000000 : (int)ms;
}

long
up_sched_turn(struct up_sched *s)
{
	struct up_ev_fired *fired;
	int i, n, tmo;

	up_sched_run(s);
	if (s->live == 0)
		return 0;
	tmo = up_sched_timeout(s, up_now_ns());
	if (s->ev != NULL) {
		if ((n = up_ev_wait(s->ev, tmo, &fired)) == -1 &&
		    errno != EINTR)
			return -1;
		for (i = 0; i < n; i++)
			up_sched_fire(s, fired[i].fd, fired[i].events);
	} else if (tmo > 0)
		up_sleep_ns((int64_t)tmo * UP_NS_PER_MS);
	up_sched_expire(s, up_now_ns());
	return s->live;
}
