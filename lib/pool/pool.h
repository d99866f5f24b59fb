/*
 * pool.h: workers in processes of their own, for -w: the pool of worker
 * processes under a supervising parent (pool.c), as upserver-fork -w and
 * upserver-poll -w run them, what the event loops of upserver-poll -w
 * share (loops.c), how an event loop accepts (accept.c), the frame
 * every event loop runs its connections in (evloop.c), and worker
 * threads, started and counted, for upserver-thread (threads.c).
 */
#ifndef UP_POOL_H
#define UP_POOL_H

#include "robust/robust.h"

/* --accept: who takes the next connection (handout.c, loops.c). */
enum up_accept_mode {
	UP_ACCEPT_HERD,		/* pools: all poll the listener (before) */
	UP_ACCEPT_PLAIN,	/* pools: all block in accept(2) */
	UP_ACCEPT_LOCK,		/* pools: one waits, under the accept lock */
	UP_ACCEPT_PASS,		/* pools: the parent accepts, hands over */
	UP_ACCEPT_LEAST,	/* loops: the least loaded ones watch */
	UP_ACCEPT_EXCLUSIVE,	/* loops: EPOLLEXCLUSIVE */
	UP_ACCEPT_REUSEPORT	/* loops: a listener each, SO_REUSEPORT */
};

/* ---- pool.c: a fixed pool of worker processes ------------------------- */

/*
 * Sleeps until done(arg) says so, until timeout_ms passes (-1: no
 * limit), or (stop_too) until a stop is requested. Returns 1, or 0 for a
 * stop. A SIGCHLD that comes meanwhile wakes it (ppoll/pselect unblock
 * it atomically), so done() may count children reaped by a handler.
 */
int	up_sleep_until(int (*done)(long), long arg, int timeout_ms,
	    int stop_too);

/*
 * What the parent of a pool does besides supervising (a NULL member
 * does nothing), for --accept pass: prepare(i) before worker i is
 * forked, 0 or -1 with errno (logged as op=prepare_op, and tried again
 * as a failed fork is); forked(i) after that fork, in the worker (child
 * set) and in the parent; died(i) once worker i has ended. While the
 * parent waits, watch() fills at most max pollfds with what it waits
 * for besides, and may shorten *timeout_ms (-1: no limit); after each
 * wait, ready() gets them back (every revents 0 after a timeout or a
 * signal). stopped() runs once at the stop, before the parent waits
 * for the workers.
 */
struct pollfd;
struct up_pool_hooks {
	int	(*prepare)(long i, void *arg);
	const char *prepare_op;
	void	(*forked)(long i, int child, void *arg);
	void	(*died)(long i, void *arg);
	int	(*watch)(void *arg, struct pollfd *fds, int max,
		    int *timeout_ms);
	void	(*ready)(void *arg, const struct pollfd *fds, int n);
	void	(*stopped)(void *arg);
	void	*arg;
};

/*
 * Runs a pool of n worker processes until a stop: like fork(2), it
 * returns 1 in each new worker, with *index its place in the pool
 * (0..n-1, a replacement taking the place of the one it replaces), and
 * the worker then serves and exits. In the parent it returns 0 once
 * stopped and every worker has ended, or -1 with errno when the pool
 * cannot start. A worker that ends is logged as "error <addr> op=worker
 * pid=N exit=S|signal=NAME", then hooks->died is called, and it is
 * replaced, after a backoff if workers die young. hooks may be NULL.
 * A worker gets SIGTERM should the parent die. SIGCHLD stays blocked in
 * the parent.
 */
int	up_pool_run(const char *addr, long n,
	    const struct up_pool_hooks *hooks, long *index);

/*
 * The children of upserver-fork, a process per connection, as a second
 * SIGINT or SIGTERM kills them (up_stop_kills): room for n at once
 * (0, or -1 with errno); a child just forked, recorded with SIGCHLD
 * blocked (with n recorded already, it is not); a child reaped, which
 * a SIGCHLD handler may say (async-signal-safe).
 */
int	up_children_init(long n);
void	up_children_add(pid_t pid);
void	up_children_gone(pid_t pid);

