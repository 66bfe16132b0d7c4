#!/usr/bin/env bash
# By-hand benchmark of the agent's memory (resident set). Never run by the tests.
#
#   sudo bash bench/memory.sh
#   sudo SOAK=600 bash bench/memory.sh          # the 10-minute soak
#   sudo AGENT=/tmp/other/csm-agent bash bench/memory.sh
#
# Starts the agent (default policy, output to /dev/null), then prints its RSS (VmRSS of
# /proc/PID/status) and its process table size (`processes=` of a SIGUSR1 stats line):
#   idle        SETTLE seconds after `ready`
#   live        with N processes alive (hold_procs: fork + exec, one distinct argument each)
#   exited      AFTER_EXIT seconds after all of them were killed and reaped
#   soak 1 min  and soak end: a mixed workload (execs with distinct args and environment, opens)
#               running SOAK seconds; growth is end minus the 1-minute figure.
# Targets (printed next to the figures): live <= 80 MiB, exited within 10 MiB of idle, no growth
# over the soak after its first minute.
#
# Environment:
#   AGENT=path      agent binary (default .build/release/csm-agent)
#   AGENT_ARGS=...  the agent's arguments (default: `run`, the embedded default policy)
#   N=10000         live processes
#   SETTLE=5        seconds before the idle and live figures
#   AFTER_EXIT=5    seconds between the last exit and the exited figure
#   SOAK=180        soak seconds (0: no soak); the 1-minute figure needs SOAK > 60
#
# Exit status: 0 whenever it ran (it is a report), non-zero if it could not run.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
N="${N:-10000}"
SETTLE="${SETTLE:-5}"
AFTER_EXIT="${AFTER_EXIT:-5}"
SOAK="${SOAK:-180}"
AGENT_ARGS="${AGENT_ARGS:-run}"
READY_TIMEOUT="${READY_TIMEOUT:-60}"
AGENT="${AGENT:-$REPO_ROOT/.build/release/csm-agent}"

die() { echo "memory: $*" >&2; exit 1; }
note() { echo "memory: $*" >&2; }

[[ -x "$AGENT" ]] || die "no agent binary at $AGENT (build it: make bpf && swift build -c release --product csm-agent)"
[[ "$(id -u)" -eq 0 ]] || note "warning: not root; the agent will most likely fail to load its BPF programs"

WORK="$(mktemp -d /tmp/csm-memory.XXXXXX)"
AGENT_PID=""
HOLD_PID=""
SOAK_PID=""
cleanup() {
    [[ -n "$SOAK_PID" ]] && kill "$SOAK_PID" 2>/dev/null || true
    if [[ -n "$HOLD_PID" ]] && kill -0 "$HOLD_PID" 2>/dev/null; then
        kill -TERM "$HOLD_PID" 2>/dev/null || true
        wait "$HOLD_PID" 2>/dev/null || true
    fi
    if [[ -n "$AGENT_PID" ]] && kill -0 "$AGENT_PID" 2>/dev/null; then
        kill -TERM "$AGENT_PID" 2>/dev/null || true
        wait "$AGENT_PID" 2>/dev/null || true
    fi
    note "agent log: $WORK/agent.log"
}
trap cleanup EXIT

for w in hold_procs open_loop exec_loop; do
    cc -O2 -o "$WORK/$w" "$REPO_ROOT/bench/workloads/$w.c" || die "cannot compile $w.c"
done

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$AGENT_PID/status"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
# table_size: `processes=` of a fresh stats line (SIGUSR1), or "?".
table_size() {
    local before after deadline
    before=$(grep -c '^.*stats ' "$WORK/agent.log" || true)
    kill -USR1 "$AGENT_PID"
    deadline=$((SECONDS + 5))
    while (( SECONDS < deadline )); do
        after=$(grep -c '^.*stats ' "$WORK/agent.log" || true)
        if (( after > before )); then
            grep 'stats ' "$WORK/agent.log" | tail -1 | grep -o 'processes=[0-9]*' | cut -d= -f2
            return
        fi
        sleep 0.1
    done
    echo "?"
}
report() {  # report LABEL
    local kib; kib=$(rss_kib)
    printf '%-14s rss_mib=%-7s processes=%s\n' "$1" "$(mib "$kib")" "$(table_size)"
    LAST_KIB=$kib
}

