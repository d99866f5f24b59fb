#!/bin/sh
# idle.sh: the C10K problem, select -> poll -> epoll, on one screen.
#
# For each backend of upserver-poll, 50 busy clients send requests back
# to back (-d 0), first with nobody else connected, then while IDLE
# connections are held open and send nothing. select and poll pay for
# every idle connection on every wait, so their rate falls; epoll (or
# kqueue) returns only the ready sockets, so it does not. select cannot
# even watch descriptors past FD_SETSIZE: with that many idle it refuses
# -c at start, and says why.
#
# Usage: examples/idle.sh [IDLE [REQUESTS]]   (default 8000 2000)
# REQUESTS is per busy client. make bench measures the same with medians.
set -eu

# shellcheck source=examples/common.sh
. "$(dirname "$0")/common.sh"
idle=${1:-8000}
requests=${2:-2000}

# The backends this build has, from the refusal of one that is none;
# uring only where the kernel takes it (the unresolvable address ends a
# server that does at once, before it listens).
backends=$("$bin/upserver-poll" --backend '?' 2>&1 |
    sed -n "s/.*unknown backend '?' (\(.*\))\$/\1/p" | tr -d ,)
if "$bin/upserver-poll" --backend uring -b 999.0.0.0 -p 0 2>&1 3>&- |
    grep -q -- '--backend: uring'; then
	backends=$(echo "$backends" | sed 's/ *uring//')
fi

# busy: 50 persistent clients; prints their rate and p99 latency.
busy() {
	"$bin/upclient" -p "$port" -c 50 -n "$requests" -r 32 --verify -s \
	    --timeout 60s 2>&1 >/dev/null |
	    awk -F': ' '$1 == "requests_per_s" { r = $2 }
		$1 == "latency_p99_ms" { p = $2 }
		$1 == "errors" { e = $2 }
		END { printf "%8.0f req/s  p99 %6.2f ms  errors %s\n", r, p, e }'
}

# hold N: N connections that send nothing, until the file $tmp/release
# appears; prints "held N" once they are all open.
hold() {
	python3 - "$port" "$1" "$tmp/release" <<'PY' &
import os, resource, socket, sys, time
port, n, release = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
print("held", n, flush=True)
while not os.path.exists(release):
    time.sleep(0.05)
PY
	holder=$!
	track "$holder"
}

for b in $backends; do
	conns=$((idle + 100))
	echo "== upserver-poll --backend $b -d 0 -c $conns"
	# select refuses -c past FD_SETSIZE at once, with exit status 2.
	# A log of its own: the last backend's still says "listening" until
	# the shell that starts this one has truncated it.
	log=$tmp/$b.log
	"$bin/upserver-poll" -p 0 --backend "$b" -c "$conns" -d 0 -t 0 -q \
	    >"$log" 2>"$tmp/err" &
	server=$!
	while ! grep -q ' listening ' "$log" 2>/dev/null; do
		if ! kill -0 "$server" 2>/dev/null; then
			server=""
			sed -n 1p "$tmp/err"
			break
		fi
		sleep 0.05
	done
	[ -n "$server" ] || continue
	port=$(awk '$2 == "listening" { n = split($3, a, ":"); print a[n] }' \
	    "$log")
	printf '  %6d idle: ' 0
	busy
	rm -f "$tmp/release"
	hold "$idle" >"$tmp/held"
	while ! grep -q held "$tmp/held"; do
		if ! kill -0 "$holder" 2>/dev/null; then
			echo "idle.sh: the idle clients failed" >&2
			exit 1
		fi
		sleep 0.1
	done
	sleep 1		# let the server accept them all
	printf '  %6d idle: ' "$idle"
	busy
	touch "$tmp/release"
	wait "$holder" || true
	stop_server
done
