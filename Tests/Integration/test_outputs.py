"""Outputs: several at once (stdout, file:PATH), size-based rotation of a file output, reopen on
SIGHUP and SIGUSR1 after logrotate moved the file, the compact format, and a blocked output that
must not stall the kernel drain (bounded queue, counted drops, recovery).

The events are the test's own opens of files it creates (ground truth: its pid and paths); every
JSON line any output wrote is validated against the schema copy."""
import json
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import AGENT, RunningAgent, require, schema_validator

# Rules without `every` are limited to 10 lines a second by default: these tests count every match.
UNLIMITED = ("--rate-limit", "1000000", "--rate-limit-burst", "1000000")


def write_policy(path, rule_id, expression):
    path.write_text(f"version: 1.0.0\nrules:\n  - id: {rule_id}\n    expression: '{expression}'\n")
    return path


def stats_line(log):
    lines = [line for line in log.splitlines() if "msg=stats " in line]
    assert lines, log
    return dict(re.findall(r"(\S+)=(\S+)", lines[-1]))


def json_lines(path):
    """The lines of an output file, each parsed (a cut or merged line fails here) and schema-checked."""
    data = path.read_bytes()
    assert data == b"" or data.endswith(b"\n"), f"{path} ends inside a line"
    validator = schema_validator()
    events = []
    for number, line in enumerate(data.splitlines(), 1):
        event = json.loads(line)
        errors = list(validator.iter_errors(event))
        assert not errors, f"{path} line {number}: {errors[0].message[:300]}"
        events.append(event)
    return events


def wait_until(condition, what, timeout=20):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def opened_paths(events, rule_id):
    return [e["file"]["path"] for e in events if e["agent"]["rule_id"] == rule_id]


def test_file_rotates_at_the_size_keeps_n_files_and_never_splits_a_line(start_agent, tmp_path):
    watched = tmp_path / "watched"
    watched.mkdir()
    targets = [watched / f"f{index:04d}" for index in range(400)]
    for target in targets:
        target.write_text("x")
    policy = write_policy(tmp_path / "rotate.policy", "rotate_rule", f'open.file.path =~ "{watched}/*"')
    out = tmp_path / "events.jsonl"
    max_size = 40_000
    agent = start_agent("--policy", str(policy), *UNLIMITED, "--output", "stdout", "--output", f"file:{out}",
                        "--output-max-size", str(max_size), "--output-max-files", "2")
    for target in targets:
        os.close(os.open(target, os.O_RDONLY))
    agent.find(lambda e: e["agent"]["rule_id"] == "rotate_rule", count=len(targets), timeout=20)
    code, log = agent.stop()
    assert code == 0, log
    stats = stats_line(log)
    assert stats["lost"] == "0", "the ring buffer lost events: the counts below would not be exact"
    assert int(stats["match_rotate_rule"]) == len(targets)

    # stdout, the other output, has every line: the ground truth of what the file output was given.
    everything = opened_paths(agent.events, "rotate_rule")
    assert everything == [str(t) for t in targets]
    assert int(stats[f"output_written_file:{out}"]) == len(agent.events)
    assert stats[f"output_dropped_file:{out}"] == "0" and stats[f"output_failed_file:{out}"] == "0"

    # Exactly PATH, PATH.1 and PATH.2 are kept, each at most the maximum size, each of whole lines.
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("events.jsonl")) == \
        ["events.jsonl", "events.jsonl.1", "events.jsonl.2"]
    kept = []
    for path in (tmp_path / "events.jsonl.2", tmp_path / "events.jsonl.1", out):
        assert path.stat().st_size <= max_size, (path, path.stat().st_size)
        events = json_lines(path)
        assert events, f"{path} is empty"
        kept += events
    # A rotated file was full: the next line would have taken it past the size.
    longest = max(len(json.dumps(e)) for e in kept)
    assert (tmp_path / "events.jsonl.1").stat().st_size > max_size - 2 * longest
    # The kept files hold the last events, in order, each exactly once, byte-equal to stdout's lines.
    stdout_lines = agent.stdout_path.read_bytes().splitlines()
    file_lines = b"".join(p.read_bytes() for p in (tmp_path / "events.jsonl.2", tmp_path / "events.jsonl.1", out)).splitlines()
    assert file_lines == stdout_lines[-len(file_lines):]
    assert opened_paths(kept, "rotate_rule") == everything[-len(opened_paths(kept, "rotate_rule")):]
    assert len(file_lines) < len(stdout_lines), "nothing was rotated away"


