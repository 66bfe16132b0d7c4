"""The configuration file (`--config FILE`, or /etc/csm-agent/csm-agent.yaml when it exists): every
key takes effect in a running agent, flags override it, unknown keys are warnings naming file, line and
key, wrong types and values are one-line errors with a non-zero exit, `config check` validates without
starting, and SIGHUP reads the file again (a broken file keeps the running configuration).

Ground truth: the files the test opens, the pid of the process it runs, the arguments it passes."""
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import AGENT, REPO, RunningAgent, require
from test_rules_pipeline import matches_of, write_policy

EXAMPLE = REPO / "systemd" / "csm-agent.yaml"
BPF_OBJECT = REPO / ".build" / "bpf" / "csm.bpf.o"


def _open_by_child(path):
    """Opens `path` in a child process; its pid."""
    child = subprocess.run(["/bin/sh", "-c", f'echo $$; exec cat "{path}" > /dev/null'], capture_output=True, text=True, check=True)
    return int(child.stdout.split()[0])


def _run(*args, timeout=60):
    return subprocess.run([str(AGENT), *args], capture_output=True, text=True, timeout=timeout)


def test_the_example_config_checks():
    require(AGENT.exists(), "agent not built")
    result = _run("config", "check", str(EXAMPLE))
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout and "warning" not in result.stderr


def test_every_key_takes_effect(start_agent, tmp_path):
    require(BPF_OBJECT.exists(), f"{BPF_OBJECT} is missing: run `make bpf`")
    watched = tmp_path / "watched.txt"
    watched.write_text("x")
    in_dir = tmp_path / "dir-watched.txt"
    in_dir.write_text("x")
    true_path = os.path.realpath(shutil.which("true"))
    marker = "zebra-value-" + os.urandom(4).hex()
    write_policy(tmp_path / "file.policy", [
        {"id": "config_policy_open", "expression": f'open.file.path == "{watched}"'},
        {"id": "config_exec_marker", "expression": f'exec.file.path == "{true_path}" && process.args =~ "*{marker}*"'},
    ])
    policy_dir = tmp_path / "policies.d"
    policy_dir.mkdir()
    write_policy(policy_dir / "dir.policy", [{"id": "config_dir_open", "expression": f'open.file.path == "{in_dir}"'}])
    # Loaded only when the configured agent version satisfies it.
    (policy_dir / "versioned.policy").write_text(
        "version: 1.0.0\nrules:\n  - id: config_versioned_open\n    agent_version: '>= 99.0.0'\n"
        f"    expression: 'open.file.path == \"{in_dir}\"'\n")
    config = tmp_path / "conf" / "agent.yaml"
    config.parent.mkdir()
    config.write_text(f"""
policies: [../file.policy]          # relative to the file's directory
policy_dirs:
  - {policy_dir}
all_events: false
agent_version: 99.1.0
bpf_object: {BPF_OBJECT}
log:
  level: debug
  format: json
scrubbing:
  enabled: true
  words: [zebra]
  envs_with_value: [CONFIG_TEST_KEPT]
rate_limit:
  rate: 1
  burst: 1
""")
    agent = start_agent("--config", str(config))
    log = agent.log()
    records = [json.loads(line) for line in log.splitlines() if line.strip()]
    assert records and all(r["logger"] == "csm-agent" for r in records), log[:300]
    assert any(r["msg"] == f"config: {config}: 12 settings" for r in records), log[:2000]

    pid = _open_by_child(watched)
    event = agent.find(lambda e: e["agent"]["rule_id"] == "config_policy_open")[0]
    assert event["file"]["path"] == str(watched) and event["process"]["pid"] == pid
    dir_pid = _open_by_child(in_dir)
    agent.find(lambda e: e["agent"]["rule_id"] == "config_dir_open" and e["process"]["pid"] == dir_pid)
    agent.find(lambda e: e["agent"]["rule_id"] == "config_versioned_open" and e["process"]["pid"] == dir_pid)

    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "CONFIG_TEST_KEPT": "kept-value", "CONFIG_TEST_NAME": "name-only"}
    subprocess.run([true_path, f"--zebra={marker}"], env=env, check=True)
    exec_event = agent.find(lambda e: e["agent"]["rule_id"] == "config_exec_marker")[0]
    assert marker not in json.dumps(exec_event), "scrubbing.words scrubs the configured word's value"
    envs = exec_event["process"].get("envs", [])
    assert "CONFIG_TEST_KEPT=kept-value" in envs and "CONFIG_TEST_NAME" in envs, envs

    # rate 1/s, burst 1: after a second without matches, ten opens in a burst write one or two.
    time.sleep(1.2)
    before = len(matches_of(agent, "config_policy_open"))
    for _ in range(10):
        _open_by_child(watched)
    time.sleep(1.5)
    written = len(matches_of(agent, "config_policy_open")) - before
    assert 1 <= written <= 3, written
    code, log = agent.stop()
    assert code == 0, log
    assert f"held_back_config_policy_open={10 - written}" in log, log[-1500:]


