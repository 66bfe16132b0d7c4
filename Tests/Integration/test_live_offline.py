"""Live and offline evaluation agree: one workload under `--all-events --policy P`, then
`csm-agent policy evaluate --policy P` over the written all_events lines must find the same
(rule, pid) matches as the rule lines the agent wrote live, for the embedded default policy and for
Datadog's default policy.

What offline evaluation cannot see is listed in the README ("What offline evaluation cannot see");
rules whose matches depend on it would be reported here as differences."""
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from conftest import AGENT, REPO, RunningAgent, require

CORPUS = REPO.parent / "shared" / "corpus" / "datadog-default.policy"
DEFAULT_POLICY = REPO / "policy" / "default.policy"


def workload(tmp_path):
    """Harmless actions that the default policies detect, plus ordinary activity."""
    cat = tmp_path / "cat-copy"
    shutil.copy("/bin/cat", cat)
    subprocess.run([str(cat), "/etc/shadow"], stdout=subprocess.DEVNULL, check=False)
    shm = Path("/dev/shm") / f"csm-live-offline-{os.getpid()}"
    shutil.copy("/bin/true", shm)
    try:
        subprocess.run([str(shm)], check=False)
    finally:
        shm.unlink()
    nginx = tmp_path / "nginx"
    shutil.copy("/bin/sh", nginx)
    subprocess.run([str(nginx), "-c", "/bin/sh -c 'id > /dev/null; cat /etc/passwd > /dev/null'"], check=False)
    subprocess.run(["sh", "-c", "ls / > /dev/null; uname -a > /dev/null; cat /etc/hostname > /dev/null"], check=False)
    target = Path("/etc") / f"csm-live-offline-{os.getpid()}"
    target.write_text("x")
    target.unlink()


def policy_rules(policy):
    """id -> (reported id, silent) from `policy check --json` ids and the policy's own YAML."""
    import yaml  # python3-yaml, installed by `make deps`
    rules = {}
    for rule in yaml.safe_load(policy.read_text()).get("rules", []) or []:
        if isinstance(rule, dict) and "id" in rule:
            rules[str(rule["id"])] = (str(rule.get("group_id") or rule["id"]), bool(rule.get("silent", False)))
    return rules


@pytest.mark.parametrize("policy", [DEFAULT_POLICY, CORPUS], ids=["default", "datadog"])
def test_live_and_offline_find_the_same_matches(tmp_path, policy):
    require(os.geteuid() == 0, "integration tests need root (they load BPF programs)")
    require(AGENT.exists(), f"{AGENT} is missing: run `make build`")
    require(policy.exists(), f"{policy} is missing")
    agent = RunningAgent(tmp_path, ["--policy", str(policy)], all_events=True)
    try:
        workload(tmp_path)
        time.sleep(1)
    finally:
        code, log = agent.stop()
    assert code == 0, log
    invalid = agent.invalid_lines()
    assert not invalid, invalid[:5]
    rules = policy_rules(policy)
    events = [e for e in agent.events if e["agent"]["rule_id"] == "all_events"]
    live = {(e["agent"]["rule_id"], e["process"]["pid"]) for e in agent.events if e["agent"]["rule_id"] != "all_events"}

    recorded = tmp_path / "all_events.jsonl"
    recorded.write_text("".join(json.dumps(e) + "\n" for e in events))
    result = subprocess.run([str(AGENT), "policy", "evaluate", "--policy", str(policy), str(recorded)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    outputs = result.stdout.splitlines()
    assert len(outputs) == len(events), (len(outputs), len(events))
    offline = set()
    errors = []
    for event, line in zip(events, outputs):
        answer = json.loads(line)
        if "error" in answer:
            errors.append(answer["error"])
            continue
        for rule_id in answer["matched"]:
            reported, silent = rules.get(rule_id, (rule_id, False))
            if not silent:
                offline.add((reported, event["process"]["pid"]))
    assert not errors, errors[:5]
    assert live, "the workload fired no rule live"
    assert live == offline, f"live only: {sorted(live - offline)[:20]}; offline only: {sorted(offline - live)[:20]}"
