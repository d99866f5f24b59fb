/*
 * coro.h: coroutines over the event engine, the layer above ev: what
 * asyncio's programming model is, in C. A coroutine runs on a stack of
 * its own until it must wait (a descriptor not ready, a deadline not
 * reached); it then parks and the scheduler runs another. One thread
 * runs them all, and a wait is the only place where another may run.
 *
 * The same steps in asyncio (Lib/asyncio/base_events.py, selector_events.py):
 *
 *   up_sched_turn(s)            BaseEventLoop._run_once(): one turn
 *     up_sched_timeout(s)         timeout = 0 if self._ready else the
 *                                 nearest of self._scheduled (a heap)
 *     up_ev_wait(ev, timeout)     event_list = self._selector.select(timeout)
 *     up_sched_fire(s, fd, ev)    self._process_events(event_list): the
 *                                 reader's callback, fut.set_result(),
 *                                 puts the task back on self._ready
 *     up_sched_expire(s, now)     due TimerHandles moved to self._ready
 *     up_sched_run(s)             for handle in ready: handle._run(), that
 *                                 is Task.__step(): coro.send(None)
 *   up_coro_read(s, fd, ...)    loop.sock_recv(sock, n):
 *     read(2)                     try: sock.recv(n)
 *     EAGAIN                      except BlockingIOError:
 *     up_coro_wait(s, fd, READ)     fut = loop.create_future();
 *                                   self._add_reader(fd, ...); await fut
 *     (read again when woken)     the reader callback retries the recv
 *   up_coro_wait(...)           await fut: the Task yields the future up
 *                               to __step, which parks it on
 *                               fut.add_done_callback(self.__wakeup)
 *   up_coro_sleep(s, deadline)  await asyncio.sleep(delay): call_at(when,
 *                               futures._set_result_unless_cancelled)
 *   up_coro_spawn(s, fn, arg)   loop.create_task(coro): on self._ready
 *   up_coro_switch (switch.c)   nothing: Python's generators keep their
 *                               frame on the heap; C keeps a stack per
 *                               coroutine and swaps the stack pointer
 *
 * A switch costs no system call: a few instructions that save the
 * callee-saved registers and the stack pointer and load another's (x86-64
 * and aarch64), or ucontext's swapcontext(3) (one rt_sigprocmask each)
 * in a PORTABLE=1 build or on another machine.
 *
 * Stacks are mmap(2)'ed with a guard page below them: an overflow faults
 * there, and a SIGSEGV handler on an alternate stack (sigaltstack(2))
 * that finds the fault address in the running coroutine's guard page
 * calls the program's report instead of dying of a bare SIGSEGV. The
 * library itself never prints.
 */
#ifndef UP_CORO_H
#define UP_CORO_H

#include "proto/proto.h"
#include "ev/ev.h"

#define UP_CORO_STACK_DEFAULT	(64 * 1024)	/* --stack: 64 KiB */
#define UP_CORO_CACHE		64	/* done coroutines kept for reuse */
#define UP_CORO_NAME_MAX	64

struct up_sched;
struct up_coro;

/*
 * The waits a coroutine makes where a thread would block, one set per
 * kind of engine: io.c's on a readiness engine (try the call, park on
 * the descriptor while it would block), uring.c's on a completion
 * engine (submit the call, park until it completes). Same signatures:
 * `diff lib/coro/io.c lib/coro/uring.c` is readiness against completion.
 */
struct up_coro_io {
	ssize_t	(*fill)(struct up_sched *, struct up_reader *, int, size_t,
		    int64_t);
	ssize_t	(*read)(struct up_sched *, int, void *, size_t, int64_t);
	int	(*send_all)(struct up_sched *, int, const void *, size_t,
		    int64_t);
	/* ends what the running coroutine has asked of fd (NULL: nothing) */
	void	(*forget)(struct up_sched *, int);
	/* a coroutine ended: lets go of what it still asked (NULL: nothing) */
	void	(*drop)(struct up_sched *, struct up_coro *);
};
extern const struct up_coro_io up_coro_readiness, up_coro_completion;

/* A coroutine: what the scheduler keeps of it. */
struct up_coro {
	void		*sp;		/* its saved stack pointer (switch.c) */
	void		*uc;		/* PORTABLE: its ucontext_t */
	char		*map;		/* its mapping: guard page, stack */
	size_t		 maplen;
	size_t		 stack;		/* the usable stack, in bytes */
	void		(*fn)(void *);
	void		*arg;
	struct up_sched	*s;
	struct up_coro	*next;		/* on the ready queue */
	int		 state;		/* UP_CORO_READY, _PARKED, _DONE */
	int		 fd;		/* parked on fd, or -1 */
	int		 events;	/* for these; what fired when woken */
	int64_t		 deadline;	/* parked until, or 0 */
	size_t		 heapi;		/* its place in the deadline heap */
	char		 name[UP_CORO_NAME_MAX];	/* for a report */
	struct up_coro_rx *rx;		/* uring.c: its standing receive */
};

