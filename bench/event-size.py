#!/usr/bin/env python3
"""Bytes per event written by `csm-agent --all-events` during a mixed workload (see bench/README.md).

Runs the agent (and, with --baseline, another agent binary first, in the same invocation) for N
seconds while a generated workload runs: shell command execs, file opens, pipelines and nested
shells (for ancestor depth). Prints count, median and p90 bytes per line overall and per `evt.name`,
and the mean bytes per section (top-level keys and the parts of `process`). Every event on the host
is counted, not only the workload's: other activity is part of what a log pipeline pays for.
A report, not a test: it exits 0 whatever the figures.
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# A shell loop run under three nested shells (so its children have 4+ ancestors besides the host's).
WORKLOAD = r'''
end=$(( $(date +%s) + SECONDS_TO_RUN ))
i=0
while [ "$(date +%s)" -lt "$end" ]; do
  i=$((i + 1))
  ls -la /etc > /dev/null
  cat /etc/hostname /etc/passwd > /dev/null
  grep -c root /etc/group > /dev/null
  head -c 100 /etc/os-release | wc -c > /dev/null
  sh -c 'bash -c "echo nested $i | sed s/nested/deep/ > /dev/null"'
  (cd /tmp && find /usr/share/doc -maxdepth 1 -name "a*" > /dev/null)
  for f in /etc/hosts /etc/resolv.conf /etc/shells; do [ -r "$f" ] && wc -l "$f" > /dev/null; done
  python3 -c 'open("/etc/hostname").read()' 2> /dev/null
  sleep 0.05
done
'''


def run_agent(binary, seconds, extra, workdir):
    out = workdir / "events.jsonl"
    err = workdir / "agent.log"
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        agent = subprocess.Popen([str(binary), "--all-events", *extra], stdout=stdout, stderr=stderr)
        deadline = time.time() + 60
        while "ready" not in err.read_text(errors="replace"):
            if agent.poll() is not None or time.time() > deadline:
                agent.kill()
                sys.exit(f"agent {binary} did not start: {err.read_text(errors='replace')[-2000:]}")
            time.sleep(0.1)
        script = WORKLOAD.replace("SECONDS_TO_RUN", str(seconds))
        subprocess.run(["bash", "-c", 'sh -c "bash -c \\"bash -s\\""'], input=script.encode(), check=False)
        agent.send_signal(signal.SIGTERM)
        agent.wait(timeout=60)
    return out


def compact(value):
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def measure(path):
    sizes = defaultdict(list)  # evt.name -> line sizes
    sections = defaultdict(int)
    depths = []
    truncated = 0
    lines = 0
    for raw in open(path, "rb"):
        try:
            event = json.loads(raw)
        except ValueError:
            continue
        lines += 1
        name = event.get("evt", {}).get("name", "?")
        sizes[name].append(len(raw))
        for key, value in event.items():
            if key != "process":
                sections[key] += compact(value) + len(key) + 4
        process = event.get("process", {})
        own = {k: v for k, v in process.items() if k not in ("parent", "ancestors")}
        sections["process (own fields)"] += compact(own)
        for key in ("credentials", "args", "executable", "envs"):
            if key in process:
                sections[f"process.{key}"] += compact(process[key])
        if "parent" in process:
            sections["process.parent"] += compact(process["parent"])
        ancestors = process.get("ancestors", [])
        depths.append(len(ancestors))
        truncated += bool(process.get("truncated_ancestors"))
        if ancestors:
            sections["process.ancestors"] += compact(ancestors)
            for key in ("credentials", "args", "executable"):
                sections[f"process.ancestors[].{key}"] += sum(compact(a[key]) for a in ancestors if key in a)
    return sizes, sections, depths, truncated, lines


def quantiles(values):
    values = sorted(values)
    return statistics.median(values), values[min(len(values) - 1, int(len(values) * 0.9))]


def report(label, path):
    sizes, sections, depths, truncated, lines = measure(path)
    every = [s for v in sizes.values() for s in v]
    if not every:
        print(f"{label}: no events")
        return None
    median, p90 = quantiles(every)
    print(f"== {label}")
    print(f"{'evt.name':<16}{'count':>8}{'median B':>10}{'p90 B':>10}{'mean B':>10}")
    print(f"{'(all)':<16}{len(every):>8}{median:>10.0f}{p90:>10.0f}{statistics.mean(every):>10.0f}")
    for name, values in sorted(sizes.items(), key=lambda item: -len(item[1])):
        m, p = quantiles(values)
        print(f"{name:<16}{len(values):>8}{m:>10.0f}{p:>10.0f}{statistics.mean(values):>10.0f}")
    print(f"ancestor depth: median {statistics.median(depths):.0f}, max {max(depths)}; truncated_ancestors on {truncated} lines")
    print("mean bytes per event, by section:")
    for key, total in sorted(sections.items(), key=lambda item: -item[1]):
        print(f"  {key:<34}{total / lines:>9.0f}")
    return median, {name: quantiles(values)[0] for name, values in sizes.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agent", default=os.environ.get("AGENT", str(ROOT / ".build/release/csm-agent")))
    parser.add_argument("--baseline", default=os.environ.get("BASELINE"), help="another agent binary, measured first")
    parser.add_argument("--seconds", type=int, default=int(os.environ.get("SECONDS_TO_RUN", "15")))
    parser.add_argument("--keep", action="store_true", help="keep the event files")
    parser.add_argument("agent_args", nargs="*", help="extra arguments for the agent under test (after --)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="csm-event-size."))
    results = {}
    runs = ([("baseline " + args.baseline, args.baseline, [])] if args.baseline else []) + [("agent " + args.agent, args.agent, args.agent_args)]
    for index, (label, binary, extra) in enumerate(runs):
        directory = workdir / str(index)
        directory.mkdir()
        path = run_agent(binary, args.seconds, extra, directory)
        results[label] = report(label + (" " + " ".join(extra) if extra else ""), path)
    if args.baseline and all(results.values()):
        (base_median, base_types), (median, types) = results.values()
        print(f"median: {median:.0f} B against {base_median:.0f} B, ratio {median / base_median:.2f}")
        for name in sorted(set(types) & set(base_types), key=lambda n: -base_types[n]):
            print(f"  {name:<14}{types[name]:>8.0f} B against {base_types[name]:>8.0f} B, ratio {types[name] / base_types[name]:.2f}")
    if args.keep:
        print(f"event files in {workdir}")
    else:
        subprocess.run(["rm", "-rf", str(workdir)])


if __name__ == "__main__":
    main()
