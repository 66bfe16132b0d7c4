"""Integration fixtures: the built agent, running for real as root, and its JSON output.

Every line the agent writes during a test session is validated against the repository's schema copy
(schema/backend_event.schema.json) when the session ends.
"""
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import jsonschema
import pytest

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "schema" / "backend_event.schema.json"
AGENT = Path(os.environ.get("CSM_AGENT", REPO / ".build" / "release" / "csm-agent"))
IN_CI = os.environ.get("CI") == "true"


_HEX_ESCAPE = re.compile(rb"\\x([0-9a-fA-F]{2})")


def decode_kernel_text(text):
    """The bytes a string of the agent's output stands for (`String(kernelBytes:)`, README "Bytes
    that are not UTF-8"): text holding `\\x` and two hex digits is escaped, each `\\xHH` being its
    byte; any other text is its own UTF-8."""
    raw = text.encode("utf-8")
    if not _HEX_ESCAPE.search(raw):
        return raw
    return _HEX_ESCAPE.sub(lambda match: bytes([int(match.group(1), 16)]), raw)


def require(condition, reason):
    """Skip when a prerequisite is missing, except under CI=true where it is a failure."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


def schema_validator():
    schema = json.loads(SCHEMA.read_text())
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


class RunningAgent:
    """csm-agent with stdout in a file (by default --all-events); events are searched by predicate.

    `all_events=False` runs the detection mode: only rule matches are written (the embedded default
    policy unless `extra_args` names policies)."""

    def __init__(self, tmp: Path, extra_args=(), all_events=True):
        self.stdout_path = tmp / "events.jsonl"
        self.stderr_path = tmp / "agent.log"
        self.stdout = open(self.stdout_path, "wb")
        self.stderr = open(self.stderr_path, "wb")
        self.process = subprocess.Popen(
            [str(AGENT), *(["--all-events"] if all_events else []), *extra_args], stdout=self.stdout, stderr=self.stderr)
        self._offset = 0
        self._events = []
        self._wait_ready()

    def _wait_ready(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            log = self.stderr_path.read_text(errors="replace")
            if "ready" in log:
                return
            if self.process.poll() is not None:
                raise AssertionError(f"agent exited with {self.process.returncode}: {log}")
            time.sleep(0.1)
        raise AssertionError("agent not ready in time: " + self.stderr_path.read_text(errors="replace"))

    def _read_new(self):
        with open(self.stdout_path, "rb") as handle:
            handle.seek(self._offset)
            data = handle.read()
        complete = data.rfind(b"\n") + 1
        for line in data[:complete].splitlines():
            self._events.append(json.loads(line))
        self._offset += complete

    def find(self, predicate, timeout=10.0, count=1):
        """Waits until `count` events satisfy `predicate`; returns them."""
        deadline = time.time() + timeout
        while True:
            self._read_new()
            found = [event for event in self._events if predicate(event)]
            if len(found) >= count:
                return found
            if time.time() > deadline:
                raise AssertionError(f"no event matched within {timeout}s ({len(self._events)} events seen)")
            time.sleep(0.05)

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=30)
        self.stdout.close()
        self.stderr.close()
        self._read_new()
        return code, self.stderr_path.read_text(errors="replace")

    def log(self):
        return self.stderr_path.read_text(errors="replace")

    def invalid_lines(self):
        """Schema errors of every line written so far, as readable strings."""
        validator = schema_validator()
        invalid = []
        for index, event in enumerate(self.events):
            errors = list(validator.iter_errors(event))
            if errors:
                invalid.append(f"line {index + 1} ({event.get('evt', {}).get('name')}): {errors[0].message[:300]}")
        return invalid

    @property
    def events(self):
        self._read_new()
        return self._events


@pytest.fixture(scope="session")
def agent(tmp_path_factory):
    require(os.geteuid() == 0, "integration tests need root (they load BPF programs)")
    require(Path("/sys/kernel/btf/vmlinux").exists(), "the kernel has no BTF")
    require(AGENT.exists(), f"{AGENT} is missing: run `make build`")
    running = RunningAgent(tmp_path_factory.mktemp("agent"))
    yield running
    code, log = running.stop()
    assert code == 0, f"agent exit code {code}: {log}"
    assert "stats " in log and " lost=" in log, log
    invalid = running.invalid_lines()
    assert not invalid, f"{len(invalid)} of {len(running.events)} events invalid: " + "; ".join(invalid[:5])
    assert running.events, "the agent wrote no events"


@pytest.fixture
def start_agent(tmp_path):
    """Starts agents (detection mode unless `all_events=True`), each in its own directory below
    tmp_path; at the end stops those still running (exit 0) and validates every line they wrote."""
    require(os.geteuid() == 0, "integration tests need root (they load BPF programs)")
    require(Path("/sys/kernel/btf/vmlinux").exists(), "the kernel has no BTF")
    require(AGENT.exists(), f"{AGENT} is missing: run `make build`")
    started = []

    def start(*args, all_events=False):
        directory = tmp_path / f"agent{len(started)}"
        directory.mkdir()
        running = RunningAgent(directory, args, all_events=all_events)
        started.append(running)
        return running

    yield start
    for running in started:
        if running.process.poll() is None:
            code, log = running.stop()
            assert code == 0, log
        invalid = running.invalid_lines()
        assert not invalid, f"{len(invalid)} invalid lines: " + "; ".join(invalid[:5])
