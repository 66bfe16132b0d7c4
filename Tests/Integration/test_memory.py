"""The process cache follows the processes: 500 live children show in the stats line's `processes=`,
and once they have exited their entries are gone (the RSS figures are bench/memory.sh's, by hand)."""
import os
import re
import signal
import subprocess
import time

from conftest import AGENT, RunningAgent, require

CHILDREN = 500


def _cache_entries(agent):
    before = agent.log().count("msg=stats ")
    agent.process.send_signal(signal.SIGUSR1)
    deadline = time.time() + 10
    while agent.log().count("msg=stats ") == before and time.time() < deadline:
        time.sleep(0.05)
    line = [l for l in agent.log().splitlines() if "msg=stats " in l][-1]
    return int(re.search(r" processes=(\d+)", line).group(1))


def test_exited_processes_leave_the_cache(tmp_path):
    require(os.geteuid() == 0, "integration tests need root (they load BPF programs)")
    require(AGENT.exists(), f"{AGENT} is missing: run `make build`")
    agent = RunningAgent(tmp_path, all_events=False)
    try:
        children = [subprocess.Popen(["sleep", "60"]) for _ in range(CHILDREN)]
        try:
            time.sleep(1)
            live = _cache_entries(agent)
            system_now = len([p for p in os.listdir("/proc") if p.isdigit()])
            assert live >= CHILDREN, (live, system_now)
        finally:
            for child in children:
                child.kill()
            for child in children:
                child.wait()
        time.sleep(2)
        after = _cache_entries(agent)
        system_after = len([p for p in os.listdir("/proc") if p.isdigit()])
        assert after <= system_after + 50 and after < live - CHILDREN // 2, (live, after, system_after)
    finally:
        code, log = agent.stop()
    assert code == 0, log
    assert not agent.invalid_lines()
