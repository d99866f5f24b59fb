#!/bin/sh
# accept.sh: who gets the next connection, with four workers on one port.
#
# Every --accept mode of upserver-fork -w 4, upserver-thread -w 4 and
# upserver-poll -w 4, first with idle workers (-d 0: a reply at once),
# then with busy ones (--cpu: each request computes for a millisecond),
# each against a few thousand short connections (upclient -c, eight at a
# time). The table: the connections the least and the most loaded worker
# accepted, the wake-ups that found no connection per connection, and the
# requests per second, all read from the server's "stopped" line and the
# client's -s statistics.
#
# Usage: examples/accept.sh [CONNECTIONS]   (default 2000)
set -eu

# shellcheck source=examples/common.sh
. "$(dirname "$0")/common.sh"
n=${1:-2000}

# run MODEL MODE LOAD ARGS...: one server, n connections; prints a row.
run() {
	model=$1 mode=$2 load=$3
	shift 3
	start_server "$model" -w 4 -q --accept "$mode" "$@"
	"$bin/upclient" -H 127.0.0.1 -p "$port" -c "$n" -j 8 -r 10 -s \
	    >/dev/null 2>"$tmp/stats" &
	track "$!"
	wait "$!" || echo "$(basename "$0"): upclient failed" >&2
	stop_server
	rps=$(sed -n 's/^requests_per_s: //p' "$tmp/stats")
	stopped_field accepted | tr , '\n' | sort -n >"$tmp/spread"
	least=$(head -1 "$tmp/spread")
	most=$(tail -1 "$tmp/spread")
	wasted=$(stopped_field wasted | tr , '\n' |
	    awk -v n="$n" '{ t += $1 } END { printf "%.3f", t / n }')
	printf '%-7s %-10s %-5s %6s %6s %9s %9.0f\n' "$model" "$mode" \
	    "$load" "$least" "$most" "$wasted" "${rps:-0}"
}

modes() {
	if [ "$1" = poll ]; then
		echo least herd
		[ "$(uname -s)" = Linux ] && echo reuseport
		# refused (exit 2) where the build lacks it, else it gets as
		# far as binding an address that is none (exit 1)
		st=0
		"$bin/upserver-poll" -w 2 --backend epoll --accept exclusive \
		    -b 999.0.0.0 -p 0 >/dev/null 2>&1 || st=$?
		[ "$st" -eq 2 ] || echo exclusive
	else
		echo herd plain lock pass
	fi
}

echo "four workers, $n connections each run, 8 at a time;" \
    "$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo '?') cores"
printf '%-7s %-10s %-5s %6s %6s %9s %9s\n' model mode load least most \
    wasted/c req/s
for load in idle busy; do
	for model in fork thread poll; do
		for mode in $(modes "$model"); do
			set --
			[ "$load" = idle ] && set -- -d 0
			[ "$load" = busy ] && set -- -d 1ms --cpu
			[ "$model" = poll ] && set -- "$@" --backend epoll
			run "$model" "$mode" "$load" "$@"
		done
	done
done
