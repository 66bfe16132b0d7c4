#!/usr/bin/env bash
# Records real open and exec events with the agent, then runs the rule benchmark on them.
#
#   sudo bash bench/rules/record.sh
#
# The agent (`csm-agent --all-events`) runs while a mixed workload runs (shells, coreutils, git,
# python, compilers reading headers); its exec and open events go to EVENTS (default
# /tmp/csm-rules-events.jsonl), which is not kept in the repository: it holds this host's command
# lines and environment. Then `RulesBench POLICY EVENTS` evaluates the policy's loaded rules on them.
#
# Environment: AGENT (default .build/release/csm-agent), EVENTS, POLICY, SECONDS_TO_RECORD (default 5).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
AGENT="${AGENT:-$REPO_ROOT/.build/release/csm-agent}"
EVENTS="${EVENTS:-/tmp/csm-rules-events.jsonl}"
POLICY="${POLICY:-$REPO_ROOT/../shared/corpus/datadog-default.policy}"
RECORD_SECONDS="${SECONDS_TO_RECORD:-5}"

[[ -x "$AGENT" ]] || { echo "record: no agent at $AGENT (make build)" >&2; exit 1; }
[[ "$(id -u)" -eq 0 ]] || { echo "record: needs root to load the agent's BPF programs" >&2; exit 1; }

raw="$(mktemp /tmp/csm-rules-raw.XXXXXX)"
trap 'rm -f "$raw"' EXIT
"$AGENT" --all-events >"$raw" 2>/dev/null &
agent=$!
# Wait for the agent to attach (its first events), at most 30 s.
for _ in $(seq 300); do [[ -s "$raw" ]] && break; sleep 0.1; done

end=$((SECONDS + RECORD_SECONDS))
while (( SECONDS < end )); do
    ls -la /usr/bin >/dev/null
    git -C "$REPO_ROOT" status --short >/dev/null 2>&1 || true
    sh -c 'cat /etc/hostname /etc/os-release | grep -c . >/dev/null'
    python3 -c 'import json, os; json.dumps(dict(os.environ))' >/dev/null 2>&1 || true
    find /etc -maxdepth 2 -name '*.conf' -newer /etc/hostname >/dev/null 2>&1 || true
    echo '#include <stdio.h>' | cc -E - >/dev/null 2>&1 || true
    id >/dev/null; uname -a >/dev/null; date >/dev/null
done

kill -TERM "$agent"
wait "$agent" || true
grep -E '"evt":\{"name":"(open|exec)"' "$raw" >"$EVENTS" || true
echo "record: $(grep -c '"evt":{"name":"open"' "$EVENTS" || true) open and $(grep -c '"evt":{"name":"exec"' "$EVENTS" || true) exec events in $EVENTS" >&2

cd "$REPO_ROOT/bench/rules"
swift build -c release --scratch-path .build >&2
.build/release/RulesBench "$POLICY" "$EVENTS"
