#!/usr/bin/env bats
# The fault suite: what a careless client or a hostile network does, against
# all four servers. No client may take a server down, make it lose or
# corrupt a byte, or grow its memory without bound.

# status, output, lines: set by bats' run; PORT: by start_server
# shellcheck disable=SC2154,SC2153

load helpers
load concurrent

FAULTY="$BATS_TEST_DIRNAME/faulty-client.py"
MODELS="seq fork thread $(poll_models | tr '\n' ' ') $(coro_models | tr '\n' ' ')"

setup() {
	command -v python3 >/dev/null || skip "python3 is not installed"
}

teardown() {
	if [ -n "${HELD_PID:-}" ]; then
		kill "$HELD_PID" 2>/dev/null || true
	fi
	HELD_PID=
	if [ -n "${SAMPLER:-}" ]; then
		kill "$SAMPLER" 2>/dev/null || true
	fi
	SAMPLER=
	teardown_server
}

# tree_rss_kb PID: the resident memory of PID and its children, in kB.
tree_rss_kb() {
	local p kb total=0
	for p in "$1" $(pgrep -P "$1"); do
		# a child may end between pgrep and here: it counts nothing
		kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null) || kb=0
		total=$((total + ${kb:-0}))
	done
	echo "$total"
}

# sample_rss: samples the server's memory every 50 ms into $BATS_TEST_TMPDIR/rss
# until stop_sampling; peak_rss prints the highest sample.
sample_rss() {
	: >"$BATS_TEST_TMPDIR/rss"
	while :; do
		set +e
		tree_rss_kb "$SERVER_PID" >>"$BATS_TEST_TMPDIR/rss"
		sleep 0.05
	done &
	SAMPLER=$!
}
stop_sampling() {
	kill "$SAMPLER" 2>/dev/null || true
	wait "$SAMPLER" 2>/dev/null || true
	SAMPLER=
}
peak_rss() {
	sort -n "$BATS_TEST_TMPDIR/rss" | tail -1
}

# cpu_ticks PID: the CPU time PID and its reaped children have used.
cpu_ticks() {
	awk '{ sub(/.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/$1/stat"
}

# no_memory_checks: sanitizers and valgrind change what memory costs.
no_memory_checks() {
	[ -n "${UP_SANITIZER:-}" ]
}

@test "clients that reset mid-request and mid-reply take nobody down" {
	local m
	for m in $MODELS; do
		start_server "$m" -d 0
		python3 "$FAULTY" "$PORT" reset-request
		python3 "$FAULTY" "$PORT" reset-reply
		python3 "$FAULTY" "$PORT" reset-reply
		run ask still there
		[ "$output" = "STILL THERE" ]
		wait_for_log "$SERVER_LOG" ' (error|closed) .*(errno=ECONNRESET|errno=EPIPE)|reason=error' 1
		stop_server
		[ "$SERVER_STATUS" -eq 0 ]
		grep -qE ' stopped ' "$SERVER_LOG"
	done
}

@test "a client that never reads: the server stops reading it, memory stays bounded" {
	local m base sent
	for m in $MODELS; do
		start_server "$m" -d 0 -t 2s -q
		base=$(tree_rss_kb "$SERVER_PID")
		sample_rss
		# the last model's file, with its "sent", must not be read
		# before the shell of this one's flood has emptied it
		rm -f "$BATS_TEST_TMPDIR/flood"
		python3 "$FAULTY" "$PORT" never-read 80 >"$BATS_TEST_TMPDIR/flood" &
		local flood=$!
		wait_for_log "$BATS_TEST_TMPDIR/flood" '^sent ' 1 40
		sent=$(awk '{ print $2 }' "$BATS_TEST_TMPDIR/flood")
		echo "$m: the server took $sent of 83886080 bytes"
		[ "$sent" -lt 83886080 ]
		if [ "$m" != seq ]; then
			# the others are served meanwhile
			run ask meanwhile
			[ "$output" = "MEANWHILE" ]
		fi
		wait "$flood"
		stop_sampling
		# the idle timeout freed the flooder; everyone is served
		run ask after
		[ "$output" = "AFTER" ]
		if ! no_memory_checks; then
			echo "$m: rss $base kB, peak $(peak_rss) kB"
			[ $(($(peak_rss) - base)) -lt 20480 ]
		fi
		stop_server
		[ "$SERVER_STATUS" -eq 0 ]
	done
}

