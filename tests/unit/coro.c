/*
 * coro.c: the scheduler of lib/coro: switching back and forth, a
 * coroutine parked on a pipe until it is written, deadlines woken in
 * their order, many coroutines at once, one made beforehand, and a
 * stack overflow reported as one rather than as a bare SIGSEGV.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coro/coro.h"
#include "check.h"

#define MS	UP_NS_PER_MS

static struct up_sched sched;
static char trace[64];
static size_t ntrace;

/* Appends ch to the trace of who ran when. */
static void
mark(char ch)
{
	if (ntrace < sizeof(trace) - 1)
		trace[ntrace++] = ch;
	trace[ntrace] = '\0';
}

/* Marks its letter, yields, marks it again: two steps. */
static void
two_steps(void *arg)
{
	char ch = *(char *)arg;

	mark(ch);
	up_coro_yield(&sched);
	mark((char)(ch - 'a' + 'A'));
}

/* Two coroutines alternate at each yield; both end, freed. */
static void
test_switch(void)
{
	static char a = 'a', b = 'b';

	CHECK(up_sched_init(&sched, NULL, 0) == 0, "a scheduler");
	ntrace = 0;
	up_coro_spawn(&sched, two_steps, &a, "a");
	up_coro_spawn(&sched, two_steps, &b, "b");
	CHECK_INT(sched.live, 2, "two live");
	while (up_sched_turn(&sched) > 0)
		;
	CHECK(strcmp(trace, "abAB") == 0, "they alternate: %s", trace);
	CHECK_INT(sched.live, 0, "none live at the end");
	up_sched_free(&sched);
}

static int pipefd[2];
static char got[16];

/* Reads the pipe, parking until it has something. */
static void
reader(void *arg)
{
	ssize_t n;

	(void)arg;
	mark('r');
	n = up_coro_read(&sched, pipefd[0], got, sizeof(got) - 1, 0);
	if (n > 0)
		got[n] = '\0';
	mark('R');
}

/* Waits a turn, writes the pipe. */
static void
writer(void *arg)
{
	(void)arg;
	mark('w');
	up_coro_sleep(&sched, up_now_ns() + 20 * MS);
	mark('W');
	if (write(pipefd[1], "hello", 5) != 5)
		mark('!');
}

/* A reader parked on an empty pipe wakes once the writer wrote. */
static void
test_pipe(const char *backend)
{
	struct up_ev *ev = up_ev_new(backend);

	if (!CHECK(ev != NULL, "%s: an engine", backend))
		return;
	CHECK(pipe(pipefd) == 0, "a pipe");
	fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
	up_sched_init(&sched, ev, 0);
	ntrace = 0;
	got[0] = '\0';
	up_coro_spawn(&sched, reader, NULL, "reader");
	up_coro_spawn(&sched, writer, NULL, "writer");
	while (up_sched_turn(&sched) > 0)
		;
	CHECK(strcmp(trace, "rwWR") == 0, "%s: parked, then woken: %s",
	    backend, trace);
	CHECK(strcmp(got, "hello") == 0, "%s: read \"%s\"", backend, got);
	up_coro_forget(&sched, pipefd[0]);
	up_sched_free(&sched);
	up_ev_free(ev);
	close(pipefd[0]);
	close(pipefd[1]);
}

static int sockfd[2];
static struct up_reader cin;
static ssize_t cgot;
static int cerr;

/* Fills cin from the socket with a deadline 50 ms away. */
static void
idle_reader(void *arg)
{
	(void)arg;
	cgot = up_coro_fill(&sched, &cin, sockfd[0], 4096,
	    up_now_ns() + 50 * MS);
	cerr = errno;
}

/* Fills cin with no deadline: until bytes or the end of stream. */
static void
waiting_reader(void *arg)
{
	(void)arg;
	cgot = up_coro_fill(&sched, &cin, sockfd[0], 4096, 0);
	cerr = errno;
}

/*
 * A read that meets its deadline ends with ETIMEDOUT and leaves nothing
 * in flight: on uring its receive is cancelled and completed before it
 * returns, so bytes sent afterwards are still in the socket for whoever
 * reads next, and no late completion wakes anyone. Then a read with no
 * deadline gets them, and the end of stream after them.
 */
