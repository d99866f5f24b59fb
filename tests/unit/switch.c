/*
 * switch.c: the context switch of lib/coro keeps each coroutine's
 * callee-saved registers its own. Two coroutines and the scheduler's
 * own context each hold ten integers and eight doubles live across
 * every switch, more than fit in the caller-saved registers, so the
 * compiler keeps them in the callee-saved ones (rbx, rbp, r12-r15 on
 * x86-64; x19-x28 and d8-d15 on aarch64) or on the stack: a register
 * the switch forgets to save comes back holding the other side's value.
 * make check-aarch64 runs it under qemu-aarch64.
 */
#include <stdint.h>
#include <string.h>

#include "coro/coro.h"
#include "check.h"

#define ROUNDS	100

static struct up_sched sched;
static volatile long seeds[3] = { 1000, 2000, 3000 };

struct sums {
	unsigned long i[10];
	double	d[8];
};

/*
 * Steps ten integers and eight doubles from seed through rounds rounds,
 * calling between(arg) in each round while all eighteen are live. The
 * results, in out, depend only on seed and rounds. Returns nothing.
 */
static void
churn(long seed, int rounds, void (*between)(void *), void *arg,
    struct sums *out)
{
	/* unsigned: they wrap, as signed overflow may not */
	unsigned long u = (unsigned long)seed;
	unsigned long i0 = u, i1 = u + 1, i2 = u + 2, i3 = u + 3;
	unsigned long i4 = u + 4, i5 = u + 5, i6 = u + 6, i7 = u + 7;
	unsigned long i8 = u + 8, i9 = u + 9;
	double d0 = seed * 0.5, d1 = seed * 0.25, d2 = seed * 0.125;
	double d3 = seed * 1.5, d4 = seed * 2.5, d5 = seed * 3.5;
	double d6 = seed * 4.5, d7 = seed * 5.5;
	int r;

	for (r = 0; r < rounds; r++) {
		between(arg);
		i0 = i0 * 3 + i9;
		i1 = i1 * 5 + i0;
		i2 = i2 * 7 + i1;
		i3 = i3 * 11 + i2;
		i4 = i4 * 13 + i3;
		i5 = i5 * 17 + i4;
		i6 = i6 * 19 + i5;
		i7 = i7 * 23 + i6;
		i8 = i8 * 29 + i7;
		i9 = i9 * 31 + i8;
		d0 = d0 * 0.5 + d7;
		d1 = d1 * 0.5 + d0;
		d2 = d2 * 0.5 + d1;
		d3 = d3 * 0.5 + d2;
		d4 = d4 * 0.5 + d3;
		d5 = d5 * 0.5 + d4;
		d6 = d6 * 0.5 + d5;
		d7 = d7 * 0.5 + d6;
	}
	out->i[0] = i0;
	out->i[1] = i1;
	out->i[2] = i2;
	out->i[3] = i3;
	out->i[4] = i4;
	out->i[5] = i5;
	out->i[6] = i6;
	out->i[7] = i7;
	out->i[8] = i8;
	out->i[9] = i9;
	out->d[0] = d0;
	out->d[1] = d1;
	out->d[2] = d2;
	out->d[3] = d3;
	out->d[4] = d4;
	out->d[5] = d5;
	out->d[6] = d6;
	out->d[7] = d7;
}

/* Does nothing: the sums of churn without any switch. */
static void
stay(void *arg)
{
	(void)arg;
}

/* Yields to the other coroutine. */
static void
yield(void *arg)
{
	(void)arg;
	up_coro_yield(&sched);
}

/* Runs one turn of the scheduler: a switch into each coroutine and back. */
static void
turn(void *arg)
{
	(void)arg;
	up_sched_turn(&sched);
}

static struct sums got[3], want[3];

/* A coroutine: churns its seed, yielding in every round. */
static void
worker(void *arg)
{
	int k = *(int *)arg;

	churn(seeds[k], ROUNDS, yield, NULL, &got[k]);
}

/* Whether a and b hold the same values; says which differ if not. */
static int
same(const struct sums *a, const struct sums *b, const char *who)
{
	int k, ok = 1;

	for (k = 0; k < 10; k++)
		if (a->i[k] != b->i[k]) {
			printf("#   %s: integer %d is %ld, not %ld\n", who, k,
			    a->i[k], b->i[k]);
			ok = 0;
		}
	for (k = 0; k < 8; k++)
		if (memcmp(&a->d[k], &b->d[k], sizeof(double)) != 0) {
			printf("#   %s: double %d is %g, not %g\n", who, k,
			    a->d[k], b->d[k]);
			ok = 0;
		}
	return ok;
}

int
main(void)
{
	static int ids[2] = { 1, 2 };
	int k;

	printf("# switching by %s\n", up_coro_switch_kind());
	for (k = 0; k < 3; k++)
		churn(seeds[k], ROUNDS, stay, NULL, &want[k]);
	if (!CHECK(up_sched_init(&sched, NULL, 0) == 0, "a scheduler"))
		return check_done("switch");
	up_coro_spawn(&sched, worker, &ids[0], "one");
	up_coro_spawn(&sched, worker, &ids[1], "two");
	/* The scheduler's context churns too, a turn in each round. */
	churn(seeds[0], ROUNDS + 1, turn, NULL, &got[0]);
	churn(seeds[0], ROUNDS + 1, stay, NULL, &want[0]);
	CHECK_INT(sched.live, 0, "both coroutines ended");
	CHECK(sched.switches >= 4 * ROUNDS, "%lu switches", sched.switches);
	CHECK(same(&got[1], &want[1], "one"),
	    "the first coroutine's registers survive %d switches", ROUNDS);
	CHECK(same(&got[2], &want[2], "two"),
	    "the second coroutine's registers survive %d switches", ROUNDS);
	CHECK(same(&got[0], &want[0], "main"),
	    "the scheduler's registers survive its turns");
	up_sched_free(&sched);
	return check_done("switch");
}
