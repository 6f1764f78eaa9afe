#!/bin/sh
#
# run.sh SERVER CLIENT: serve the demo kernel on a unix socket in a fresh
# temporary directory, run the demo client against it (it reboots the
# kernel at the end) and wait for the server to exit.  Exit status: the
# client's, or 1 if the server misbehaved.

set -u
server=$1
client=$2
dir=$(mktemp -d "${TMPDIR:-/tmp}/rumpsp-run.XXXXXX") || exit 1
sock=$dir/rumpsp.sock
url=unix://$sock

"$server" "$url" &
srv=$!
trap 'kill $srv 2>/dev/null; rm -rf "$dir"' EXIT
trap 'exit 1' INT TERM

"$(dirname "$0")/waitsock.sh" "$sock" "$srv" || exit 1
"$client" "$url"
rc=$?

# The client rebooted the kernel, so the server should be on its way out.
i=0
while kill -0 "$srv" 2>/dev/null && [ $i -lt 100 ]; do
	sleep 0.05
	i=$((i + 1))
done
if kill -0 "$srv" 2>/dev/null; then
	echo "run: server still running 5 s after the reboot" >&2
	exit 1
fi
wait "$srv"
status=$?
if [ $status -ne 0 ]; then
	echo "run: server exited with status $status" >&2
	rc=1
fi
exit $rc
