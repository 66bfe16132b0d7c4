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


def alias_bomb():
    names = "abcdefghi"
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for previous, name in zip(names, names[1:]):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def child_peak_rss_kb(args):
    """Runs the agent as a child of a fresh Python, returning (result, seconds, peak RSS in KiB)."""
    import json
    import sys
    probe = ("import json, resource, subprocess, sys, time; t = time.monotonic(); "
             "r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
             "print(json.dumps([r.returncode, r.stderr + r.stdout, time.monotonic() - t, "
             "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss]))")
    out = subprocess.run([sys.executable, "-c", probe, str(AGENT), *args], capture_output=True, text=True, timeout=120)
    return json.loads(out.stdout)


def test_policy_alias_bomb_is_refused_quickly(tmp_path):
    require(AGENT.exists(), "agent not built")
    bomb = tmp_path / "bomb.policy"
    bomb.write_text(alias_bomb())
    code, output, seconds, peak_kb = child_peak_rss_kb(["policy", "check", str(bomb)])
    assert code != 0
    assert "aliases expand past" in output and "alias *f at line 7" in output, output
    assert seconds < 1.0, seconds
    assert peak_kb < 100 * 1024, peak_kb


def test_policy_nested_too_deep_names_the_line(tmp_path):
    require(AGENT.exists(), "agent not built")
    deep = tmp_path / "deep.policy"
    deep.write_text("version: 1\nrules: " + "[" * 10_000 + "]" * 10_000 + "\n")
    code, output, seconds, peak_kb = child_peak_rss_kb(["policy", "check", str(deep)])
    assert code != 0
    assert "nested deeper than 64 at line 2" in output, output


def test_huge_policy_is_refused_by_its_size(tmp_path):
    require(AGENT.exists(), "agent not built")
    huge = tmp_path / "huge.policy"
    rule = '  - id: r{0}\n    expression: open.file.path == "/tmp/{0}"\n'
    with open(huge, "w") as handle:
        handle.write("rules:\n")
        for i in range(800_000):
            handle.write(rule.format(i))
    assert huge.stat().st_size > 50_000_000
    code, output, seconds, peak_kb = child_peak_rss_kb(["policy", "check", str(huge)])
    assert code != 0
    assert "over the limit of 8388608 bytes" in output, output
    assert seconds < 1.0 and peak_kb < 100 * 1024, (seconds, peak_kb)
