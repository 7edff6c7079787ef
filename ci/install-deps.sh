#!/usr/bin/env bash
# Installs what shakedown needs on a Debian/Ubuntu host: a Docker engine (dockerd, containerd, runc,
# docker-init) unless one is already installed, the static binaries the offline fixture image is made
# of, iproute2, iptables, and the tools that make a scenario's own filesystem (e2fsprogs, xfsprogs). Idempotent; needs root (uses sudo when not root).
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

pkgs=()
# An engine from docker-ce (docker-ce, containerd.io) conflicts with Debian's docker.io: keep it.
if ! { command -v dockerd && command -v containerd && command -v runc; } >/dev/null 2>&1; then
  pkgs+=(docker.io)
fi
dpkg -s busybox-static >/dev/null 2>&1 || pkgs+=(busybox-static)
dpkg -s bash-static >/dev/null 2>&1 || pkgs+=(bash-static)
[ -x /usr/bin/tini-static ] || pkgs+=(tini)
command -v ip >/dev/null 2>&1 || pkgs+=(iproute2)
# Network faults use iptables in containers' namespaces; the tests read the host with iptables-save.
command -v iptables-save >/dev/null 2>&1 || pkgs+=(iptables)
# A scenario's own data-root filesystem (`requires: {data_root: ...}`): mkfs.ext4, mkfs.xfs, losetup.
command -v mkfs.ext4 >/dev/null 2>&1 || pkgs+=(e2fsprogs)
command -v mkfs.xfs >/dev/null 2>&1 || pkgs+=(xfsprogs)
command -v losetup >/dev/null 2>&1 || pkgs+=(mount)

if [ ${#pkgs[@]} -gt 0 ]; then
  echo "installing: ${pkgs[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${pkgs[@]}"
fi
echo "dependencies ready: $(dockerd --version)"
