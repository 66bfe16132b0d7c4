"""Prometheus metrics: `--metrics-listen` serves /metrics on loopback (another address is refused
unless asked), `--metrics-textfile` writes the same text for node_exporter's textfile collector, and
the counters move with a real workload consistently with the stats line.

Ground truth: the number of opens the test makes of a file that one rule watches."""
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

from conftest import AGENT, RunningAgent, require
from test_rules_pipeline import matches_of, write_policy

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$')


def parse(text):
    """{(name, labels-text): value} of a Prometheus text exposition; every non-comment line must parse."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        assert match, f"not a Prometheus sample line: {line!r}"
        samples[(match.group(1), match.group(2) or "")] = float(match.group(3))
    return samples


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return parse(response.read().decode())


def test_counters_follow_a_workload_and_agree_with_the_stats_line(tmp_path):
    require(os.geteuid() == 0, "integration tests need root (they load BPF programs)")
    require(AGENT.exists(), f"{AGENT} is missing: run `make build`")
    watched = tmp_path / "watched.txt"
    watched.write_text("x")
    policy = write_policy(tmp_path / "metrics.policy", [{"id": "metrics_watched_open", "expression": f'open.file.path == "{watched}"'}])
    port = free_port()
    textfile = tmp_path / "csm-agent.prom"
    agent = RunningAgent(tmp_path, ["--policy", str(policy), "--metrics-listen", f"127.0.0.1:{port}",
                                    "--metrics-textfile", str(textfile)], all_events=False)
    try:
        first = scrape(port)
        assert first[("csm_agent_policy_rules", '{policy="metrics.policy",status="loaded"}')] == 1
        assert first[("csm_agent_event_type_available", '{type="open"}')] == 1
        assert first[("csm_agent_probes_attached", "")] > 0
        assert first[("csm_agent_resident_memory_bytes", "")] > 0
        assert ("csm_agent_ring_buffer_fill_bytes", "") in first
        assert textfile.exists() and ("csm_agent_probes_attached", "") in parse(textfile.read_text())

        opens = 300
        for _ in range(opens):
            os.close(os.open(watched, os.O_RDONLY))
        time.sleep(2.5)  # the loop publishes every second
        during = scrape(port)
        assert during[("csm_agent_events_received_total", "")] > first.get(("csm_agent_events_received_total", ""), 0)
        assert during[("csm_agent_events_total", '{type="open"}')] >= opens
        matches = during[("csm_agent_rule_matches_total", '{rule="metrics_watched_open"}')]
        held_back = during[("csm_agent_rule_held_back_total", '{rule="metrics_watched_open"}')]
        assert matches == opens, (matches, opens)
        written = len(matches_of(agent, "metrics_watched_open"))
        assert written + held_back == opens, (written, held_back)

        agent.process.send_signal(signal.SIGUSR1)
        deadline = time.time() + 10
        while "match_metrics_watched_open=" not in agent.log() and time.time() < deadline:
            time.sleep(0.1)
        stats = [line for line in agent.log().splitlines() if "msg=stats " in line][-1]
        assert f"match_metrics_watched_open={opens}" in stats and f"held_back_metrics_watched_open={int(held_back)}" in stats, stats
        received_in_line = int(re.search(r" received=(\d+)", stats).group(1))
        after = scrape(port)
        assert during[("csm_agent_events_received_total", "")] <= received_in_line + 1
        assert after[("csm_agent_events_received_total", "")] >= during[("csm_agent_events_received_total", "")]
        assert after[("csm_agent_decode_errors_total", "")] == 0

        for path in ("/", "/other"):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10)
                raise AssertionError(f"{path} answered 200")
            except urllib.error.HTTPError as error:
                assert error.code == 404
    finally:
        code, log = agent.stop()
    assert code == 0, log
    final = parse(textfile.read_text())
    assert final[("csm_agent_rule_matches_total", '{rule="metrics_watched_open"}')] == opens
    assert not agent.invalid_lines()


def test_non_loopback_and_busy_ports_are_one_line_errors():
    require(os.geteuid() == 0, "integration tests need root (they load BPF programs)")
    require(AGENT.exists(), "agent not built")
    for address in ("0.0.0.0:9477", "[::]:9477", "10.1.2.3:9477", "127.0.0.1:0", "127.0.0.1", "nohost:1"):
        result = subprocess.run([str(AGENT), "--metrics-listen", address], capture_output=True, text=True, timeout=30)
        assert result.returncode == 64, (address, result)
        assert result.stderr.count("\n") == 1 and "--metrics-listen" in result.stderr, result.stderr
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = subprocess.run([str(AGENT), "--metrics-listen", f"127.0.0.1:{port}"], capture_output=True, text=True, timeout=60)
        assert result.returncode == 1, result
        assert f"cannot listen on 127.0.0.1:{port}" in result.stderr and "msg=ready" not in result.stderr, result.stderr
