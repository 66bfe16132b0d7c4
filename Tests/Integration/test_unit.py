"""systemd/csm-agent.service: `systemd-analyze verify` accepts it (with the binary path pointed at the
build), and the agent runs under the unit's CapabilityBoundingSet (applied with `setpriv
--bounding-set`, as systemd is not PID 1 here): every probe attached as without it, and a rule fires
on a real open."""
import json
import os
import re
import shutil
import subprocess
import time

from conftest import AGENT, REPO, require, schema_validator
from test_rules_pipeline import write_policy

UNIT = REPO / "systemd" / "csm-agent.service"


def test_systemd_analyze_verify_accepts_the_unit(tmp_path):
    require(shutil.which("systemd-analyze"), "systemd-analyze is missing")
    require(AGENT.exists(), "agent not built")
    unit = tmp_path / "csm-agent.service"
    unit.write_text(UNIT.read_text().replace("/usr/local/bin/csm-agent", str(AGENT)))
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WatchdogSec=" in UNIT.read_text() and "Type=notify" in UNIT.read_text()


def _bounding_set():
    line = next(l for l in UNIT.read_text().splitlines() if l.startswith("CapabilityBoundingSet="))
    caps = line.split("=", 1)[1].split()
    return "-all," + ",".join("+" + c.lower().removeprefix("cap_") for c in caps)


def _ready_line(args, tmp_path, name, trigger=None):
    log = tmp_path / f"{name}.log"
    out = tmp_path / f"{name}.jsonl"
    with open(log, "wb") as err, open(out, "wb") as stdout:
        process = subprocess.Popen(args, stdout=stdout, stderr=err)
        deadline = time.time() + 90
        while "msg=ready" not in log.read_text(errors="replace") and time.time() < deadline and process.poll() is None:
            time.sleep(0.1)
        if trigger:
            trigger()
            time.sleep(2)
        process.terminate()
        process.wait(timeout=30)
    text = log.read_text(errors="replace")
    ready = next((l for l in text.splitlines() if "msg=ready" in l), None)
    assert ready and process.returncode == 0, text[-2000:]
    return ready, out.read_text()


def test_the_agent_runs_under_the_units_capability_bounding_set(tmp_path):
    require(os.geteuid() == 0, "integration tests need root (they load BPF programs)")
    require(shutil.which("setpriv"), "setpriv is missing")
    require(AGENT.exists(), "agent not built")
    watched = tmp_path / "watched.txt"
    watched.write_text("x")
    policy = write_policy(tmp_path / "unit.policy", [{"id": "unit_watched_open", "expression": f'open.file.path == "{watched}"'}])
    args = [str(AGENT), "--policy", str(policy)]
    full, _ = _ready_line(args, tmp_path, "full")
    bounded, events = _ready_line(["setpriv", "--bounding-set", _bounding_set(), *args], tmp_path, "bounded",
                                  trigger=lambda: open(watched).close())
    probes = lambda line: int(re.search(r"ready: (\d+) probes attached", line).group(1))
    assert probes(bounded) == probes(full), (bounded, full)
    assert "unit_watched_open" in events and str(watched) in events
    validator = schema_validator()
    invalid = [error.message for line in events.splitlines() for error in validator.iter_errors(json.loads(line))]
    assert not invalid, invalid[:3]
