#!/bin/sh
# c10k.sh: ten thousand clients at once against the event-loop server.
#
# One process and one thread hold 10 000 connections, each with one
# request of DELAY simulated work (default 1s), and answer them all about
# DELAY after they connect: the delay is a timer, so nobody waits for
# anybody. upclient verifies every reply and prints its statistics.
#
# Usage: examples/c10k.sh [CLIENTS [DELAY]]   (default 10000 1s)
set -eu

# shellcheck source=examples/common.sh
. "$(dirname "$0")/common.sh"
clients=${1:-10000}
delay=${2:-1s}

echo "== upserver-poll -d $delay; upclient -c $clients --verify -s"
start_server poll -d "$delay" -q -c "$clients"
"$bin/upclient" -p "$port" -c "$clients" -r 16 --verify -s --timeout 30s
stop_server
grep ' stopped ' "$log"