def test_reopen_after_the_file_is_moved_away(start_agent, tmp_path):
    watched = tmp_path / "watched"
    watched.mkdir()
    policy = write_policy(tmp_path / "reopen.policy", "reopen_rule", f'open.file.path =~ "{watched}/*"')
    out = tmp_path / "events.jsonl"
    agent = start_agent("--policy", str(policy), *UNLIMITED, "--output", f"file:{out}", "--output-max-size", "0")

    def touch(prefix, count):
        names = [watched / f"{prefix}{index}" for index in range(count)]
        for name in names:
            name.write_text("x")
            os.close(os.open(name, os.O_RDONLY))
        return [str(n) for n in names]

    def paths_in(path):
        # Each file is opened twice (created, then read): its paths once each, in order.
        if not path.exists():
            return []
        return list(dict.fromkeys(e["file"]["path"] for e in json_lines(path) if e["agent"]["rule_id"] == "reopen_rule"))

    def opened(path, names):
        return lambda: set(names) <= set(paths_in(path))

    first = touch("before", 10)
    wait_until(opened(out, first), "the first events in the file")
    # logrotate without copytruncate: the file is renamed, the agent keeps writing to it until told.
    moved = tmp_path / "events.jsonl.moved"
    out.rename(moved)
    still_old = touch("moved", 5)
    wait_until(opened(moved, still_old), "the events written to the moved file")
    assert not out.exists()
    agent.process.send_signal(signal.SIGHUP)
    wait_until(out.exists, "the file created again after SIGHUP")
    after = touch("after", 5)
    wait_until(opened(out, after), "the events after SIGHUP in the new file")
    assert paths_in(moved) == first + still_old
    assert paths_in(out) == after

    # SIGUSR1 does the same, and writes a stats line.
    moved2 = tmp_path / "events.jsonl.moved2"
    out.rename(moved2)
    agent.process.send_signal(signal.SIGUSR1)
    wait_until(out.exists, "the file created again after SIGUSR1")
    last = touch("last", 3)
    wait_until(opened(out, last), "the events after SIGUSR1 in the new file")
    assert paths_in(moved2) == after
    assert paths_in(out) == last
    assert "msg=stats " in agent.log()
    assert oct(out.stat().st_mode & 0o777) == oct(0o640)
    code, log = agent.stop()
    assert code == 0, log
    assert int(stats_line(log)[f"output_written_file:{out}"]) == 2 * len(first + still_old + after + last)
    assert agent.events == [], "stdout was not an output"


