/*
 * timeq.c: the timer queues of lib/ev/timeq.c, with up_ms_left and
 * up_earliest of lib/core/time.c, which take their deadlines.
 *
 * A queue is a doubly linked list in push order; these tests walk it
 * both ways after every change, so a link left dangling by a push, a
 * move or a cancel shows here rather than as a timer that never fires.
 */
#include <limits.h>
#include <stdint.h>

#include "ev/ev.h"
#include "check.h"

#define MS	UP_NS_PER_MS

/*
 * Is q exactly the n timers of want, in that order, linked both ways,
 * each knowing it is on q? Says what is wrong when it is not.
 */
static int
queue_is(const struct up_timeq *q, struct up_timer *const *want, int n)
{
	const struct up_timer *t, *prev = NULL;
	int i = 0;

	for (t = q->head; t != NULL; prev = t, t = t->next, i++) {
		if (i >= n || t != want[i]) {
			printf("#   entry %d is not the one expected\n", i);
			return 0;
		}
		if (t->prev != prev || t->q != q) {
			printf("#   entry %d: bad prev or q\n", i);
			return 0;
		}
	}
	if (i != n) {
		printf("#   %d entries, want %d\n", i, n);
		return 0;
	}
	if (q->tail != prev) {
		printf("#   tail is not the last entry\n");
		return 0;
	}
	return 1;
}

/* Is t on no queue, with no links left? */
static int
unlinked(const struct up_timer *t)
{
	return t->q == NULL && t->prev == NULL && t->next == NULL;
}

/* What a server times: a timer inside a connection. */
struct conn {
	int		 fd;
	struct up_timer	 idle;
};

static void
test_empty(void)
{
	struct up_timeq q = { NULL, NULL };

	CHECK_INT(up_timeq_next(&q), 0,
	    "next on an empty queue is 0, no deadline");
	CHECK(up_timeq_due(&q, 0) == NULL, "due on an empty queue is NULL");
	CHECK(up_timeq_due(&q, INT64_MAX) == NULL,
	    "due on an empty queue is NULL even at INT64_MAX");
	CHECK_INT(up_ms_left(up_timeq_next(&q), 5 * MS), -1,
	    "an empty queue's timeout is -1: wait until something is ready");
}

/* A push, and the queue it should leave, want[0..n) from head to tail. */
struct push {
	struct up_timer	*t;
	int64_t		 deadline;
	struct up_timer	*want[3];
	int		 n;
	const char	*what;
};

/* Makes the n pushes of s, checking the queue and deadline after each. */
static void
check_pushes(struct up_timeq *q, const struct push *s, size_t n)
{
	for (; n > 0; s++, n--) {
		up_timeq_push(q, s->t, s->deadline);
		CHECK(queue_is(q, s->want, s->n), "%s", s->what);
		CHECK_INT(s->t->deadline, s->deadline,
		    "a push at %lld sets the deadline", (long long)s->deadline);
	}
}

static void
test_push(void)
{
	struct up_timeq q = { NULL, NULL };
	struct up_timer a = { 0 }, b = { 0 }, c = { 0 };
	struct push first[] = {
		{ &a, 10, { &a }, 1,
		    "push on an empty queue: the entry is head and tail" },
		{ &b, 20, { &a, &b }, 2, "a second push goes after the head" },
		{ &c, 30, { &a, &b, &c }, 3,
		    "pushes keep push order, linked both ways" },
	}, again[] = {
		{ &a, 40, { &b, &c, &a }, 3,
		    "pushing the head again moves it to the tail" },
		{ &c, 50, { &b, &a, &c }, 3,
		    "pushing a middle entry again moves it to the tail" },
		{ &c, 60, { &b, &a, &c }, 3,
		    "pushing the tail again leaves it the tail" },
	};

	check_pushes(&q, first, NITEMS(first));
	CHECK_INT(up_timeq_next(&q), 10, "next is the head's deadline");
	CHECK(up_timeq_due(&q, 9) == NULL,
	    "due before the head's deadline is NULL");
	CHECK(up_timeq_due(&q, 10) == &a,
	    "due at the head's deadline is the head");
	CHECK(up_timeq_due(&q, 1000) == &a,
	    "due long after every deadline is still only the head");
	CHECK(queue_is(&q, (struct up_timer *[]){ &a, &b, &c }, 3),
	    "due leaves the queue as it was");

	check_pushes(&q, again, NITEMS(again));
	CHECK_INT(up_timeq_next(&q), 20,
	    "next is then the new head's deadline");
	CHECK_INT(a.deadline, 40, "an earlier entry keeps its deadline");
}

