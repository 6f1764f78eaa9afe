#!/bin/sh
# run.sh: the link proofs.  Builds the stand-in rumpuser-xen tree with and
# without CONFIG_SYSPROXY and the stand-in librumpuser (static, shared,
# dlopen) against a rumpsp installed in $WORK/prefix, then has the probe
# client served by every program that should serve.
#
# environment: TOP (source tree), WORK (scratch directory, rumpsp
# installed in WORK/prefix), MAKE, CC

set -eu

: "${MAKE:=make}" "${CC:=cc}"
prefix=$WORK/prefix
demo=$TOP/tests/c
here=$TOP/tests/link
pass=0
fail=0

# Every server listens on a unix socket in a fresh directory of its own.
sockdir=$(mktemp -d)
srv=
cleanup() {
	[ -n "$srv" ] && kill "$srv" 2>/dev/null
	rm -rf "$sockdir"
}
trap cleanup EXIT

ok() {
	echo "link-test: ok: $*"
	pass=$((pass + 1))
}

bad() {
	echo "link-test: FAIL: $*"
	fail=$((fail + 1))
}

# waitsock PATH PID: wait up to 10 s for PID to create the socket PATH.
waitsock() {
	i=0
	while [ ! -S "$1" ]; do
		kill -0 "$2" 2>/dev/null || return 1
		i=$((i + 1))
		[ $i -le 200 ] || return 1
		sleep 0.05
	done
}

# serve NAME COMMAND...: run the server COMMAND with the socket URL as
# its last argument, run the probe against it, and expect the server to
# exit 0 after the probe's reboot.
serve() {
	name=$1
	shift
	sock=$sockdir/$name.sock
	"$@" "unix://$sock" >"$WORK/$name.log" 2>&1 &
	srv=$!
	if ! waitsock "$sock" "$srv"; then
		bad "$name: no socket"
		cat "$WORK/$name.log"
		kill "$srv" 2>/dev/null || true
		srv=
		return
	fi
	if "$WORK/probe" "unix://$sock" >"$WORK/$name.probe" 2>&1; then
		rc=0
		wait "$srv" || rc=$?
		srv=
		if [ $rc -eq 0 ]; then
			ok "$name: $(cat "$WORK/$name.probe")"
		else
			bad "$name: server exited $rc"
			cat "$WORK/$name.log"
		fi
	else
		bad "$name: probe failed"
		cat "$WORK/$name.probe" "$WORK/$name.log"
		kill "$srv" 2>/dev/null || true
		srv=
	fi
}

# hasgo FILE: whether FILE carries rumpsp's Go side.
hasgo() {
	nm --defined-only "$1" 2>/dev/null | grep -q ' rumpsp_maxworker$'
}

$CC -Wall -O2 -I"$demo" -o "$WORK/probe" "$here/probe.c" \
    "$demo/spclient.c" -lpthread

# rumpuser-xen with the server.
$MAKE --no-print-directory -C "$here/xen" CONFIG_SYSPROXY=y \
    RUMPSP="$prefix" DEMO_DIR="$demo" OBJ_DIR="$WORK/xen-y" CC="$CC"
hasgo "$WORK/xen-y/xenapp" || bad "xen-sysproxy: archive not linked"
serve xen-sysproxy "$WORK/xen-y/xenapp"

# rumpuser-xen without it: the stubs answer, no Go runtime is linked.
$MAKE --no-print-directory -C "$here/xen" CONFIG_SYSPROXY=no \
    RUMPSP="$prefix" DEMO_DIR="$demo" OBJ_DIR="$WORK/xen-no" CC="$CC"
if out=$("$WORK/xen-no/xenapp" "unix://$sockdir/none.sock" 2>&1) &&
    [ "$out" = "xenapp: rumpuser_sp_init: error 45" ] &&
    ! hasgo "$WORK/xen-no/xenapp" && [ ! -e "$sockdir/none.sock" ]; then
	ok "xen-nosysproxy: stubs answer EOPNOTSUPP, no archive linked"
else
	bad "xen-nosysproxy: $out"
fi

# librumpuser, static and shared, with the archive in rumpuser_sp.o's
# place.
$MAKE --no-print-directory -C "$here/librumpuser" RUMPSP="$prefix" \
    DEMO_DIR="$demo" OBJ_DIR="$WORK/lru" CC="$CC"
for f in lib/librumpuser.a lib/librumpuser.so server-static \
    server-shared; do
	if nm "$WORK/lru/$f" 2>/dev/null |
	    grep -q standin_c_sysproxy_linked; then
		bad "librumpuser: $f still has rumpuser_sp.o"
	fi
done
if hasgo "$WORK/lru/server-shared"; then
	bad "librumpuser: server-shared has the server linked in itself"
fi
serve librumpuser-static "$WORK/lru/server-static"
serve librumpuser-shared "$WORK/lru/server-shared"
serve librumpuser-dlopen "$WORK/lru/dlserver" "$WORK/lru/lib/librumpuser.so"

echo "link-test: $pass passed, $fail failed"
[ $fail -eq 0 ]
