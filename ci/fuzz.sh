#!/usr/bin/env bash
# The fuzz targets of shakedown's readers of input it did not write (fuzz/, cargo-fuzz/libFuzzer):
# scenario, matrix, inventory, thresholds, journal.
#
#   ci/fuzz.sh --regress         the CI step: every input of fuzz/corpus/<target> (the seeds and
#                                what fuzzing found) through its target once, as a test with the
#                                stable toolchain; with --libfuzzer also the same inputs through
#                                the libFuzzer build (-runs=0: no new inputs; needs cargo-fuzz).
#   ci/fuzz.sh [TARGET...]       by hand: each target (default all) for FUZZ_SECONDS (default 30)
#                                under libFuzzer, starting from its corpus; what it finds goes to
#                                fuzz/target/corpus/<target> (fold it into fuzz/corpus with
#                                `cargo fuzz cmin`), crashes to fuzz/artifacts/<target>; a line
#                                per target (time, target, executions, seconds, crash files)
#                                is appended to fuzz/target/fuzz-log.tsv.
#
# cargo-fuzz passes nightly flags: on a stable toolchain RUSTC_BOOTSTRAP=1 allows them. No
# sanitizer (-s none): the code is safe Rust, so what fuzzing finds is panics, overflows (debug
# assertions are on: -a) and timeouts; ASan would only slow it down.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
export RUSTC_BOOTSTRAP=1
TARGETS=(scenario matrix inventory thresholds journal)
FLAGS=(-O -a -s none)

run() { # TARGET SECONDS LIBFUZZER_ARG... CORPUS_DIR...
    local t=$1 secs=$2
    shift 2
    local log
    log=$(mktemp)
    local status=0 started=$SECONDS
    local args=() dirs=()
    for a in "$@"; do
        if [[ $a == -* ]]; then args+=("$a"); else dirs+=("$a"); fi
    done
    cargo fuzz run "${FLAGS[@]}" "$t" "${dirs[@]}" -- \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -print_final_stats=1 "${args[@]}" 2>&1 | tee "$log" | grep -E "^(#[0-9]+.*(INITED|DONE)|==|SUMMARY|thread)" || true
    grep -q "^Done\|DONE" "$log" || status=1
    local execs
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    printf '%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$t" "${execs:-?}" "$((SECONDS - started))" \
        "$(ls "artifacts/$t" 2>/dev/null | grep -c -E '^(crash|timeout|oom|leak)-' || true)" \
        >>target/fuzz-log.tsv
    rm -f "$log"
    return $status
}

mkdir -p target
if [[ ${1:-} == --regress ]]; then
    cargo test --release --test corpus
    # The libFuzzer build replays them too when asked (`--regress --libfuzzer`; a cold build takes
    # minutes, so the test command replays through the stable test only).
    if [[ ${2:-} == --libfuzzer ]]; then
        cargo fuzz build "${FLAGS[@]}"
        for t in "${TARGETS[@]}"; do
            # An empty scratch directory first: what libFuzzer finds goes there, never into the
            # committed corpus.
            scratch=$(mktemp -d)
            run "$t" 0 -runs=0 "$scratch" "corpus/$t"
            rm -rf "$scratch"
        done
    fi
    exit 0
fi

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
[[ $# -gt 0 ]] && TARGETS=("$@")
cargo fuzz build "${FLAGS[@]}"
failed=0
for t in "${TARGETS[@]}"; do
    mkdir -p "target/corpus/$t"
    # A crash stops this target only: the others still run.
    run "$t" "${FUZZ_SECONDS:-30}" "target/corpus/$t" "corpus/$t" || failed=1
done
exit $failed
