#!/bin/sh
# stall.sh: what a closed loop hides, on one screen (coordinated omission).
#
# upserver-poll --cpu computes each request inline in its one event loop:
# while it does, every other connection stalls. upserver-thread --cpu
# computes on a thread per connection, on every core. Each server gets the
# same load twice, at the same rate over the same connections:
#   closed  upclient -R RATE --paced: a request due while its connection
#           still waits is held until the reply is in, and timed from when
#           it was sent, as wrk and most load tools do: the client stops
#           asking while the server stalls, so the stall counts once;
#   open    upclient -R RATE: every request goes out when it is due and is
#           timed from then, so a request that came during a stall counts
#           the stall.
# The open loop's p99 is what users arriving at that rate see; the gap is
# what the closed loop leaves out, widest for the loop that stalls.
#
# Usage: examples/stall.sh [DELAY [RATE [SECONDS [CONNECTIONS]]]]
#        (default 20ms 40 5 4)
# Takes four runs of SECONDS, about 25 s with the defaults. On a machine
# busy with other work, --cpu's computing takes longer and the numbers
# move; the open loop's p99 above the closed loop's for poll is the lesson.
set -eu

# shellcheck source=examples/common.sh
. "$(dirname "$0")/common.sh"
delay=${1:-20ms}
rate=${2:-40}
secs=${3:-5}
clients=${4:-4}

# load ARGS...: one run at the rate; prints "p99 p99.9 max achieved".
load() {
	"$bin/upclient" -p "$port" -c "$clients" -R "$rate" -D "${secs}s" \
	    -r 16 -s "$@" >"$tmp/stats" 2>&1 &
	track "$!"
	wait "$!" || { cat "$tmp/stats" >&2; exit 1; }
	awk -F': ' '$1 == "latency_p99_ms" { p = $2 }
	    $1 == "latency_p99_9_ms" { q = $2 }
	    $1 == "latency_max_ms" { m = $2 }
	    $1 == "rate_achieved_per_s" { r = $2 }
	    END { print p, q, m, r }' "$tmp/stats"
}

echo "--cpu -d $delay, $clients connections, $rate requests/s for ${secs}s"
printf '%-7s %-7s %10s %10s %10s %9s\n' model loop "p99 ms" "p99.9 ms" \
    "max ms" "req/s"
for model in poll thread; do
	start_server "$model" --cpu -d "$delay" -q
	for loop in closed open; do
		if [ "$loop" = closed ]; then
			set -- "--paced"
		else
			set --
		fi
		# shellcheck disable=SC2046 # four numbers
		set -- $(load "$@")
		printf '%-7s %-7s %10s %10s %10s %9s\n' "$model" "$loop" \
		    "$1" "$2" "$3" "$4"
	done
	stop_server
done
