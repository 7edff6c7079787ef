#!/usr/bin/env bash
# Builds image/rootfs.tar: a minimal Debian bookworm with python3, from Debian's archive (about
# 2 minutes, ~50 MB compressed download). Needs root and debootstrap (apt-get install debootstrap).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/image/rootfs.tar"
[ -s "$out" ] && { echo "$out exists"; exit 0; }
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase --include=python3 bookworm "$root" "$mirror" >"$root.log" 2>&1 ||
  { tail -20 "$root.log"; exit 1; }
rm -f "$root.log"
# What an image does not need: apt's caches and lists, documentation, locales.
rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* \
  "$root"/usr/share/man/* "$root"/usr/share/locale/*
tar -C "$root" -cf "$out.tmp" .
mv "$out.tmp" "$out"
echo "built $out ($(du -h "$out" | cut -f1))"
