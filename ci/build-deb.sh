#!/usr/bin/env bash
# Builds the release artifacts a user downloads: the static binary (ci/build-static.sh), a Debian
# package holding it with its manual page and bash completions, and a sha256sums file over both.
# Prints the .deb's path; everything is in target/dist/.
#   ci/build-deb.sh [PROFILE]   (default: release; the tests use `dev` to share less CPU)
# dpkg-deb builds the package (no cargo-deb to install: the binary is static and the package is
# a handful of files). Depends: an engine (Debian's docker.io or docker-ce), the static programs
# the offline fixture image is made of, iproute2 and iptables for the network faults.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${1:-release}
bin=$(ci/build-static.sh "$profile")
version=$("$bin" --version | awk '{print $2}')
arch=$(dpkg --print-architecture)
dist=$PWD/target/dist
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
install -D -m 0755 "$bin" "$root/usr/bin/shakedown"
mkdir -p "$root/usr/share/man/man1" "$root/usr/share/bash-completion/completions" \
  "$root/usr/share/doc/shakedown" "$root/DEBIAN"
"$bin" man | gzip -9n >"$root/usr/share/man/man1/shakedown.1.gz"
"$bin" completions bash >"$root/usr/share/bash-completion/completions/shakedown"
gzip -9n <README.md >"$root/usr/share/doc/shakedown/README.md.gz"
cat >"$root/usr/share/doc/shakedown/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: shakedown
Files: *
License: Apache-2.0
 On Debian systems the full text is in /usr/share/common-licenses/Apache-2.0.
COPYRIGHT
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<CONTROL
Package: shakedown
Version: $version
Architecture: $arch
Maintainer: shakedown developers <shakedown@localhost>
Installed-Size: $size
Depends: docker.io | docker-ce, busybox-static, bash-static, tini, iproute2, iptables
Suggests: qemu-system-x86, openssh-client, debootstrap
Section: admin
Priority: optional
Description: chaos and fault-injection harness for Docker hosts
 Runs YAML scenarios that inject faults into a real Docker engine (daemon
 restarts and hangs, OOM kills, stuck PID 1, network faults, leaks), on a
 private daemon it starts itself or on the host's, and asserts on recovery
 behaviour and timings. The built-in suite is inside the binary.
CONTROL
mkdir -p "$dist"
deb=$dist/shakedown_${version}_${arch}.deb
rm -f "$deb"
# xz for a release; the tests' dev build (~250 MB unstripped) compresses fast instead.
case $profile in release) z=(-Zxz) ;; *) z=(-Zgzip -z1) ;; esac
dpkg-deb --root-owner-group "${z[@]}" --build "$root" "$deb" >&2
cp "$bin" "$dist/shakedown-$version-$arch-linux-static"
(cd "$dist" && sha256sum "$(basename "$deb")" "shakedown-$version-$arch-linux-static" >sha256sums)
echo "$deb"
