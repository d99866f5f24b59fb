/*
 * payload.c: the requests of the load mode.
 *
 * Either TEXT numbered per connection ("hello 3.1" is connection 3's first
 * request), so that every reply says whose it is, or random lowercase
 * letters. The random bytes come from libsodium's randombytes_buf() when
 * built with it and from getrandom(2) otherwise (/dev/urandom in a POSIX
 * build), drawn 4 KiB at a time,
 * and turned into letters the same way either way: a byte below 234
 * (9 x 26) gives 'a' + byte % 26, a byte above is thrown away, so every
 * letter is equally likely (a plain % 26 would favour 'a' to 'v').
 */
#if defined(__linux__) && !defined(UP_PORTABLE)
#define HAVE_GETRANDOM	1
#include <sys/random.h>
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifdef UP_SODIUM
#include <sodium.h>
#endif

#include "client.h"

#ifdef HAVE_GETRANDOM
#define SOURCE		"getrandom"
#else
#define SOURCE		"/dev/urandom"
#ifndef UP_SODIUM

/* POSIX has no getrandom(2): the device every Unix has. */
static ssize_t
getrandom(void *buf, size_t len, unsigned flags)
{
	static int fd = -1;

	(void)flags;
	if (fd == -1 && (fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)) ==
	    -1)
		return -1;
	return read(fd, buf, len);
}
#endif
#endif

#define POOL_SIZE	4096
#define LETTERS		26
#define UNBIASED	(256 / LETTERS * LETTERS)	/* 234 */

static unsigned char pool[POOL_SIZE];
static size_t pool_next = POOL_SIZE;	/* empty */

/* Refills the pool of random bytes; 0, or -1 with errno. */
static int
refill(void)
{
#ifdef UP_SODIUM
	randombytes_buf(pool, sizeof(pool));
#else
	size_t got = 0;
	ssize_t n;

	while (got < sizeof(pool)) {
		n = getrandom(pool + got, sizeof(pool) - got, 0);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)n;
	}
#endif
	pool_next = 0;
	return 0;
}

/* Gets the random source ready; 0, or -1 with errno. */
int
payload_init(void)
{
#ifdef UP_SODIUM
	if (sodium_init() < 0) {
		errno = EIO;
		return -1;
	}
#endif
	return refill();
}

/* "libsodium", "getrandom" or "/dev/urandom": the random source. */
const char *
payload_source(void)
{
#ifdef UP_SODIUM
	return "libsodium";
#else
	return SOURCE;
#endif
}

/* len unbiased random letters and a newline; 0, or -1 with errno. */
int
payload_random(char *buf, size_t len)
{
	unsigned char b;
	size_t i;

	for (i = 0; i < len; i++) {
		do {
			if (pool_next == sizeof(pool) && refill() == -1)
				return -1;
			b = pool[pool_next++];
		} while (b >= UNBIASED);
		buf[i] = (char)('a' + b % LETTERS);
	}
	buf[len] = '\n';
	return 0;
}

/* Writes the decimal digits of v at p; returns how many. */
static size_t
put_number(char *p, unsigned long v)
{
	char tmp[24];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	for (i = 0; i < n; i++)
		p[i] = tmp[n - 1 - i];
	return n;
}

/* "TEXT CONN.REQ\n" into buf; returns its length. */
size_t
payload_text(char *buf, const char *text, size_t textlen, unsigned long conn,
    unsigned long req)
{
	size_t n = textlen;

	memcpy(buf, text, textlen);
	buf[n++] = ' ';
	n += put_number(buf + n, conn);
	buf[n++] = '.';
	n += put_number(buf + n, req);
	buf[n++] = '\n';
	return n;
}
