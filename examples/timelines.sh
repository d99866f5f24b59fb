#!/bin/sh
# timelines.sh: the same four clients against every model, one timeline
# under another, on one time axis.
#
# Each model gets four clients at once (upclient -c 4), one request each
# with DELAY of simulated work (default 1s), and its server's event log
# is kept. uptimeline then draws the logs one under another on one scale,
# so a bar's length is time, the same in every picture: against
# upserver-seq a staircase four delays long, each client waiting for the
# one before it; against the concurrent models one column, one delay
# long. (upclient -T draws one run to the full width, its own scale.)
#
# Usage: examples/timelines.sh [DELAY]
set -eu

# shellcheck source=examples/common.sh
. "$(dirname "$0")/common.sh"
delay=${1:-1s}

set --
for m in seq fork thread poll; do
	[ -x "$bin/upserver-$m" ] || continue
	echo "== upserver-$m -d $delay: upclient -c 4 hello"
	start_server "$m" -d "$delay"
	"$bin/upclient" -p "$port" -c 4 hello >/dev/null
	stop_server
	cp "$log" "$tmp/upserver-$m.log"
	set -- "$@" "upserver-$m.log"
done
echo
cd "$tmp"
"$bin/uptimeline" "$@"
