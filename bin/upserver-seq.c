/*
 * upserver-seq: the sequential (iterative) server.
 *
 * One connection at a time: accept it, serve it until the client is done,
 * close it, accept the next. While one client is served the others are
 * not refused: the kernel completes their handshake and keeps them in the
 * listen backlog, where they wait, unread, for their turn. Four clients
 * with a one-second delay each take four seconds, one after another.
 *
 * Compare with upserver-fork.c, upserver-thread.c and upserver-poll.c:
 * everything but the loop below is in lib/.
 */
#include <stdio.h>

#include "up.h"

int
main(int argc, char **argv)
{
	struct up_server s = { .opt.max_conns = 1 };
	struct up_conn c;
	char msg[UP_MSG_MAX];
	int status;

	status = up_server_start(&s, argc, argv, "seq",
	    UP_REFUSE_WORKERS | UP_ONE_AT_A_TIME, 0,
	    msg, sizeof(msg));
	if (status >= 0) {
		fputs(msg, status == 0 ? stdout : stderr);
		return status;
	}

	/* Accept, serve, close, repeat: the next client waits meanwhile. */
	while (up_server_accept(&s, &c) == 1) {
		up_log("accepted", c.peer, NULL);
		up_serve(&c, &s.opt, s.shared);
	}

	return up_server_stop(&s);
}
