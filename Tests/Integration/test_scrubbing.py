"""Scrubbing: secrets in command lines and environments never reach a written line, while rules still
evaluate the real values.

The ground truth is the test's own secret: a random value passed in an argument and in environment
variables of a real process tree (`sh -c` running `true` twice, so that the secret is in the child's
args, its parent's and its ancestors'). Every byte written is searched for it."""
import os
import secrets
import shutil
import subprocess

import pytest

from conftest import AGENT, RunningAgent, require
from test_rules_pipeline import matches_of, write_policy


@pytest.fixture
def secret_run(tmp_path):
    require(os.geteuid() == 0, "integration tests need root (they load BPF programs)")
    require(AGENT.exists(), f"{AGENT} is missing: run `make build`")
    secret = "hunter2" + secrets.token_hex(8)
    history = f"/tmp/history-{secrets.token_hex(6)}"
    true_path = os.path.realpath(shutil.which("true"))
    started = []

    def start(args=(), all_events=False):
        directory = tmp_path / f"agent{len(started)}"
        directory.mkdir()
        agent = RunningAgent(directory, args, all_events=all_events)
        started.append(agent)
        return agent

    def trigger():
        """`true --password=SECRET` run twice by a shell whose own command line holds the secret, with
        the secret in two environment variables and an allowlisted variable holding a marker."""
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "MYSQL_PWD": secret, "GITHUB_TOKEN": secret,
               "HISTFILE": history}
        command = f"{true_path} --password={secret} -x; {true_path} --password {secret}"
        subprocess.run(["/bin/sh", "-c", command], env=env, check=True)

    yield start, trigger, secret, history, true_path
    for agent in started:
        if agent.process.poll() is None:
            code, log = agent.stop()
            assert code == 0, log
        invalid = agent.invalid_lines()
        assert not invalid, f"{len(invalid)} invalid lines: " + "; ".join(invalid[:5])


def _written_bytes(agent):
    return agent.stdout_path.read_bytes()


def test_rules_see_secrets_that_no_line_carries(secret_run, tmp_path):
    start, trigger, secret, history, true_path = secret_run
    policy = write_policy(tmp_path / "secrets.policy", [
        {"id": "secret_in_args", "expression": f'exec.file.path == "{true_path}" && process.args =~ "*{secret}*"'},
        {"id": "secret_in_env", "expression": f'exec.file.path == "{true_path}" && process.envp == "MYSQL_PWD={secret}"'},
    ])
    agent = start(["--policy", str(policy)])
    trigger()
    by_args = agent.find(lambda e: e["agent"]["rule_id"] == "secret_in_args", count=2)
    agent.find(lambda e: e["agent"]["rule_id"] == "secret_in_env", count=2)
    code, log = agent.stop()
    assert code == 0, log

    data = _written_bytes(agent)
    assert secret.encode() not in data, "a secret reached the output"
    assert secret not in log, "a secret reached the log"

    for event in by_args:
        process = event["process"]
        assert process["executable"]["path"] == true_path
        assert process["argv0"] == "true" or process["argv0"].endswith("/true")
        # Both argument forms: the value inside the argument and the value as the next argument.
        assert process["args"] in (["--password=********", "-x"], ["--password", "********"]), process["args"]
        # Names only, but for the allowlisted variable, whose value rules need.
        envs = process["envs"]
        assert "MYSQL_PWD" in envs and "GITHUB_TOKEN" in envs, envs
        assert f"HISTFILE={history}" in envs, envs
        assert not [e for e in envs if "=" in e and not e.startswith(("HISTFILE=", "PATH="))], envs
        # The parent shell's command line holds the secret after a space inside one argument.
        parent = process["parent"]
        assert parent["executable"]["path"] == os.path.realpath("/bin/sh")
        assert parent["args"][0] == "-c"
        assert "--password=********" in parent["args"][1], parent["args"]
        assert "ancestors" in process and process["ancestors"][0]["pid"] == parent["pid"]
    assert len(matches_of(agent, "secret_in_env")) == 2


def test_no_scrub_writes_the_values(secret_run, tmp_path):
    start, trigger, secret, history, true_path = secret_run
    policy = write_policy(tmp_path / "secrets.policy", [
        {"id": "secret_in_env", "expression": f'exec.file.path == "{true_path}" && process.envp == "MYSQL_PWD={secret}"'},
    ])
    agent = start(["--policy", str(policy), "--no-scrub"])
    trigger()
    found = agent.find(lambda e: e["agent"]["rule_id"] == "secret_in_env", count=2)
    code, log = agent.stop()
    assert code == 0, log
    assert "scrubbing off" in log
    assert f"MYSQL_PWD={secret}" in found[0]["process"]["envs"]
    assert any(secret in arg for arg in found[0]["process"]["args"])


def test_all_events_are_scrubbed_too(secret_run):
    start, trigger, secret, history, true_path = secret_run
    agent = start(all_events=True)
    trigger()
    execs = agent.find(lambda e: e["evt"]["name"] == "exec" and e["process"]["executable"]["path"] == true_path
                       and "MYSQL_PWD" in e["process"].get("envs", []), count=2)
    code, log = agent.stop()
    assert code == 0, log
    assert secret.encode() not in _written_bytes(agent), "a secret reached the output"
    assert all("********" in " ".join(e["process"]["args"]) for e in execs)


def test_scrub_word_and_env_with_value_flags(secret_run, tmp_path):
    start, trigger, secret, history, true_path = secret_run
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "MYSQL_PWD": secret}
    policy = write_policy(tmp_path / "flags.policy", [
        {"id": "flagged", "expression": f'exec.file.path == "{true_path}" && process.args =~ "*vault*"'},
    ])
    agent = start(["--policy", str(policy), "--scrub-word", "*vault_key*", "--env-with-value", "MYSQL_PWD"])
    subprocess.run([true_path, f"--my-vault_key={secret}"], env=env, check=True)
    found = agent.find(lambda e: e["agent"]["rule_id"] == "flagged")
    code, log = agent.stop()
    assert code == 0, log
    assert found[0]["process"]["args"] == ["--my-vault_key=********"]
    # The variable is allowlisted by the flag: its value is written (the operator asked for it).
    assert f"MYSQL_PWD={secret}" in found[0]["process"]["envs"]


def test_a_bad_scrub_word_is_a_one_line_error():
    require(AGENT.exists(), f"{AGENT} is missing: run `make build`")
    result = subprocess.run([str(AGENT), "--scrub-word", "pass word"], capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert "--scrub-word" in result.stderr