"$AGENT" $AGENT_ARGS > /dev/null 2> "$WORK/agent.log" &
AGENT_PID=$!
deadline=$((SECONDS + READY_TIMEOUT))
until grep -q 'ready' "$WORK/agent.log" 2>/dev/null; do
    kill -0 "$AGENT_PID" 2>/dev/null || die "agent exited before it was ready (log: $WORK/agent.log)"
    (( SECONDS < deadline )) || die "agent not ready after ${READY_TIMEOUT}s"
    sleep 0.2
done

echo "agent: $AGENT $AGENT_ARGS (pid $AGENT_PID)"
sleep "$SETTLE"
report "idle"; IDLE_KIB=$LAST_KIB

# N live processes; a fifo keeps hold_procs's stdin open until we are done.
mkfifo "$WORK/hold.in"
"$WORK/hold_procs" "$N" < "$WORK/hold.in" > "$WORK/hold.out" &
HOLD_PID=$!
exec 7> "$WORK/hold.in"
deadline=$((SECONDS + 300))
until grep -q '^ready' "$WORK/hold.out" 2>/dev/null; do
    kill -0 "$HOLD_PID" 2>/dev/null || die "hold_procs exited early"
    (( SECONDS < deadline )) || die "hold_procs not ready after 300 s"
    sleep 0.2
done
sleep "$SETTLE"
report "live $(awk '{print $2}' "$WORK/hold.out")"; LIVE_KIB=$LAST_KIB

exec 7>&-   # end of stdin: hold_procs kills and reaps its children
wait "$HOLD_PID" || true
HOLD_PID=""
sleep "$AFTER_EXIT"
report "exited"; EXITED_KIB=$LAST_KIB

SOAK1_KIB=""; SOAKEND_KIB=""
if (( SOAK > 0 )); then
    # Mixed workload: fork+exec of /bin/true, execs with a distinct argument and environment
    # variable each (strings the agent must not keep), and opens.
    (
        i=0
        while :; do
            "$WORK/exec_loop" 200 > /dev/null
            for _ in 1 2 3 4 5 6 7 8 9 10; do i=$((i + 1)); SOAK_VAR="v$i" /bin/true "soak-arg-$i"; done
            "$WORK/open_loop" 20000 /etc/hostname > /dev/null
            sleep 0.1
        done
    ) &
    SOAK_PID=$!
    start=$SECONDS
    if (( SOAK > 60 )); then
        sleep 60
        report "soak 1 min"; SOAK1_KIB=$LAST_KIB
    fi
    sleep $(( SOAK - (SECONDS - start) > 0 ? SOAK - (SECONDS - start) : 0 ))
    report "soak ${SOAK}s"; SOAKEND_KIB=$LAST_KIB
    kill "$SOAK_PID" 2>/dev/null || true
    wait "$SOAK_PID" 2>/dev/null || true
    SOAK_PID=""
fi

kill -TERM "$AGENT_PID"
wait "$AGENT_PID" || true
AGENT_PID=""
echo "final: $(grep 'stats ' "$WORK/agent.log" | tail -1 | sed 's/.*stats /stats /')"
echo
echo "summary (MiB): idle=$(mib "$IDLE_KIB") live=$(mib "$LIVE_KIB") (target <= 80)" \
     "exited=$(mib "$EXITED_KIB") (exited - idle = $(mib $((EXITED_KIB - IDLE_KIB))), target <= 10)"
if [[ -n "$SOAK1_KIB" ]]; then
    echo "soak (MiB): 1 min=$(mib "$SOAK1_KIB") end=$(mib "$SOAKEND_KIB") growth=$(mib $((SOAKEND_KIB - SOAK1_KIB))) (target 0)"
fi