/* ---- loops.c: what the event loops of upserver-poll -w share ---------- */

struct up_loops;

/*
 * Shared state for n event loops (processes forked after it) serving at
 * most max_conns connections in all, with a wake-up pipe per loop.
 * Returns NULL with errno.
 */
struct up_loops *up_loops_new(long n, long max_conns);

/*
 * In loop i's process, as it starts: marks it alive with no connections
 * and closes the others' read ends. Returns the descriptor to watch for
 * reading: readable when another loop wants this one to look again
 * (up_loops_may_accept, up_loops_granted); up_loops_drain empties it.
 */
int	up_loops_enter(struct up_loops *g, long i);
void	up_loops_drain(struct up_loops *g, long i);

/*
 * 1 when loop i may accept: fewer than max_conns in all, and no live
 * loop serves fewer than it. When 0, the loop is woken once that may
 * have changed.
 */
int	up_loops_may_accept(struct up_loops *g, long i);

/*
 * Reserves a place for one more connection in loop i before accepting
 * it: 1, or 0 when up_loops_may_accept would say 0. unreserve gives the
 * place back: an accept that found nobody, or a connection closed.
 */
int	up_loops_reserve(struct up_loops *g, long i);
void	up_loops_unreserve(struct up_loops *g, long i);

/*
 * The queued lock of --counter mutex, across loops, as an event loop
 * takes it without ever blocking: a request that finds it held waits
 * in q, this loop's queue of waiters in ticket order (the ticket is the
 * timer's deadline), and the lock is handed on in ticket order across
 * every loop. No call blocks for longer than a few instructions.
 *
 * up_loops_acquire: 1 when t holds the lock now, 0 when it waits in q.
 * up_loops_release: releases it; returns the waiter of this loop that
 * holds it now, or NULL (another loop's, woken, or nobody's).
 * up_loops_handed: once woken, the waiter of this loop the lock was
 * handed to, taken off q, or NULL (should nobody wait here any more,
 * the lock is handed on at once rather than held by no one).
 */
int	up_loops_acquire(struct up_loops *g, long i, struct up_timeq *q,
	    struct up_timer *t);
struct up_timer *up_loops_release(struct up_loops *g, long i,
	    struct up_timeq *q);
struct up_timer *up_loops_handed(struct up_loops *g, long i,
	    struct up_timeq *q);

/*
 * In the parent, once loop i has died: its connections are gone, and a
 * lock it held or waited for passes on.
 */
void	up_loops_died(struct up_loops *g, long i);

/*
 * Runs run(g, index, who, arg): as the only loop when workers is 0,
 * else as workers loops, each in a process of its own under up_pool_run
 * (who is "pid=N" there, NULL for the only loop), sharing g for at most
 * max_conns connections in all. Returns run's result, with *child set
 * in a loop's own process (which should then _exit with it); in the
 * parent of -w, 0 once every loop has ended. -1 with errno when g or
 * the pool cannot be had.
 */
int	up_loops_run(const char *addr, long workers, long max_conns,
	    int (*run)(struct up_loops *, long, const char *, void *),
	    void *arg, int *child);

/*
 * up_loops_run, the loops taking connections as accept says: least
 * (up_loops_run's way: only the least loaded loops watch the listener),
 * herd or exclusive (every loop with room watches it; the caller adds
 * UP_EV_EXCLUSIVE). *gp (when gp is not NULL) is set to what the loops
 * share, for up_loops_counts once they have ended.
 */
int	up_loops_run_accept(const char *addr, long workers, long max_conns,
	    enum up_accept_mode accept,
	    int (*run)(struct up_loops *, long, const char *, void *),
	    void *arg, int *child, struct up_loops **gp);

/* The --accept mode of the loops. */
enum up_accept_mode up_loops_accept(const struct up_loops *g);

/*
 * Counts, for loop i, a connection it accepted (accepted set) or a
 * wake-up for the listener that found none.
 */
void	up_loops_count(struct up_loops *g, long i, int accepted);

/*
 * Writes " accepted=A,B... wasted=X,Y..." into buf (len bytes), a number
 * per loop. Returns the length it needed, as snprintf.
 */
