#!/bin/sh
# mkarchive.sh: build librumpsp.a from package cexport and defer the start
# of the Go runtime from load time to the first rumpuser_sp_init.
#
# A c-archive's go.o holds one .init_array entry, pointing at the runtime's
# library entry point _rt0_<arch>_linux_lib; the runtime then starts at load
# time and does not survive a later fork.  This script removes that entry
# and renames the (local) entry point to the global rumpsp_go_rt0, which
# sp.c calls.  Anything unexpected about go.o stops the build: a toolchain
# that lays the archive out differently must not yield an archive that
# hangs at run time.
#
# usage: mkarchive.sh OUT.a OUT.h
# environment: GO, OBJCOPY, AR, READELF, NM (tools to use)

set -eu

out=$1
hdr=$2
: "${GO:=go}" "${OBJCOPY:=objcopy}" "${AR:=ar}" "${READELF:=readelf}"
: "${NM:=nm}"

die() {
	echo "mkarchive: $*" >&2
	exit 1
}

goos=$($GO env GOOS)
goarch=$($GO env GOARCH)
[ "$goos" = linux ] || die "unsupported GOOS $goos (need linux)"
case $goarch in
amd64|arm64)
	;;
*)
	die "unsupported GOARCH $goarch (need amd64 or arm64)"
	;;
esac
entry=_rt0_${goarch}_linux_lib
newentry=rumpsp_go_rt0

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cd "$(dirname "$0")"
# netgo and osusergo keep the C resolver and user lookup out of the
# archive: the host need not link libresolv, and no getaddrinfo runs
# inside a kernel process.
$GO build -buildmode=c-archive -tags netgo,osusergo -o "$work/raw.a" .

mkdir "$work/x"
(cd "$work/x" && $AR x ../raw.a go.o)
goo=$work/x/go.o
[ -f "$goo" ] || die "no go.o member in the c-archive"

# Exactly one 8-byte .init_array section with exactly one relocation, to
# the runtime's entry point.
n=$($READELF -SW "$goo" | grep -c '\] \.init_array ' || true)
[ "$n" = 1 ] || die "go.o has $n .init_array sections, expected 1"
size=$($READELF -SW "$goo" |
    sed -n 's/.*\] \.init_array  *[A-Z_]*  *[0-9a-f]*  *[0-9a-f]*  *\([0-9a-f]*\) .*/\1/p')
[ "$((0x$size))" = 8 ] || die ".init_array of go.o is 0x$size bytes, expected 8"
relocs=$($READELF -rW "$goo" |
    sed -n '/^Relocation section .\.rela\.init_array/,/^$/p' |
    grep -c ' R_' || true)
[ "$relocs" = 1 ] || die ".init_array of go.o has $relocs relocations, expected 1"
$READELF -rW "$goo" |
    sed -n '/^Relocation section .\.rela\.init_array/,/^$/p' |
    grep -q " $entry + 0\$" || die ".init_array of go.o does not point at $entry"
$NM "$goo" | grep -q " t $entry\$" || die "$entry is not a local text symbol of go.o"
if $READELF -SW "$goo" | grep -Eq '\] \.(ctors|preinit_array)'; then
	die "go.o has other initializers"
fi

$OBJCOPY --remove-section=.init_array --remove-section=.rela.init_array \
    --redefine-sym "$entry=$newentry" "$goo"
$OBJCOPY --globalize-symbol="$newentry" "$goo"

# And check what came out.
if $READELF -SW "$goo" | grep -q 'init_array'; then
	die "go.o still has an .init_array"
fi
$NM "$goo" | grep -q " T $newentry\$" || die "$newentry is not global in go.o"

cp "$work/raw.a" "$work/out.a"
$AR r "$work/out.a" "$goo"

# runtime/cgo's error printer is a global named fatalf, a name a host
# program could well use; rename it everywhere it is defined or used.
if $NM "$work/out.a" 2>/dev/null | grep -q ' T fatalf$'; then
	$OBJCOPY --redefine-sym fatalf=rumpsp_cgo_fatalf "$work/out.a"
	if $NM "$work/out.a" 2>/dev/null | grep -q ' fatalf$'; then
		die "fatalf is still in the archive"
	fi
fi
$AR s "$work/out.a"
[ "$($AR t "$work/out.a" | grep -c '^go\.o$')" = 1 ] ||
    die "go.o is not a single member of the archive"

mv "$work/out.a" "$out"
mv "$work/raw.h" "$hdr"
