/// Reads recorded events back with their processes shared as the live agent shares them: one
/// `ProcessEntry` per process image (pid, fork time, exec time), used by every event of that image
/// and by its children's `parent` links. `EventJSONReader` alone builds a new chain per line.
///
/// The first line that names an image gives its values; a later line only fills in what an earlier
/// one lacked (the container and cgroup of a process first seen as an ancestor) and re-links parents
/// that differ. The rule benchmark replays recorded events this way, so that the engine sees the
/// process tree the agent would give it.
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
        var event = try EventJSONReader.event(fromLine: line)
        guard let process = event.process else { return event }
        var chain: [ProcessEntry] = []
        var current: ProcessEntry? = process
        while let entry = current, chain.count < 1_025 {
            chain.append(entry)
            current = entry.parent
        }
        let shared = chain.map(share)
        // Links only to the ancestors this line names: a truncated chain says nothing about what is
        // above its last entry.
        for k in 0..<(shared.count - 1) where shared[k].parent !== shared[k + 1] { shared[k].parent = shared[k + 1] }
        let own = shared[0]
        if own !== process {
            if own.containerID == nil, let id = process.containerID { own.containerID = id }
            if own.cgroupID == 0, process.cgroupID != 0 { own.cgroupID = process.cgroupID }
            if own.cgroupPath == nil, let path = process.cgroupPath { own.cgroupPath = path }
        }
        event.process = own
        return event
    }

    private func share(_ entry: ProcessEntry) -> ProcessEntry {
        let key = Key(pid: entry.pid, forkTimeNs: entry.forkTimeNs, execTimeNs: entry.execTimeNs)
        if let known = processes[key] { return known }
        processes[key] = entry
        return entry
    }
}
