# shellcheck shell=bash
# helpers.bash: start a server on port 0, find its port, stop it.
#
# Every test file loads this and calls teardown_server in its teardown.
# Servers start with 3>&- so that bats never waits on them, on a port the
# kernel picks, so test files can run in parallel; the port is read from
# the "listening" line within a deadline, never guessed after a sleep.

bats_require_minimum_version 1.5.0

# UP_BIN: binaries built elsewhere (make check-asan builds into build/asan).
BIN="${UP_BIN:-$BATS_TEST_DIRNAME/../bin}"
export PATH="$BIN:$PATH"

# The regex every event line must match (CONTRACT.md, "The event log"; man
# upserver.1 for "recovered", the end of a shortage).
# shellcheck disable=SC2034 # used by the .bats files
LINE_RE='^[0-9]{10}\.[0-9]{6} (listening|accepted|received|responded|closed|error|recovered|draining|stopped|deadlock) ([0-9.]+|\[[0-9a-f:.]+\]):[0-9]+( [a-z-]+=[^ ]+)*$'

# wait_for_log FILE PATTERN [COUNT] [SECONDS]: until FILE has COUNT lines
# matching the extended regex PATTERN; fails after SECONDS (default 10).
wait_for_log() {
	local file=$1 pattern=$2 count=${3:-1} seconds=${4:-10}
	local deadline=$((SECONDS + seconds))
	while :; do
		if [ -f "$file" ] &&
		    [ "$(grep -cE -- "$pattern" "$file")" -ge "$count" ]; then
			return 0
		fi
		if [ "$SECONDS" -ge "$deadline" ]; then
			echo "timed out waiting for $count x '$pattern' in $file:" >&2
			cat "$file" >&2 2>/dev/null
			return 1
		fi
		sleep 0.05
	done
}

# poll_backends: the event engines this build's upserver-poll has, as
# "select poll epoll", read from its refusal of a backend that is none.
poll_backends() {
	"${1:-$BIN}/upserver-poll" --backend '?' 2>&1 |
	    sed -n "s/.*unknown backend '?' (\(.*\))\$/\1/p" | tr -d ,
}

# poll_models: "poll" and one "poll-BACKEND" for every other backend, for
# the tests that loop over models: every backend meets every such test
# (uring where the kernel does not refuse it).
poll_models() {
	local b
	echo poll
	for b in $(poll_backends "$BIN"); do
		[ "$b" = poll ] && continue
		[ "$b" = uring ] && uring_refused >/dev/null && continue
		echo "poll-$b"
	done
}

# uring_refused: why this build or machine cannot run upserver-coro
# --backend uring (a build without liburing, a kernel that refuses
# io_uring), as upserver-coro says it; nothing, and false, when it can.
# The unresolvable address makes a working server exit at once, after
# the options and the probe of io_uring, before it listens.
uring_refused() {
	local out
	if [ ! -x "${1:-$BIN}/upserver-coro" ]; then
		echo "no upserver-coro in ${1:-$BIN}"
		return 0
	fi
	out=$("${1:-$BIN}/upserver-coro" --backend uring -b 999.0.0.0 -p 0 \
	    2>&1 3>&-) && return 1
	case $out in
	*"--backend: uring"*) echo "${out%%$'\n'*}" ;;
	*) return 1 ;;
	esac
}

# coro_models: "coro", and "coro-uring" (upserver-coro --backend uring)
# where the build and the kernel have io_uring: for the tests that loop
# over models, so that the completion engine meets each of them.
coro_models() {
	echo coro
	uring_refused "${1:-$BIN}" >/dev/null || echo coro-uring
}

# new_server_logs NAME: sets SERVER_LOG and SERVER_ERR for a server about
# to start, and removes what an earlier server of the test left in them:
# that one's "listening" line could be read before the shell that starts
# the new server has truncated the file.
new_server_logs() {
	SERVER_LOG="$BATS_TEST_TMPDIR/server-$1.log"
	SERVER_ERR="$BATS_TEST_TMPDIR/server-$1.err"
	rm -f "$SERVER_LOG" "$SERVER_ERR"
}

