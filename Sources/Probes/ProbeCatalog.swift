import AgentCore

/// Which BPF program feeds which event type.
///
/// Convention: a program is named `csm_<event name>__<hook>` (`csm_open__sys_exit_openat`,
/// `csm_load_module__sys_enter`), so adding a probe needs no change here.
public enum ProbeCatalog {
    /// Event type of a program, from its name; nil for helper programs outside the convention.
    public static func eventType(ofProgram name: String) -> EventType? {
        guard name.hasPrefix("csm_"), let separator = name.range(of: "__") else { return nil }
        return EventType(name: String(name[name.index(name.startIndex, offsetBy: 4)..<separator.lowerBound]))
    }

    /// Programs that feed more than their own event type: raw syscall hooks that run on every syscall
    /// dispatch several syscalls from one program, to pay the per-syscall cost once.
    static let additionalEventTypes: [String: [EventType]] = [
        "csm_load_module__sys_exit": [.unloadModule],
    ]

    /// Every event type a program feeds.
    public static func eventTypes(ofProgram name: String) -> [EventType] {
        (eventType(ofProgram: name).map { [$0] } ?? []) + (additionalEventTypes[name] ?? [])
    }
}
