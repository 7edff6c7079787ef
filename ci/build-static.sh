#!/usr/bin/env bash
# Builds a static shakedown (glibc linked in as static-pie with `+crt-static`) to copy to SSH hosts,
# Vagrant machines and VMs (`run --remote-binary FILE`): it needs no loader or libc there, so it runs
# on hosts whose glibc is older than this machine's (Debian 11, say). Prints the binary's path.
#   ci/build-static.sh [PROFILE]   (default: release; the tests use `dev` to share less CPU)
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${1:-release}
triple=$(rustc -vV | sed -n 's/^host: //p')
dir=target/static
# With --target, RUSTFLAGS reach the crate and its dependencies but not build scripts and proc
# macros, which must stay dynamic.
RUSTFLAGS="-C target-feature=+crt-static" CARGO_TARGET_DIR=$dir \
  cargo build --quiet --profile "$profile" --target "$triple" -p shakedown --bin shakedown >&2
case $profile in dev) sub=debug ;; *) sub=$profile ;; esac
bin=$dir/$triple/$sub/shakedown
if readelf -l "$bin" | grep -q 'Requesting program interpreter'; then
  echo "ci/build-static.sh: $bin is dynamically linked" >&2
  exit 1
fi
echo "$PWD/$bin"
