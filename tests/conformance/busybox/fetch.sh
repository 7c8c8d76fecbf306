#!/bin/sh
# Download and unpack Debian's busybox source package (for its testsuite) into
# build/busybox-src/ of the repository, using a private apt configuration under
# build/busybox-apt/: the machine's sources, package lists and caches are left alone.
#
# Needs apt-get and dpkg-source (package dpkg-dev). Does nothing when the tree is
# already there. The source version matches the installed busybox-static when the
# mirror still has it, else the newest one the suite offers.
#
# Environment: BUSYBOX_SRC (destination, default build/busybox-src),
#              DEBIAN_MIRROR (default http://deb.debian.org/debian),
#              DEBIAN_SUITE (default: VERSION_CODENAME of /etc/os-release, else bookworm).
set -eu

repo=$(cd "$(dirname "$0")/../../.." && pwd)
dest=${BUSYBOX_SRC:-$repo/build/busybox-src}
if [ -f "$dest/testsuite/runtest" ]; then
	echo "busybox source already in $dest"
	exit 0
fi

for tool in apt-get dpkg-source; do
	command -v "$tool" >/dev/null 2>&1 || { echo "fetch.sh: $tool is missing (apt-get install dpkg-dev)" >&2; exit 1; }
done

mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=${DEBIAN_SUITE:-}
if [ -z "$suite" ] && [ -r /etc/os-release ]; then
	suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
fi
suite=${suite:-bookworm}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

aptdir=$repo/build/busybox-apt
rm -rf "$aptdir"
mkdir -p "$aptdir/sources.list.d" "$aptdir/lists/partial" "$aptdir/cache/archives/partial" "$aptdir/download"
signed=""
[ -r "$keyring" ] && signed=" [signed-by=$keyring]"
{
	echo "deb-src$signed $mirror $suite main"
	echo "deb-src$signed $mirror $suite-updates main"
} > "$aptdir/sources.list"

apt() {
	apt-get -q \
		-o Dir::Etc::sourcelist="$aptdir/sources.list" \
		-o Dir::Etc::sourceparts="$aptdir/sources.list.d" \
		-o Dir::State::Lists="$aptdir/lists" \
		-o Dir::Cache="$aptdir/cache" \
		-o Dir::Cache::archives="$aptdir/cache/archives" \
		-o APT::Sandbox::User=root \
		"$@"
}

apt update >"$aptdir/update.log" 2>&1 || { cat "$aptdir/update.log" >&2; echo "fetch.sh: apt-get update failed" >&2; exit 1; }

# The source version of the installed busybox-static, e.g. 1:1.35.0-4+deb12u1.
want=$(dpkg-query -W -f='${source:Version}' busybox-static 2>/dev/null || true)
cd "$aptdir/download"
if [ -n "$want" ] && apt source --download-only "busybox=$want" >../source.log 2>&1; then
	:
else
	[ -n "$want" ] && echo "fetch.sh: busybox $want is not on the mirror; taking the newest source" >&2
	apt source --download-only busybox >../source.log 2>&1 || { cat ../source.log >&2; exit 1; }
fi
dsc=$(ls ./busybox_*.dsc | head -n 1)
rm -rf ./tree
dpkg-source -x "$dsc" ./tree >../unpack.log 2>&1 || { cat ../unpack.log >&2; exit 1; }

mkdir -p "$(dirname "$dest")"
rm -rf "$dest"
mv ./tree "$dest"
echo "busybox source $(basename "$dsc" .dsc) unpacked in $dest"
