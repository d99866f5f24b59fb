#!/bin/sh
# pool.sh: a pool of two, like Python's ThreadPoolExecutor(max_workers=2).
#
# Five clients at once against upserver-thread -w 2: the log shows two
# accepted, and each time one is closed the next is accepted, so the
# replies come two, two, then one. Then the same from the client's side:
# upclient -j 2 runs at most two of the five at once against a server
# that could serve them all.
#
# Usage: examples/pool.sh [DELAY]   (default 1s)
set -eu

# shellcheck source=examples/common.sh
. "$(dirname "$0")/common.sh"
delay=${1:-1s}

echo "== upserver-thread -w 2 -d $delay, five clients at once"
start_server thread -w 2 -d "$delay"
"$bin/upclient" -p "$port" -c 5 -T job >/dev/null 2>"$tmp/timeline"
stop_server
sed 's/^/   /' "$log"
sed 's/^/   /' "$tmp/timeline"
echo

echo "== upserver-poll -d $delay, five clients, at most two at once (upclient -j 2)"
start_server poll -d "$delay" -q
"$bin/upclient" -p "$port" -c 5 -j 2 -T job 2>&1 >/dev/null | sed 's/^/   /'
stop_server
