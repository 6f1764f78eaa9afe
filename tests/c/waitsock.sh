#!/bin/sh
#
# waitsock.sh PATH [PID]: wait up to 5 s for a server to create the unix
# socket PATH; give up early if process PID (the server) has exited.

set -u
i=0
while [ ! -S "$1" ]; do
	if [ $# -ge 2 ] && ! kill -0 "$2" 2>/dev/null; then
		echo "waitsock: server exited before listening on $1" >&2
		exit 1
	fi
	if [ $i -ge 100 ]; then
		echo "waitsock: no socket at $1 after 5 s" >&2
		exit 1
	fi
	sleep 0.05
	i=$((i + 1))
done
exit 0
