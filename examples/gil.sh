#!/bin/sh
# gil.sh: Python's global interpreter lock, and why the tutorials send
# waiting to threads (or asyncio) and computing to processes.
#
# Four clients at once against seq, thread, thread --gil and fork --gil,
# first waiting (-d alone), then computing (--cpu), with how long they
# took beside what the lesson predicts on this machine's N cores, and
# how many times the requests waited for the lock in all (gil-waits= on
# the "responded" lines):
#
#   waiting   seq 4 delays, one after another; thread 1; thread --gil 1,
#             for the lock is let go for every wait (as time.sleep and
#             socket calls release the GIL); fork --gil 1.
#   --cpu     seq 4 delays; thread 4/N (C threads have no global lock);
#             thread --gil 4, the threads taking turns on the lock every
#             5 ms, all finishing together at the end; fork --gil 4/N,
#             a lock per process, as multiprocessing has an interpreter
#             per process.
#
# A machine busy with other work has fewer cores to give: the times are
# then longer, the order the same.
#
# Usage: examples/gil.sh [DELAY]   (default 500ms)
set -eu

# shellcheck source=examples/common.sh
. "$(dirname "$0")/common.sh"
delay=${1:-500ms}
clients=4

# run MODEL EXPECTED [ARGS...]: four clients at once against
# upserver-MODEL -d DELAY ARGS; one line of the table.
run() {
	model=$1
	lesson=$2
	shift 2
	time_clients "$clients" "$model" -d "$delay" "$@"
	waits=$(sed -n 's/.* responded .* gil-waits=\([0-9]*\).*/\1/p' \
	    "$log" | awk '{ n += $1; seen = 1 }
	    END { if (seen) print n; else print "-" }')
	printf '%-20s %6s s %6s   %s\n' "$model${*:+ $*}" "$took" "$waits" \
	    "$lesson"
}

per_core=$(per_core "$clients")

echo "-d $delay, $clients clients at once, $cores cores"
printf '%-20s %8s %6s   %s\n' server time waits "the lesson"
run seq "$(expected "$clients") (one at a time)"
run thread "$(expected 1) (the waits overlap)"
run thread "$(expected 1) (the lock is let go to wait)" --gil
run fork "$(expected 1) (a lock each)" --gil
run seq "$(expected "$clients") (one at a time)" --cpu
run thread "$(expected "$per_core") (every core)" --cpu
run thread "$(expected "$clients") (turns on the lock)" --cpu --gil
run fork "$(expected "$per_core") (a lock each, every core)" --cpu --gil
