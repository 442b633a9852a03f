#!/bin/sh
# test-windows.sh runs the Go tests for windows/amd64 under Wine.
#
#   scripts/test-windows.sh [go test flags] [packages]    (default: ./...)
#
# It installs Wine and mingw-w64 with apt-get if they are missing, builds
# bcryptprimitives.dll (ProcessPrng, which Go >= 1.22 needs and Wine 8.0
# lacks; scripts/windows/bcryptprimitives.c), makes a fresh Wine prefix
# with it under $TMPDIR, runs
#
#   GOOS=windows GOARCH=amd64 go test -tags wine -ldflags=-checklinkname=0 \
#       -exec scripts/windows/go_windows_amd64_exec ...
#
# and removes the prefix again. -tags wine works around a gap of Wine 8.0
# that breaks every t.TempDir cleanup (see internal/backend/iocp/wine_windows.go).
#
# Wine's pipes, files and completion ports live in wineserver: a pass here
# proves behaviour (every completion delivered once, cancels honoured),
# not Windows timing.
#
# Environment: TMPDIR (where the prefix goes), AIO_WINEPREFIX (reuse this
# prefix instead of making a fresh one; it is prepared if empty and kept).
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
log=$(mktemp "${TMPDIR:-/tmp}/aio-test-windows.XXXXXX.log")

fail() {
	echo "test-windows: $*" >&2
	if [ -s "$log" ]; then
		echo "test-windows: last lines of $log:" >&2
		tail -n 30 "$log" >&2
	fi
	exit 1
}

find_wine() {
	for w in "$(command -v wine64 2>/dev/null || true)" /usr/lib/wine/wine64 /usr/lib64/wine/wine64 \
		/opt/wine-stable/bin/wine64 "$(command -v wine 2>/dev/null || true)"; do
		if [ -n "$w" ] && [ -x "$w" ]; then
			echo "$w"
			return 0
		fi
	done
	return 1
}

# 1. Tools.
wine=$(find_wine || true)
if [ -z "$wine" ] || ! command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1; then
	command -v apt-get >/dev/null 2>&1 || fail "wine64 or x86_64-w64-mingw32-gcc missing, and no apt-get to install them"
	sudo=
	[ "$(id -u)" = 0 ] || sudo=sudo
	echo "test-windows: installing wine64 and gcc-mingw-w64-x86-64-win32" >&2
	$sudo apt-get update -qq >>"$log" 2>&1 || fail "apt-get update failed"
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
		wine64 gcc-mingw-w64-x86-64-win32 >>"$log" 2>&1 || fail "apt-get install failed"
	wine=$(find_wine) || fail "no wine64 binary after installing wine64"
fi
wineserver=$(command -v wineserver 2>/dev/null || true)
[ -n "$wineserver" ] || wineserver="$(dirname "$wine")/wineserver"
[ -x "$wineserver" ] || fail "no wineserver next to $wine"

# 2. bcryptprimitives.dll.
dll="${TMPDIR:-/tmp}/aio-bcryptprimitives.dll"
src="$root/scripts/windows/bcryptprimitives.c"
def="$root/scripts/windows/bcryptprimitives.def"
if [ ! -s "$dll" ] || [ "$src" -nt "$dll" ] || [ "$def" -nt "$dll" ]; then
	x86_64-w64-mingw32-gcc -shared -O2 -o "$dll.tmp" "$src" "$def" -ladvapi32 >>"$log" 2>&1 ||
		fail "building bcryptprimitives.dll failed"
	mv "$dll.tmp" "$dll"
fi

# 3. The prefix.
export WINEDEBUG=-all DISPLAY= WINEDLLOVERRIDES="mscoree,mshtml=" AIO_WINE="$wine"
if [ -n "${AIO_WINEPREFIX:-}" ]; then
	export WINEPREFIX="$AIO_WINEPREFIX"
	mkdir -p "$WINEPREFIX"
	keep=1
else
	WINEPREFIX=$(mktemp -d "${TMPDIR:-/tmp}/aio-wineprefix.XXXXXX")
	export WINEPREFIX
	keep=
fi
cleanup() {
	"$wineserver" -k >/dev/null 2>&1 || true # this prefix's server only
	[ -n "$keep" ] || rm -rf "$WINEPREFIX"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
sys32="$WINEPREFIX/drive_c/windows/system32"
if [ ! -d "$sys32" ]; then
	timeout 300 "$wine" wineboot -i >>"$log" 2>&1 || fail "wineboot -i failed in $WINEPREFIX"
	"$wineserver" -w >>"$log" 2>&1 || true
	[ -d "$sys32" ] || fail "wineboot made no $sys32"
fi
cp "$dll" "$sys32/bcryptprimitives.dll"

# 4. The tests. Packages default to ./... unless some argument names one.
cd "$root"
pkgs=./...
for a in "$@"; do
	case "$a" in
	. | ./* | .. | ../* | github.com/*) pkgs= ;;
	esac
done
rm -f "$log"
# -p 1: one test binary under Wine at a time. The first wine process
# starts wineserver and Wine's service processes, which inherit its
# stdout and live while any Wine process does; with two packages at once,
# go test waits on the first one's output until the other ends, and gives
# up after a minute ("Test I/O incomplete").
# shellcheck disable=SC2086 # $pkgs is empty or one word
GOOS=windows GOARCH=amd64 go test -p 1 -tags wine -ldflags=-checklinkname=0 \
	-exec "$root/scripts/windows/go_windows_amd64_exec" "$@" $pkgs
