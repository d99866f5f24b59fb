#!/bin/sh
# tmux-five.sh: the tutorial's five terminals, in one tmux window.
#
#   examples/tmux-five.sh [start] [--client CMD] [MODEL [DELAY]]
#                                  open the window and attach
#   examples/tmux-five.sh go       type a letter and Enter in all four
#                                  client panes at once
#   examples/tmux-five.sh swap MODEL   restart the server as MODEL
#   examples/tmux-five.sh stop     close the window
#
# The top pane runs upserver-MODEL (seq by default, delay 2s) on port
# $UP_PORT (40001); the four panes below are clients a, b, c and d. "go"
# types each pane's letter and Enter at once, like typing fast in four
# terminals; "swap" replaces the server on the same port without touching
# the clients, so the same four clients can be watched against each model
# in turn. A MODEL that is none of seq, fork, thread and poll (or is not
# built) is refused, and the server that runs keeps running.
#
# By default each client pane sends what is typed (or its letter) with
# upclient. --client CMD runs CMD instead, again each time it ends: the
# tutorial's own client, which prompts, sends the typed string with no
# newline and prints one recv(1024), as
#   examples/tmux-five.sh --client 'python3 examples/client.py'
# (CMD must reach port $UP_PORT: examples/client.py takes it as its
# argument, and the tutorial's client.py hard-codes 40001, the default).
# UP_SESSION names the tmux session (up-five); UP_DETACH=1 does not attach.
set -eu

bin=$(cd "$(dirname "$0")/../bin" && pwd)
session=${UP_SESSION:-up-five}
port=${UP_PORT:-40001}
delay=${UP_DELAY:-2s}
models="seq fork thread poll"

usage() {
	echo "usage: tmux-five.sh [start] [--client CMD] [MODEL [DELAY]]" \
	    "| go | swap MODEL | stop" >&2
	exit 2
}

# check_model MODEL: returns when MODEL is a model that is built; else
# says why not and exits, before anything has changed.
check_model() {
	case " $models " in
	*" $1 "*)
		;;
	*)
		echo "tmux-five.sh: no model '$1' (seq, fork, thread or poll)" >&2
		exit 2
		;;
	esac
	[ -x "$bin/upserver-$1" ] || {
		echo "tmux-five.sh: no $bin/upserver-$1 (run make)" >&2
		exit 1
	}
}

# server_command MODEL: the command line of the server pane.
server_command() {
	printf '%s %s\n' "$bin/upserver-$1 -p $port -d $delay;" \
	    "echo '[server exited]'; sleep 3600"
}

# client_command LETTER: the command line of a client pane; $client, when
# set, is the command to run in place of upclient.
client_command() {
	if [ -n "$client" ]; then
		printf '%s %s\n' "while :; do printf 'client $1: %s\\n'" \
		    "'$(quoted "$client")'; $client; done"
	else
		printf '%s %s %s\n' "while printf 'client $1: type a word (Enter" \
		    "sends \"$1\")> '; read -r w; do" \
		    "$bin/upclient -p $port \"\${w:-$1}\"; done"
	fi
}

# quoted TEXT: TEXT with each ' written as '\'', to sit inside '...'.
quoted() {
	printf '%s' "$1" | sed "s/'/'\\\\''/g"
}

# in_session: returns when the session exists; else says so and exits.
in_session() {
	tmux has-session -t "$session" 2>/dev/null || {
		echo "tmux-five.sh: no tmux session $session" \
		    "(examples/tmux-five.sh start opens it)" >&2
		exit 1
	}
}

command -v tmux >/dev/null || {
	echo "tmux-five.sh: tmux is not installed (apt-get install tmux)" >&2
	exit 1
}

# start [--client CMD] [MODEL [DELAY]]: opens the window, and attaches.
start() {
	client=""
	if [ "${1:-}" = --client ]; then
		{ [ "$#" -ge 2 ] && [ -n "$2" ]; } || usage
		client=$2
		shift 2
	fi
	[ "$#" -le 2 ] || usage
	model=${1:-seq}
	delay=${2:-$delay}
	check_model "$model"
	tmux new-session -d -s "$session" -x 160 -y 48 \
	    "$(server_command "$model")"
	for c in a b c d; do
		tmux split-window -t "$session:0" -v "$(client_command "$c")"
	done
	tmux select-layout -t "$session:0" main-horizontal
	tmux select-pane -t "$session:0.0"
	if [ "${UP_DETACH:-0}" != 1 ]; then
		exec tmux attach -t "$session"
	fi
}

cmd=${1:-start}
case $cmd in
go)
	in_session
	for pane in 1 2 3 4; do
		letter=$(echo abcd | cut -c "$pane")
		tmux send-keys -t "$session:0.$pane" "$letter" Enter
	done
	;;
swap)
	[ "$#" -eq 2 ] || usage
	check_model "$2"
	in_session
	tmux respawn-pane -k -t "$session:0.0" "$(server_command "$2")"
	;;
stop)
	tmux kill-session -t "$session"
	;;
start)
	shift
	start "$@"
	;;
--client|[a-z]*)
	start "$@"
	;;
*)
	usage
	;;
esac