@test "a 100 MB line with no newline comes back exact, in bounded memory" {
	local m base
	for m in $MODELS; do
		start_server "$m" -d 0 -q
		base=$(tree_rss_kb "$SERVER_PID")
		sample_rss
		cmp <(head -c 104857600 /dev/zero | tr '\0' 'A') \
		    <(head -c 104857600 /dev/zero | tr '\0' 'a' | upclient -p "$PORT")
		stop_sampling
		if ! no_memory_checks; then
			# the bound upserver(1) states: a few --max-line buffers
			echo "$m: rss $base kB, peak $(peak_rss) kB"
			[ $(($(peak_rss) - base)) -lt 16384 ]
		fi
		stop_server
		[ "$SERVER_STATUS" -eq 0 ]
	done
}

@test "NUL, bytes 0x80-0xFF and CRLF line ends pass unchanged, on every model" {
	local m
	printf 'get\r\nnul\0here\r\n\200\377\351t\303\251\r\n\r\nlast\r' \
	    >"$BATS_TEST_TMPDIR/in"
	for m in $MODELS; do
		start_server "$m" -d 0
		upclient -p "$PORT" <"$BATS_TEST_TMPDIR/in" >"$BATS_TEST_TMPDIR/out"
		uppercase <"$BATS_TEST_TMPDIR/in" | cmp - "$BATS_TEST_TMPDIR/out"
		stop_server
		# five requests: four lines, and the last bytes at end of stream
		[ "$(grep -c ' responded ' "$SERVER_LOG")" -eq 5 ]
	done
}

@test "hundreds of idle connections: the timeout frees them, others are served meanwhile" {
	local m n
	for m in $MODELS; do
		n=300
		[ "$m" = seq ] && n=3	# one at a time: each waits its turn
		start_server "$m" -d 0 -t 1s -c 1000
		python3 "$FAULTY" "$PORT" idle "$n" >"$BATS_TEST_TMPDIR/idle" &
		local idle=$!
		if [ "$m" != seq ]; then
			wait_for_log "$SERVER_LOG" ' accepted ' "$n" 20
			run ask busy
			[ "$output" = "BUSY" ]
		fi
		wait "$idle"
		[ "$(cat "$BATS_TEST_TMPDIR/idle")" = "closed $n" ]
		[ "$(grep -c ' closed .* reason=idle' "$SERVER_LOG")" -eq "$n" ]
		run ask after
		[ "$output" = "AFTER" ]
		stop_server
		[ "$SERVER_STATUS" -eq 0 ]
	done
}

# tree_ticks PID: the CPU time PID and its children (alive or reaped)
# have used.
tree_ticks() {
	local p t total=0
	for p in "$1" $(pgrep -P "$1"); do
		# a child may end between pgrep and here: then its time is
		# in its parent's, once reaped
		t=$(cpu_ticks "$p" 2>/dev/null) || t=0
		total=$((total + ${t:-0}))
	done
	echo "$total"
}

# held_clients N NAME: a python3 client that opens N connections and
# sends nothing (NAME.ready once they are all connected, accepted or in
# the backlog) until NAME.go exists; then sends a line on each, ends its
# side, and writes to NAME how many replies were right.
held_clients() {
	python3 - "$PORT" "$1" "$2" <<'PY' &
import os, socket, sys, time
port, n, name = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
open(name + ".ready", "w").close()
while not os.path.exists(name + ".go"):
    time.sleep(0.05)
for i, s in enumerate(socks):
    s.sendall(b"held %d\n" % i)
    s.shutdown(socket.SHUT_WR)
good = 0
for i, s in enumerate(socks):
    s.settimeout(60)
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    good += data == b"HELD %d\n" % i
open(name, "w").write("%d\n" % good)
PY
	HELD_PID=$!
}

