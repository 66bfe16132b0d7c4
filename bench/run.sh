#!/usr/bin/env bash
# By-hand benchmark of the agent's overhead (issue 2). Never run by the tests.
#
#   sudo bash bench/run.sh
#
# For each workload: best of RUNS without the agent, then, for each agent mode of
# MODES, best of RUNS with the agent running in that mode (stdout to /dev/null),
# the slowdown ratio against its target, and the agent's own counters (received /
# lost / matches) for that session. Then a paced open run (PACED_RATE opens/s for
# PACED_SECONDS s) under the agent in each mode, where the target is zero lost events.
#
# Modes: `all-events` (`csm-agent --all-events`: every event written) and `policy`
# (`csm-agent`: the embedded default policy, only rule matches written; POLICY=file
# runs that policy instead).
#
# Environment:
#   AGENT=path        agent binary (default: .build/release/csm-agent, built with `make build` if missing)
#   OPEN_N=300000     open+close iterations of open_loop
#   EXEC_N=3000       fork+exec+wait iterations of exec_loop
#   RUNS=3            repetitions per measurement (the best is kept)
#   PACED_RATE=50000  PACED_SECONDS=5   the paced open run
#   OUT_DIR=dir       where agent logs and results.tsv go (default: a new /tmp/csm-bench.XXXXXX)
#   MODES="all-events policy"   agent modes measured, each against the same baseline
#   POLICY=file       the policy of the `policy` mode (default: the embedded default policy)
#   COMPARE=file      a results.tsv of an earlier run: also print the change of each ratio
#                     (for "a change must not slow the loops by more than 5%")
#
# Exit status: 0 whenever the benchmark ran, even if a target failed (it is a report);
# non-zero only if it could not run (no agent, no compiler, agent did not start).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORKLOADS_SRC="$REPO_ROOT/bench/workloads"

OPEN_N="${OPEN_N:-300000}"
EXEC_N="${EXEC_N:-3000}"
RUNS="${RUNS:-3}"
PACED_RATE="${PACED_RATE:-50000}"
PACED_SECONDS="${PACED_SECONDS:-5}"
READY_TIMEOUT="${READY_TIMEOUT:-30}"
STOP_TIMEOUT="${STOP_TIMEOUT:-30}"
COMPARE="${COMPARE:-}"
MODES="${MODES:-all-events policy}"
POLICY="${POLICY:-}"

OPEN_TARGET=2.0
EXEC_TARGET=1.25
OPEN_FILE=/etc/hostname
[[ -r "$OPEN_FILE" ]] || OPEN_FILE=/etc/passwd

die() { echo "bench: $*" >&2; exit 1; }
note() { echo "bench: $*" >&2; }

[[ "$(id -u)" -eq 0 ]] || note "warning: not root; the agent will most likely fail to load its BPF programs"

# --- agent binary --------------------------------------------------------------------------------
if [[ -n "${AGENT:-}" ]]; then
    [[ -x "$AGENT" ]] || die "AGENT=$AGENT is not an executable"
elif [[ -x "$REPO_ROOT/.build/release/csm-agent" ]]; then
    AGENT="$REPO_ROOT/.build/release/csm-agent"
else
    note "no agent binary; running 'make build'"
    make -C "$REPO_ROOT" build >&2
    AGENT="$REPO_ROOT/.build/release/csm-agent"
    [[ -x "$AGENT" ]] || die "make build did not produce $AGENT"
fi
AGENT="$(cd "$(dirname "$AGENT")" && pwd)/$(basename "$AGENT")"
# The BPF object is embedded in the agent binary; the cwd only matters for `make build` above.
cd "$REPO_ROOT"

