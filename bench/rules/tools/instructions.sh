#!/bin/bash
# Instructions per rule evaluation, counted by valgrind (callgrind): deterministic, unlike wall-clock
# rates on a noisy VM, so two builds can be compared from one run each. It runs the benchmark binary
# twice, with RULES_BENCH_EVENTS=N1 and N2 evaluations, and divides the difference in instructions by
# N2 - N1 (start-up and policy compilation cancel out).
#
# usage: tools/instructions.sh BINARY EVENTS.jsonl [N1 N2]     (RULES_BENCH_ONLY=exec by default)
# Instructions are not time (cache misses and atomic retains cost more than their count): confirm a
# gain with alternated wall-clock runs too.
set -euo pipefail
binary=$1
events=$2
n1=${3:-2000}
n2=${4:-6000}
policy=${POLICY:-$(cd "$(dirname "$0")/../../../.." && pwd)/shared/corpus/datadog-default.policy}
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }
# Valgrind cannot read the DWARF of Swift binaries; symbols are enough.
stripped=$(mktemp)
trap 'rm -f "$stripped"' EXIT
strip --strip-debug -o "$stripped" "$binary"
count() {
    SWIFT_DETERMINISTIC_HASHING=1 RULES_BENCH_ONLY=${RULES_BENCH_ONLY:-exec} RULES_BENCH_EVENTS=$1 \
        valgrind --tool=callgrind --callgrind-out-file=/dev/null "$stripped" "$policy" "$events" 2>&1 |
        awk '/Collected/ {print $4}'
}
a=$(count "$n1")
b=$(count "$n2")
echo "$binary: $(( (b - a) / (n2 - n1) )) instructions per ${RULES_BENCH_ONLY:-exec} evaluation"
