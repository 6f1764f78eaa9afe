#!/bin/sh
#
# profile.sh SERVER WORKLOAD...: where a server's time goes, per operation.
# For each workload, starts SERVER afresh, runs build/bench/spbench against
# it under "perf stat -p" attached to the server, and prints per operation
# the server's system calls by name (those at 0.05 or more), its context
# switches, the wake-ups of its threads and its CPU migrations.  A
# workload is spbench's arguments without the URL, the mode first:
#
#	sh bench/profile.sh build/demoserver "getpid 1 1000" "connect 1000"
#
# Needs perf with the syscalls and sched tracepoints (hardware counters
# are not needed).

set -u
server=$1
shift
here=$(cd "$(dirname "$0")/.." && pwd)
spbench=$here/build/bench/spbench
dir=$(mktemp -d "${TMPDIR:-/tmp}/rumpsp-prof.XXXXXX") || exit 1
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$dir"' EXIT

calls="read write writev readv sendmsg sendto recvfrom recvmsg accept
    accept4 epoll_wait epoll_pwait epoll_ctl futex nanosleep poll ppoll
    sched_yield clone clone3 mmap munmap madvise getrandom close tgkill
    rt_sigreturn rt_sigprocmask fcntl mprotect pselect6 ioctl setsockopt
    getsockopt dup"
events=task-clock,context-switches,cpu-migrations,sched:sched_wakeup
for c in $calls; do
	events=$events,syscalls:sys_enter_$c
done

for w in "$@"; do
	set -- $w
	mode=$1
	shift
	url=unix://$dir/s.sock

	"$server" "$url" &
	pid=$!
	"$here/tests/c/waitsock.sh" "$dir/s.sock" "$pid" || exit 1
	perf stat -x, -o "$dir/perf" -e "$events" -p $pid -- \
	    "$spbench" "$mode" "$url" "$@" >"$dir/out"
	thr=$(awk '/^Threads:/ { print $2 }' /proc/$pid/status)
	kill $pid
	wait $pid 2>/dev/null
	pid=
	rm -f "$dir/s.sock"
	n=$(sed -n 's/.*ops=\([0-9]*\).*/\1/p' "$dir/out")
	echo "== $(basename "$server") $w: $n ops, $thr server threads;" \
	    "per op:"
	awk -F, -v n="$n" '$1 ~ /^[0-9.]+$/ {
		name = $3
		sub(/^syscalls:sys_enter_/, "", name)
		sub(/^sched:/, "", name)
		if (name !~ /^(task-clock|context-switches|cpu-migrations|sched_wakeup)$/)
			sys += $1
		if (name == "task-clock")
			printf "   %-18s %7.2f us\n", "server CPU", $1 * 1000 / n
		else if ($1 / n >= 0.05)
			printf "   %-18s %7.2f\n", name, $1 / n
	} END { printf "   %-18s %7.2f\n", "syscalls (listed)", sys / n }' \
	    "$dir/perf"
done
