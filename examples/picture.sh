#!/bin/sh
# picture.sh: the README's picture of the core lesson, from a real run.
#
# upserver-seq, then upserver-fork, each with DELAY of work per request
# (default 1s) and four clients started at once, as in the tutorial's four
# terminals; uptimeline --svg draws both logs on one scale into OUT
# (default docs/seq-fork.svg): a staircase, then one column.
#
# Usage: examples/picture.sh [OUT [DELAY]]
set -eu

# shellcheck source=examples/common.sh
. "$(dirname "$0")/common.sh"
out=${1:-$(dirname "$0")/../docs/seq-fork.svg}
delay=${2:-1s}

if [ ! -x "$bin/uptimeline" ]; then
	echo "$(basename "$0"): no $bin/uptimeline: run make" >&2
	exit 1
fi
for m in seq fork; do
	start_server "$m" -d "$delay"
	pids=""
	for word in alpha bravo charlie delta; do
		"$bin/upclient" -p "$port" "$word" >/dev/null &
		pids="$pids $!"
		track "$!"
	done
	for p in $pids; do
		wait "$p"
	done
	stop_server
	cp "$log" "$tmp/$m.log"
done
mkdir -p "$(dirname "$out")"
(cd "$tmp" && "$bin/uptimeline" --svg seq.log fork.log) >"$out.tmp"
mv "$out.tmp" "$out"
echo "$(basename "$0"): wrote $out"