# --- workloads -----------------------------------------------------------------------------------
BIN_DIR="$(mktemp -d /tmp/csm-bench-bin.XXXXXX)"
AGENT_PID=""
cleanup() {
    if [[ -n "$AGENT_PID" ]] && kill -0 "$AGENT_PID" 2>/dev/null; then
        kill -TERM "$AGENT_PID" 2>/dev/null || true
        wait "$AGENT_PID" 2>/dev/null || true
    fi
    rm -rf "$BIN_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

CC="${CC:-cc}"
command -v "$CC" >/dev/null || die "no C compiler ($CC)"
for w in open_loop exec_loop paced_open; do
    "$CC" -O2 -Wall -o "$BIN_DIR/$w" "$WORKLOADS_SRC/$w.c" || die "cannot compile $w.c"
done

OUT_DIR="${OUT_DIR:-$(mktemp -d /tmp/csm-bench.XXXXXX)}"
mkdir -p "$OUT_DIR"

# best_of CMD...: runs the workload RUNS times, prints the smallest elapsed ns (first word of its output).
best_of() {
    local best="" i out
    for ((i = 0; i < RUNS; i++)); do
        out="$("$@")" || die "workload failed: $*"
        out="${out%%[[:space:]]*}"
        [[ "$out" =~ ^[0-9]+$ ]] || die "unexpected workload output: $out"
        if [[ -z "$best" || "$out" -lt "$best" ]]; then best="$out"; fi
        note "  run $((i + 1))/$RUNS: $out ns"
    done
    echo "$best"
}

# --- agent session -------------------------------------------------------------------------------
# agent_args MODE: the agent's arguments for a mode.
agent_args() {
    case "$1" in
        all-events) echo "--all-events" ;;
        policy) if [[ -n "$POLICY" ]]; then echo "run --policy $POLICY"; else echo "run"; fi ;;
        *) die "unknown mode '$1' in MODES (all-events, policy)" ;;
    esac
}

# start_agent NAME MODE: starts the agent, waits for "ready" on stderr. Sets AGENT_PID and AGENT_LOG.
start_agent() {
    AGENT_LOG="$OUT_DIR/agent-$1-$2.log"
    # shellcheck disable=SC2046
    "$AGENT" $(agent_args "$2") > /dev/null 2> "$AGENT_LOG" &
    AGENT_PID=$!
    local deadline=$((SECONDS + READY_TIMEOUT))
    until grep -q 'ready' "$AGENT_LOG" 2>/dev/null; do
        if ! kill -0 "$AGENT_PID" 2>/dev/null; then
            wait "$AGENT_PID" 2>/dev/null || true
            AGENT_PID=""
            sed 's/^/  agent: /' "$AGENT_LOG" >&2
            die "agent exited before it was ready (log: $AGENT_LOG)"
        fi
        if ((SECONDS >= deadline)); then
            sed 's/^/  agent: /' "$AGENT_LOG" >&2
            die "agent not ready after ${READY_TIMEOUT}s (log: $AGENT_LOG)"
        fi
        sleep 0.1
    done
}

CLK_TCK="$(getconf CLK_TCK)"

# stop_agent: records VmHWM and CPU time, sends SIGTERM, waits;
# sets AGENT_RSS_KB, AGENT_CPU_MS, AGENT_STATUS, STATS_LINE.
stop_agent() {
    # utime + stime (fields 14 and 15; the comm field has no spaces for csm-agent).
    local ticks
    ticks="$(awk '{print $14 + $15}' "/proc/$AGENT_PID/stat" 2>/dev/null || echo 0)"
    AGENT_CPU_MS=$((ticks * 1000 / CLK_TCK))
    AGENT_RSS_KB="$(awk '/^VmHWM:/ {print $2}' "/proc/$AGENT_PID/status" 2>/dev/null || true)"
    AGENT_RSS_KB="${AGENT_RSS_KB:-0}"
    if ((AGENT_RSS_KB > PEAK_RSS_KB)); then PEAK_RSS_KB=$AGENT_RSS_KB; fi
    kill -TERM "$AGENT_PID"
    local deadline=$((SECONDS + STOP_TIMEOUT))
    while kill -0 "$AGENT_PID" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
    if kill -0 "$AGENT_PID" 2>/dev/null; then
        note "agent still running ${STOP_TIMEOUT}s after SIGTERM; sending SIGKILL"
        kill -KILL "$AGENT_PID" 2>/dev/null || true
    fi
    AGENT_STATUS=0
    wait "$AGENT_PID" || AGENT_STATUS=$?
    AGENT_PID=""
    STATS_LINE="$(grep 'received=' "$AGENT_LOG" | tail -n 1 || true)"
    if [[ -z "$STATS_LINE" ]]; then
        note "no stats line in $AGENT_LOG (exit status $AGENT_STATUS)"
        PROBLEMS+=("$AGENT_LOG: no stats line, exit status $AGENT_STATUS")
    elif ((AGENT_STATUS != 0)); then
        PROBLEMS+=("$AGENT_LOG: agent exit status $AGENT_STATUS")
    fi
    local bad
    bad="$(grep -E 'level=(warning|error)' "$AGENT_LOG" || true)"
    if [[ -n "$bad" ]]; then
        while IFS= read -r line; do PROBLEMS+=("$(basename "$AGENT_LOG"): $line"); done <<< "$bad"
    fi
}

