#!/usr/bin/env bash
# Runs each fuzzer of fuzz/ (libFuzzer, AddressSanitizer) for SECONDS seconds:
#   bash fuzz/run.sh [SECONDS] [TARGET...]      (default: 5 seconds, every target)
#   FUZZ_RUNS=20000 bash fuzz/run.sh            (instead: that many inputs, seed 1: the same inputs
#                                                every run, so that `make test` cannot fail by chance)
# `make test` runs the fixed-seed form; run it by hand by time for longer (e.g. 600).
# First every saved regression input (fuzz/regressions/TARGET/) is run once: each is a crash that was
# found and fixed. Then the fuzzer runs on a scratch copy of the seed corpus (fuzz/corpus/TARGET/),
# so the repository is not modified; a new crash is written into fuzz/regressions/TARGET/ (commit it
# with the fix) and fails the run.
set -euo pipefail
cd "$(dirname "$0")"
export PATH=/opt/swift/usr/bin:$PATH
# A Swift runtime trap must reach libFuzzer as a crash, not go through the Swift backtracer.
export SWIFT_BACKTRACE=enable=no
SECONDS_PER_TARGET="${1:-5}"
shift || true
TARGETS=("$@")
[[ ${#TARGETS[@]} -gt 0 ]] || TARGETS=(FuzzPolicy FuzzRecords FuzzEventJSON)
swift build -c release >&2
status=0
for target in "${TARGETS[@]}"; do
    binary=".build/release/$target"
    regressions="regressions/$target"
    inputs=()
    for f in "$regressions"/*; do [[ -f "$f" && "$(basename "$f")" != .gitkeep ]] && inputs+=("$f"); done
    if [[ ${#inputs[@]} -gt 0 ]]; then
        echo "fuzz: $target: ${#inputs[@]} regression inputs" >&2
        "$binary" -rss_limit_mb=2048 "${inputs[@]}" >&2 || { echo "fuzz: $target: a regression input fails again" >&2; status=1; }
    fi
    scratch="$(mktemp -d /tmp/csm-fuzz-$target.XXXXXX)"
    cp -r "corpus/$target/." "$scratch/" 2>/dev/null || true
    rm -f "$scratch/.gitkeep"
    if [[ -n "${FUZZ_RUNS:-}" ]]; then
        budget=(-runs="$FUZZ_RUNS" -seed=1)
        echo "fuzz: $target for $FUZZ_RUNS inputs (seed 1)" >&2
    else
        budget=(-max_total_time="$SECONDS_PER_TARGET")
        echo "fuzz: $target for ${SECONDS_PER_TARGET}s" >&2
    fi
    if ! "$binary" "${budget[@]}" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
            -artifact_prefix="$regressions/" "$scratch" 2> "$scratch.log"; then
        tail -40 "$scratch.log" >&2
        echo "fuzz: $target found a crash: saved in $regressions/ (add it to the repository with the fix)" >&2
        status=1
    else
        grep -E "^stat::number_of_executed_units|^Done" "$scratch.log" | sed "s/^/fuzz: $target: /" >&2 || true
    fi
    rm -rf "$scratch" "$scratch.log"
done
exit $status