size_t	up_loops_counts(struct up_loops *g, char *buf, size_t len);

/* ---- accept.c: how an event loop accepts ------------------------------ */

struct up_acceptor {
	int		 lfd;		/* the listening socket */
	const char	*addr, *who;	/* for the log */
	long		 max_conns;	/* -c, in this loop */
	struct up_slots	*slots;		/* where connections go */
	size_t		 size;		/* the memory of one */
	struct up_ev	*ev;		/* the loop's engine */
	struct up_memory *memory;	/* its memory shortage */
	struct up_sched	*sched;		/* coro: one made first, or NULL */
	struct up_loops	*g;		/* what the loops share */
	long		 index;		/* this loop's place among them */
	int64_t		 pause;		/* no accepting until then, or 0 */
	int		 woken;		/* the listener was ready, none taken */
};

/*
 * 1 when the listener is worth watching at now: no pause (one that is
 * over ends here), room for one more connection here and across the
 * loops.
 */
int	up_acceptor_open(struct up_acceptor *a, int64_t now);

/*
 * Accepts the next connection into the memory reserved for it (and,
 * with a->sched, once that scheduler has the connection's coroutine
 * made, up_sched_reserve: it can then be spawned): returns
 * that memory (zeroed, now held at *fd in a->slots), with *fd its
 * non-blocking socket and peer (len bytes) its address. NULL when none
 * is waiting or may be taken, or when accepting pauses (logged).
 */
void	*up_acceptor_next(struct up_acceptor *a, int64_t now, int *fd,
	    char *peer, size_t len);

/* A connection accepted is closed: its place may be taken again. */
void	up_acceptor_release(struct up_acceptor *a);

/* ---- evloop.c: the frame of an event loop ----------------------------- */

struct up_evloop {
	struct up_ev	*ev;		/* the engine */
	struct up_slots	 conns;		/* the connections, by descriptor */
	struct up_acceptor acc;		/* how they are accepted */
	struct up_memory memory;	/* those waiting for memory */
	int64_t		 now;		/* monotonic, after each wait */
	int		 stopping;	/* the listener is closed */
	int		*lfd;		/* the listener; -1 once closed */
	int		 wake;		/* readable: another loop woke us */
	int		 parent_stop;	/* -w: the parent's stop pipe, or -1 */
	struct up_loops	*g;		/* what the loops share */
	long		 index;		/* this loop's place among them */
	const char	*who;		/* "pid=N" with -w, else NULL */
	const char	*failed;	/* what up_evloop_init could not do */
};

/* What a wait found besides the connections' events. */
#define UP_EVLOOP_ACCEPT	0x1	/* connections wait: accept them */
#define UP_EVLOOP_STOP		0x2	/* a stop began: the listener closed */
#define UP_EVLOOP_WOKEN		0x4	/* another loop woke this one */
#define UP_EVLOOP_MEMORY	0x8	/* time to try memory again */

/*
 * Sets up loop index of g on the engine backend, to accept from *lfd
 * (addr in the log) at most max_conns connections of size bytes. 0, or
 * -1 with errno and l->failed saying what failed, for the message:
 * "allocating its engine" (ENOMEM), "creating its engine" (another
 * errno: epoll_create1's or kqueue's descriptor) or "watching the stop
 * pipes".
 */
int	up_evloop_init(struct up_evloop *l, const char *backend, int *lfd,
	    const char *addr, long max_conns, size_t size,
	    struct up_loops *g, long index, const char *who);

/*
 * One wait of at most timeout_ms, the listener watched while a
 * connection may be accepted. Returns how many connections are ready,
 * their events first in *fired, and in *what the UP_EVLOOP_* of the
 * rest; -1 with errno when the engine fails. A stop (SIGINT, SIGTERM,
 * SIGHUP, the parent's) closes the listener at once and logs "draining".
 */
int	up_evloop_wait(struct up_evloop *l, int timeout_ms,
	    struct up_ev_fired **fired, int *what);

/* The wait until deadline or the loop's own (a pause, a retry). */
int	up_evloop_timeout(const struct up_evloop *l, int64_t deadline);

void	up_evloop_free(struct up_evloop *l);

