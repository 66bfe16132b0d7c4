import AgentCore

/// Counters of the event loop, printed as the final stats line.
struct PipelineStats {
    var received: UInt64 = 0
    var written: UInt64 = 0
    var decodeErrors: UInt64 = 0
    /// Lines written for rule matches (part of `written`).
    var ruleLines: UInt64 = 0
    /// Per rule id, matches and matches held back by its rate limiter, of the rule sets replaced so far.
    private(set) var ruleCounts: [String: (matches: UInt64, heldBack: UInt64)] = [:]
    var perType = [UInt64](repeating: 0, count: Int(EventType.allCases.map(\.rawValue).max()!) + 1)

    mutating func addRuleCounts(_ counts: [(id: String, matches: UInt64, heldBack: UInt64)]) {
        for c in counts {
            let old = ruleCounts[c.id] ?? (0, 0)
            ruleCounts[c.id] = (old.matches &+ c.matches, old.heldBack &+ c.heldBack)
        }
    }

    /// `stats received=.. written=.. lost=.. decode_errors=.. matches=.. held_back=.. exec=.. ...
    /// lost_open=.. ... match_<rule>=.. held_back_<rule>=..`; `current` are the running rules' counts.
    func line(lost: [EventType: UInt64], resolvers: ResolverStats, current: [(id: String, matches: UInt64, heldBack: UInt64)] = []) -> String {
        var rules = self
        rules.addRuleCounts(current)
        let perRule = rules.ruleCounts.sorted { $0.key < $1.key }
        let totalLost = lost.values.reduce(0, +)
        var parts = [
            "received=\(received)", "written=\(written)", "lost=\(totalLost)", "decode_errors=\(decodeErrors)",
            "matches=\(perRule.reduce(0) { $0 &+ $1.value.matches })", "held_back=\(perRule.reduce(0) { $0 &+ $1.value.heldBack })",
        ]
        for type in EventType.allCases where perType[Int(type.rawValue)] > 0 {
            parts.append("\(type.name)=\(perType[Int(type.rawValue)])")
        }
        for type in EventType.allCases {
            if let count = lost[type] { parts.append("lost_\(type.name)=\(count)") }
        }
        parts.append("processes=\(resolvers.liveProcesses)")
        parts.append("process_lookup_failures=\(resolvers.lookupFailures)")
        for (id, c) in perRule {
            parts.append("match_\(id)=\(c.matches)")
            if c.heldBack > 0 { parts.append("held_back_\(id)=\(c.heldBack)") }
        }
        return "stats " + parts.joined(separator: " ")
    }
}
