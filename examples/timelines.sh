#!/bin/sh
# timelines.sh: the same four clients against every model, one timeline
# under another.
#
# Each model gets four clients at once (upclient -c 4 -T), one request
# each with DELAY of simulated work (default 1s). Read the bars: against
# upserver-seq they form a staircase, each client waiting for the one
# before it; against the concurrent models, one column.
#
# Usage: examples/timelines.sh [DELAY]
set -eu

# shellcheck source=examples/common.sh
. "$(dirname "$0")/common.sh"
delay=${1:-1s}

for m in seq fork thread poll; do
	[ -x "$bin/upserver-$m" ] || continue
	echo "== upserver-$m -d $delay: upclient -c 4 -T hello"
	start_server "$m" -d "$delay" -q
	"$bin/upclient" -p "$port" -c 4 -T hello 2>&1 >/dev/null |
	    sed 's/^/   /'
	stop_server
	echo
done
