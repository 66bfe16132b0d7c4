/// Resolves the process context of events and keeps the process tree current.
public protocol ProcessResolver: AnyObject {
    /// Entries in the live table.
    var liveCount: Int { get }
    /// Loads every process in /proc not yet known; returns how many were added.
    @discardableResult func snapshot() -> Int
    /// Sets `event.process` (and ptrace/signal targets) and applies fork/exec/exit to the tree.
    func resolve(_ event: inout Event)
    /// Removes entries whose process no longer exists (lost exit events); returns how many.
    @discardableResult func prune() -> Int
    /// The live entry of a pid, without any /proc lookup.
    func entry(forPid pid: UInt32) -> ProcessEntry?
    /// The live entries whose container is `containerID` (the `kill` action's container scope).
    func entries(inContainer containerID: String) -> [ProcessEntry]
}

/// How a process entry came to be, for whoever completes new entries (names, cgroups).
public enum ProcessEntryOrigin: Sendable {
    /// Read from /proc by `snapshot()`.
    case snapshot
    /// Read from /proc on a lookup miss.
    case procfs
    /// Created by a fork event (a copy of the parent's image).
    case fork
    /// Created by an exec event.
    case exec
    /// Built from an event header only: the process could not be found anywhere.
    case minimal
}
