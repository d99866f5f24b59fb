/*
 * stack.c: coroutine stacks, mmap(2)'ed with a guard page below them (a
 * stack grows down), and the report of an overflow into that page.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "coro/coro.h"

/* The scheduler whose running coroutine a fault is checked against. */
static struct up_sched *watched;
static void (*reporter)(const struct up_coro *, size_t);
static char *altstack;

/* The system's page size, in bytes. */
static size_t
page_size(void)
{
	long p = sysconf(_SC_PAGESIZE);

	return p > 0 ? (size_t)p : 4096;
}

int
up_coro_stack_map(struct up_coro *c, size_t size, const char **failed)
{
	size_t page = page_size();
	void *p;
	int e;

	size = (size + page - 1) / page * page;
	if (size == 0)
		size = page;
	if ((p = up_map_zeroed(size + page, 0)) == NULL) {
		*failed = "mmap";
		return -1;
	}
	/* the lowest page: touching it faults */
	if (mprotect(p, page, PROT_NONE) == -1) {
		e = errno;
		munmap(p, size + page);
		errno = e;
		*failed = "mprotect";
		return -1;
	}
	c->map = p;
	c->maplen = size + page;
	c->stack = size;
	return 0;
}

void
up_coro_stack_unmap(struct up_coro *c)
{
	if (c->map != NULL)
		munmap(c->map, c->maplen);
	c->map = NULL;
}

/*
 * SIGSEGV, on the alternate stack: a fault in the guard page of the
 * running coroutine is an overflow, reported; any other fault, or one
 * with no reporter, dies as SIGSEGV does (the default action restored,
 * the faulting instruction faults again on return).
 */
static void
on_segv(int sig, siginfo_t *si, void *ctx)
{
	struct up_coro *c;
	uintptr_t a = (uintptr_t)si->si_addr, g;

	(void)ctx;
	if (watched != NULL && reporter != NULL &&
	    (c = watched->cur) != NULL && c != &watched->main &&
	    c->map != NULL) {
		g = (uintptr_t)c->map;
		if (a >= g && a < g + (c->maplen - c->stack))
			reporter(c, c->stack);
	}
	signal(sig, SIG_DFL);
}

int
up_coro_overflow_report(struct up_sched *s,
    void (*report)(const struct up_coro *, size_t))
{
	struct sigaction sa;
	stack_t ss;
	size_t size = 64 * 1024;

	if (altstack == NULL) {
		if ((altstack = malloc(size)) == NULL)
			return -1;
		memset(&ss, 0, sizeof(ss));
		ss.ss_sp = altstack;
		ss.ss_size = size;
		if (sigaltstack(&ss, NULL) == -1)
			return -1;
	}
	watched = s;
	reporter = report;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGSEGV, &sa, NULL);
}
