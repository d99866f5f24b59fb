#!/bin/sh
# setup.sh: what make bench needs to draw its charts. Prints the Python
# interpreter that has matplotlib, installing Debian's python3-matplotlib
# (as root, with apt-get) when none has it.
set -eu

for py in python3 /usr/bin/python3; do
	if command -v "$py" >/dev/null 2>&1 &&
	    "$py" -c 'import matplotlib' 2>/dev/null; then
		command -v "$py"
		exit 0
	fi
done
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
	echo "setup.sh: matplotlib is missing: install python3-matplotlib" >&2
	exit 1
fi
echo "setup.sh: installing python3-matplotlib" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends python3-matplotlib >/dev/null
echo /usr/bin/python3
