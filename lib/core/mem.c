/*
 * mem.c: zeroed memory mapped for the state processes or threads share.
 *
 * mmap(MAP_SHARED | MAP_ANONYMOUS) is memory that survives fork(2) as one
 * copy, not two: a fork server's children all count into it. POSIX
 * before 2024 has no anonymous mapping; there /dev/zero is mapped
 * instead, which gives the same.
 */
#include <sys/mman.h>

#include <fcntl.h>
#include <unistd.h>

#include "core/core.h"

#if !defined(MAP_ANONYMOUS) && defined(MAP_ANON)
#define MAP_ANONYMOUS	MAP_ANON
#endif

void *
up_map_zeroed(size_t len, int shared)
{
	int flags = shared ? MAP_SHARED : MAP_PRIVATE;
	void *p;

#ifdef MAP_ANONYMOUS
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags | MAP_ANONYMOUS,
	    -1, 0);
#else
	/*
	 * Opened once, at the first mapping (the server's start), and kept:
	 * a mapping made later, for a coroutine's stack, must not need a
	 * descriptor when the process has none left (EMFILE).
	 */
	static int zero = -1;

	if (zero == -1 &&
	    (zero = open("/dev/zero", O_RDWR | O_CLOEXEC)) == -1)
		return NULL;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, zero, 0);
#endif
	return p == MAP_FAILED ? NULL : p;
}
