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

#include "server/server.h"

static const struct up_model seq = {
	.name = "seq",
	.max_conns = 1,
	.one_at_a_time = 1,
};

int
main(int argc, char **argv)
{
	struct up_server s;
	struct up_conn c;

	if (up_server_start(&s, &seq, argc, argv) == -1) {
		fputs(s.msg, s.exit == 0 ? stdout : stderr);
		return s.exit;
	}

	/* Accept, serve, close, repeat: the next client waits meanwhile. */
	while (up_server_accept(&s, &c) == 1) {
		up_log("accepted", c.peer, NULL);
		up_serve(&s, &c);
	}

	return up_server_stop(&s);
}