def test_log_level_key_hides_lower_levels(tmp_path):
    require(os.geteuid() == 0, "integration tests need root (they load BPF programs)")
    require(AGENT.exists(), "agent not built")
    config = tmp_path / "quiet.yaml"
    config.write_text("log:\n  level: error\n")
    process = subprocess.Popen([str(AGENT), "--config", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(8)
    process.send_signal(signal.SIGTERM)
    _, log = process.communicate(timeout=30)
    assert process.returncode == 0, log
    assert b"level=info" not in log and b"level=warning" not in log, log[:500]


def test_all_events_key(start_agent, tmp_path):
    config = tmp_path / "all.yaml"
    config.write_text("all_events: true\n")
    agent = start_agent("--config", str(config))
    target = tmp_path / "any.txt"
    target.write_text("x")
    pid = _open_by_child(target)
    agent.find(lambda e: e["agent"]["rule_id"] == "all_events" and e.get("file", {}).get("path") == str(target)
               and e["process"]["pid"] == pid)


def test_flags_override_the_file(start_agent, tmp_path):
    watched = tmp_path / "flag.txt"
    watched.write_text("x")
    from_file = write_policy(tmp_path / "from-file.policy", [{"id": "from_file", "expression": f'open.file.path == "{watched}"'}])
    from_flag = write_policy(tmp_path / "from-flag.policy", [{"id": "from_flag", "expression": f'open.file.path == "{watched}"'}])
    config = tmp_path / "override.yaml"
    config.write_text(f"log:\n  format: json\npolicies: [{from_file}]\n")
    agent = start_agent("--config", str(config), "--log-format", "text", "--policy", str(from_flag))
    assert all(line.startswith("csm-agent level=") for line in agent.log().splitlines()), agent.log()[:300]
    pid = _open_by_child(watched)
    agent.find(lambda e: e["agent"]["rule_id"] == "from_flag" and e["process"]["pid"] == pid)
    time.sleep(0.5)
    assert not matches_of(agent, "from_file"), "the --policy flag replaces the file's policies"


def test_unknown_keys_are_warnings_naming_file_line_and_key(start_agent, tmp_path):
    config = tmp_path / "unknown.yaml"
    config.write_text("log:\n  level: info\n  colour: blue\nfrobnicate: 3\n")
    agent = start_agent("--config", str(config))
    log = agent.log()
    assert f"{config} line 3: unknown key 'log.colour' (ignored)" in log, log[:1500]
    assert f"{config} line 4: unknown key 'frobnicate' (ignored)" in log, log[:1500]
    check = _run("config", "check", str(config))
    assert check.returncode == 0 and "unknown key 'frobnicate'" in check.stderr, check


@pytest.mark.parametrize("text, line, key", [
    ("log:\n  level: loud\n", 2, "log.level"),
    ("log:\n  format: xml\n", 2, "log.format"),
    ("rate_limit:\n  rate: fast\n", 2, "rate_limit.rate"),
    ("rate_limit:\n  burst: 0\n", 2, "rate_limit.burst"),
    ("all_events: maybe\n", 1, "all_events"),
    ("policies: {a: 1}\n", 1, "policies"),
    ("scrubbing:\n  enabled: yes-please\n", 2, "scrubbing.enabled"),
    ("scrubbing:\n  words: ['bad word!']\n", 2, "scrubbing.words"),
    ("agent_version: not-a-version\n", 1, "agent_version"),
    ("log: debug\n", 1, "log"),
    ("\n\nlog:\n  level: info\nlog:\n  level: info\n", 5, "log"),
])
def test_wrong_types_and_values_are_one_line_errors(tmp_path, text, line, key):
    require(AGENT.exists(), "agent not built")
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    for args, expected_code in ((["--config", str(config)], 78), (["config", "check", str(config)], 1)):
        result = _run(*args)
        assert result.returncode == expected_code, (args, result)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert f"{config} line {line}: {key}" in lines[0], lines[0]
    assert "ready" not in _run("--config", str(config)).stderr


def test_unusable_files_are_one_line_errors(tmp_path):
    require(AGENT.exists(), "agent not built")
    cases = {
        "missing": tmp_path / "missing.yaml",
        "not yaml": tmp_path / "broken.yaml",
        "a list": tmp_path / "list.yaml",
        "bad policy": tmp_path / "badpolicy.yaml",
    }
    cases["not yaml"].write_text("log: [unclosed\n")
    cases["a list"].write_text("- a\n- b\n")
    cases["bad policy"].write_text(f"policies: [{tmp_path / 'nowhere.policy'}]\n")
    for name, config in cases.items():
        result = _run("config", "check", str(config))
        assert result.returncode != 0, name
        assert str(config) in result.stderr and result.stderr.count("\n") == 1, (name, result.stderr)
    result = _run("--config", str(cases["missing"]))
    assert result.returncode == 78 and str(cases["missing"]) in result.stderr


def test_sighup_reads_the_config_again_and_a_broken_one_keeps_running(start_agent, tmp_path):
    first = tmp_path / "first.txt"
    second = tmp_path / "second.txt"
    for path in (first, second):
        path.write_text("x")
    policy_a = write_policy(tmp_path / "a.policy", [{"id": "reload_first", "expression": f'open.file.path == "{first}"'}])
    policy_b = write_policy(tmp_path / "b.policy", [{"id": "reload_second", "expression": f'open.file.path == "{second}"'}])
    config = tmp_path / "reload.yaml"
    config.write_text(f"policies: [{policy_a}]\n")
    agent = start_agent("--config", str(config))
    pid = _open_by_child(first)
    agent.find(lambda e: e["agent"]["rule_id"] == "reload_first" and e["process"]["pid"] == pid)

    config.write_text(f"policies: [{policy_b}]\nlog:\n  format: json\n")
    agent.process.send_signal(signal.SIGHUP)
    deadline = time.time() + 20
    while "policies reloaded" not in agent.log() and time.time() < deadline:
        time.sleep(0.1)
    assert "policies reloaded" in agent.log(), agent.log()[-1500:]
    assert f"config: {config} read again" in agent.log()
    pid = _open_by_child(second)
    agent.find(lambda e: e["agent"]["rule_id"] == "reload_second" and e["process"]["pid"] == pid)
    _open_by_child(first)
    time.sleep(0.5)
    assert len(matches_of(agent, "reload_first")) == 1, "the first policy is gone after the reload"
    last_line = agent.log().strip().splitlines()[-1]
    assert json.loads(last_line)["logger"] == "csm-agent", "log.format changed at the reload"

    config.write_text("policies: {not: a list}\n")
    agent.process.send_signal(signal.SIGHUP)
    deadline = time.time() + 20
    while "config reload failed" not in agent.log() and time.time() < deadline:
        time.sleep(0.1)
    assert "config reload failed, the running configuration stays" in agent.log() and f"{config} line 1: policies" in agent.log()
    time.sleep(1)
    pid = _open_by_child(second)
    agent.find(lambda e: e["agent"]["rule_id"] == "reload_second" and e["process"]["pid"] == pid)
    assert agent.process.poll() is None
