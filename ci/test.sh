#!/usr/bin/env bash
# The project's test command (README): installs the dependencies, checks formatting and lints, and
# runs every test, including the integration tests on real, harness-managed Docker daemons (root).
set -euo pipefail
cd "$(dirname "$0")/.."
ci/install-test-deps.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
# The static build the SSH tests copy to their "host" (tests/ssh.rs builds it too when missing).
ci/build-static.sh dev >/dev/null
cargo test --workspace
# The fuzz targets' corpus (seeds and every crash found) replayed as a regression test.
ci/fuzz.sh --regress
