#!/usr/bin/env bash
# The main job (README): the built-in suite on a private, harness-managed Docker daemon, with JSON and
# JUnit reports in ./out. Exit code: 0 all passed (or skipped), 1 a scenario failed, 2 bad input, 3 an
# environment that could not be used (shakedown --help lists them all).
set -euo pipefail
cd "$(dirname "$0")/.."
ci/install-deps.sh
mkdir -p out
cargo run --release --quiet -- run --json out/shakedown.json --junit out/shakedown.junit.xml "$@"
