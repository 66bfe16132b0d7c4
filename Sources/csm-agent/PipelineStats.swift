import AgentCore

/// Counters of the event loop, printed as the final stats line.
struct PipelineStats {
    var received: UInt64 = 0
    var written: UInt64 = 0
    var decodeErrors: UInt64 = 0
    var perType = [UInt64](repeating: 0, count: Int(EventType.allCases.map(\.rawValue).max()!) + 1)

    /// `stats received=.. written=.. lost=.. decode_errors=.. exec=.. ... lost_open=..`
    func line(lost: [EventType: UInt64], resolvers: ResolverStats) -> String {
        let totalLost = lost.values.reduce(0, +)
        var parts = [
            "received=\(received)", "written=\(written)", "lost=\(totalLost)", "decode_errors=\(decodeErrors)",
        ]
        for type in EventType.allCases where perType[Int(type.rawValue)] > 0 {
            parts.append("\(type.name)=\(perType[Int(type.rawValue)])")
        }
        for type in EventType.allCases {
            if let count = lost[type] { parts.append("lost_\(type.name)=\(count)") }
        }
        parts.append("processes=\(resolvers.liveProcesses)")
        parts.append("process_lookup_failures=\(resolvers.lookupFailures)")
        return "stats " + parts.joined(separator: " ")
    }
}
