import AgentCore
import Foundation

/// Typical events: what a host does all day (library loads, config reads, shells, tools).
func builtinEvents() -> (open: [Event], exec: [Event]) {
    let systemd = ProcessEntry(pid: 1, comm: "systemd", executable: FileInfo(path: "/usr/lib/systemd/systemd"), argv0: "/sbin/init")
    let sshd = ProcessEntry(pid: 800, ppid: 1, comm: "sshd", executable: FileInfo(path: "/usr/sbin/sshd"), argv0: "sshd", args: ["-D"], parent: systemd)
    let bash = ProcessEntry(pid: 1200, ppid: 800, comm: "bash", tty: "pts0", executable: FileInfo(path: "/usr/bin/bash"), argv0: "-bash", parent: sshd)
    func proc(_ path: String, _ args: [String], parent: ProcessEntry = bash) -> ProcessEntry {
        ProcessEntry(pid: 4242, ppid: parent.pid, comm: String(FileInfo.baseName(of: path).prefix(15)), tty: "pts0",
                     executable: FileInfo(path: path, mode: 0o100755), argv0: FileInfo.baseName(of: path), args: StringList(args),
                     envs: ["PATH=/usr/bin:/bin", "HOME=/home/alice", "TERM=xterm"],
                     credentials: Credentials(uid: 1000, gid: 1000, euid: 1000, egid: 1000), parent: parent)
    }
    let now: UInt64 = 1_750_000_000_000_000_000
    func exec(_ p: ProcessEntry) -> Event {
        Event(type: .exec, timeNs: now, pid: p.pid, tid: p.pid, comm: p.comm, process: p, payload: .exec(ExecPayload(
            file: p.executable ?? FileInfo(), credentials: p.credentials, ppid: p.ppid, argv0: p.argv0, args: p.args, envs: p.envs)))
    }
    let execs = [
        exec(proc("/usr/bin/ls", ["-la", "/home/alice"])),
        exec(proc("/usr/bin/git", ["status"])),
        exec(proc("/usr/bin/grep", ["-r", "TODO", "."])),
        exec(proc("/usr/bin/python3", ["manage.py", "runserver"])),
        exec(proc("/usr/bin/cat", ["/etc/hostname"])),
        exec(proc("/usr/bin/sh", ["-c", "make -j2"], parent: bash)),
        exec(proc("/usr/bin/curl", ["-s", "https://example.com/"])),
        exec(proc("/usr/bin/sudo", ["systemctl", "status", "nginx"])),
    ]
    let cat = proc("/usr/bin/cat", [])
    let python = proc("/usr/bin/python3", ["app.py"])
    func open(_ p: ProcessEntry, _ path: String, _ flags: UInt32) -> Event {
        Event(type: .open, timeNs: now, pid: p.pid, tid: p.pid, comm: p.comm, process: p, payload: .open(OpenPayload(
            file: FileInfo(path: path, mode: 0o100644), flags: flags, mode: 0, dirfd: -100, syscall: .openat, userPath: path)))
    }
    let opens = [
        open(cat, "/etc/ld.so.cache", 0o2000000),
        open(cat, "/usr/lib/x86_64-linux-gnu/libc.so.6", 0o2000000),
        open(cat, "/etc/hostname", 0),
        open(python, "/usr/lib/python3.12/os.py", 0),
        open(python, "/proc/self/status", 0),
        open(python, "/home/alice/app/data.json", 0o1 | 0o100 | 0o1000),
        open(python, "/tmp/tmpabc123", 0o2 | 0o100 | 0o200),
        open(bash, "/home/alice/.bash_history", 0o1 | 0o2000),
        open(cat, "/etc/passwd", 0),
        open(cat, "/usr/share/locale/locale.alias", 0o2000000),
    ]
    return (opens, execs)
}

/// The open and exec events of a recording, apart and in their recorded order (`stream`).
func recordedEvents(_ path: String) -> (open: [Event], exec: [Event], stream: [Event]) {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return ([], [], []) }
    var opens: [Event] = []
    var execs: [Event] = []
    var stream: [Event] = []
    // Events share their process entries as in the agent's process tree (and its approver caches).
    let replay = EventReplay()
    // Split on the newline byte: splitting the String by Character walks grapheme clusters and
    // took a third of the loading time of a large recording.
    for line in text.utf8.split(separator: 10) {
        guard let e = try? replay.event(fromLine: String(Substring(line))) else { continue }
        if e.type == .open { opens.append(e) } else if e.type == .exec { execs.append(e) }
        if e.type == .open || e.type == .exec { stream.append(e) }
    }
    return (opens, execs, stream)
}

extension EventPayload {
    var openFile: String? {
        if case .open(let p) = self { return p.file.path }
        return nil
    }
}

func nowSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

let arguments = CommandLine.arguments
let policy = arguments.count > 1 ? arguments[1] : "../../../shared/corpus/datadog-default.policy"
let loaded = PolicyLoader().load(paths: [policy])
if !loaded.fileErrors.isEmpty { print("error: \(loaded.fileErrors)"); exit(1) }
let set = loaded.ruleSet
// Recorded events are also measured as the stream the agent met them in (opens and execs in their
// recorded proportion and order); the built-in set has no meaningful proportion.
let events = arguments.count > 2 ? recordedEvents(arguments[2]) : { let b = builtinEvents(); return (b.open, b.exec, [Event]()) }()
print("policy: \(policy): \(set.rules.count) loaded rules (open \(set.rules(for: .open).count), exec \(set.rules(for: .exec).count))")

