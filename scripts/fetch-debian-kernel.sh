#!/bin/sh
# Fetches Debian's stock i386 "686" kernel (the package linux-image-686:i386
# depends on, e.g. linux-image-6.1.0-50-686) without installing it: `apt-get
# download` the .deb, unpack only its /boot with dpkg-deb into a cache
# directory, and print the path of the extracted vmlinuz-*.
#
#   scripts/fetch-debian-kernel.sh            # prints e.g.
#   ~/.cache/ts86/debian-kernel/linux-image-6.1.0-50-686_6.1.176-1/boot/vmlinuz-6.1.0-50-686
#
# Environment:
#   TS86_CACHE            cache root (default $HOME/.cache/ts86); the kernel goes
#                         to $TS86_CACHE/debian-kernel/<package>_<version>/boot/
#   TS86_DEBIAN_FLAVOUR   kernel flavour (default 686; 686-pae also works)
#
# Idempotent: a kernel already unpacked for the candidate version is reused
# without touching the network; when apt cannot resolve the package (no i386
# package lists, offline), the newest kernel already in the cache is used. When
# the i386 lists are missing and we run as root, the i386 dpkg architecture is
# added and `apt-get update` run once. Only the path goes to stdout; on failure
# one line "fetch-debian-kernel: ..." goes to stderr and the status is 1.
set -u

flavour=${TS86_DEBIAN_FLAVOUR:-686}
cache=${TS86_CACHE:-${HOME:-/tmp}/.cache/ts86}/debian-kernel
meta=linux-image-$flavour:i386

fail() { echo "fetch-debian-kernel: $*" >&2; exit 1; }

# Newest vmlinuz already in the cache (any version), or nothing.
cached_any() {
	ls -1d "$cache"/*/boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1
}

# The versioned package the meta-package depends on (linux-image-6.1.0-N-686).
resolve() {
	apt-cache depends "$meta" 2>/dev/null |
		sed -n "s/^ *Depends: \(linux-image-[0-9][^:]*-$flavour\)\(:i386\)\{0,1\}\$/\1/p" | head -n 1
}

command -v apt-cache >/dev/null 2>&1 || {
	k=$(cached_any); [ -n "$k" ] && { echo "$k"; exit 0; }
	fail "apt-cache not found (needs a Debian-based host) and no kernel cached in $cache"
}

# Are there i386 package lists at all? (libc6:i386 is in every Debian release.)
have_i386_lists() {
	apt-cache policy libc6:i386 2>/dev/null | grep -q 'Candidate: [0-9]'
}

pkg=$(resolve)
if [ -z "$pkg" ] && ! have_i386_lists && [ "$(id -u)" = 0 ] && [ -z "$(cached_any)" ]; then
	# No i386 package lists: add the architecture (lists only; nothing installed).
	dpkg --print-foreign-architectures | grep -qx i386 || dpkg --add-architecture i386 ||
		fail "dpkg --add-architecture i386 failed"
	apt-get update -qq >/dev/null 2>&1 # partial failures (a mirror syncing) are fine if the lists we need came
	pkg=$(resolve)
fi
if [ -z "$pkg" ]; then
	k=$(cached_any); [ -n "$k" ] && { echo "$k"; exit 0; }
	have_i386_lists && fail "$meta is not in the apt package lists (or depends on no linux-image-*-$flavour package)"
	fail "cannot resolve $meta: no i386 package lists (run as root: dpkg --add-architecture i386 && apt-get update)"
fi
ver=$(apt-cache policy "$pkg:i386" 2>/dev/null | sed -n 's/^ *Candidate: //p' | head -n 1)
[ -n "$ver" ] && [ "$ver" != "(none)" ] || fail "no candidate version for $pkg:i386"

dest=$cache/${pkg}_$ver
k=$(ls -1 "$dest"/boot/vmlinuz-* 2>/dev/null | head -n 1)
if [ -n "$k" ]; then echo "$k"; exit 0; fi

mkdir -p "$cache" || fail "cannot create $cache"
work=$(mktemp -d "$cache/.fetch.XXXXXX") || fail "cannot create a temporary directory in $cache"
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM # exit runs the EXIT trap
chmod 755 "$work" # apt-get download runs as the _apt user when root: it must be able to write here
if ! (cd "$work" && apt-get download -q "$pkg:i386=$ver") >"$work/apt.log" 2>&1; then
	k=$(cached_any); [ -n "$k" ] && { echo "$k"; exit 0; }
	fail "apt-get download $pkg:i386=$ver failed: $(grep -E '^(E|Err):' "$work/apt.log" | head -n 1)"
fi
deb=$(ls -1 "$work"/*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || fail "apt-get download $pkg:i386=$ver produced no .deb"
mkdir -p "$work/x"
# Only /boot (the kernel, its config and System.map); the modules are not needed.
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work/x" --wildcards './boot/*' ||
	fail "cannot unpack /boot from $(basename "$deb")"
ls "$work"/x/boot/vmlinuz-* >/dev/null 2>&1 || fail "$(basename "$deb") has no /boot/vmlinuz-*"
rm -rf "$dest" && mv "$work/x" "$dest" || fail "cannot move the kernel into $dest"
ls -1 "$dest"/boot/vmlinuz-* | head -n 1