# start_server MODEL [ARGS...]: runs bin/upserver-MODEL -p 0 ARGS in the
# background and sets SERVER_PID, SERVER_LOG, SERVER_ERR and PORT. MODEL
# poll-BACKEND is upserver-poll --backend BACKEND, and plain poll takes
# $UP_BACKEND when it is set; coro-BACKEND and coro ($UP_CORO_BACKEND)
# the same for upserver-coro.
start_server() {
	local model=$1 bin=$1
	local -a extra=()
	shift
	case $model in
	poll-* | coro-*)
		bin=${model%%-*}
		extra=(--backend "${model#*-}") ;;
	poll)
		[ -z "${UP_BACKEND:-}" ] || extra=(--backend "$UP_BACKEND") ;;
	coro)
		[ -z "${UP_CORO_BACKEND:-}" ] ||
		    extra=(--backend "$UP_CORO_BACKEND") ;;
	esac
	new_server_logs "$model"
	"$BIN/upserver-$bin" -p 0 "${extra[@]}" "$@" >"$SERVER_LOG" \
	    2>"$SERVER_ERR" 3>&- &
	SERVER_PID=$!
	read_port 10
}

# read_port [SECONDS]: waits for the "listening" line of SERVER_LOG (10 s
# by default) and sets PORT from it; on a time-out shows SERVER_ERR.
read_port() {
	if ! wait_for_log "$SERVER_LOG" ' listening ' 1 "${1:-10}"; then
		cat "$SERVER_ERR" >&2
		return 1
	fi
	PORT=$(awk '$2 == "listening" { n = split($3, a, ":"); print a[n]; exit }' \
	    "$SERVER_LOG")
	export PORT SERVER_PID SERVER_LOG SERVER_ERR
}

# stop_server [SIGNAL]: signals the server (TERM by default; 0 sends none,
# for a server already stopping), waits for it to exit (10 s at most) and
# sets SERVER_STATUS to its exit status.
stop_server() {
	local sig=${1:-TERM} i
	kill -"$sig" "$SERVER_PID" 2>/dev/null || true
	for ((i = 0; i < 200; i++)); do
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.05
	done
	SERVER_STATUS=0
	wait "$SERVER_PID" || SERVER_STATUS=$?
	SERVER_PID=
	export SERVER_STATUS
}

# teardown_server: kills whatever server a test left running.
teardown_server() {
	if [ -n "${SERVER_PID:-}" ]; then
		kill -KILL "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
		SERVER_PID=
	fi
}

# events FILE: the event names of the log, one per line.
events() {
	awk '{ print $2 }' "$1"
}

# uppercase: what a correct server returns for standard input.
uppercase() {
	# ASCII only, on purpose: the protocol leaves other bytes alone
	# shellcheck disable=SC2018,SC2019
	LC_ALL=C tr 'a-z' 'A-Z'
}

# two_cores_free: true when two busy loops side by side get 1.6 s of CPU
# time in one second between them, as on two idle cores. A test of
# parallel computing that misses its bound asks it, and skips when the
# cores were busy with other work rather than fail for it.
two_cores_free() {
	local p1 p2 pid ticks=0
	sh -c 'while :; do :; done' &
	p1=$!
	sh -c 'while :; do :; done' &
	p2=$!
	sleep 1
	for pid in "$p1" "$p2"; do
		ticks=$((ticks + $(awk '{ print $14 + $15 }' "/proc/$pid/stat")))
	done
	kill "$p1" "$p2"
	wait "$p1" "$p2" 2>/dev/null || true
	echo "two busy loops: $ticks ticks in a second"
	[ "$ticks" -ge $(($(getconf CLK_TCK) * 16 / 10)) ]
}
