#!/bin/sh
# cpu.sh: CPU-bound work, where the cores of the machine matter.
#
# Starts each server model with --cpu, so that each request's delay is
# spent computing instead of waiting, sends four clients at once, and
# prints how long they took beside what the lesson predicts on this
# machine's N cores:
#
#   seq     one request at a time: about 4 delays;
#   fork    a process per client, on every core: about 4/N delays;
#   thread  a thread per client, on every core (C has no global lock):
#           about 4/N delays;
#   poll    the one loop computes each request inline and serves no one
#           else meanwhile: about 4 delays, as sequential;
#   poll -w N  one loop per core, each computing its share: about 4/N
#           delays, as fork and thread, for a process per loop, once.
#
# A machine busy with other work has fewer cores to give: the times are
# then longer, the order the same.
#
# Usage: examples/cpu.sh [DELAY]   (default 500ms)
set -eu

# shellcheck source=examples/common.sh
. "$(dirname "$0")/common.sh"
delay=${1:-500ms}
clients=4

# run MODEL EXPECTED [ARGS...]: four clients at once against
# upserver-MODEL ARGS; one line of the table.
run() {
	model=$1
	lesson=$2
	shift 2
	time_clients "$clients" "$model" --cpu -d "$delay" -q "$@"
	printf '%-11s %6s s   %s\n' "$model${*:+ $*}" "$took" "$lesson"
}

echo "--cpu -d $delay, $clients clients at once, $cores cores"
printf '%-11s %8s   %s\n' model time "the lesson"
per_core=$(per_core "$clients")
run seq "$(expected "$clients") (one at a time)"
run fork "$(expected "$per_core") (every core)"
run thread "$(expected "$per_core") (every core)"
run poll "$(expected "$clients") (the loop computes inline)"
run poll "$(expected "$per_core") (a loop per core)" -w "$cores"