static void
test_deadline_read(const char *backend)
{
	struct up_ev *ev = up_ev_new(backend);
	struct up_ev_fired *fired;
	char buf[16];
	int n;

	if (!CHECK(ev != NULL, "%s: an engine", backend))
		return;
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sockfd) == 0,
	    "a socket pair");
	fcntl(sockfd[0], F_SETFL, O_NONBLOCK);
	up_sched_init(&sched, ev, 0);
	memset(&cin, 0, sizeof(cin));
	cgot = 99;
	up_coro_spawn(&sched, idle_reader, NULL, "idle");
	while (up_sched_turn(&sched) > 0)
		;
	CHECK(cgot == -1 && cerr == ETIMEDOUT, "%s: the deadline: %zd, %s",
	    backend, cgot, strerror(cerr));
	CHECK(cin.buf == NULL, "%s: no buffer taken for nothing", backend);
	/* written after the wait ended: nobody may have taken it */
	CHECK(write(sockfd[1], "late", 4) == 4, "a late write");
	/* a wait of the engine itself: a receive still pending would take
	 * the bytes here (into a stack that is gone), and complete */
	n = up_ev_wait(ev, 50, &fired);
	if (up_ev_completes(ev))
		CHECK_INT(n, 0, "%s: a wait after it: nothing completed",
		    backend);
	else	/* readiness: still watched, readable; nobody parked */
		CHECK(n == 1 && up_sched_fire(&sched, fired[0].fd,
		    fired[0].events) == 0, "%s: readable, nobody woken: %d",
		    backend, n);
	CHECK(recv(sockfd[0], buf, sizeof(buf), MSG_PEEK) == 4,
	    "%s: the late bytes still in the socket", backend);
	up_coro_spawn(&sched, waiting_reader, NULL, "waiting");
	while (up_sched_turn(&sched) > 0)
		;
	CHECK(cgot == 4 && cin.end == 4 && memcmp(cin.buf, "late", 4) == 0,
	    "%s: the next read has them: %zd", backend, cgot);
	shutdown(sockfd[1], SHUT_WR);
	up_coro_spawn(&sched, waiting_reader, NULL, "eof");
	while (up_sched_turn(&sched) > 0)
		;
	CHECK(cgot == 0 && cin.eof, "%s: then the end of stream", backend);
	up_reader_free(&cin);
	up_coro_forget(&sched, sockfd[0]);
	up_sched_free(&sched);
	up_ev_free(ev);
	close(sockfd[0]);
	close(sockfd[1]);
}

static int64_t start_ns;

/* Sleeps *arg ms, then marks its digit. */
static void
sleeper(void *arg)
{
	int ms = *(int *)arg;

	up_coro_sleep(&sched, start_ns + ms * MS);
	mark((char)('0' + ms / 10));
}

/* Deadlines wake in their order, not the order of sleeping. */
static void
test_deadlines(void)
{
	static int ms[] = { 30, 10, 50, 20, 40 };
	int64_t took;
	size_t i;

	up_sched_init(&sched, NULL, 0);
	ntrace = 0;
	start_ns = up_now_ns();
	for (i = 0; i < NITEMS(ms); i++)
		up_coro_spawn(&sched, sleeper, &ms[i], "sleeper");
	while (up_sched_turn(&sched) > 0)
		;
	took = up_now_ns() - start_ns;
	CHECK(strcmp(trace, "12345") == 0, "woken by deadline: %s", trace);
	CHECK(took >= 50 * MS, "not before the last deadline (%lld ms)",
	    (long long)(took / MS));
	up_sched_free(&sched);
}

#define MANY	10000
static int counted;

/* Counts, yields, counts. */
static void
counter(void *arg)
{
	(void)arg;
	counted++;
	up_coro_yield(&sched);
	counted++;
}

/* Ten thousand coroutines of 16 KiB: mapped, run, unmapped. */
static void
test_many(void)
{
	int i, ok = 1;

	up_sched_init(&sched, NULL, 16 * 1024);
	counted = 0;
	for (i = 0; i < MANY && ok; i++)
		ok = up_coro_spawn(&sched, counter, NULL, "many") != NULL;
	CHECK(ok, "%d coroutines spawned", MANY);
	while (up_sched_turn(&sched) > 0)
		;
	CHECK_INT(counted, 2 * MANY, "each ran both steps");
	CHECK(sched.switches >= 4 * MANY, "%lu switches", sched.switches);
	up_sched_free(&sched);
}

/* Recurses depth times, with 256 bytes of locals each. */
static int
deep(int depth)
{
	volatile char page[256];

	page[0] = (char)depth;
	page[sizeof(page) - 1] = (char)depth;
	return depth == 0 ? page[0] : deep(depth - 1) + page[100];
}

/* Overflows its stack. */
static void
overflow(void *arg)
{
	(void)arg;
	mark((char)deep(100000));
}

/* The overflow report: says so, and exits 42. */
static void
report(const struct up_coro *c, size_t stack)
{
	(void)stack;
	if (strcmp(c->name, "deep") == 0)
		_exit(42);
	_exit(43);
}

