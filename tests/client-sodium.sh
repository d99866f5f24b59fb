#!/bin/sh
# client-sodium.sh: builds everything with libsodium and without (make
# SODIUM=1 and SODIUM=0, into build/sodium1 and build/sodium0), checks
# that only the first links libsodium, and runs the client's tests
# against each build: the random payloads must behave the same.
#
# Usage: tests/client-sodium.sh
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
builds=0
pkg-config --exists libsodium 2>/dev/null && builds="1 0" ||
    echo "client-sodium: libsodium not found, building without it only" >&2

status=0
for s in $builds; do
	make -s -C "$top" O="build/sodium$s" SODIUM="$s" all
	linked=0
	ldd "$top/build/sodium$s/bin/upclient" | grep -q libsodium && linked=1
	if [ "$linked" != "$s" ]; then
		echo "client-sodium: SODIUM=$s, but libsodium linked=$linked" >&2
		exit 1
	fi
	echo "client-sodium: SODIUM=$s"
	UP_BIN="$top/build/sodium$s/bin" bats "$top"/tests/client*.bats ||
	    status=1
done
exit "$status"
