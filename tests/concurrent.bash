# shellcheck shell=bash
# concurrent.bash: many clients at once, for the tests of the concurrent
# models (fork.bats, thread.bats). Load it after helpers.
#
# Clients are separate processes started together (upclient, or python3
# for what upclient does not do on purpose: reset, leave early); their
# replies go to files in $BATS_TEST_TMPDIR. Timings are read from the
# server's event log, whose clock is the server's, not from the shell.

# spawn_clients N [PREFIX]: N clients at once, client i sending PREFIX<i>
# (default "word<i>"), its reply in $BATS_TEST_TMPDIR/reply.<i>; their
# pids in CLIENT_PIDS.
spawn_clients() {
	local n=$1 prefix=${2:-word} i
	CLIENT_PIDS=()
	for ((i = 1; i <= n; i++)); do
		timeout 60 upclient -H 127.0.0.1 -p "$PORT" "$prefix$i" \
		    >"$BATS_TEST_TMPDIR/reply.$i" 2>&1 3>&- &
		CLIENT_PIDS+=($!)
	done
}

# wait_clients: waits for every client of spawn_clients; fails if one did.
wait_clients() {
	local pid failed=0
	for pid in "${CLIENT_PIDS[@]}"; do
		wait "$pid" || failed=1
	done
	CLIENT_PIDS=()
	return "$failed"
}

# check_replies N [PREFIX]: client i of spawn_clients got exactly the
# uppercase of its request, byte for byte.
check_replies() {
	local n=$1 prefix=${2:-word} i
	for ((i = 1; i <= n; i++)); do
		if ! printf '%s%d\n' "$prefix" "$i" | uppercase |
		    cmp -s - "$BATS_TEST_TMPDIR/reply.$i"; then
			echo "client $i: wrong reply:" >&2
			cat "$BATS_TEST_TMPDIR/reply.$i" >&2
			return 1
		fi
	done
}

# kill_clients: ends whatever clients a test left running.
kill_clients() {
	local pid
	for pid in "${CLIENT_PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	CLIENT_PIDS=()
}

# py_client MODE TEXT OUT: one client in python3, for what upclient does
# not do. It sends TEXT and a newline, then:
#   reply  writes OUT.sent once the request is sent, then reads the reply
#          into OUT (so a test knows the request is in the server's hands);
#   reset  waits 0.1 s, then closes with SO_LINGER 0, which sends a reset
#          while the server is still working on the request;
#   leave  closes at once, without waiting for the reply.
py_client() {
	python3 - "$PORT" "$@" <<'EOF'
import socket, struct, sys, time
port, mode, text, out = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
s = socket.create_connection(("127.0.0.1", port))
s.sendall(text.encode() + b"\n")
if mode == "reply":
    open(out + ".sent", "w").close()
    s.shutdown(socket.SHUT_WR)
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    open(out, "wb").write(data)
elif mode == "reset":
    time.sleep(0.1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()
EOF
}

# ten_with_counter MODEL MODE: upserver-MODEL -d 300ms --counter MODE
# serves ten clients at once; checks that every reply is exact, that the
# server stopped with exit 0 and that stopped says requests=10. The caller
# then asserts what MODE does to the count and to the time taken.
ten_with_counter() {
	start_server "$1" -d 300ms --counter "$2"
	spawn_clients 10
	wait_clients
	check_replies 10
	stop_server
	cat "$SERVER_LOG"
	[ "$SERVER_STATUS" -eq 0 ]
	[ "$(stopped_field requests)" -eq 10 ]
}

# event_times EVENT: the timestamps of EVENT lines in the server log.
event_times() {
	awk -v e="$1" '$2 == e { print $1 }' "$SERVER_LOG"
}

# span FIRST LAST: seconds from the first FIRST event to the last LAST.
span() {
	awk -v a="$1" -v b="$2" '
	    $2 == a && first == "" { first = $1 }
	    $2 == b { last = $1 }
	    END { printf "%.3f\n", last - first }' "$SERVER_LOG"
}

# batches EVENT GAP: the sizes of the groups of EVENT lines, a new group
# starting wherever GAP seconds or more pass between two of them ("2 2 1").
batches() {
	event_times "$1" | sort -n | awk -v gap="$2" '
	    NR > 1 && $1 - prev >= gap { printf "%d ", n; n = 0 }
	    { n++; prev = $1 }
	    END { printf "%d\n", n }'
}

# stopped_field KEY: the value of KEY= on the "stopped" line.
stopped_field() {
	awk -v k="$1=" '$2 == "stopped" { for (i = 4; i <= NF; i++)
	    if (index($i, k) == 1) print substr($i, length(k) + 1) }' \
	    "$SERVER_LOG"
}

# at_least A B, less_than A B: compares decimal numbers, saying why not.
at_least() {
	awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }' ||
	    { echo "$1 is not >= $2" >&2; return 1; }
}
less_than() {
	awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }' ||
	    { echo "$1 is not < $2" >&2; return 1; }
}

# teardown_family: the teardown of a test whose server has children (a
# fork server, a pool, several loops): ends the clients, then the server's
# children, with the server stopped first so that it cannot replace them
# meanwhile (a killed parent may leave them behind), then the server.
teardown_family() {
	kill_clients
	if [ -n "${SERVER_PID:-}" ]; then
		local pid _
		kill -STOP "$SERVER_PID" 2>/dev/null || true
		while read -r pid _; do
			kill -KILL "$pid" 2>/dev/null || true
		done < <(children "$SERVER_PID")
	fi
	teardown_server
}

# children PID: the pids of PID's child processes, one per line, as
# "pid state" (state Z: a zombie nobody has waited for).
children() {
	ps -o pid=,stat= --ppid "$1" 2>/dev/null || true
}

# wait_until SECONDS COMMAND...: runs COMMAND every 0.05 s until it
# succeeds; fails after SECONDS.
wait_until() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			echo "timed out waiting for: $*" >&2
			return 1
		fi
		sleep 0.05
	done
}

# ask TEXT: one request on a connection of its own; prints the reply.
ask() {
	timeout 20 upclient -H 127.0.0.1 -p "$PORT" "$@"
}

# max_in_flight: the most connections open at once by the log's order
# (+1 at each "accepted", -1 at each "closed").
max_in_flight() {
	awk '$2 == "accepted" { if (++n > max) max = n }
	    $2 == "closed" { n-- }
	    END { print max + 0 }' "$SERVER_LOG"
}

