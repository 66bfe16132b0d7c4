"""Command-line failures: one clear line on stderr and a non-zero exit."""
import os
import shutil
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


def write_events(tmp_path, lines):
    events = tmp_path / "events.jsonl"
    events.write_text("".join(line + "\n" for line in lines))
    return events


def open_event(path_json, pid_json="5"):
    return ('{"evt":{"name":"open"},"process":{"pid":%s,"comm":"vi","credentials":{"uid":0}},"file":{"path":%s}}'
            % (pid_json, path_json))


def evaluate(tmp_path, lines):
    policy = tmp_path / "shadow.policy"
    policy.write_text('rules:\n  - id: shadow\n    expression: open.file.path == "/etc/shadow"\n')
    return run(["policy", "evaluate", "--policy", str(policy), str(write_events(tmp_path, lines))])


def test_evaluate_all_lines_good_exits_zero(tmp_path):
    require(AGENT.exists(), "agent not built")
    result = evaluate(tmp_path, [open_event('"/etc/shadow"'), open_event('"/etc/passwd"')])
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ['{"matched": ["shadow"]}', '{"matched": []}']
    assert result.stderr == ""


def test_evaluate_wrong_types_and_syntax_errors_name_field_and_line(tmp_path):
    require(AGENT.exists(), "agent not built")
    lines = [
        open_event('"/etc/shadow"'),
        open_event('"/etc/shadow"', pid_json='"5"'),
        open_event("3"),
        '{"evt":{"name":"open"},"file":{"path":"/x",}}',
        open_event('"/etc/shadow"'),
    ]
    result = evaluate(tmp_path, lines)
    assert result.returncode == 1
    out = result.stdout.splitlines()
    assert len(out) == 5
    assert out[0] == out[4] == '{"matched": ["shadow"]}'
    assert all(line.startswith('{"error": ') for line in out[1:4])
    assert result.stderr.splitlines() == [
        'line 2: process.pid: expected an integer, got the string "5"',
        "line 3: file.path: expected a string, got the number 3",
        "line 4: invalid JSON at column 44 (byte 43): expected a key (a string), found '}'",
        "error: 3 of 5 lines could not be evaluated",
    ]


def test_evaluate_ten_mebibyte_line(tmp_path):
    require(AGENT.exists(), "agent not built")
    long_path = '"/tmp/' + "a" * (10 << 20) + '"'
    result = evaluate(tmp_path, [open_event(long_path), open_event('"/etc/shadow"')])
    assert result.returncode == 0, result.stderr[:500]
    assert result.stdout.splitlines() == ['{"matched": []}', '{"matched": ["shadow"]}']


def test_root_without_capabilities_is_a_permission_error():
    require(AGENT.exists(), "agent not built")
    require(os.geteuid() == 0, "needs root")
    setpriv = shutil.which("setpriv")
    require(setpriv is not None, "setpriv not installed")
    result = subprocess.run([setpriv, "--bounding-set", "-all", "--inh-caps", "-all", "--ambient-caps", "-all",
                             str(AGENT), "--all-events"], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "permission denied" in result.stderr, result.stderr
    assert "CAP_BPF" in result.stderr
    assert "verifier" not in result.stderr, result.stderr
    assert result.stdout == ""


def test_unknown_subcommand_is_one_line():
    require(AGENT.exists(), "agent not built")
    result = run(["polcy", "check", "x"])
    assert result.returncode == 64
    assert result.stderr.splitlines() == ["csm-agent: unknown subcommand 'polcy' (expected: run, policy, fields, config, self-test)"]
    assert result.stdout == ""
    result = run(["policy", "chek", "x"])
    assert result.returncode == 64
    assert result.stderr.splitlines() == ["csm-agent: unknown subcommand 'chek' (expected: check, evaluate)"]


def test_unknown_option_is_one_line():
    require(AGENT.exists(), "agent not built")
    result = run(["--bogus"])
    assert result.returncode == 64
    assert result.stderr.splitlines() == ["csm-agent: unknown option '--bogus'"]
    result = run(["policy", "evaluate", "--bogus"])
    assert result.returncode == 64
    assert result.stderr.splitlines() == ["csm-agent: unknown option '--bogus'"]


def test_help_still_works():
    require(AGENT.exists(), "agent not built")
    result = run(["--help"])
    assert result.returncode == 0
    assert "SUBCOMMANDS" in result.stdout and "policy" in result.stdout
    result = run(["policy", "evaluate", "--help"])
    assert result.returncode == 0
    assert "--policy" in result.stdout
