/*
 * client-random.c: prints what upclient's payload_random() makes, for the
 * test that compares the libsodium and getrandom builds without make.
 *
 * Usage: client-random LETTERS   writes LETTERS letters and a newline to
 * standard output and the name of the random source to standard error.
 */
#include <stdio.h>
#include <stdlib.h>

#include "client.h"

int
main(int argc, char **argv)
{
	size_t n;
	char *buf;

	if (argc != 2)
		return 2;
	n = strtoul(argv[1], NULL, 10);
	if ((buf = malloc(n + 1)) == NULL || payload_init() == -1 ||
	    payload_random(buf, n) == -1) {
		perror("client-random");
		return 1;
	}
	fwrite(buf, 1, n + 1, stdout);
	fprintf(stderr, "%s\n", payload_source());
	free(buf);
	return 0;
}