def test_compact_format_is_one_short_line_per_event(start_agent, tmp_path):
    target = tmp_path / "compact target.txt"
    target.write_text("x")
    policy = write_policy(tmp_path / "compact.policy", "compact_rule", f'open.file.path == "{target}"')
    out = tmp_path / "events.txt"
    agent = start_agent("--policy", str(policy), "--format", "compact", "--output", f"file:{out}")
    for _ in range(3):
        os.close(os.open(target, os.O_RDONLY))
    comm = Path("/proc/self/comm").read_text().strip()

    def ours():
        if not out.exists():
            return []
        return [line for line in out.read_text().splitlines() if line.endswith(str(target))]

    wait_until(lambda: len(ours()) >= 3, "three compact lines")
    code, log = agent.stop()
    assert code == 0, log
    lines = ours()
    assert len(lines) == 3, lines
    for line in lines:
        time_text, rule_id, event_type, process, path = line.split(" ", 4)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", time_text), line
        assert abs(time.mktime(time.strptime(time_text[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone - time.time()) < 120
        assert (rule_id, event_type, process, path) == ("compact_rule", "open", f"{comm}[{os.getpid()}]", str(target))
        assert len(line) < 200


def test_a_blocked_pipe_does_not_stall_the_drain(tmp_path):
    require(os.geteuid() == 0, "integration tests need root (they load BPF programs)")
    require(AGENT.exists(), f"{AGENT} is missing: run `make build`")
    watched = tmp_path / "watched"
    watched.mkdir()
    flood, after = watched / "flood.txt", watched / "after.txt"
    flood.write_text("x")
    after.write_text("x")
    policy = write_policy(tmp_path / "pipe.policy", "pipe_rule", f'open.file.path =~ "{watched}/*"')
    log_path = tmp_path / "agent.log"
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen([str(AGENT), "--policy", str(policy), *UNLIMITED], stdout=subprocess.PIPE, stderr=log_file)
    received = bytearray()
    reading = threading.Event()
    reading.set()

    def reader():
        while True:
            reading.wait()
            chunk = os.read(process.stdout.fileno(), 1 << 16)
            if not chunk:
                return
            received.extend(chunk)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    try:
        wait_until(lambda: "ready" in log_path.read_text(errors="replace"), "the agent's ready line", timeout=60)
        reading.clear()
        paused = time.monotonic()
        for _ in range(100_000):
            os.close(os.open(flood, os.O_RDONLY))
        # While the reader is stopped the agent keeps draining: every match is counted, drops warned about.
        process.send_signal(signal.SIGUSR1)
        wait_until(lambda: "msg=stats " in log_path.read_text(errors="replace"), "a stats line")
        while time.monotonic() - paused < 20:
            assert process.poll() is None, log_path.read_text(errors="replace")
            time.sleep(0.5)
        log = log_path.read_text(errors="replace")
        assert "output stdout: queue full" in log, log[-3000:]
        during = stats_line(log)
        assert int(during["output_dropped_stdout"]) > 0, during

        reading.set()
        os.close(os.open(after, os.O_RDONLY))
        wait_until(lambda: str(after).encode() in bytes(received), "a line written after the reader came back")
    finally:
        reading.set()
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
    thread.join(timeout=30)
    log = log_path.read_text(errors="replace")
    assert code == 0, log
    stats = stats_line(log)
    assert stats["lost"] == "0", "the ring buffer overflowed: the drain stalled"
    assert int(stats["match_pipe_rule"]) == 100_001
    written, dropped = int(stats["output_written_stdout"]), int(stats["output_dropped_stdout"])
    assert written + dropped == int(stats["written"]) == 100_001
    assert stats["output_failed_stdout"] == "0"
    # What the pipe carried: exactly the lines counted as written, each one whole.
    assert received.endswith(b"\n")
    lines = bytes(received).splitlines()
    assert len(lines) == written
    validator = schema_validator()
    seen = {}
    for line in lines:
        event = json.loads(line)
        path = event["file"]["path"]
        errors = list(validator.iter_errors(event))
        assert not errors, errors[0].message[:300]
        seen[path] = seen.get(path, 0) + 1
    assert seen[str(after)] == 1


def test_bad_output_flags_are_one_line_errors():
    require(AGENT.exists(), f"{AGENT} is missing: run `make build`")
    for args, message in [(["--output", "syslog"], "invalid --output 'syslog'"), (["--output", "file:"], "invalid --output"),
                          (["--format", "yaml"], "unknown format 'yaml'"), (["--output-max-size", "-1"], "--output-max-size"),
                          (["--output", "stdout", "--output", "stdout"], "given twice")]:
        result = subprocess.run([str(AGENT), *args], capture_output=True, text=True, timeout=30)
        assert result.returncode != 0, args
        assert message in result.stderr, (args, result.stderr)
        assert result.stdout == ""
