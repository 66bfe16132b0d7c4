"""exec, fork and exit events against ground truth the test creates itself."""
import os
import shutil
import signal
import time

import pytest


def rfc3339_ns(text):
    """Nanoseconds since the epoch of `2026-11-24T19:06:38.123456789Z`."""
    import calendar
    seconds, fraction = text.rstrip("Z").split(".")
    whole = calendar.timegm(time.strptime(seconds, "%Y-%m-%dT%H:%M:%S"))
    return whole * 1_000_000_000 + int(fraction.ljust(9, "0"))


def pid_is(pid, name):
    return lambda event: event["evt"]["name"] == name and event.get("process", {}).get("pid") == pid


def test_exec_of_copied_binary_with_arguments(agent, tmp_path):
    binary = tmp_path / "csm-test-sleeper"
    shutil.copy("/bin/sleep", binary)
    child = os.fork()
    if child == 0:
        try:
            os.execv(str(binary), [str(binary), "0.2", "--", "two words"])
        finally:
            os._exit(127)
    os.waitpid(child, 0)

    event = agent.find(pid_is(child, "exec"))[0]
    process = event["process"]
    assert process["executable"]["path"] == str(binary)
    assert process["executable"]["name"] == binary.name
    assert process["executable"]["inode"] == os.stat(binary).st_ino
    assert process["executable"]["mode"] == os.stat(binary).st_mode
    stat = os.stat(binary)
    assert rfc3339_ns(process["executable"]["change_time"]) == stat.st_ctime_ns
    assert rfc3339_ns(process["executable"]["modification_time"]) == stat.st_mtime_ns
    assert process["argv0"] == str(binary)
    assert process["args"] == ["0.2", "--", "two words"]
    assert process["ppid"] == os.getpid()
    assert process["parent"]["pid"] == os.getpid()
    assert os.getpid() in [ancestor["pid"] for ancestor in process["ancestors"]]
    assert process["credentials"]["uid"] == os.getuid()
    assert event["syscall"]["exec"]["path"] == str(binary)
    assert event["evt"]["outcome"] == "Success"


def test_fork_reports_the_child(agent):
    child = os.fork()
    if child == 0:
        time.sleep(0.05)
        os._exit(0)
    os.waitpid(child, 0)
    event = agent.find(pid_is(child, "fork"))[0]
    assert event["process"]["ppid"] == os.getpid()
    assert event["process"]["parent"]["pid"] == os.getpid()


@pytest.mark.parametrize("code", [0, 7])
def test_exit_codes(agent, code):
    child = os.fork()
    if child == 0:
        os._exit(code)
    _, status = os.waitpid(child, 0)
    assert os.WEXITSTATUS(status) == code
    event = agent.find(pid_is(child, "exit"))[0]
    assert event["exit"] == {"cause": "EXITED", "code": code}


def test_exit_by_signal(agent):
    child = os.fork()
    if child == 0:
        os.kill(os.getpid(), signal.SIGKILL)
        os._exit(1)
    os.waitpid(child, 0)
    event = agent.find(pid_is(child, "exit"))[0]
    assert event["exit"] == {"cause": "SIGNALED", "code": signal.SIGKILL}


def test_exit_of_multithreaded_process_is_reported_once(agent, tmp_path):
    script = "import threading,time,os\n" \
             "ts=[threading.Thread(target=time.sleep,args=(0.2,)) for _ in range(3)]\n" \
             "[t.start() for t in ts]\nos._exit(3)\n"
    import subprocess
    process = subprocess.Popen(["python3", "-c", script])
    process.wait()
    events = agent.find(pid_is(process.pid, "exit"))
    time.sleep(0.3)
    events = [e for e in agent.events if pid_is(process.pid, "exit")(e)]
    assert len(events) == 1
    assert events[0]["exit"] == {"cause": "EXITED", "code": 3}
