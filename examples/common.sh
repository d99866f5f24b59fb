# shellcheck shell=sh
# common.sh: what the example scripts share; sourced, not run.
#
# Sets $bin (the built binaries), $cores (the machine's cores online) and
# $tmp (a scratch directory removed on exit, with any server still
# running), and gives:
#   start_server MODEL ARGS...  starts bin/upserver-MODEL -p 0 ARGS in the
#                               background; sets $server, $port, $log
#   stop_server                 SIGTERM, and waits for it
#   track PID                   a background process of the script's own
#                               (a client), stopped with the server
#
# However the script ends, it leaves nothing behind: at its end, on Ctrl-C,
# SIGTERM or SIGHUP, and when the reader of its output goes away (SIGPIPE,
# as in "examples/idle.sh | head -3", or a write error), the server and
# every tracked process are stopped and waited for, and $tmp is removed.
#   stopped_field KEY           the value of KEY= on the "stopped" line
#   now                         the wall clock in seconds, with decimals
#   elapsed START               seconds since START, one decimal
#   together CMD ARGS...        runs CMD in the background, tracked, one
#                               of a group that wait_together waits for
#   clients N                   N clients at once, client I sending the
#                               line "client I"; returns once all are done
#   time_clients N MODEL ARGS...  starts upserver-MODEL ARGS, runs clients
#                               N against it and stops it; sets $took, the
#                               seconds the clients took, and $log
#   expected N                  "about S s": N times the script's
#                               $delay, in seconds, one decimal
#   per_core N                  N clients over $cores cores: N / cores
#                               rounds, at least 1

bin=$(cd "$(dirname "$0")/../bin" && pwd)
tmp=$(mktemp -d)
server=""
children=""
together_pids=""
cores=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)

# ours PID: whether PID is still a process of this shell's own, not one
# that has ended and whose number another process now has.
# shellcheck disable=SC2317 # called by the trap
ours() {
	if [ -r "/proc/$1/stat" ]; then
		ppid=$(sed 's/.*) [A-Za-z] \([0-9]*\) .*/\1/' "/proc/$1/stat" \
		    2>/dev/null)
	else
		ppid=$(ps -o ppid= -p "$1" 2>/dev/null | tr -d ' ')
	fi
	[ "$ppid" = "$$" ]
}

# shellcheck disable=SC2317 # called by the trap
cleanup() {
	trap - EXIT HUP INT TERM PIPE
	# shellcheck disable=SC2086 # a list of pids
	for pid in $server $children; do
		ours "$pid" || continue
		kill "$pid" 2>/dev/null || continue
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
# A signal ends the script through exit, so that cleanup runs: the shell's
# default for each would end it at once and leave the server running.
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 141' PIPE
trap 'exit 143' TERM

track() {
	children="$children $1"
}

start_server() {
	model=$1
	shift
	log="$tmp/$model.$$.$(date +%s%N).log"
	if [ ! -x "$bin/upserver-$model" ]; then
		echo "$(basename "$0"): no $bin/upserver-$model: run make" >&2
		exit 1
	fi
	"$bin/upserver-$model" -p 0 "$@" >"$log" &
	server=$!
	i=0
	while ! grep -q ' listening ' "$log" 2>/dev/null; do
		i=$((i + 1))
		if [ "$i" -gt 200 ] || ! kill -0 "$server" 2>/dev/null; then
			echo "$(basename "$0"): upserver-$model did not start" >&2
			exit 1
		fi
		sleep 0.05
	done
	# shellcheck disable=SC2034 # used by the scripts that source this
	port=$(awk '$2 == "listening" { n = split($3, a, ":"); print a[n]; exit }' "$log")
}

stop_server() {
	kill -TERM "$server"
	wait "$server" || true
	server=""
}

stopped_field() {
	awk -v k="$1=" '$2 == "stopped" { for (i = 4; i <= NF; i++)
	    if (index($i, k) == 1) print substr($i, length(k) + 1) }' "$log"
}

now() {
	date +%s.%N
}

elapsed() {
	awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'
}


together() {
	"$@" &
	together_pids="$together_pids $!"
	track "$!"
}

# Fails, as set -e sees, when one of the group failed.
wait_together() {
	for pid in $together_pids; do
		wait "$pid"
	done
	together_pids=""
}

clients() {
	i=1
	while [ "$i" -le "$1" ]; do
		together "$bin/upclient" -H 127.0.0.1 -p "$port" "client $i" \
		    >/dev/null
		i=$((i + 1))
	done
	wait_together
}

time_clients() {
	n=$1
	shift
	start_server "$@"
	start=$(now)
	clients "$n"
	# shellcheck disable=SC2034 # used by the scripts that source this
	took=$(elapsed "$start")
	stop_server
}

# seconds TIME: TIME as upserver(1) writes it (1.5, 250ms, 2s, 100us, 1m)
# in seconds.
seconds() {
	echo "$1" | awk '
	    /us$/ { print $0 / 1000000; next }
	    /ms$/ { print $0 / 1000; next }
	    /m$/ { print $0 * 60; next }
	    { print $0 + 0 }'
}

# shellcheck disable=SC2154 # $delay is the script's own
expected() {
	awk -v n="$1" -v s="$(seconds "$delay")" \
	    'BEGIN { printf "about %.1f s", n * s }'
}

per_core() {
	awk -v c="$1" -v n="$cores" \
	    'BEGIN { x = c / n; if (x < 1) x = 1; print x }'
}
