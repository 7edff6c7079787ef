#!/usr/bin/env bash
# Fetches a released static shakedown and installs it only once it is checked: the release's
# sha256sums must list it with the sum of what arrived, SHAKEDOWN_SHA256 (when set: a sum pinned
# in the workflow, independent of the release's own file) must match too, and the binary must say
# it is that version. Anything else is refused and nothing is installed.
#   ci/fetch-release.sh VERSION DEST
# SHAKEDOWN_RELEASE_URL (required): where the releases are, e.g.
# https://github.com/OWNER/shakedown/releases/download; the files are at
# $SHAKEDOWN_RELEASE_URL/vVERSION/{sha256sums,shakedown-VERSION-ARCH-linux-static}.
set -euo pipefail
if [ $# -ne 2 ]; then
  echo "usage: ci/fetch-release.sh VERSION DEST" >&2
  exit 2
fi
version=${1#v}
dest=$2
base=${SHAKEDOWN_RELEASE_URL:?set SHAKEDOWN_RELEASE_URL to where the releases are}
case $(uname -m) in
  x86_64) arch=amd64 ;;
  aarch64) arch=arm64 ;;
  *) arch=$(uname -m) ;;
esac
name=shakedown-$version-$arch-linux-static
fail() {
  echo "ci/fetch-release.sh: $*; nothing installed" >&2
  exit 1
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for f in sha256sums "$name"; do
  curl -fsSL --retry 3 --connect-timeout 20 --max-time 600 -o "$tmp/$f" "$base/v$version/$f" ||
    fail "cannot fetch $base/v$version/$f"
done
want=$(awk -v n="$name" '$2 == n || $2 == "*" n { print $1 }' "$tmp/sha256sums")
[ -n "$want" ] || fail "the sha256sums of v$version do not list $name"
got=$(sha256sum "$tmp/$name" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "$name has sha256 $got, the release's sha256sums say $want"
if [ -n "${SHAKEDOWN_SHA256:-}" ] && [ "$got" != "$SHAKEDOWN_SHA256" ]; then
  fail "$name has sha256 $got, SHAKEDOWN_SHA256 pins $SHAKEDOWN_SHA256"
fi
chmod 0755 "$tmp/$name"
said=$(timeout 30 "$tmp/$name" --version 2>&1) || fail "$name does not run here: $said"
case $said in
  "shakedown $version "*) ;;
  *) fail "$name says \"$said\", not version $version" ;;
esac
install -D -m 0755 "$tmp/$name" "$dest"
echo "$dest: $said"