/*
 * A coroutine that overflows its stack faults in its guard page and is
 * reported (here, an exit 42), not killed by a bare SIGSEGV.
 */
static void
test_overflow(void)
{
	pid_t pid;
	int st = 0;

	fflush(stdout);
	if ((pid = fork()) == 0) {
		up_sched_init(&sched, NULL, 16 * 1024);
		up_coro_overflow_report(&sched, report);
		up_coro_spawn(&sched, overflow, NULL, "deep");
		while (up_sched_turn(&sched) > 0)
			;
		_exit(0);
	}
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 42,
	    "an overflow is reported (status %d, signal %d)",
	    WIFEXITED(st) ? WEXITSTATUS(st) : -1,
	    WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/*
 * A coroutine made beforehand is the one the next spawn takes, so that
 * a spawn after up_sched_reserve cannot fail; a stack too large to map
 * fails to be made, saying mmap, the call that failed.
 */
static void
test_reserve(void)
{
	static char a = 'a';
	struct up_coro *spare, *c;

	CHECK(up_sched_init(&sched, NULL, 0) == 0, "a scheduler");
	ntrace = 0;
	CHECK(up_sched_reserve(&sched) == 0, "a coroutine made beforehand");
	spare = sched.spare;
	CHECK(spare != NULL && spare->map != NULL, "with its stack mapped");
	CHECK(up_sched_reserve(&sched) == 0 && sched.spare == spare,
	    "made once, however often reserved");
	c = up_coro_spawn(&sched, two_steps, &a, "a");
	CHECK(c == spare && sched.spare == NULL, "the spawn takes it");
	while (up_sched_turn(&sched) > 0)
		;
	CHECK(strcmp(trace, "aA") == 0, "and runs it: %s", trace);
	up_sched_free(&sched);

	CHECK(up_sched_init(&sched, NULL, (size_t)1 << 60) == 0,
	    "a scheduler of stacks of an exbibyte");
	sched.failed = NULL;
	CHECK(up_sched_reserve(&sched) == -1 && errno == ENOMEM,
	    "no such stack: ENOMEM");
	CHECK(sched.failed != NULL && strcmp(sched.failed, "mmap") == 0,
	    "failed in mmap: %s", sched.failed ? sched.failed : "(none)");
	CHECK(sched.spare == NULL, "none made");
	up_sched_free(&sched);
}

/*
 * A coroutine that is done is kept, stack and all, and the next spawn
 * takes it: connections that come and go map no stack each. No more
 * than UP_CORO_CACHE are kept.
 */
static void
test_cache(void)
{
	static char a = 'a', b = 'b';
	struct up_coro *first, *c;
	char *map;
	int i, ok = 1;

	CHECK(up_sched_init(&sched, NULL, 0) == 0, "a scheduler");
	ntrace = 0;
	first = up_coro_spawn(&sched, two_steps, &a, "a");
	map = first->map;
	while (up_sched_turn(&sched) > 0)
		;
	CHECK_INT(sched.ncache, 1, "the one done is kept");
	c = up_coro_spawn(&sched, two_steps, &b, "b");
	CHECK(c->map == map && sched.ncache == 0,
	    "the next one runs on its stack");
	CHECK(strcmp(c->name, "b") == 0, "named anew: %s", c->name);
	while (up_sched_turn(&sched) > 0)
		;
	CHECK(strcmp(trace, "aAbB") == 0, "both ran whole: %s", trace);
	for (i = 0; i < 2 * UP_CORO_CACHE && ok; i++)
		ok = up_coro_spawn(&sched, counter, NULL, "many") != NULL;
	while (up_sched_turn(&sched) > 0)
		;
	CHECK_INT(sched.ncache, UP_CORO_CACHE, "kept: the cache's size");
	up_sched_free(&sched);
}

int
main(void)
{
	struct up_ev *probe;

	printf("# switching by %s\n", up_coro_switch_kind());
	test_switch();
	test_reserve();
	test_cache();
	test_pipe("poll");
	test_pipe("select");
	if (strstr(up_ev_backends(), "epoll") != NULL)
		test_pipe("epoll");
	test_deadline_read("poll");
	if (strstr(up_ev_backends(), "epoll") != NULL)
		test_deadline_read("epoll");
	/* completion: io_uring, where this build and kernel have it */
	if (strstr(up_ev_backends_all(1), "uring") != NULL &&
	    (probe = up_ev_new("uring")) != NULL) {
		up_ev_free(probe);
		test_pipe("uring");
		test_deadline_read("uring");
	} else
		printf("# uring: not in this build or refused by the kernel\n");
	test_deadlines();
	test_many();
	test_overflow();
	return check_done("coro");
}
