/*
 * shortage.c: running out of processes, threads or memory for a while.
 *
 * A server that has accepted a connection owes the client an answer, and
 * a fork(2), pthread_create(3) or malloc(3) that fails for lack of
 * resources (EAGAIN, ENOMEM) usually succeeds again once some other
 * client is done. So the servers keep the connection and try again; this
 * file keeps the log readable meanwhile: one "error" line when a shortage
 * starts and one "recovered" line when it ends, however many tries it
 * took, instead of a line per try.
 */
#include <errno.h>
#include <string.h>

#include "robust/robust.h"

#define FIRST_BACKOFF_MS	10
#define MAX_BACKOFF_MS		1000

int
up_shortage_error(int err)
{
	return err == EAGAIN || err == ENOMEM;
}

int
up_shortage_failed(struct up_shortage *sh, const char *peer, const char *op,
    int err, int new_waiter)
{
	const char *who = sh->who;

	if (!sh->active) {
		memset(sh, 0, sizeof(*sh));
		sh->who = who;
		sh->active = 1;
		sh->op = op;
		sh->since = up_now_ns();
		sh->backoff_ms = FIRST_BACKOFF_MS;
		up_log_error(peer, who, op, err);
	} else if (sh->backoff_ms < MAX_BACKOFF_MS) {
		sh->backoff_ms *= 2;
		if (sh->backoff_ms > MAX_BACKOFF_MS)
			sh->backoff_ms = MAX_BACKOFF_MS;
	}
	sh->failures++;
	if (new_waiter)
		sh->waited++;
	return sh->backoff_ms;
}

void
up_shortage_over(struct up_shortage *sh, const char *peer)
{
	char lasted[32];
	int64_t ms;

	if (!sh->active)
		return;
	ms = (up_now_ns() - sh->since) / 1000000;
	up_log("recovered", peer, "op=%s failures=%lu waited=%lu lasted=%s%s%s",
	    sh->op, sh->failures, sh->waited,
	    up_format_time(ms * 1000000, lasted, sizeof(lasted)),
	    sh->who != NULL ? " " : "", sh->who != NULL ? sh->who : "");
	sh->active = 0;
}
