#!/bin/sh
# tmux-five.sh: the tutorial's five terminals, in one tmux window.
#
#   examples/tmux-five.sh [start] [MODEL [DELAY]]   open the window and attach
#   examples/tmux-five.sh go                        send all four clients at once
#   examples/tmux-five.sh swap MODEL                restart the server as MODEL
#   examples/tmux-five.sh stop                      close the window
#
# The top pane runs upserver-MODEL (seq by default, delay 2s) on port
# $UP_PORT (40001); the four panes below are clients a, b, c and d that
# send their letter each time Enter is pressed in them. "go" presses Enter
# in all four at once, like typing fast in four terminals; "swap" replaces
# the server on the same port without touching the clients, so the same
# four clients can be watched against each model in turn.
# UP_SESSION names the tmux session (up-five); UP_DETACH=1 does not attach.
set -eu

bin=$(cd "$(dirname "$0")/../bin" && pwd)
session=${UP_SESSION:-up-five}
port=${UP_PORT:-40001}
delay=${UP_DELAY:-2s}

usage() {
	echo "usage: tmux-five.sh [start] [MODEL [DELAY]] | go | swap MODEL | stop" >&2
	exit 2
}

# server_command MODEL: the command line of the server pane.
server_command() {
	[ -x "$bin/upserver-$1" ] || {
		echo "tmux-five.sh: no $bin/upserver-$1 (run make)" >&2
		exit 1
	}
	echo "$bin/upserver-$1 -p $port -d $delay; echo '[server exited]'; sleep 3600"
}

command -v tmux >/dev/null || {
	echo "tmux-five.sh: tmux is not installed (apt-get install tmux)" >&2
	exit 1
}

cmd=${1:-start}
case $cmd in
start|seq|fork|thread|poll)
	[ "$cmd" = start ] && [ "$#" -gt 0 ] && shift
	model=${1:-seq}
	delay=${2:-$delay}
	tmux new-session -d -s "$session" -x 160 -y 48 "$(server_command "$model")"
	for c in a b c d; do
		tmux split-window -t "$session:0" -v \
		    "while printf 'client %s: Enter sends \"%s\"> ' $c $c; read -r _; do $bin/upclient -p $port $c; done"
	done
	tmux select-layout -t "$session:0" main-horizontal
	tmux select-pane -t "$session:0.0"
	if [ "${UP_DETACH:-0}" != 1 ]; then
		exec tmux attach -t "$session"
	fi
	;;
go)
	for pane in 1 2 3 4; do
		tmux send-keys -t "$session:0.$pane" Enter
	done
	;;
swap)
	[ "$#" -eq 2 ] || usage
	tmux respawn-pane -k -t "$session:0.0" "$(server_command "$2")"
	;;
stop)
	tmux kill-session -t "$session"
	;;
*)
	usage
	;;
esac
