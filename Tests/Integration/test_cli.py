"""Command-line failures: one clear line on stderr and a non-zero exit."""
import os
import subprocess

from conftest import AGENT, REPO, require


def run(args, **kwargs):
    return subprocess.run([str(AGENT), *args], capture_output=True, text=True, timeout=60, **kwargs)


def test_unknown_flag():
    require(AGENT.exists(), "agent not built")
    result = run(["--no-such-flag"])
    assert result.returncode != 0
    assert "no-such-flag" in result.stderr


def test_bad_log_level():
    require(AGENT.exists(), "agent not built")
    result = run(["--log-level", "loud"])
    assert result.returncode != 0
    assert "log level" in result.stderr


def test_not_root_is_a_clear_error():
    require(AGENT.exists(), "agent not built")
    require(os.geteuid() == 0, "needs root to drop privileges")
    result = run(["--all-events"], preexec_fn=lambda: os.setuid(65534))
    assert result.returncode != 0
    assert "must run as root" in result.stderr
    assert result.stdout == ""


def test_missing_bpf_object_is_a_clear_error(tmp_path):
    require(AGENT.exists(), "agent not built")
    require(os.geteuid() == 0, "needs root")
    result = run(["--all-events", "--bpf-object", str(tmp_path / "missing.o")])
    assert result.returncode != 0
    assert "cannot open BPF object" in result.stderr


def test_verifier_refusal_shows_log_tail(tmp_path):
    require(AGENT.exists(), "agent not built")
    require(os.geteuid() == 0, "needs root")
    source = tmp_path / "bad.bpf.c"
    # The agent's own maps and globals, plus a program that reads a wild pointer.
    source.write_text(
        '#include "vmlinux.h"\n#include <bpf/bpf_helpers.h>\n'
        '#include "events.h"\n#include "maps.h"\n#include "lib/output.h"\n'
        'SEC("tracepoint/syscalls/sys_enter_getpid")\n'
        'int bad(void *ctx) { char *p = (char *)0x1000; return *p + agent_tgid + wakeup_threshold_bytes; }\n'
        'char LICENSE[] SEC("license") = "GPL";\n')
    obj = tmp_path / "bad.bpf.o"
    subprocess.run(["clang", "-O2", "-g", "-target", "bpf", f"-I{REPO}/.build/bpf", f"-I{REPO}/bpf",
                    f"-I{REPO}/bpf/include", "-c", str(source), "-o", str(obj)], check=True)
    result = run(["--all-events", "--bpf-object", str(obj)])
    assert result.returncode != 0
    assert "refused" in result.stderr
    assert "invalid mem access" in result.stderr or "R1" in result.stderr


def test_unreadable_policy_is_a_clear_error(tmp_path):
    require(AGENT.exists(), "agent not built")
    require(os.geteuid() == 0, "needs root")
    result = run(["--policy", str(tmp_path / "missing.policy")])
    assert result.returncode != 0
    assert "cannot load policy" in result.stderr and "missing.policy" in result.stderr
    assert "ready" not in result.stderr
    assert result.stdout == ""


def test_invalid_policy_is_a_clear_error(tmp_path):
    require(AGENT.exists(), "agent not built")
    require(os.geteuid() == 0, "needs root")
    broken = tmp_path / "broken.policy"
    broken.write_text("rules:\n  - id: [broken\n")
    result = run(["--policy", str(broken)])
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if "level=error" in line]
    assert len(errors) == 1 and "broken.policy" in errors[0] and "invalid YAML" in errors[0]


def test_empty_policy_directory_is_a_clear_error(tmp_path):
    require(AGENT.exists(), "agent not built")
    require(os.geteuid() == 0, "needs root")
    result = run(["--policy-dir", str(tmp_path)])
    assert result.returncode != 0
    assert "no *.policy" in result.stderr