#define UP_CORO_READY	1
#define UP_CORO_PARKED	2
#define UP_CORO_DONE	3

struct up_sched {
	struct up_ev	*ev;		/* the engine waited on */
	const struct up_coro_io *io;	/* its waits: readiness, completion */
	struct up_coro	 main;		/* the scheduler's own context */
	struct up_coro	*cur;		/* the one running, or &main */
	struct up_coro	*head, *tail;	/* the ready queue */
	struct up_coro	**heap;		/* parked with a deadline */
	size_t		 nheap, heapcap;
	struct up_coro	**byfd;		/* parked on a descriptor */
	int		 nbyfd;
	size_t		 stack;		/* each new coroutine's stack */
	struct up_coro	*spare;		/* the next one, made beforehand */
	struct up_coro	*cache;		/* done, kept for the next ones */
	int		 ncache;
	const char	*failed;	/* what making one failed in */
	long		 live;		/* coroutines not done */
	unsigned long	 switches;	/* how many so far */
};

/*
 * Sets s up to run coroutines with stacks of stack bytes (rounded up to
 * pages) on engine ev (NULL: only deadlines, no descriptors). 0, or -1
 * with errno.
 */
int	up_sched_init(struct up_sched *s, struct up_ev *ev, size_t stack);

/* Frees s; coroutines still live are unmapped unrun. */
void	up_sched_free(struct up_sched *s);

/*
 * A new coroutine that will run fn(arg), on the ready queue, named name
 * for an overflow report: the one up_sched_reserve made, or one made
 * now. Returns it, or NULL with errno (ENOMEM: no memory, or no more
 * mappings, vm.max_map_count) and s->failed naming the call that failed:
 * "malloc", "mmap" (the stack), "mprotect" (its guard page),
 * "getcontext". It ends when fn returns; its stack is then unmapped at
 * the scheduler's next turn.
 */
struct up_coro *up_coro_spawn(struct up_sched *s, void (*fn)(void *),
	    void *arg, const char *name);

/*
 * Makes the next coroutine beforehand, stack and all, so that a server
 * may accept a connection only once it can serve it (up_coro_spawn then
 * cannot fail). 0, or -1 with errno and s->failed as up_coro_spawn.
 */
int	up_sched_reserve(struct up_sched *s);

/* The coroutine running, or NULL in the scheduler itself. */
struct up_coro *up_coro_self(struct up_sched *s);

/*
 * Parks the running coroutine until fd is ready for events
 * (UP_EV_READ, UP_EV_WRITE) or deadline (monotonic ns, 0: none) passes.
 * Returns the events that fired, 0 at the deadline, or -1 with errno
 * when the engine cannot watch fd.
 */
int	up_coro_wait(struct up_sched *s, int fd, int events,
	    int64_t deadline);

/* Parks the running coroutine until deadline. */
void	up_coro_sleep(struct up_sched *s, int64_t deadline);

/*
 * Parks the running coroutine until up_coro_ready wakes it: a future
 * no descriptor or deadline resolves (a lock handed on).
 */
void	up_coro_park(struct up_sched *s);

/* Wakes c, parked on anything; nothing if it is not parked. */
void	up_coro_ready(struct up_sched *s, struct up_coro *c);

/* Lets every other ready coroutine run once before this one goes on. */
void	up_coro_yield(struct up_sched *s);

/*
 * Stops watching fd, and ends what the running coroutine has asked of it
 * (on a completion engine, parking until its standing receive ends):
 * before fd is closed.
 */
void	up_coro_forget(struct up_sched *s, int fd);

/*
 * The engine reported fd ready for events: wakes the coroutine parked on
 * it. Returns 1, or 0 when none was (fd is then no longer watched, so
 * that a level-triggered engine does not report it again).
 */
int	up_sched_fire(struct up_sched *s, int fd, int events);

/* Wakes the coroutines whose deadline is now or past. How many. */
int	up_sched_expire(struct up_sched *s, int64_t now);

/*
 * Runs the coroutines ready now, each until it waits or ends (those
 * made ready meanwhile run next turn). Returns how many ran.
 */
int	up_sched_run(struct up_sched *s);

