#!/bin/sh
# backlog.sh: the tutorial's listen(5), made small enough to overflow.
#
# upserver-seq --backlog 1 serves one client at a time and lets two more
# wait in the accept queue (Linux holds one more than the backlog). One
# client connects and is being served; then five arrive at once
# (upclient -c 5 -T hello):
#   - two connect at once, and wait in the accept queue;
#   - the other three are not refused: while the accept queue is full the
#     kernel drops their SYNs, and they send them again each second;
#   - when the server takes the next client, one place frees, and the
#     three retried SYNs, arriving together, are all answered (the check
#     is on the accept queue, not yet full): for each of them connect()
#     returns. Only one fits; the last ACK of the second is dropped and
#     it waits half-open, the SYN-ACK sent again, until a place frees;
#     the third was answered with a syncookie (the queue of half-open
#     connections was over the backlog too), so the server keeps nothing
#     of it: its data is dropped, and its FIN, which no cookie matches,
#     is answered with a reset: "Connection reset by peer".
# See "The listen backlog" in up(7).
#
# Usage: examples/backlog.sh [DELAY]   (default 2.5s: between the SYNs'
# one-second retries, so that a place frees half a second before them)
set -eu

# shellcheck source=examples/common.sh
. "$(dirname "$0")/common.sh"
delay=${1:-2.5s}

echo "== upserver-seq --backlog 1 -d $delay; one client, then five at once"
start_server seq --backlog 1 -d "$delay"
# the first client, being served before the others arrive: the five meet
# a server busy with it whatever the scheduler does
"$bin/upclient" -p "$port" hello >/dev/null &
track "$!"
while ! grep -q ' accepted ' "$log"; do
	sleep 0.05
done
start=$(now)
"$bin/upclient" -p "$port" -c 5 -T -v hello >/dev/null 2>"$tmp/client" &
client=$!
track "$client"
# the listening socket while they wait: Recv-Q is the accept queue, as
# long as the backlog (Send-Q) plus one
if command -v ss >/dev/null; then
	sleep 0.5
	ss -ltn "sport = :$port" | sed 's/^/   /'
fi
wait "$client" || true
stop_server

# the timeline of upclient -T, then its errors
grep -vE '^[0-9]+\.[0-9]+ ' "$tmp/client" | grep -v '^upclient: ' |
    sed 's/^/   /'
grep '^upclient: ' "$tmp/client" | sed 's/^/   /' || true

# when each connection connected, and how it ended, from upclient -v
awk -v start="$start" '
	$2 == "connected" { c = $4; sub("conn=", "", c); at[c] = $1 - start }
	$2 == "closed" { c = $4; sub("conn=", "", c)
		end[c] = ($0 ~ /reason=reset/) ? "reset" : "answered" }
	END {
		for (c in at) {
			if (at[c] < 0.5)
				now_++
			else {
				late++
				if (first == "" || at[c] < first)
					first = at[c]
			}
			if (end[c] == "reset")
				reset++
			else if (end[c] == "answered")
				answered++
		}
		printf "   connected at once: %d; late: %d, the first after %.1f s\n",
		    now_, late, first
		printf "   answered: %d (and the first client); reset by the" \
		    " server: %d\n", answered, reset
	}' "$tmp/client"
echo "   notice: no client is refused. Two connect at once; the others'"
echo "   SYNs are dropped while the accept queue is full and sent again"
echo "   each second; once a place frees, all three are answered but one"
echo "   fits: one waits half-open, and the one given a syncookie is reset."