static void
test_move(void)
{
	struct up_timeq delay = { NULL, NULL }, idle = { NULL, NULL };
	struct up_timer a = { 0 }, b = { 0 }, c = { 0 };

	up_timeq_push(&delay, &a, 1);
	up_timeq_push(&delay, &b, 2);
	up_timeq_push(&delay, &c, 3);
	up_timeq_push(&idle, &b, 100);
	CHECK(queue_is(&delay, (struct up_timer *[]){ &a, &c }, 2),
	    "a move to another queue takes the entry off the first");
	CHECK(queue_is(&idle, (struct up_timer *[]){ &b }, 1),
	    "and puts it on the second");
	CHECK(b.q == &idle && b.deadline == 100,
	    "the moved entry knows its new queue and deadline");
	up_timeq_push(&idle, &a, 101);
	up_timeq_push(&idle, &c, 102);
	CHECK(delay.head == NULL && delay.tail == NULL,
	    "moving every entry away leaves the first queue empty");
	CHECK_INT(up_timeq_next(&delay), 0, "its next is 0, none");
	CHECK(queue_is(&idle, (struct up_timer *[]){ &b, &a, &c }, 3),
	    "the second queue holds them in the order they came");
	up_timeq_push(&delay, &c, 4);
	CHECK(queue_is(&idle, (struct up_timer *[]){ &b, &a }, 2) &&
	    queue_is(&delay, (struct up_timer *[]){ &c }, 1),
	    "moving the tail back: both queues consistent");
}

static void
test_cancel(void)
{
	struct up_timeq q = { NULL, NULL };
	struct up_timer a = { 0 }, b = { 0 }, c = { 0 }, d = { 0 };
	struct up_timer never = { 0 };

	up_timeq_push(&q, &a, 10);
	up_timeq_push(&q, &b, 20);
	up_timeq_push(&q, &c, 30);
	up_timeq_push(&q, &d, 40);

	up_timer_cancel(&a);
	CHECK(queue_is(&q, (struct up_timer *[]){ &b, &c, &d }, 3),
	    "cancel of the head");
	CHECK(unlinked(&a), "a cancelled head is on no queue, unlinked");
	CHECK_INT(up_timeq_next(&q), 20,
	    "next is then the new head's deadline");

	up_timer_cancel(&c);
	CHECK(queue_is(&q, (struct up_timer *[]){ &b, &d }, 2),
	    "cancel of a middle entry");
	CHECK(unlinked(&c), "a cancelled middle entry is unlinked");

	up_timer_cancel(&d);
	CHECK(queue_is(&q, (struct up_timer *[]){ &b }, 1),
	    "cancel of the tail");
	CHECK(unlinked(&d), "a cancelled tail is unlinked");

	up_timer_cancel(&never);
	CHECK(queue_is(&q, (struct up_timer *[]){ &b }, 1) && unlinked(&never),
	    "cancel of a timer never queued does nothing");
	up_timer_cancel(&d);
	CHECK(queue_is(&q, (struct up_timer *[]){ &b }, 1) && unlinked(&d),
	    "cancel of a timer already cancelled does nothing");

	up_timer_cancel(&b);
	CHECK(q.head == NULL && q.tail == NULL && unlinked(&b),
	    "cancel of the only entry empties the queue");
	CHECK(up_timeq_due(&q, INT64_MAX) == NULL && up_timeq_next(&q) == 0,
	    "an emptied queue is an empty queue");

	up_timeq_push(&q, &c, 50);
	CHECK(queue_is(&q, (struct up_timer *[]){ &c }, 1) && c.deadline == 50,
	    "a cancelled timer can be pushed again");
}

