/*
 * timeq.c: timer queues for waits that all last the same time.
 *
 * An event loop waits for many things at once, and each has a deadline:
 * the end of a request's delay, of a connection's idle time, of a
 * lingering close. The loop's wait must end at the earliest of them.
 * When every entry of a queue waits the same time, the order they are
 * pushed in is the order they fall due: a doubly linked list, pushed at
 * the tail and expired from the head, is a complete timer queue. (Redis's
 * ae.c walks an unsorted list; libuv keeps a heap; Linux a wheel: those
 * are for deadlines that differ.)
 */
#include "ev/ev.h"

void
up_timer_cancel(struct up_timer *t)
{
	struct up_timeq *q = t->q;

	if (q == NULL)
		return;
	if (t->prev != NULL)
		t->prev->next = t->next;
	else
		q->head = t->next;
	if (t->next != NULL)
		t->next->prev = t->prev;
	else
		q->tail = t->prev;
	t->prev = t->next = NULL;
	t->q = NULL;
}

void
up_timeq_push(struct up_timeq *q, struct up_timer *t, int64_t deadline)
{
	up_timer_cancel(t);
	t->deadline = deadline;
	t->prev = q->tail;
	t->next = NULL;
	if (q->tail != NULL)
		q->tail->next = t;
	else
		q->head = t;
	q->tail = t;
	t->q = q;
}

struct up_timer *
up_timeq_due(const struct up_timeq *q, int64_t now)
{
	return q->head != NULL && q->head->deadline <= now ? q->head : NULL;
}

int64_t
up_timeq_next(const struct up_timeq *q)
{
	return q->head != NULL ? q->head->deadline : 0;
}
