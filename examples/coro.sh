#!/bin/sh
# coro.sh: asyncio's model in C, upserver-coro's lessons run for you.
#
#   1. four clients with a delay are answered together after about one
#      delay, by one process and one thread: the log's pid= and tid= are
#      the same on every line;
#   2. --counter unsafe still loses updates: each request read the counter
#      before its wait, and wrote it after;
#   3. --cpu serializes: a coroutine that computes never reaches a wait,
#      so the replies come one delay apart.
#
# Usage: examples/coro.sh [DELAY]   (default 1s)
set -eu

# shellcheck source=examples/common.sh
. "$(dirname "$0")/common.sh"
delay=${1:-1s}

echo "== upserver-coro -d $delay, four clients at once"
start_server coro -d "$delay"
track "$server"
start=$(now)
clients 4
echo "answered in $(elapsed "$start") s, by:"
stop_server
awk '$2 == "responded" { print "  " $(NF-1), $NF }' "$log" | sort | uniq -c

echo "== upserver-coro -d $delay --counter unsafe, four clients at once"
start_server coro -d "$delay" --counter unsafe
track "$server"
clients 4
stop_server
echo "requests=$(stopped_field requests) count=$(stopped_field count):" \
    "the wait sat between each read and its write"
awk '$2 == "received" || $2 == "responded" { print "  " $2, $3, $5 }' "$log"

echo "== upserver-coro -d $delay --cpu, three clients at once"
start_server coro -d "$delay" --cpu
track "$server"
start=$(now)
clients 3
echo "answered in $(elapsed "$start") s: one computation at a time"
stop_server
