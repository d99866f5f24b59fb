#!/bin/sh
# demo.sh: the tutorial's first lesson, run for you.
#
# Starts each server model that is built on a free port with one second of
# simulated work per request, sends four clients at once (a, b, c, d, like
# the tutorial's four terminals), and prints the server's event log. The
# sequential server serves them one after another (about 4 s); a concurrent
# model accepts all four at once and answers them together (about 1 s).
# Under each log, one sentence says what in it to notice.
#
# Usage: examples/demo.sh [MODEL ...]   (default: every model built)
set -eu

# shellcheck source=examples/common.sh
. "$(dirname "$0")/common.sh"
delay=1s

# notice MODEL: the one sentence on what to look at in MODEL's log.
notice() {
	case $1 in
	seq)
		echo "one at a time: each client is accepted only once the one" \
		    "before it is closed, so the last waits for all the others" ;;
	fork)
		echo "all four accepted at once, each served by a process of" \
		    "its own (the responded lines' pid= differ), and answered" \
		    "together after one delay" ;;
	thread)
		echo "all four accepted at once, each served by a thread of its" \
		    "own in one process (the responded lines' tid= differ)," \
		    "and answered together after one delay" ;;
	poll)
		echo "all four accepted at once and answered together, by one" \
		    "thread: the event loop waits on every client at once, with" \
		    "no process or thread for each" ;;
	*)
		echo "compare the order of accepted and responded with seq's" ;;
	esac
}

demo() {
	echo "== upserver-$1 -d $delay, four clients at once"
	start_server "$1" -d "$delay"
	start=$(now)
	for c in a b c d; do
		together "$bin/upclient" -p "$port" "$c" >"$tmp/$c"
	done
	wait_together
	took=$(elapsed "$start")
	stop_server
	sed 's/^/   /' "$log"
	printf '   replies: %s %s %s %s; all four in %s s\n' \
	    "$(cat "$tmp/a")" "$(cat "$tmp/b")" "$(cat "$tmp/c")" \
	    "$(cat "$tmp/d")" "$took"
	notice "$1" | fold -s -w 64 |
	    sed 's/ *$//; 1s/^/   notice: /; 2,$s/^/           /; $s/$/./'
	echo
}

if [ "$#" -eq 0 ]; then
	for m in seq fork thread poll; do
		[ -x "$bin/upserver-$m" ] && set -- "$@" "$m"
	done
fi
echo "Four clients (a, b, c, d) send a word each at the same moment, as in"
echo "the tutorial's four terminals; each request costs $delay of work. Below"
echo "each server's event log, read the order of accepted and responded."
echo
for m in "$@"; do
	demo "$m"
done
