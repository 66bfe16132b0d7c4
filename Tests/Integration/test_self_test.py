"""`csm-agent self-test`: the real pipeline started by the binary, harmless actions, every detection
reported; exit 0 only when all fired, and a one-line failure when the agent cannot start."""
import json
import os
import subprocess

from conftest import AGENT, require, schema_validator


def test_self_test_passes_on_this_machine(tmp_path):
    require(os.geteuid() == 0, "integration tests need root (they load BPF programs)")
    require(AGENT.exists(), f"{AGENT} is missing: run `make build`")
    result = subprocess.run([str(AGENT), "self-test", "--keep-output", str(tmp_path)], capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for rule in ("self_test_file_create", "self_test_exec", "csm_shadow_file_read"):
        assert any(line.startswith("ok ") and f"{rule} fired" in line for line in lines), result.stdout
    assert "3 of 3 detections fired" in result.stdout
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    shadow = [e for e in events if e["agent"]["rule_id"] == "csm_shadow_file_read" and e["file"]["path"] == "/etc/shadow"]
    assert shadow, "the shadow read is reported with its path"
    validator = schema_validator()
    invalid = [error.message for event in events for error in validator.iter_errors(event)]
    assert not invalid, invalid[:3]


def test_self_test_reports_an_agent_that_cannot_start(tmp_path):
    require(os.geteuid() == 0, "integration tests need root (they load BPF programs)")
    require(AGENT.exists(), f"{AGENT} is missing: run `make build`")
    result = subprocess.run([str(AGENT), "self-test", "--bpf-object", str(tmp_path / "missing.o"), "--timeout", "30"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result
    assert result.stderr.count("\n") == 1 and "the agent did not start" in result.stderr, result.stderr
