#!/usr/bin/env bash
# Installs what the tests need beyond what a Docker host needs (ci/install-deps.sh): headless
# Chromium for the HTML reports, OpenSSH (a real sshd on loopback), ansible-core (the playbook in
# ci/ansible), vagrant (`vagrant validate` of vagrant/Vagrantfile), debootstrap (the example
# image and the VM images built from Debian's packages), qemu-system-x86 (the VM target) and
# python3's jsonschema from PyPI (an independent validator of the JSON reports against
# `shakedown schema report`).
# Idempotent; needs root (uses sudo when not root).
set -euo pipefail
cd "$(dirname "$0")/.."
ci/install-deps.sh

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
pkgs=()
command -v chromium >/dev/null 2>&1 || pkgs+=(chromium)
dpkg -s fonts-dejavu-core >/dev/null 2>&1 || pkgs+=(fonts-dejavu-core)
[ -x /usr/sbin/sshd ] || pkgs+=(openssh-server)
command -v ssh-keygen >/dev/null 2>&1 || pkgs+=(openssh-client)
command -v ansible-playbook >/dev/null 2>&1 || pkgs+=(ansible-core)
command -v vagrant >/dev/null 2>&1 || pkgs+=(vagrant)
command -v debootstrap >/dev/null 2>&1 || pkgs+=(debootstrap)
command -v qemu-system-x86_64 >/dev/null 2>&1 || pkgs+=(qemu-system-x86)
command -v mkfs.ext4 >/dev/null 2>&1 || pkgs+=(e2fsprogs)
if [ ${#pkgs[@]} -gt 0 ]; then
  echo "installing (tests): ${pkgs[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${pkgs[@]}"
fi

# The reports' validator: python3's jsonschema, from PyPI (pip, beside Debian's Python).
if ! python3 -c 'import jsonschema' >/dev/null 2>&1; then
  if ! python3 -m pip --version >/dev/null 2>&1; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-pip
  fi
  echo "installing (tests): jsonschema (PyPI)"
  $SUDO python3 -m pip install --quiet --break-system-packages 'jsonschema>=4.18'
fi
