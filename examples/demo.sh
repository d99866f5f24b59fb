#!/bin/sh
# demo.sh: the tutorial's first lesson, run for you.
#
# Starts each server model that is built on a free port with one second of
# simulated work per request, sends four clients at once (a, b, c, d, like
# the tutorial's four terminals), and prints the server's event log. The
# sequential server serves them one after another (about 4 s); a concurrent
# model accepts all four at once and answers them together (about 1 s).
#
# Usage: examples/demo.sh [MODEL ...]   (default: every model built)
set -eu

# shellcheck source=examples/common.sh
. "$(dirname "$0")/common.sh"
delay=1s

demo() {
	echo "== upserver-$1 -d $delay, four clients at once"
	start_server "$1" -d "$delay"
	start=$(now)
	pids=""
	for c in a b c d; do
		"$bin/upclient" -p "$port" "$c" >"$tmp/$c" &
		pids="$pids $!"
		track "$!"
	done
	for pid in $pids; do
		wait "$pid"
	done
	took=$(elapsed "$start")
	stop_server
	sed 's/^/   /' "$log"
	printf '   replies: %s %s %s %s; all four in %s s\n\n' \
	    "$(cat "$tmp/a")" "$(cat "$tmp/b")" "$(cat "$tmp/c")" \
	    "$(cat "$tmp/d")" "$took"
}

if [ "$#" -eq 0 ]; then
	for m in seq fork thread poll; do
		[ -x "$bin/upserver-$m" ] && set -- "$@" "$m"
	done
fi
for m in "$@"; do
	demo "$m"
done
