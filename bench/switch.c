/*
 * switch.c: context switches per second of lib/coro, for make bench: two
 * coroutines that yield to each other N times. Built twice, with the
 * assembly switch and (PORTABLE=1) with ucontext's swapcontext(3).
 * Prints "switch=KIND switches=N seconds=S per_second=R".
 */
#include <stdio.h>
#include <stdlib.h>

#include "coro/coro.h"

static struct up_sched sched;
static long rounds;

/* Yields rounds times. */
static void
bouncer(void *arg)
{
	long i;

	(void)arg;
	for (i = 0; i < rounds; i++)
		up_coro_yield(&sched);
}

int
main(int argc, char **argv)
{
	int64_t t0, t;

	rounds = argc > 1 ? atol(argv[1]) : 1000000;
	if (rounds <= 0 || up_sched_init(&sched, NULL, 0) == -1) {
		fprintf(stderr, "usage: switch [rounds]\n");
		return 2;
	}
	up_coro_spawn(&sched, bouncer, NULL, "a");
	up_coro_spawn(&sched, bouncer, NULL, "b");
	t0 = up_now_ns();
	while (up_sched_turn(&sched) > 0)
		;
	t = up_now_ns() - t0;
	printf("switch=%s switches=%lu seconds=%.6f per_second=%.0f\n",
	    up_coro_switch_kind(), sched.switches, (double)t / 1e9,
	    (double)sched.switches * 1e9 / (double)(t > 0 ? t : 1));
	up_sched_free(&sched);
	return 0;
}