/*
 * How long the next wait may last, in ms, at now: 0 with some ready,
 * until the nearest deadline, -1 (for ever) with neither.
 */
int	up_sched_timeout(const struct up_sched *s, int64_t now);

/*
 * The nearest deadline of those parked, for a caller that waits on the
 * engine itself: -1 with some ready (do not wait), 0 with none.
 */
int64_t	up_sched_deadline(const struct up_sched *s);

/*
 * One whole turn when s owns the engine: run the ready, wait on the
 * engine (the nearest deadline as timeout), wake what fired and what is
 * due. Returns the coroutines still live, or -1 with errno.
 */
long	up_sched_turn(struct up_sched *s);

/* ---- io.c, uring.c: the waits a coroutine makes where a thread would
 * block, the engine's kind choosing which file's ---------------------- */

/* A deadline that is now: take what has come, do not wait. */
#define UP_CORO_NOW	(-1)

/*
 * Reads into in (up_reader_fill's buffer: none until bytes come, then
 * doubling up to max) from the non-blocking socket fd, waiting at most
 * until deadline (0: none; UP_CORO_NOW: not at all). Returns what it
 * read, 0 at the end of stream (in->eof set), or -1 with errno:
 * ETIMEDOUT at the deadline or when up_coro_ready woke it first, EAGAIN
 * with nothing there at UP_CORO_NOW, ENOMEM (nothing read, nothing lost).
 */
ssize_t	up_coro_fill(struct up_sched *s, struct up_reader *in, int fd,
	    size_t max, int64_t deadline);

/*
 * read(2) from the non-blocking fd, waiting while it has nothing, at
 * most until deadline (0: none). Returns what read(2) does, or -1 with
 * errno ETIMEDOUT at the deadline.
 */
ssize_t	up_coro_read(struct up_sched *s, int fd, void *buf, size_t len,
	    int64_t deadline);

/*
 * Sends all len bytes to the non-blocking socket fd, waiting while its
 * buffer is full, at most until deadline (0: none). 0, or -1 with errno
 * (ETIMEDOUT at the deadline).
 */
int	up_coro_send_all(struct up_sched *s, int fd, const void *buf,
	    size_t len, int64_t deadline);

/* ---- reader.c: a connection's next request --------------------------- */

/*
 * The next request from the non-blocking socket fd into in (its framing,
 * pause_ns and request_ns set; a zeroed buffer to start, max bytes at
 * most), as up_reader_next reads it for a blocking server but waiting on
 * s: for idle_ns with nothing coming (0: no limit), and while part of a
 * request is buffered, for its pause (in->pause_ns) and its
 * --request-timeout (in->request_ns, from its first bytes). Once
 * *stopping is set, only what has come is served (a wake-up by
 * up_coro_ready reads it). Returns 1 with *req and *len pointing into
 * in, 0 at the client's end of stream, or -1 with errno: ETIMEDOUT idle,
 * or (in->expired) the request not whole in time; ECANCELED at a stop
 * with no whole request buffered; ENOMEM; the read's error.
 */
int	up_coro_next_request(struct up_sched *s, struct up_reader *in, int fd,
	    size_t max, int64_t idle_ns, const int *stopping, char **req,
	    size_t *len);

/* ---- stack.c: stacks and their overflow ---------------------------- */

/*
 * Installs the SIGSEGV handler on an alternate stack of the calling
 * thread: a fault in the guard page of s's running coroutine calls
 * report(c, c->stack), which should say so and end the process (it runs
 * in a signal handler: async-signal-safe calls only); any other fault
 * is the default SIGSEGV. 0, or -1 with errno.
 */
int	up_coro_overflow_report(struct up_sched *s,
	    void (*report)(const struct up_coro *, size_t));

/*
 * Maps c's stack of size bytes with its guard page. 0, or -1 with errno
 * and *failed the call that failed: "mmap" or "mprotect".
 */
int	up_coro_stack_map(struct up_coro *c, size_t size, const char **failed);
void	up_coro_stack_unmap(struct up_coro *c);

/* ---- switch.c: the context switch --------------------------------- */

/* Prepares c to start in entry() at its first switch. 0, or -1. */
int	up_coro_prepare(struct up_coro *c, void (*entry)(void));

/* Readies c, the scheduler's own context. 0, or -1 with errno. */
int	up_coro_main_init(struct up_coro *c);

/* Saves the running context in from and runs to. */
void	up_coro_switch(struct up_coro *from, struct up_coro *to);

/* "asm x86-64", "asm aarch64" or "ucontext": how this build switches. */
const char *up_coro_switch_kind(void);

#endif /* UP_CORO_H */