# cpu_per_event: agent CPU microseconds per received event in the last session, or "?".
cpu_per_event() {
    local received; received="$(stat_field received)"
    if [[ "$received" =~ ^[1-9][0-9]*$ ]]; then
        awk -v ms="$AGENT_CPU_MS" -v n="$received" 'BEGIN { printf "%.1f", ms * 1000 / n }'
    else
        echo "?"
    fi
}

# stat_field NAME: a number from the last stats line ("received=12 ... lost=0"), or "?".
stat_field() {
    local v
    v="$(grep -oE "(^|[[:space:]])$1=[0-9]+" <<< "$STATS_LINE" | head -n 1 | cut -d= -f2 || true)"
    echo "${v:-?}"
}

PEAK_RSS_KB=0
PROBLEMS=()
ROWS=()
RESULTS="$OUT_DIR/results.tsv"
printf 'workload\tbaseline_ns\tagent_ns\tratio\ttarget\tresult\treceived\tlost\trss_kb\tagent_cpu_ms\tcpu_us_per_event\tmatches\n' > "$RESULTS"

# other_agents WHEN: another csm-agent (someone else's) has its probes attached too and skews both
# the baseline and the agent figures; note it in the report.
other_agents() {
    local pids
    pids="$(pgrep -x csm-agent | grep -vx "${AGENT_PID:-none}" | tr '\n' ' ' || true)"
    if [[ -n "$pids" ]]; then
        note "warning: other csm-agent processes running during $1: $pids"
        PROBLEMS+=("other csm-agent running during $1 (pids $pids): its probes skew the figures")
    fi
}

# measure NAME TARGET CMD...: one baseline, then one agent session per mode.
measure() {
    local name="$1" target="$2"; shift 2
    other_agents "$name baseline"
    note "$name: baseline (best of $RUNS)"
    local base; base="$(best_of "$@")"
    local mode
    for mode in $MODES; do
        start_agent "$name" "$mode"
        note "$name: with agent pid $AGENT_PID in mode $mode (best of $RUNS)"
        local with; with="$(best_of "$@")"
        other_agents "$name with agent"
        stop_agent
        local ratio verdict received lost cpu_ev matches
        ratio="$(awk -v a="$with" -v b="$base" 'BEGIN { printf "%.3f", a / b }')"
        verdict="$(awk -v r="$ratio" -v t="$target" 'BEGIN { print (r <= t ? "PASS" : "FAIL") }')"
        received="$(stat_field received)"
        lost="$(stat_field lost)"
        matches="$(stat_field matches)"
        cpu_ev="$(cpu_per_event)"
        ROWS+=("$(printf '%-22s %14s %14s %7sx %7sx %-5s %10s %8s %8s %8s' \
            "$name/$mode" "$base" "$with" "$ratio" "$target" "$verdict" "$received" "$lost" "$cpu_ev" "$matches")")
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name/$mode" "$base" "$with" "$ratio" "$target" \
            "$verdict" "$received" "$lost" "$AGENT_RSS_KB" "$AGENT_CPU_MS" "$cpu_ev" "$matches" >> "$RESULTS"
    done
}

