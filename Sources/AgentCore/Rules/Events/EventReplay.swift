/// Reads recorded events back with their processes shared as the live agent shares them: one
/// `ProcessEntry` per process image (pid, fork time, exec time), used by every event of that image
/// and by its children's `parent` links. `EventJSONReader` alone builds a new chain per line.
///
/// Sharing also gives the offline engine what a line alone cannot carry but the agent's process
/// tree had when it evaluated the event, as long as the line that carried it was read before:
/// - the environment, which the agent writes for the acting process of an exec only, is kept for
///   that image's later events and for its children's, and a forked child (same exec time as its
///   parent) gets its parent's, as the process tree gives it;
/// - the cgroup, which the agent writes for the acting process only, is kept for the image when
///   it later appears as an ancestor.
/// Every other value the line writes is the image's current one (an exit time appears once the
/// image has exited): an entry is updated where the line differs, and only there, so that an entry
/// that does not change keeps its revision (and the rule engine's results kept on it).
///
/// The rule benchmark replays recorded events this way, and so should any offline evaluation of a
/// recording made with `--all-events`: events of processes whose exec was recorded then see their
/// environment (`process.envs` of Datadog's `ld_audit_unusual_library_path` on mmap events).
public final class EventReplay {
    private struct Key: Hashable {
        let pid: UInt32
        let forkTimeNs: UInt64
        let execTimeNs: UInt64
    }

    private var processes: [Key: ProcessEntry] = [:]

    public init() {}

    /// Number of distinct process images read so far.
    public var processCount: Int { processes.count }

    /// Parses one line (see `EventJSONReader.event(fromLine:)`) and shares its processes.
    public func event(fromLine line: String) throws -> Event {
        let read = try EventJSONReader.read(line)
        var event = read.event
        let withEnvs = read.processesWithEnvs
        if let process = event.process {
            let own = shareChain(process, withEnvs)
            if own !== process {
                if own.cgroupID == 0, process.cgroupID != 0 { own.cgroupID = process.cgroupID }
                if own.cgroupPath == nil, let path = process.cgroupPath { own.cgroupPath = path }
            }
            event.process = own
        }
        // The processes of a payload are entries of the same tree.
        switch event.payload {
        case .ptrace(var ptrace):
            if let tracee = ptrace.tracee {
                ptrace.tracee = shareChain(tracee, withEnvs)
                event.payload = .ptrace(ptrace)
            }
        case .signal(var signal):
            if let target = signal.target {
                signal.target = shareChain(target, withEnvs)
                event.payload = .signal(signal)
            }
        default:
            break
        }
        return event
    }

    /// The shared entries of `process` and of its ancestors as the line gives them; returns the one
    /// of `process`.
    private func shareChain(_ process: ProcessEntry, _ withEnvs: [ObjectIdentifier]) -> ProcessEntry {
        var chain: [ProcessEntry] = []
        var current: ProcessEntry? = process
        while let entry = current, chain.count < 1_025 {
            chain.append(entry)
            current = entry.parent
        }
        // From the oldest ancestor down, so that a forked child finds its parent's environment.
        var shared: [ProcessEntry] = Array(repeating: process, count: chain.count)
        for k in stride(from: chain.count - 1, through: 0, by: -1) {
            shared[k] = share(chain[k], parent: k + 1 < chain.count ? shared[k + 1] : nil,
                              carriesEnvs: withEnvs.contains(ObjectIdentifier(chain[k])))
        }
        // Links only to the ancestors this line names: a truncated chain says nothing about what is
        // above its last entry.
        for k in 0..<(shared.count - 1) where shared[k].parent !== shared[k + 1] { shared[k].parent = shared[k + 1] }
        return shared[0]
    }

    private func share(_ entry: ProcessEntry, parent: ProcessEntry?, carriesEnvs: Bool) -> ProcessEntry {
        // An image whose fork and exec times are both unknown (hand-written events) has nothing
        // that tells it apart from another process that had the same pid: it is not shared.
        if entry.forkTimeNs == 0, entry.execTimeNs == 0 { return entry }
        let key = Key(pid: entry.pid, forkTimeNs: entry.forkTimeNs, execTimeNs: entry.execTimeNs)
        if let known = processes[key] {
            update(known, from: entry, carriesEnvs: carriesEnvs)
            return known
        }
        // A forked child runs its parent's image until it execs: the process tree gives it the
        // parent's environment.
        if !carriesEnvs, let parent, entry.envs.isEmpty, !entry.isExecChild, parent.execTimeNs == entry.execTimeNs {
            entry.envs = parent.envs
            entry.envsTruncated = parent.envsTruncated
        }
        processes[key] = entry
        return entry
    }

    /// Takes what `line` says about the image of `known` where it differs (see the type's comment
    /// for what is kept).
    private func update(_ known: ProcessEntry, from line: ProcessEntry, carriesEnvs: Bool) {
        if known.ppid != line.ppid { known.ppid = line.ppid }
        if known.comm != line.comm { known.comm = line.comm }
        if known.tty != line.tty { known.tty = line.tty }
        if known.exitTimeNs != line.exitTimeNs { known.exitTimeNs = line.exitTimeNs }
        if known.executable != line.executable { known.executable = line.executable }
        if known.argv0 != line.argv0 { known.argv0 = line.argv0 }
        if known.args != line.args { known.args = line.args }
        if known.argsTruncated != line.argsTruncated { known.argsTruncated = line.argsTruncated }
        if carriesEnvs {
            if known.envs != line.envs { known.envs = line.envs }
            if known.envsTruncated != line.envsTruncated { known.envsTruncated = line.envsTruncated }
        }
        if known.credentials != line.credentials { known.credentials = line.credentials }
        // A container id is found once (from the cgroup); a line without one says nothing.
        if let id = line.containerID, known.containerID != id { known.containerID = id }
        if known.isKworker != line.isKworker { known.isKworker = line.isKworker }
        if known.isExecChild != line.isExecChild { known.isExecChild = line.isExecChild }
        if known.source != line.source { known.source = line.source }
    }
}
