#!/usr/bin/env bash
# Provisions a Vagrant machine as a shakedown Docker host: the engine asked for (the distribution's
# docker.io, or docker-ce VERSION from download.docker.com), live-restore as asked, and what the
# harness needs on a host (ci/install-deps.sh from the synced repository).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
if [ "${SHAKEDOWN_DOCKER:-distro}" = distro ]; then
  apt-get install -y -qq docker.io
else
  apt-get install -y -qq ca-certificates curl
  . /etc/os-release
  install -m 0755 -d /etc/apt/keyrings
  curl -fsSL "https://download.docker.com/linux/$ID/gpg" -o /etc/apt/keyrings/docker.asc
  echo "deb [signed-by=/etc/apt/keyrings/docker.asc] https://download.docker.com/linux/$ID $VERSION_CODENAME stable" \
    >/etc/apt/sources.list.d/docker.list
  apt-get update -qq
  v="$(apt-cache madison docker-ce | awk -v want="$SHAKEDOWN_DOCKER" '$3 ~ ":"want"-" {print $3; exit}')"
  [ -n "$v" ] || { echo "docker-ce $SHAKEDOWN_DOCKER is not in download.docker.com for $VERSION_CODENAME"; exit 1; }
  apt-get install -y -qq "docker-ce=$v" "docker-ce-cli=$v" containerd.io
fi
mkdir -p /etc/docker
printf '{"live-restore": %s}\n' "${SHAKEDOWN_LIVE_RESTORE:-true}" >/etc/docker/daemon.json
systemctl restart docker
/shakedown/ci/install-deps.sh
docker info --format 'engine {{.ServerVersion}}, live-restore {{.LiveRestoreEnabled}}, kernel {{.KernelVersion}}'
