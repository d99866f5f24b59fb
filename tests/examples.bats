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

@test "demo.sh: every model, seq one client after another, the others all at once" {
	run sh "$EX/demo.sh"
	[ "$status" -eq 0 ]
	echo "$output"
	local m
	for m in seq fork thread poll; do
		[[ "$output" == *"== upserver-$m -d 1s, four clients at once"* ]]
	done
	[ "$(grep -c 'replies: A B C D; all four in ' <<<"$output")" -eq 4 ]
	# each model's result, with a sentence on what to notice
	[ "$(grep -c '^   notice: ' <<<"$output")" -eq 4 ]
	local flat
	flat=$(tr -s ' \n' '  ' <<<"$output")
	[[ "$flat" == *"notice: one at a time: each client is accepted only once"* ]]
	[[ "$flat" == *"(the responded lines' pid= differ)"* ]]
	[[ "$flat" == *"(the responded lines' tid= differ)"* ]]
	[[ "$flat" == *"by one thread: the event loop"* ]]
	# the event order of each model's section
	run awk '/^== / { if (m) print m ": " o; m = $2; o = "" }
	    $1 ~ /^[0-9]+\.[0-9]+$/ && $2 ~ /^(accepted|responded)$/ {
		o = o substr($2, 1, 1) }
	    END { print m ": " o }' <<<"$output"
	echo "$output"
	[ "${lines[0]}" = "upserver-seq: arararar" ]
	[ "${lines[1]}" = "upserver-fork: aaaarrrr" ]
	[ "${lines[2]}" = "upserver-thread: aaaarrrr" ]
	[ "${lines[3]}" = "upserver-poll: aaaarrrr" ]
}

# pane_text PANE: what tmux shows in PANE of the session.
pane_text() {
	tmux capture-pane -p -t "$TMUX_SESSION:0.$1"
}

@test "tmux-five.sh: a server pane, four client panes, go and swap" {
	command -v tmux >/dev/null || skip "tmux is not installed"
	five_panes seq
	[ "$(tmux list-panes -t "$UP_SESSION:0" | wc -l)" -eq 5 ]
	local i
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

@test "timelines.sh: a staircase for seq, one column for the others, on one axis" {
	run sh "$EX/timelines.sh" 500ms
	echo "$output"
	[ "$status" -eq 0 ]
	# One picture per model, each with its own heading, on one ruler.
	[ "$(grep -cE '^upserver-(seq|fork|thread|poll)\.log: upserver-[a-z]+ pid [0-9]+, 4 connections in ' <<<"$output")" -eq 4 ]
	[ "$(grep -E '^ +[+]' <<<"$output" | sort -u | wc -l)" -eq 1 ]
	local cols
	cols=$(awk '/^ +[+]/ { sub(/^ +/, ""); print length; exit }' <<<"$output")
	# The column where each row's reply ("<") is, per model.
	run awk '/^upserver-[a-z]+\.log: / { if (m) print m ": " e; m = $2; e = "" }
	    /^ +[0-9]+ [-.>=<*x ]+ [0-9.]+:[0-9]+/ {
		sub(/^ +[0-9]+ /, ""); e = e " " index($0, "<") }
	    END { print m ": " e }' <<<"$output"
	echo "$output"
	local row ends
	for row in "${lines[@]}"; do
		read -ra ends <<<"${row#*: }"
		[ "${#ends[@]}" -eq 4 ]
		if [[ "$row" == upserver-seq* ]]; then
			# each bar ends later than the one before it, the last
			# at the end of the axis
			[ "${ends[0]}" -lt "${ends[1]}" ]
			[ "${ends[1]}" -lt "${ends[2]}" ]
			[ "${ends[2]}" -lt "${ends[3]}" ]
			[ "${ends[3]}" -ge $((cols - 2)) ]
		else
			# all end together, a quarter of seq's time (half at
			# most, on a loaded machine), on the same scale
			[ $((ends[3] - ends[0])) -le 4 ]
			[ $((ends[0] - ends[3])) -le 4 ]
			[ "${ends[3]}" -le $((cols / 2)) ]
		fi
	done
	[ "${#lines[@]}" -eq 4 ]
}

@test "pool.sh: a pool of two answers five clients two, two, then one" {
	run sh "$EX/pool.sh" 500ms
	echo "$output"
	[ "$status" -eq 0 ]
	# in the server's log: the responded lines come in three batches
	run awk '$2 == "responded" { t[n++] = $1 }
	    END { c = 1
		for (i = 1; i < n; i++) if (t[i] - t[i - 1] > 0.25) { printf "%d ", c; c = 1 } else c++
		print c }' <<<"$output"
	[ "$output" = "2 2 1" ]
}

@test "c10k.sh: ten thousand clients against the event loop, all verified" {
	run sh "$EX/c10k.sh" 10000 1s
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"requests: 10000"* ]]
	[[ "$output" == *"errors: 0"* ]]
	[[ "$output" =~ stopped\ 127\.0\.0\.1:[0-9]+\ requests=10000 ]]
}

