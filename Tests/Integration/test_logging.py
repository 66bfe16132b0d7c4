"""The agent's log on stderr, through swift-log: `text` lines (`csm-agent level=... msg=...`) by
default, one JSON object per line with `--log-format json`, and the level threshold honoured."""
import json
import os
import select
import signal
import subprocess
import time

from conftest import AGENT, require


def _run_until_ready(args, timeout=60):
    """Starts the agent (every event to /dev/null), waits for its ready line (or `timeout` seconds when
    the level hides it), stops it; its exit code and stderr."""
    with open(os.devnull, "wb") as devnull:
        process = subprocess.Popen([str(AGENT), "--all-events", *args], stdout=devnull, stderr=subprocess.PIPE)
        deadline = time.time() + timeout
        buffered = b""
        while time.time() < deadline and b"ready" not in buffered:
            readable, _, _ = select.select([process.stderr], [], [], 0.5)
            if readable:
                chunk = os.read(process.stderr.fileno(), 65536)
                if not chunk:
                    break
                buffered += chunk
        process.send_signal(signal.SIGTERM)
        _, rest = process.communicate(timeout=30)
        return process.returncode, buffered + rest


def test_json_log_lines_are_objects_with_level_and_message():
    require(os.geteuid() == 0, "integration tests need root (they load BPF programs)")
    require(AGENT.exists(), "agent not built")
    code, log = _run_until_ready(["--log-format", "json"])
    assert code == 0, log
    records = [json.loads(line) for line in log.splitlines() if line.strip()]
    assert records
    assert all(set(r) >= {"logger", "level", "msg"} and r["logger"] == "csm-agent" for r in records)
    assert any("ready" in r["msg"] for r in records)
    assert any(r["msg"].startswith("stats ") for r in records)


def test_text_log_honours_the_level():
    require(os.geteuid() == 0, "integration tests need root (they load BPF programs)")
    require(AGENT.exists(), "agent not built")
    code, log = _run_until_ready(["--log-level", "debug"])
    assert code == 0, log
    lines = log.decode(errors="replace").splitlines()
    assert all(line.startswith("csm-agent level=") for line in lines), lines[:3]
    assert any(" msg=ready" in line or "msg=ready" in line for line in lines)
    code, log = _run_until_ready(["--log-level", "error"], timeout=15)
    assert code == 0, log
    assert b"level=info" not in log


def test_bad_log_format_is_a_one_line_error():
    require(AGENT.exists(), "agent not built")
    result = subprocess.run([str(AGENT), "--log-format", "xml"], capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert "log format" in result.stderr
