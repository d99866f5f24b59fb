/*
 * spawn.c: a process or a thread per connection, when none can be had.
 *
 * fork(2) fails with EAGAIN when the user is out of processes (ulimit
 * -u), pthread_create(3) when out of tasks or memory. Neither is the
 * client's fault, and both pass when another connection ends. So the
 * server keeps the connection it accepted, accepts nobody else, and
 * tries again as soon as a process or thread ends, or after a backoff
 * (shortage.c): the client is served late, not reset. upserver-fork and
 * upserver-thread hand over through here; only how they start a worker
 * and how they wait for one to end is their own.
 */
#include <poll.h>
#include <unistd.h>

#include "robust/robust.h"

#define ERROR_PAUSE_MS	100	/* after an error that is no shortage */

/* Closes a connection never served, and logs it. */
static void
drop(const char *peer, int fd, const char *reason)
{
	close(fd);
	up_log("closed", peer, "requests=0 reason=%s", reason);
}

int
up_spawn(struct up_spawner *sp, const char *addr, const char *peer, int fd,
    void *job)
{
	int first = 1, e, ms;

	while ((e = sp->start(job, sp->arg)) != 0) {
		if (!up_shortage_error(e)) {
			up_log_error(peer, NULL, sp->op, e);
			drop(peer, fd, "error");
			/* not a busy loop: let workers end, or a stop come */
			up_wait(up_stop_fd(), POLLIN, ERROR_PAUSE_MS);
			return -1;
		}
		ms = up_shortage_failed(&sp->sh, addr, sp->op, e, first);
		first = 0;
		if (!sp->ended(ms, sp->arg)) {
			drop(peer, fd, "stop");
			return -1;
		}
	}
	/* at its first try: whatever shortage there was is over */
	if (first)
		up_shortage_over(&sp->sh, addr);
	return 0;
}

void
up_spawn_idle(struct up_spawner *sp, const char *addr, int lfd)
{
	struct pollfd pfd = { .fd = lfd, .events = POLLIN };

	if (sp->sh.active && poll(&pfd, 1, 0) == 0)
		up_shortage_over(&sp->sh, addr);
}