/* ---- handout.c: who takes the next connection, for --accept --------- */


/* The name of a mode: "herd", "plain"... */
const char *up_accept_name(enum up_accept_mode m);

/*
 * Sets *m to the mode named name ("turn" is least's other name): 0, or
 * -1 for no such mode.
 */
int	up_accept_mode(const char *name, enum up_accept_mode *m);

/*
 * The counts of the "stopped" line, for pools and loops alike: writes
 * " accepted=A,B... wasted=X,Y..." into buf (len bytes), a number per
 * worker of n, count(arg, 0, i) the connections worker i accepted and
 * count(arg, 1, i) its wasted wake-ups. Returns the length it needed,
 * as snprintf.
 */
size_t	up_accept_counts(char *buf, size_t len, long n,
	    long (*count)(const void *, int, long), const void *arg);

struct up_handout;

/*
 * How n workers (processes forked after it when across_processes is
 * set, else threads) take connections from lfd in mode: herd, plain,
 * lock or pass; plain makes lfd blocking, with a receive timeout.
 * Returns it, or NULL with errno.
 */
struct up_handout *up_handout_new(enum up_accept_mode mode, long n,
	    int lfd, int across_processes);

/*
 * pass for processes: what the pool's parent does (up_pool_run's
 * hooks): a socket pair made for each worker before its fork, the
 * listener watched while a worker is free, each connection accepted
 * handed over with SCM_RIGHTS (accept errors logged for addr). NULL
 * for every other mode: the parent only supervises.
 */
const struct up_pool_hooks *up_handout_hooks(struct up_handout *h,
	    const char *addr);

/*
 * In worker i: the next connection from lfd, blocking, its address in
 * sa (*len bytes). Returns its descriptor (blocking), UP_HANDOUT_STOP
 * at a stop, or -1 with accept(2)'s errno (a shortage: EMFILE...).
 */
#define UP_HANDOUT_STOP	(-2)
int	up_handout_take(struct up_handout *h, long i, int lfd,
	    struct sockaddr *sa, socklen_t *len);

/*
 * pass for threads: the main thread hands connection fd, from sa (len
 * bytes), to the next worker that takes one, waiting while the queue is
 * full; close says none will come, and each worker's take then returns
 * UP_HANDOUT_STOP once the queue is empty.
 */
void	up_handout_give(struct up_handout *h, int fd,
	    const struct sockaddr *sa, socklen_t len);
void	up_handout_close(struct up_handout *h);

/*
 * Frees what h allocated in this process (pass for processes: the
 * parent's table of workers), once the pool is done; its shared
 * mapping stays until the process ends.
 */
void	up_handout_free(struct up_handout *h);

/*
 * Writes " accepted=A,B... wasted=X,Y..." into buf (len bytes), a
 * number per worker: the connections it accepted, and its wake-ups
 * that found none. Returns the length it needed, as snprintf.
 */
size_t	up_handout_counts(struct up_handout *h, char *buf, size_t len);

/* ---- threads.c: worker threads, started and counted ------------------- */

/*
 * Starts fn(arg) in a detached thread with a stack of stack bytes and
 * SIGINT, SIGTERM, SIGHUP and SIGCHLD blocked (it inherits the mask),
 * counted as running until it calls up_thread_ended. Returns 0, or an
 * error number.
 */
int	up_thread_start(void *(*fn)(void *), void *arg, size_t stack);
void	up_thread_ended(void);

/*
 * Sleeps until fewer than n threads run: 1, or 0 when stop_too is set
 * and a stop is requested (after a stop every thread finishes its
 * request and ends, and the first to end wakes the sleeper).
 */
int	up_threads_below(long n, int stop_too);

/*
 * Sleeps until a thread ends, timeout_ms at most, or until a stop when
 * none runs. Returns 1, or 0 when a stop is requested.
 */
int	up_threads_wait_end(int timeout_ms);

/*
 * The number the log shows for the calling thread: its kernel thread id
 * on Linux (the one /proc and top -H show); POSIX has none, so
 * elsewhere a number given to each thread in turn as it first asks.
 */
long	up_thread_id(void);

#endif /* UP_POOL_H */
