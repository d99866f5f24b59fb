#!/usr/bin/env bats
# The scripts in examples/ run and show what they promise.

# status, output, lines: set by bats' run
# shellcheck disable=SC2154

load helpers

EX="$BATS_TEST_DIRNAME/../examples"

teardown() {
	teardown_server
	if [ -n "${TMUX_SESSION:-}" ]; then
		tmux kill-session -t "$TMUX_SESSION" 2>/dev/null || true
	fi
}

@test "demo.sh: seq serves four clients one after another" {
	run sh "$EX/demo.sh" seq
	[ "$status" -eq 0 ]
	echo "$output"
	[[ "${lines[0]}" == "== upserver-seq -d 1s, four clients at once" ]]
	# every accepted comes after the closed of the connection before it
	[ "$(echo "$output" | awk '$2 ~ /^(accepted|responded|closed)$/ { printf "%s ", $2 }')" = \
	    "accepted responded closed accepted responded closed accepted responded closed accepted responded closed " ]
	[[ "$output" == *"replies: A B C D; all four in "* ]]
}

# pane_text PANE: what tmux shows in PANE of the session.
pane_text() {
	tmux capture-pane -p -t "$TMUX_SESSION:0.$1"
}

@test "tmux-five.sh: a server pane, four client panes, go and swap" {
	command -v tmux >/dev/null || skip "tmux is not installed"
	export UP_SESSION="up-test-$$" UP_DETACH=1 UP_DELAY=300ms
	TMUX_SESSION=$UP_SESSION
	# a free port: let a server pick one, then stop it
	start_server seq -d 0
	export UP_PORT=$PORT
	stop_server
	sh "$EX/tmux-five.sh" seq
	[ "$(tmux list-panes -t "$UP_SESSION:0" | wc -l)" -eq 5 ]
	local i
	for ((i = 0; i < 100; i++)); do
		pane_text 0 | grep -q ' listening ' && break
		sleep 0.1
	done
	pane_text 0 | grep -q " listening 127.0.0.1:$UP_PORT model=seq "
	sh "$EX/tmux-five.sh" go
	for ((i = 0; i < 100; i++)); do
		[ "$(pane_text 0 | grep -c ' closed ')" -eq 4 ] && break
		sleep 0.1
	done
	[ "$(pane_text 0 | grep -c ' closed ')" -eq 4 ]
	pane_text 1 | grep -qx 'A'
	pane_text 4 | grep -qx 'D'
	# swap the server for another model on the same port
	local other=seq
	[ -x "$BIN/upserver-fork" ] && other=fork
	sh "$EX/tmux-five.sh" swap "$other"
	for ((i = 0; i < 100; i++)); do
		pane_text 0 | grep -q " listening .* model=$other " && break
		sleep 0.1
	done
	pane_text 0 | grep -q " listening 127.0.0.1:$UP_PORT model=$other "
	sh "$EX/tmux-five.sh" stop
	TMUX_SESSION=
}
