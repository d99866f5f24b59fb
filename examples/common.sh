# shellcheck shell=sh
# common.sh: what the example scripts share; sourced, not run.
#
# Sets $bin (the built binaries) and $tmp (a scratch directory removed on
# exit, with any server still running), and gives:
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

bin=$(cd "$(dirname "$0")/../bin" && pwd)
tmp=$(mktemp -d)
server=""
children=""

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