# spin_and_measure: the CPU ticks the server's process tree and a loop
# that does spin use over the same second, as "server spinner".
spin_and_measure() {
	local spinner c0 c1 s0 s1
	bash -c 'while :; do :; done' &
	spinner=$!
	c0=$(tree_ticks "$SERVER_PID")
	s0=$(cpu_ticks "$spinner")
	sleep 1
	c1=$(tree_ticks "$SERVER_PID")
	s1=$(cpu_ticks "$spinner")
	kill "$spinner"
	wait "$spinner" 2>/dev/null || true
	echo "$((c1 - c0)) $((s1 - s0))"
}

@test "out of descriptors: no busy loop, every client served once they free up" {
	command -v prlimit >/dev/null || skip "prlimit is not installed"
	local m used spun
	for m in $MODELS; do
		start_server "$m" -d 0 -c 1000
		# 64 descriptors from now on: far fewer than the clients
		prlimit --pid "$SERVER_PID" --nofile=64:64
		rm -f "$BATS_TEST_TMPDIR/held"*
		held_clients 100 "$BATS_TEST_TMPDIR/held"
		wait_until 20 test -e "$BATS_TEST_TMPDIR/held.ready"
		# the server holds what it could accept, each waiting for a
		# request, and the rest wait in the backlog: nothing to do
		case $m in
		thread|poll*)
			wait_for_log "$SERVER_LOG" ' error .* op=accept errno=EMFILE' ;;
		*)
			wait_for_log "$SERVER_LOG" ' accepted ' ;;
		esac
		# A server that waits uses next to no CPU in that second; one
		# that spins (on EMFILE, say) as much as a loop that spins
		# beside it gets, however fast or loaded the machine.
		read -r used spun < <(spin_and_measure)
		echo "$m: $used CPU ticks in an idle second; a spinning loop $spun"
		[ $((used * 4)) -lt $((spun + 8)) ]
		touch "$BATS_TEST_TMPDIR/held.go"
		wait "$HELD_PID"
		HELD_PID=
		[ "$(cat "$BATS_TEST_TMPDIR/held")" -eq 100 ]
		stop_server
		[ "$SERVER_STATUS" -eq 0 ]
		[ "$(stopped_field requests)" -eq 100 ]
	done
}

@test "-c caps the connections served at once; the rest wait and are served" {
	local m
	for m in fork thread $(poll_models); do
		start_server "$m" -d 300ms -c 2
		run upclient -p "$PORT" -c 6 --verify hello
		[ "$status" -eq 0 ]
		stop_server
		cat "$SERVER_LOG"
		[ "$(max_in_flight)" -eq 2 ]
		[ "$(grep -c ' responded ' "$SERVER_LOG")" -eq 6 ]
	done
}

@test "SIGTERM under load: every accepted request is answered, then exit 0" {
	local m n
	for m in $MODELS; do
		n=40
		[ "$m" = seq ] && n=1
		start_server "$m" -d 1s
		upclient -p "$PORT" -c "$n" --verify hello >/dev/null 2>&1 &
		local load=$!
		wait_for_log "$SERVER_LOG" ' accepted ' "$n"
		stop_server TERM
		[ "$SERVER_STATUS" -eq 0 ]
		wait "$load"
		[ "$(grep -c ' accepted ' "$SERVER_LOG")" -eq "$n" ]
		[ "$(grep -c ' responded ' "$SERVER_LOG")" -eq "$n" ]
		[ "$(stopped_field requests)" -eq "$n" ]
	done
}

@test "the sequential model refuses --workers; the event loop takes it as loops" {
	run --separate-stderr "$BIN/upserver-seq" -w 2
	[ "$status" -eq 2 ]
	[ "${stderr_lines[0]}" = "upserver-seq: --workers: the seq model has no worker pool" ]
	run --separate-stderr "$BIN/upserver-poll" -w 0
	[ "$status" -eq 2 ]
	[[ "${stderr_lines[0]}" == "upserver-poll: --workers: "* ]]
}