@test "idle.sh: every backend with and without idle connections; select says why it cannot" {
	command -v python3 >/dev/null || skip "python3 is not installed"
	# 1100 idle: past select's ceiling, so select is refused with its reason
	run sh "$EX/idle.sh" 1100 20
	echo "$output"
	[ "$status" -eq 0 ]
	# the examples run the tree's binaries, whatever UP_BIN says
	local b backends
	backends=$(poll_backends "$EX/../bin")
	for b in $backends; do
		[[ "$output" == *"== upserver-poll --backend $b -d 0 -c 1200"* ]]
	done
	[[ "$output" == *"upserver-poll: --max-conns: 1200 is more than select can watch: its bitmaps stop at FD_SETSIZE"* ]]
	# every other backend: a line with and one without idle, no error
	[ "$(grep -cE '^ +0 idle: +[0-9]+ req/s  p99 +[0-9.]+ ms  errors 0$' <<<"$output")" -eq \
	    "$(($(wc -w <<<"$backends") - 1))" ]
	[ "$(grep -cE '^ +1100 idle: +[0-9]+ req/s  p99 +[0-9.]+ ms  errors 0$' <<<"$output")" -eq \
	    "$(($(wc -w <<<"$backends") - 1))" ]
}

@test "picture.sh: seq and fork drawn from a real run as one SVG" {
	command -v python3 >/dev/null || skip "python3 is not installed"
	run sh "$EX/picture.sh" "$BATS_TEST_TMPDIR/pic.svg" 300ms
	echo "$output"
	[ "$status" -eq 0 ]
	python3 - "$BATS_TEST_TMPDIR/pic.svg" <<'PY'
import sys
import xml.etree.ElementTree as ET
ns = "{http://www.w3.org/2000/svg}"
texts = [t.text or "" for t in ET.parse(sys.argv[1]).iter(ns + "text")]
heads = [t for t in texts if " connections in " in t]
assert len(heads) == 2, heads
assert heads[0].startswith("seq.log: upserver-seq pid "), heads
assert heads[1].startswith("fork.log: upserver-fork pid "), heads
assert all(", 4 connections in " in h for h in heads), heads
PY
}

@test "race.sh: the tutorial's three count=0 beside three count=1, then the fixes" {
	run sh "$EX/race.sh" 300ms
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -cE ' received .* count=0( |$)' <<<"$output")" -eq 3 ]
	[ "$(grep -cE ' responded .* count=1( |$)' <<<"$output")" -eq 3 ]
	# the three received come before the three responded
	[ "$(awk '$2 == "received" || $2 == "responded" { printf "%s ", $2 }' <<<"$output")" = \
	    "received received received responded responded responded " ]
	grep -qE '^unsafe +10 +[0-9]+ .* updates lost$' <<<"$output"
	grep -qE '^mutex +10 +10 .* right$' <<<"$output"
	grep -qE '^atomic +10 +10 .* right$' <<<"$output"
}

@test "cpu.sh: every model with --cpu, and the machine's core count" {
	run sh "$EX/cpu.sh" 200ms
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "--cpu -d 200ms, 4 clients at once, $(getconf _NPROCESSORS_ONLN) cores" ]
	local m
	for m in seq fork thread poll "poll -w $(getconf _NPROCESSORS_ONLN)"; do
		grep -qE "^$m +[0-9.]+ s   about [0-9.]+ s " <<<"$output"
	done
	[ "${#lines[@]}" -eq 7 ]
}