note "agent: $AGENT"
note "output: $OUT_DIR"
measure open_loop "$OPEN_TARGET" "$BIN_DIR/open_loop" "$OPEN_N" "$OPEN_FILE"
measure exec_loop "$EXEC_TARGET" "$BIN_DIR/exec_loop" "$EXEC_N"

# --- paced open run ------------------------------------------------------------------------------
PACED_LINES=()
for mode in $MODES; do
    note "paced_open: $PACED_RATE opens/s for ${PACED_SECONDS}s with agent in mode $mode"
    start_agent paced_open "$mode"
    PACED_OUT="$("$BIN_DIR/paced_open" "$PACED_RATE" "$PACED_SECONDS" "$OPEN_FILE")" || die "paced_open failed"
    other_agents paced_open
    stop_agent
    PACED_DONE="$(grep -oE 'opens=[0-9]+' <<< "$PACED_OUT" | cut -d= -f2)"
    PACED_ACHIEVED="$(grep -oE 'rate=[0-9]+' <<< "$PACED_OUT" | cut -d= -f2)"
    PACED_LOST="$(stat_field lost)"
    PACED_RECEIVED="$(stat_field received)"
    PACED_OPEN_EVENTS="$(stat_field open)"
    PACED_CPU_EV="$(cpu_per_event)"
    if [[ "$PACED_LOST" == "0" ]]; then PACED_VERDICT=PASS; else PACED_VERDICT=FAIL; fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "paced_open/$mode" "" "" "" "lost=0" \
        "$PACED_VERDICT" "$PACED_RECEIVED" "$PACED_LOST" "$AGENT_RSS_KB" "$AGENT_CPU_MS" "$PACED_CPU_EV" "$(stat_field matches)" >> "$RESULTS"
    PACED_LINES+=("paced_open/$mode: requested ${PACED_RATE}/s for ${PACED_SECONDS}s, did ${PACED_DONE} opens at ${PACED_ACHIEVED}/s; agent received=${PACED_RECEIVED} open_events=${PACED_OPEN_EVENTS} lost=${PACED_LOST} (target 0) ${PACED_VERDICT}; agent cpu ${AGENT_CPU_MS} ms = ${PACED_CPU_EV} us/event")
done

# --- report --------------------------------------------------------------------------------------
echo
echo "csm-agent overhead benchmark  ($(uname -r), $(nproc) cpus, load avg $(cut -d' ' -f1-3 /proc/loadavg))"
echo "agent: $AGENT > /dev/null in modes: $MODES (policy: ${POLICY:-embedded default}); best of $RUNS; OPEN_N=$OPEN_N EXEC_N=$EXEC_N"
echo
printf '%-22s %14s %14s %8s %8s %-5s %10s %8s %8s %8s\n' workload/mode "baseline ns" "agent ns" ratio target "" received lost "cpu us/ev" matches
for row in "${ROWS[@]}"; do echo "$row"; done
echo
for line in "${PACED_LINES[@]}"; do echo "$line"; done
echo "agent peak RSS (VmHWM, max over sessions): $((PEAK_RSS_KB / 1024)) MiB (${PEAK_RSS_KB} kB)"

if [[ -n "$COMPARE" ]]; then
    if [[ -r "$COMPARE" ]]; then
        echo
        echo "change against $COMPARE (ratio now / ratio then; the hooks budget is at most 1.05):"
        awk -F'\t' 'NR == FNR { if (FNR > 1 && $4 != "") then_[$1] = $4; next }
                    FNR > 1 && $4 != "" && ($1 in then_) {
                        c = $4 / then_[$1]
                        printf "  %-11s %7.3fx -> %7.3fx  change %6.3f  %s\n", $1, then_[$1], $4, c, (c <= 1.05 ? "PASS" : "FAIL")
                    }' "$COMPARE" "$RESULTS"
    else
        note "COMPARE=$COMPARE is not readable; skipped"
    fi
fi

if ((${#PROBLEMS[@]} > 0)); then
    echo
    echo "warnings (agent logs, other agents):"
    for p in "${PROBLEMS[@]}"; do echo "  $p"; done
fi
echo
echo "logs and results.tsv: $OUT_DIR"
exit 0
