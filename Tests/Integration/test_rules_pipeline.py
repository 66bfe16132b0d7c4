"""The detection mode: rule matches written live, rate limits, reloads, and --all-events beside rules.

Each test starts its own agent with its own policy (the session's `agent` fixture writes every event)
and triggers real opens of files it creates, so the ground truth is the test's own pid and paths."""
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import AGENT, REPO, RunningAgent, require

CORPUS = REPO.parent / "shared" / "corpus" / "datadog-default.policy"


def write_policy(path, rules, version="1.0.0"):
    lines = [f"version: {version}", "rules:"]
    for rule in rules:
        lines.append(f"  - id: {rule['id']}")
        for key in ("version", "description", "every", "group_id"):
            if key in rule:
                lines.append(f"    {key}: '{rule[key]}'")
        if "silent" in rule:
            lines.append(f"    silent: {str(rule['silent']).lower()}")
        if "limiter_token" in rule:
            lines.append(f"    limiter_token: [{', '.join(rule['limiter_token'])}]")
        lines.append(f"    expression: '{rule['expression']}'")
    path.write_text("\n".join(lines) + "\n")
    return path


def touch_open(path, times=1):
    for _ in range(times):
        os.close(os.open(path, os.O_RDONLY))


def stats_line(log):
    lines = [line for line in log.splitlines() if "msg=stats " in line]
    assert lines, log
    return dict(re.findall(r"(\S+)=(\S+)", lines[-1]))


def matches_of(agent, rule_id):
    return [e for e in agent.events if e["agent"]["rule_id"] == rule_id]


def test_match_carries_rule_policy_and_event_context(start_agent, tmp_path):
    target = tmp_path / "watched.txt"
    target.write_text("x")
    policy = write_policy(tmp_path / "local.policy", [{
        "id": "local_watched_open", "version": "2.1.0", "description": "watched file opened",
        "expression": f'open.file.path == "{target}"'}], version="3.4.5")
    agent = start_agent("--policy", str(policy))
    touch_open(target)
    event = agent.find(lambda e: e["agent"]["rule_id"] == "local_watched_open")[0]
    assert event["agent"]["rule_version"] == "2.1.0"
    assert event["agent"]["policy_name"] == "local.policy"
    assert event["agent"]["policy_version"] == "3.4.5"
    assert event["title"] == "watched file opened"
    assert "matched_rules" not in event["evt"]
    assert event["process"]["pid"] == os.getpid()
    assert event["file"]["path"] == str(target)
    assert event["file"]["inode"] == os.stat(target).st_ino
    # Nothing else: only rule matches are written.
    time.sleep(0.5)
    assert {e["agent"]["rule_id"] for e in agent.events} == {"local_watched_open"}


def test_one_line_per_matching_rule_and_group_id(start_agent, tmp_path):
    target = tmp_path / "twice.txt"
    target.write_text("x")
    policy = write_policy(tmp_path / "two.policy", [
        {"id": "first_rule", "expression": f'open.file.path == "{target}"'},
        {"id": "second_rule", "group_id": "grouped", "expression": f'open.file.name == "twice.txt"'},
        {"id": "never_rule", "expression": 'open.file.path == "/nonexistent/never"'},
    ])
    agent = start_agent("--policy", str(policy))
    touch_open(target)
    agent.find(lambda e: e["agent"]["rule_id"] == "grouped")
    first = agent.find(lambda e: e["agent"]["rule_id"] == "first_rule")
    time.sleep(0.5)
    lines = [e for e in agent.events if e.get("file", {}).get("path") == str(target)]
    assert [e["agent"]["rule_id"] for e in lines] == ["first_rule", "grouped"]
    assert lines[0]["date"] == lines[1]["date"] == first[0]["date"]