# left_behind TAG: "PID COMMAND" of each live process whose environment
# holds UP_EXAMPLE_RUN=TAG, read from /proc (a fresh machine may have no
# ps or pgrep); zombies, already gone but for their exit status, have an
# empty environment and are not counted.
left_behind() {
	local f pid
	for f in /proc/[0-9]*/environ; do
		pid=${f#/proc/}
		pid=${pid%/environ}
		if { tr '\0' '\n' <"$f"; } 2>/dev/null |
		    grep -qx "UP_EXAMPLE_RUN=$1"; then
			echo "$pid $({ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null)"
		fi
	done
}

@test "idle.sh | head -2: the closed pipe ends it, and it leaves nothing behind" {
	command -v python3 >/dev/null || skip "python3 is not installed"
	local tag="idle-$$-$RANDOM"
	# head leaves after the first result, while the server and the idle
	# connections' holder are running: the next write meets a closed pipe
	run bash -c 'UP_EXAMPLE_RUN=$1 sh "$2/idle.sh" 50 20 2>&1 3>&- |
	    head -2; echo "script: ${PIPESTATUS[0]}"' _ "$tag" "$EX"
	echo "$output"
	[[ "${lines[0]}" == "== upserver-poll --backend "* ]]
	[[ "${lines[1]}" == *" 0 idle: "* ]]
	[ "${lines[2]}" = "script: 141" ]
	run left_behind "$tag"
	echo "$output"
	# what was left is stopped, so that a failure does not hang the suite
	local pid
	while read -r pid _; do
		[ -n "$pid" ] && kill "$pid" 2>/dev/null
	done <<<"$output"
	[ -z "$output" ]
}

# wait_pane PANE PATTERN [COUNT]: until PANE shows COUNT (1) lines that
# match the extended regex PATTERN; fails after 10 s, showing the pane.
wait_pane() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(pane_text "$1" | grep -cE -- "$2")" -ge "${3:-1}" ] &&
		    return 0
		sleep 0.1
	done
	pane_text "$1"
	return 1
}

# pick_port: sets the session's name and UP_PORT, a free port (a server
# picks one, then stops), for tmux-five.sh.
pick_port() {
	export UP_SESSION="up-test-$$" UP_DETACH=1 UP_DELAY=300ms
	TMUX_SESSION=$UP_SESSION
	start_server seq -d 0
	export UP_PORT=$PORT
	stop_server
}

# five_panes ARGS...: tmux-five.sh ARGS, detached, on UP_PORT (picked
# when unset); returns once the server listens.
five_panes() {
	[ -n "${UP_PORT:-}" ] || pick_port
	sh "$EX/tmux-five.sh" "$@"
	wait_pane 0 " listening 127.0.0.1:$UP_PORT "
}

@test "tmux-five.sh: a model that is none is refused, and the server runs on" {
	command -v tmux >/dev/null || skip "tmux is not installed"
	run sh "$EX/tmux-five.sh" frok
	[ "$status" -eq 2 ]
	[ "$output" = "tmux-five.sh: no model 'frok' (seq, fork, thread or poll)" ]
	five_panes seq
	run sh "$EX/tmux-five.sh" swap frok
	[ "$status" -eq 2 ]
	[ "$output" = "tmux-five.sh: no model 'frok' (seq, fork, thread or poll)" ]
	# nothing changed: five panes, the same server, and go still works
	[ "$(tmux list-panes -t "$UP_SESSION:0" | wc -l)" -eq 5 ]
	pane_text 0 | grep -q " listening 127.0.0.1:$UP_PORT model=seq "
	[ "$(pane_text 0 | grep -c 'server exited')" -eq 0 ]
	run sh "$EX/tmux-five.sh" go
	[ "$status" -eq 0 ]
	wait_pane 0 ' closed ' 4
	pane_text 1 | grep -qx 'A'
	pane_text 4 | grep -qx 'D'
	sh "$EX/tmux-five.sh" stop
	TMUX_SESSION=
}