/* The loop every event-loop program runs: expire what is due, in order. */
static void
test_expire(void)
{
	struct up_timeq q = { NULL, NULL };
	struct conn conns[4];
	struct up_timer *t;
	int i, order[4], n = 0;

	for (i = 0; i < 4; i++) {
		conns[i].fd = 100 + i;
		conns[i].idle = (struct up_timer){ 0 };
		up_timeq_push(&q, &conns[i].idle, (i + 1) * MS);
	}
	while ((t = up_timeq_due(&q, 3 * MS)) != NULL && n < 4) {
		order[n++] = UP_CONTAINER_OF(t, struct conn, idle)->fd;
		up_timer_cancel(t);
	}
	CHECK(n == 3 && order[0] == 100 && order[1] == 101 &&
	    order[2] == 102,
	    "expiring at 3 ms takes the three due, in deadline order");
	CHECK(queue_is(&q, (struct up_timer *[]){ &conns[3].idle }, 1),
	    "and leaves the one not due");
	CHECK_INT(up_ms_left(up_timeq_next(&q), 3 * MS), 1,
	    "whose timeout is then 1 ms");
}

static void
test_timeout(void)
{
	const int64_t now = 1000 * UP_NS_PER_SEC;
	const struct {
		int64_t		 deadline;
		int64_t		 now;
		int		 want;
		const char	*what;
	} cases[] = {
		{ 0, now, -1, "0 (no deadline) is -1" },
		{ 0, 0, -1, "0 is -1 at any now" },
		{ now, now, 0, "a deadline of now is 0" },
		{ now - 1, now, 0, "a deadline 1 ns past is 0" },
		{ 1, now, 0, "a deadline long past is 0" },
		{ now + 1, now, 1, "1 ns away rounds up to 1 ms" },
		{ now + MS - 1, now, 1, "1 ms - 1 ns is 1 ms" },
		{ now + MS, now, 1, "exactly 1 ms is 1 ms" },
		{ now + MS + 1, now, 2, "1 ms + 1 ns rounds up to 2 ms" },
		{ now + 1500 * 1000, now, 2, "1.5 ms rounds up to 2 ms" },
		{ now + 250 * MS, now, 250, "250 ms is 250" },
		{ now + 3 * UP_NS_PER_SEC, now, 3000, "3 s is 3000" },
		{ now + (int64_t)INT_MAX * MS, now, INT_MAX,
		    "INT_MAX ms is INT_MAX" },
		{ now + ((int64_t)INT_MAX + 1) * MS, now, INT_MAX,
		    "further than INT_MAX ms is capped at INT_MAX" },
		{ INT64_MAX - 1, 0, INT_MAX,
		    "a deadline next to INT64_MAX is capped, not overflowed" },
	};
	size_t i;

	for (i = 0; i < NITEMS(cases); i++)
		CHECK_INT(up_ms_left(cases[i].deadline, cases[i].now),
		    cases[i].want, "%s", cases[i].what);
}

static void
test_earliest(void)
{
	CHECK_INT(up_earliest(5, 7), 5, "the earlier of 5 and 7 is 5");
	CHECK_INT(up_earliest(7, 5), 5, "the earlier of 7 and 5 is 5");
	CHECK_INT(up_earliest(0, 7), 7, "0 stands for none: 0 and 7 is 7");
	CHECK_INT(up_earliest(7, 0), 7, "7 and 0 is 7");
	CHECK_INT(up_earliest(0, 0), 0, "none and none is none");
	CHECK_INT(up_earliest(up_timeq_next(&(struct up_timeq){ NULL, NULL }),
	    3), 3, "an empty queue's next loses to any deadline");
}

int
main(void)
{
	test_empty();
	test_push();
	test_move();
	test_cancel();
	test_expire();
	test_timeout();
	test_earliest();
	return check_done("timeq");
}