def test_rules_tell_a_non_utf8_name_from_its_escaped_look_alike(start_agent, tmp_path):
    """A rule matches the text the agent writes: the byte 0xff is `\\xff`, the four characters
    `\\xff` are `\\x5cxff` (SECL keeps a backslash that escapes neither a quote nor a backslash).
    Live and offline (`policy evaluate` on the written lines) agree."""
    directory = os.fsencode(tmp_path)
    raw = os.path.join(directory, b"x\xff")
    literal = os.path.join(directory, b"x\\xff")
    for target in (raw, literal):
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT, 0o600))
    policy = write_policy(tmp_path / "bytes.policy", [
        {"id": "raw_byte_name", "expression": 'open.file.name == "x\\xff" && process.pid == ' + str(os.getpid())},
        {"id": "literal_name", "expression": 'open.file.name == "x\\x5cxff" && process.pid == ' + str(os.getpid())},
    ])
    agent = start_agent("--policy", str(policy))
    for target in (raw, literal):
        touch_open(target)
    agent.find(lambda e: e["agent"]["rule_id"] == "raw_byte_name")
    agent.find(lambda e: e["agent"]["rule_id"] == "literal_name")
    time.sleep(0.5)
    matched = {(e["agent"]["rule_id"], e["file"]["inode"]) for e in agent.events}
    assert matched == {("raw_byte_name", os.stat(raw).st_ino), ("literal_name", os.stat(literal).st_ino)}

    recorded = tmp_path / "matches.jsonl"
    recorded.write_text("".join(json.dumps(e) + "\n" for e in agent.events))
    result = subprocess.run([str(AGENT), "policy", "evaluate", "--policy", str(policy), str(recorded)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    offline = [json.loads(line)["matched"] for line in result.stdout.splitlines()]
    assert offline == [[e["agent"]["rule_id"]] for e in agent.events]


def test_all_events_beside_rules_writes_each_event_once(start_agent, tmp_path):
    target = tmp_path / "both.txt"
    target.write_text("x")
    policy = write_policy(tmp_path / "both.policy", [{"id": "both_rule", "expression": f'open.file.path == "{target}"'}])
    agent = start_agent("--policy", str(policy), all_events=True)
    touch_open(target)
    agent.find(lambda e: e["agent"]["rule_id"] == "both_rule")
    time.sleep(0.5)
    lines = [e for e in agent.events if e.get("file", {}).get("path") == str(target) and e["process"]["pid"] == os.getpid()]
    assert sorted(e["agent"]["rule_id"] for e in lines) == ["all_events", "both_rule"]
    assert lines[0]["date"] == lines[1]["date"]


def test_default_limiter_and_every_hold_back_a_flood(start_agent, tmp_path):
    target = tmp_path / "flood.txt"
    target.write_text("x")
    policy = write_policy(tmp_path / "flood.policy", [
        {"id": "flood_default", "expression": f'open.file.path == "{target}"'},
        {"id": "flood_every", "every": "30s", "expression": f'open.file.path == "{target}"'},
        {"id": "flood_silent", "silent": True, "expression": f'open.file.path == "{target}"'},
    ])
    agent = start_agent("--policy", str(policy))
    start = time.monotonic()
    touch_open(target, 10_000)
    elapsed = time.monotonic() - start
    time.sleep(1)
    code, log = agent.stop()
    assert code == 0, log
    stats = stats_line(log)
    assert stats["lost"] == "0", "the ring buffer lost events: counts below would not be exact"
    written = len(matches_of(agent, "flood_default"))
    # A burst of 40, then 10 per second (the opens took `elapsed` seconds).
    assert 40 <= written <= 40 + 10 * elapsed + 1, (written, elapsed)
    assert len(matches_of(agent, "flood_every")) == 1
    assert matches_of(agent, "flood_silent") == []
    assert int(stats["match_flood_default"]) == 10_000
    assert int(stats["held_back_flood_default"]) == 10_000 - written
    assert int(stats["held_back_flood_every"]) == 9_999
    assert int(stats["match_flood_silent"]) == 10_000
    assert "held_back_flood_silent" not in stats


def test_limiter_token_keeps_a_bucket_per_value(start_agent, tmp_path):
    targets = [tmp_path / f"token{i}.txt" for i in range(3)]
    for t in targets:
        t.write_text("x")
    policy = write_policy(tmp_path / "token.policy", [{
        "id": "token_rule", "every": "1h", "limiter_token": ["open.file.path"],
        "expression": f'open.file.name =~ "token*.txt" && open.file.path =~ "{tmp_path}/*"'}])
    agent = start_agent("--policy", str(policy))
    for t in targets:
        touch_open(t, 5)
    agent.find(lambda e: e["agent"]["rule_id"] == "token_rule", count=3)
    time.sleep(0.5)
    paths = sorted(e["file"]["path"] for e in matches_of(agent, "token_rule"))
    assert paths == sorted(str(t) for t in targets)


def test_sighup_reloads_and_a_broken_policy_keeps_the_running_rules(start_agent, tmp_path):
    target = tmp_path / "reload.txt"
    target.write_text("x")
    policy = tmp_path / "reload.policy"
    write_policy(policy, [{"id": "before_reload", "expression": f'open.file.path == "{target}"'}])
    agent = start_agent("--policy", str(policy))
    touch_open(target)
    agent.find(lambda e: e["agent"]["rule_id"] == "before_reload")

    write_policy(policy, [{"id": "after_reload", "expression": f'open.file.path == "{target}"'}], version="2.0.0")
    agent.process.send_signal(signal.SIGHUP)
    wait_for_log(agent, "policies reloaded", 1)
    touch_open(target)
    agent.find(lambda e: e["agent"]["rule_id"] == "after_reload")
    assert matches_of(agent, "after_reload")[0]["agent"]["policy_version"] == "2.0.0"
    before = len(matches_of(agent, "before_reload"))

    policy.write_text("rules:\n  - id: [broken\n")
    agent.process.send_signal(signal.SIGHUP)
    wait_for_log(agent, "policy reload failed", 1)
    touch_open(target)
    agent.find(lambda e: e["agent"]["rule_id"] == "after_reload", count=2)
    assert len(matches_of(agent, "before_reload")) == before

    # A hostile policy is refused by the same limits as at start-up, and the rules stay.
    from test_cli import alias_bomb
    policy.write_text(alias_bomb())
    agent.process.send_signal(signal.SIGHUP)
    wait_for_log(agent, "policy reload failed", 2)
    assert "aliases expand past" in agent.log()
    touch_open(target)
    agent.find(lambda e: e["agent"]["rule_id"] == "after_reload", count=3)
    assert agent.process.poll() is None


def test_signals_that_do_not_stop_the_agent(start_agent, tmp_path):
    target = tmp_path / "signals.txt"
    target.write_text("x")
    policy = write_policy(tmp_path / "signals.policy", [{"id": "signals_rule", "expression": f'open.file.path == "{target}"'}])
    agent = start_agent("--policy", str(policy))
    agent.process.send_signal(signal.SIGUSR1)
    wait_for_log(agent, "msg=stats ", 1)
    agent.process.send_signal(signal.SIGUSR2)
    wait_for_log(agent, "SIGUSR2 received and ignored", 1)
    touch_open(target)
    agent.find(lambda e: e["agent"]["rule_id"] == "signals_rule")
    assert agent.process.poll() is None


def test_datadog_default_policy_runs_live(start_agent, tmp_path):
    require(CORPUS.exists(), f"{CORPUS} is missing")
    agent = start_agent("--policy", str(CORPUS))
    log = agent.log()
    summary = [line for line in log.splitlines() if "policy loaded: name=datadog-default.policy" in line]
    assert summary and "error=0" in summary[0], log
    # Ten seconds of ordinary activity: processes, files, a shell.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        os.system("ls / > /dev/null; cat /etc/hostname > /dev/null; sh -c 'id > /dev/null'")
        time.sleep(0.2)
    assert agent.process.poll() is None
    code, log = agent.stop()
    assert code == 0, log
    stats = stats_line(log)
    assert int(stats["exec"]) > 0 and stats["decode_errors"] == "0"


def wait_for_log(agent, text, count, timeout=20):
    deadline = time.monotonic() + timeout
    while agent.log().count(text) < count:
        assert time.monotonic() < deadline, f"'{text}' not logged: {agent.log()[-2000:]}"
        assert agent.process.poll() is None, agent.log()
        time.sleep(0.05)


def write_raw_policy(path, text):
    path.write_text(text)
    return path


def test_kill_action_kills_the_matching_child(start_agent, tmp_path):
    import shutil
    import subprocess
    victim = tmp_path / "victim-sleep"
    shutil.copy("/bin/sleep", victim)
    policy = write_raw_policy(tmp_path / "kill.policy", f"""
version: 1.0.0
rules:
  - id: kill_victim
    expression: exec.file.path == "{victim}"
    actions:
      - kill:
          signal: SIGKILL
""")
    agent = start_agent("--policy", str(policy))
    child = subprocess.Popen([str(victim), "30"])
    try:
        code = child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
    assert code == -signal.SIGKILL
    event = agent.find(lambda e: e["agent"]["rule_id"] == "kill_victim")[0]
    assert event["process"]["pid"] == child.pid
    [report] = event["agent"]["rule_actions"]
    assert report["type"] == "kill" and report["signal"] == "SIGKILL" and report["status"] == "performed"
    assert report["signalled_pids"] == [child.pid]
    # The agent is never among its own kill targets, nor pid 1.
    assert agent.process.poll() is None


def test_hash_action_hashes_the_opened_file(start_agent, tmp_path):
    import hashlib
    target = tmp_path / "hashed.bin"
    content = os.urandom(100_000)
    target.write_bytes(content)
    policy = write_raw_policy(tmp_path / "hash.policy", f"""
version: 1.0.0
rules:
  - id: hash_open
    expression: open.file.path == "{target}"
    actions:
      - hash: {{}}
""")
    agent = start_agent("--policy", str(policy))
    touch_open(target)
    event = agent.find(lambda e: e["agent"]["rule_id"] == "hash_open")[0]
    assert event["file"]["hash_state"] == "Done"
    assert sorted(event["file"]["hashes"]) == sorted([
        "sha1:" + hashlib.sha1(content).hexdigest(), "sha256:" + hashlib.sha256(content).hexdigest()])
    [report] = event["agent"]["rule_actions"]
    assert report == {"type": "hash", "path": str(target), "state": "Done"}
    # The second open of the unchanged file is answered from the cache, with the same digests.
    touch_open(target)
    second = agent.find(lambda e: e["agent"]["rule_id"] == "hash_open", count=2)[1]
    assert second["file"]["hashes"] == event["file"]["hashes"]


def test_hash_action_reports_a_file_too_big(start_agent, tmp_path):
    target = tmp_path / "big.bin"
    with open(target, "wb") as handle:
        handle.truncate(6 << 20)  # over the 5 MiB default
    policy = write_raw_policy(tmp_path / "bighash.policy", f"""
version: 1.0.0
rules:
  - id: hash_big
    expression: open.file.path == "{target}"
    actions:
      - hash: {{}}
""")
    agent = start_agent("--policy", str(policy))
    touch_open(target)
    event = agent.find(lambda e: e["agent"]["rule_id"] == "hash_big")[0]
    assert event["file"]["hash_state"] == "FileTooBig"
    assert "hashes" not in event["file"]


def test_set_action_then_a_rule_reading_the_variable(start_agent, tmp_path):
    import subprocess
    import sys
    marker = tmp_path / "marker.txt"
    secret = tmp_path / "secret.txt"
    for f in (marker, secret):
        f.write_text("x")
    policy = write_raw_policy(tmp_path / "vars.policy", f"""
version: 1.0.0
rules:
  - id: mark_process
    expression: open.file.path == "{marker}"
    actions:
      - set:
          name: marked
          value: true
          scope: process
          inherited: true
      - set:
          name: markers
          field: process.comm
          append: true
  - id: marked_reads_secret
    expression: open.file.path == "{secret}" && ${{process.marked}}
  - id: global_markers
    expression: open.file.path == "{secret}" && "python3" in ${{markers}}
""")
    agent = start_agent("--policy", str(policy))
    # A process that never opened the marker: nothing fires.
    subprocess.run([sys.executable, "-c", f"open({str(secret)!r}).close()"], check=True)
    # A process that opens the marker, then the secret; its child, which inherits the variable, too.
    script = tmp_path / "marked.py"
    script.write_text(
        "import os, subprocess, sys\n"
        f"open({str(marker)!r}).close()\n"
        f"open({str(secret)!r}).close()\n"
        f"subprocess.run([sys.executable, '-c', {'open(%r).close()' % str(secret)!r}], check=True)\n"
        "print(os.getpid())\n")
    marked = subprocess.run([sys.executable, str(script)], check=True, capture_output=True, text=True)
    marked_pid = int(marked.stdout.strip())
    matches = agent.find(lambda e: e["agent"]["rule_id"] == "marked_reads_secret", count=2)
    time.sleep(0.5)
    pids = [e["process"]["pid"] for e in matches_of(agent, "marked_reads_secret")]
    assert pids[0] == marked_pid and len(pids) == 2 and pids[1] != marked_pid, pids
    assert matches_of(agent, "marked_reads_secret")[1]["process"]["ppid"] == marked_pid
    assert matches_of(agent, "mark_process")[0]["process"]["pid"] == marked_pid
    globals_ = matches_of(agent, "global_markers")
    assert globals_ and globals_[0]["process"]["pid"] == marked_pid


def test_sigterm_under_an_open_loop_drains_and_exits_0(tmp_path):
    """SIGTERM while two open loops keep the ring buffer busy: the agent stops its probes, drains
    what is left (bounded), writes its final stats and exits 0. Every event is written (to
    /dev/null: at this rate a file would take gigabytes), so the ring buffer fills as it would on a
    busy host. The time is printed, never asserted (bench/ holds timings)."""
    import subprocess
    import sys
    require(os.geteuid() == 0, "integration tests need root (they load BPF programs)")
    require(AGENT.exists(), f"{AGENT} is missing: run `make build`")
    log_path = tmp_path / "agent.log"
    with open(log_path, "wb") as log:
        agent = subprocess.Popen([str(AGENT), "--all-events"], stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.monotonic() + 60
    while "ready" not in log_path.read_text(errors="replace"):
        assert agent.poll() is None and time.monotonic() < deadline, log_path.read_text(errors="replace")
        time.sleep(0.1)
    target = tmp_path / "loop.txt"
    target.write_text("x")
    loop = f"import os\nwhile True:\n    os.close(os.open({str(target)!r}, os.O_RDONLY))\n"
    loops = [subprocess.Popen([sys.executable, "-c", loop]) for _ in range(2)]
    try:
        time.sleep(3)
        started = time.monotonic()
        agent.send_signal(signal.SIGTERM)
        code = agent.wait(timeout=30)
        elapsed = time.monotonic() - started
    finally:
        for process in loops:
            process.kill()
            process.wait()
    log = log_path.read_text(errors="replace")
    print(f"stop under an open loop took {elapsed:.2f} s")
    assert code == 0, log
    stats = stats_line(log)
    assert "unread_at_stop" in stats, log
    # Whatever was read was written: the stop loses nothing silently.
    assert int(stats["written"]) == int(stats["received"]) > 0, log
    assert int(stats["open"]) > 0