@test "tmux-five.sh --client: the tutorial's own client in each pane" {
	command -v tmux >/dev/null || skip "tmux is not installed"
	command -v python3 >/dev/null || skip "python3 is not installed"
	# the tutorial's client sends no newline: the servers answer it with
	# no option (--framing auto: what came before a pause is a request)
	start_server seq -d 0
	run timeout 5 python3 "$EX/client.py" "$PORT" <<<"probe"
	stop_server
	[ "$output" = "> PROBE" ]
	pick_port
	five_panes --client "python3 $EX/client.py $UP_PORT" seq
	# every client at its prompt before the letters are typed: a letter
	# typed sooner echoes on a line of its own, not after "> "
	local p
	for p in 1 2 3 4; do
		wait_pane "$p" '^>'
	done
	sh "$EX/tmux-five.sh" go
	wait_pane 0 ' closed ' 4
	for p in 1 2 3 4; do
		wait_pane "$p" "^> [abcd]\$"
		pane_text "$p" | grep -qx "$(echo ABCD | cut -c "$p")"
	done
	# seq: one after another (each pane's client starts again, and
	# connects, once it has printed its reply)
	[[ "$(pane_text 0 | awk '$2 == "accepted" || $2 == "closed" {
	    printf "%s ", substr($2, 1, 1) }')" == "a c a c a c a c "* ]]
	sh "$EX/tmux-five.sh" stop
	TMUX_SESSION=
}

@test "backlog.sh: two queued at once, three SYNs dropped and retried, one reset" {
	[ "$(uname -s)" = Linux ] || skip "the queues and syncookies of Linux"
	[ "$(cat /proc/sys/net/ipv4/tcp_syncookies 2>/dev/null)" = 1 ] ||
	    skip "tcp_syncookies is not 1, the default"
	[ "$(cat /proc/sys/net/ipv4/tcp_abort_on_overflow 2>/dev/null)" = 0 ] ||
	    skip "tcp_abort_on_overflow is not 0, the default"
	run sh "$EX/backlog.sh"
	echo "$output"
	[ "$status" -eq 0 ]
	# the accept queue holds the backlog plus one
	if command -v ss >/dev/null; then
		grep -qE '^   LISTEN +2 +1 ' <<<"$output"
	fi
	# one client is served; of five more, two connect at once, the others
	# only once a place has freed (2.5 s), at the next retry of their SYN
	local line
	line=$(grep '^   connected at once: ' <<<"$output")
	[[ "$line" =~ ^\ +connected\ at\ once:\ 2\;\ late:\ 3,\ the\ first\ after\ ([0-9.]+)\ s$ ]]
	awk -v t="${BASH_REMATCH[1]}" 'BEGIN { exit !(t >= 2.5 && t < 5) }'
	# all answered but the one given a syncookie, reset at its FIN
	grep -qx '   answered: 4 (and the first client); reset by the server: 1' \
	    <<<"$output"
	[ "$(grep -c 'Connection reset by peer' <<<"$output")" -eq 1 ]
}

@test "coro.sh: one thread answers four together, unsafe loses, --cpu serializes" {
	run sh "$EX/coro.sh" 300ms
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "${lines[2]}" =~ ^\ +4\ +pid=([0-9]+)\ tid=([0-9]+)$ ]]
	[ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ]
	[ "${lines[4]}" = "requests=4 count=1: the wait sat between each read and its write" ]
	[ "$(grep -c '^  received .* count=0$' <<<"$output")" -eq 4 ]
	local cpu
	cpu=$(sed -n 's/^answered in \([0-9.]*\) s: one computation.*/\1/p' <<<"$output")
	awk -v t="$cpu" 'BEGIN { exit !(t >= 0.8) }'
}

@test "accept.sh: every --accept mode of the pools, idle and busy, in a table" {
	run sh "$EX/accept.sh" 200
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "four workers, 200 connections each run, 8 at a time; $(getconf _NPROCESSORS_ONLN) cores" ]
	local rows=20 m
	[ "$(uname -s)" = Linux ] && rows=$((rows + 2))
	"$BATS_TEST_DIRNAME/../bin/upserver-poll" --backend '?' 2>&1 |
	    grep -q epoll && rows=$((rows + 2))
	[ "${#lines[@]}" -eq $((rows + 2)) ]
	for m in "fork +herd" "fork +plain" "fork +lock" "fork +pass" \
	    "thread +herd" "thread +plain" "thread +lock" "thread +pass" \
	    "poll +least" "poll +herd"; do
		# an idle row and a busy row, each with its numbers
		[ "$(grep -cE "^$m +(idle|busy) +[0-9]+ +[0-9]+ +[0-9.]+ +[0-9]+$" \
		    <<<"$output")" -eq 2 ]
	done
	# the accept lock never wastes a wake-up, nor a worker handed over to
	[ "$(grep -cE '^(fork|thread) +(lock|pass) .* 0\.000 ' \
	    <<<"$output")" -eq 8 ]
}
