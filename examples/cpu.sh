#!/bin/sh
# cpu.sh: CPU-bound work, where the cores of the machine matter.
#
# Starts each server model with --cpu, so that each request's delay is
# spent computing instead of waiting, sends four clients at once, and
# prints how long they took beside what the lesson predicts on this
# machine's N cores:
#
#   seq     one request at a time: about 4 delays;
#   fork    a process per client, on every core: about 4/N delays;
#   thread  a thread per client, on every core (C has no global lock):
#           about 4/N delays;
#   poll    the one loop computes each request inline and serves no one
#           else meanwhile: about 4 delays, as sequential;
#   poll -w N  one loop per core, each computing its share: about 4/N
#           delays, as fork and thread, for a process per loop, once.
#
# A machine busy with other work has fewer cores to give: the times are
# then longer, the order the same.
#
# Usage: examples/cpu.sh [DELAY]   (default 500ms)
set -eu

# shellcheck source=examples/common.sh
. "$(dirname "$0")/common.sh"
delay=${1:-500ms}
cores=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
clients=4

# run MODEL EXPECTED [ARGS...]: four clients at once against
# upserver-MODEL ARGS; one line of the table.
run() {
	model=$1
	lesson=$2
	shift 2
	start_server "$model" --cpu -d "$delay" -q "$@"
	start=$(now)
	pids=""
	i=1
	while [ "$i" -le "$clients" ]; do
		"$bin/upclient" -H 127.0.0.1 -p "$port" "client $i" \
		    >/dev/null &
		pids="$pids $!"
		track "$!"
		i=$((i + 1))
	done
	for pid in $pids; do
		wait "$pid"
	done
	took=$(elapsed "$start")
	stop_server
	printf '%-11s %6s s   %s\n' "$model${*:+ $*}" "$took" "$lesson"
}

# The delay in seconds (units as in upserver(1): us, ms, s, m or none).
secs=$(echo "$delay" | awk '
    /us$/ { print $0 / 1000000; next }
    /ms$/ { print $0 / 1000; next }
    /m$/ { print $0 * 60; next }
    { print $0 + 0 }')

# expected DELAYS: DELAYS times the delay, in seconds, one decimal.
expected() {
	awk -v n="$1" -v s="$secs" 'BEGIN { printf "about %.1f s", n * s }'
}

echo "--cpu -d $delay, $clients clients at once, $cores cores"
printf '%-11s %8s   %s\n' model time "the lesson"
per_core=$(awk -v c="$clients" -v n="$cores" \
    'BEGIN { x = c / n; if (x < 1) x = 1; print x }')
run seq "$(expected "$clients") (one at a time)"
run fork "$(expected "$per_core") (every core)"
run thread "$(expected "$per_core") (every core)"
run poll "$(expected "$clients") (the loop computes inline)"
run poll "$(expected "$per_core") (a loop per core)" -w "$cores"
