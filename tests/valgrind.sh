#!/bin/sh
# valgrind.sh: runs the seq server and client tests with every upclient and
# upserver-seq started under valgrind --leak-check=full, and fails on any
# error or leak valgrind reports.
#
# Usage: tests/valgrind.sh [BIN]   (BIN: the binaries to check, ./bin)
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
real=$(cd "${1:-$top/bin}" && pwd)
dir="$top/build/valgrind"
rm -rf "$dir"
mkdir -p "$dir/bin" "$dir/logs"

for prog in upclient upserver-seq; do
	cat >"$dir/bin/$prog" <<WRAPPER
#!/bin/sh
exec valgrind -q --leak-check=full --show-leak-kinds=definite,indirect \\
    --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \\
    --log-file="$dir/logs/$prog.%p.log" "$real/$prog" "\$@"
WRAPPER
	chmod +x "$dir/bin/$prog"
done
for prog in upserver-fork upserver-thread upserver-poll; do
	[ -x "$real/$prog" ] && ln -sf "$real/$prog" "$dir/bin/$prog"
done

status=0
UP_BIN="$dir/bin" UP_SANITIZER=valgrind bats "$top/tests/seq.bats" \
    "$top/tests/errors.bats" || status=$?

# Every log valgrind wrote must be empty: no error, no leak.
for log in "$dir"/logs/*.log; do
	[ -e "$log" ] || continue
	if [ -s "$log" ]; then
		echo "valgrind: $log:" >&2
		cat "$log" >&2
		status=1
	fi
done
n=$(find "$dir/logs" -name '*.log' | wc -l)
echo "valgrind: $n processes checked"
[ "$n" -gt 0 ] || status=1
exit "$status"