if ProcessInfo.processInfo.environment["RULES_BENCH_STATS"] != nil {
    print("approvers open: \(set.approverSummary(for: .open))")
    print("approvers exec: \(set.approverSummary(for: .exec))")
    print("approvers any event: \(set.approverSummary(for: nil))")
    for t in [EventType.open, .exec] {
        for id in set.rulesWithoutApprover(for: t) {
            let rule = set.rules.first { $0.id == id }!
            print("  no approver (\(t.name)): \(id): \(rule.definition.expression ?? "")")
        }
    }
}

if ProcessInfo.processInfo.environment["RULES_BENCH_STATS"] != nil {
    for e in events.open + events.exec {
        let what = e.type == .open ? (e.payload.openFile ?? "") : (e.process?.executable?.path ?? "")
        print("  candidates \(e.type.name) \(what): \(set.candidates(e).joined(separator: " "))")
    }
}

let context = EvalContext()
let only = ProcessInfo.processInfo.environment["RULES_BENCH_ONLY"]
/// RULES_BENCH_ACTIONS=1: the matching rules' `set` actions run, as in the agent's pipeline, so that
/// the rules read variables that hold values (without it, no variable is ever set).
let runActions = ProcessInfo.processInfo.environment["RULES_BENCH_ACTIONS"] == "1"

/// Evaluates the event at `event` (and runs the set actions of its matches when asked to).
@inline(__always)
func evaluate(_ event: UnsafePointer<Event>) -> Int {
    if !runActions { return set.countMatches(at: event, context: context) }
    var n = 0
    set.forEachMatch(at: event, context: context) { rule in
        n += 1
        rule.runSetActions(context: context)
    }
    return n
}

/// Evaluates `list` in rounds and prints its rates.
func measure(_ name: String, _ list: [Event]) {
    var matches = 0
    // Warm up (scratch buffers reach their capacity).
    let events = UnsafeMutableBufferPointer<Event>.allocate(capacity: list.count)
    _ = events.initialize(from: list)
    for i in events.indices { matches &+= evaluate(events.baseAddress! + i) }
    // Fixed event count when RULES_BENCH_EVENTS is set (allocation counts with tools/malloc_count.c);
    // otherwise RULES_BENCH_ROUNDS (default 5) rounds of about RULES_BENCH_SECONDS (default 1) s each,
    // reporting the best and the median round: this VM's run-to-run noise is about 10-20%.
    let env = ProcessInfo.processInfo.environment
    let fixed = env["RULES_BENCH_EVENTS"].flatMap { Int($0) }
    let seconds = env["RULES_BENCH_SECONDS"].flatMap { Double($0) } ?? 1
    let rounds = fixed == nil ? max(env["RULES_BENCH_ROUNDS"].flatMap { Int($0) } ?? 5, 1) : 1
    var rates: [Double] = []
    var total = 0
    for _ in 0..<rounds {
        var count = 0
        let start = nowSeconds()
        while fixed.map({ count < $0 }) ?? (count < list.count * 4 || nowSeconds() - start < seconds) {
            // Events are evaluated in place, as the agent's pipeline does: `for e in list` or `list[i]`
            // would copy (retain and release) every event.
            // A fixed count stops exactly there, so two counts' difference is their evaluations.
            let n = fixed.map { min(list.count, $0 - count) } ?? list.count
            for i in 0..<n { matches &+= evaluate(events.baseAddress! + i) }
            count += n
        }
        rates.append(Double(count) / (nowSeconds() - start))
        total += count
    }
    rates.sort()
    let best = rates.last!
    let median = rates[rates.count / 2]
    let target = 1_000_000.0
    print(String(format: "%@: %d events, %d rounds: best %.0f events/s (%.0f ns/event), median %.0f events/s; %.2fx the %.0f/s target (%d matches)",
                 name, total, rounds, best, 1e9 / best, median, median / target, target, matches))
    _ = events.deinitialize()
    events.deallocate()
}

for (name, list) in [("open", events.open), ("exec", events.exec), ("stream", events.stream)] where !list.isEmpty && (only == nil || only == name) {
    measure(name, list)
}

// Exec events whose command lines the engine has not seen: each exec's arguments get one more,
// unique, so that the approvers' value cache (`EventValueMarkCache`, 128 combinations) misses on
// every evaluation. This is the cost of an exec on a host that never runs the same command twice.
// Last, because it changes the shared process entries of the other lists.
if !events.exec.isEmpty && (only == nil || only == "exec-new") {
    for (i, e) in events.exec.enumerated() { e.process?.args.append("#\(i)") }
    measure("exec-new", events.exec)
}

if ProcessInfo.processInfo.environment["RULES_BENCH_STATS"] != nil {
    // After the runs: the value caches' lookup and fill counts.
    print("approvers exec after the runs: \(set.approverSummary(for: .exec))")
    if runActions { print(context.variables.stats) }
}
