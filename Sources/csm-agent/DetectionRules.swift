import AgentCore
import Serializers

/// The loaded policies as the pipeline runs them: the compiled rule set, and per rule (by
/// `CompiledRule.index`) what a match writes and how often it may.
///
/// Replaced whole at a reload: the pipeline swaps one instance for another between two records, so
/// every event is evaluated against one rule set, the old or the new.
final class DetectionRules {
    let ruleSet: RuleSet
    let files: [PolicySources.LoadedFile]
    /// The `agent` object and `title` of each rule's matches.
    private(set) var contexts: [AgentContext]
    private(set) var limiters: [RuleRateLimiter]
    /// Per rule: whether it has kill or hash actions (most rules have neither; the match path asks these).
    let hasKill: [Bool]
    let hasHash: [Bool]
    /// Per rule: matches, and matches the rate limiter held back (not written).
    private(set) var matches: [UInt64]
    private(set) var heldBack: [UInt64]

    init(loaded: PolicySources.Loaded, agentVersion: String, rateLimit: RuleRateLimiter.Defaults = RuleRateLimiter.Defaults()) {
        ruleSet = loaded.result.ruleSet
        files = loaded.files
        let byPath = Dictionary(loaded.files.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        var contexts: [AgentContext] = []
        var limiters: [RuleRateLimiter] = []
        for rule in ruleSet.rules {
            let definition = rule.definition
            let file = byPath[definition.file]
            // Datadog's agent reports a rule of a group by its group's id.
            let ruleID = definition.groupID.flatMap { $0.isEmpty ? nil : $0 } ?? rule.id
            contexts.append(AgentContext(
                ruleID: ruleID, ruleVersion: definition.version, policyName: file?.name,
                policyVersion: definition.policyVersion ?? file?.version, version: agentVersion,
                title: definition.description.isEmpty ? nil : definition.description))
            var readers: [FieldValueReader] = []
            for field in definition.limiterToken {
                if let reader = ruleSet.valueReader(for: field) { readers.append(reader) } else {
                    Log.warning("rule \(rule.id): limiter_token field '\(field)' is unknown; ignored")
                }
            }
            var everyNs: UInt64?
            if let every = definition.every {
                everyNs = PolicyDuration.nanoseconds(every)
                if everyNs == nil { Log.warning("rule \(rule.id): 'every: \(every)' is not a duration; the default rate limit applies") }
            }
            limiters.append(RuleRateLimiter(everyNs: everyNs, tokenReaders: readers, defaults: rateLimit))
        }
        self.contexts = contexts
        self.limiters = limiters
        hasKill = ruleSet.rules.map { $0.actions.contains { if case .kill = $0.kind { return true } else { return false } } }
        hasHash = ruleSet.rules.map { $0.actions.contains { if case .hash = $0.kind { return true } else { return false } } }
        matches = [UInt64](repeating: 0, count: ruleSet.rules.count)
        heldBack = matches
    }

    /// Counts a match of rule `index`.
    @inline(__always)
    func count(_ index: Int) {
        matches[index] &+= 1
    }

    /// Asks the limiter of rule `index` whether its match may be written; counts it held back if not.
    @inline(__always)
    func admit(_ index: Int, nowNs: UInt64, context: EvalContext) -> Bool {
        if limiters[index].allow(nowNs: nowNs, context: context) { return true }
        heldBack[index] &+= 1
        return false
    }

    /// Rule ids with their match and held-back counts, for rules that matched at least once.
    func counts() -> [(id: String, matches: UInt64, heldBack: UInt64)] {
        ruleSet.rules.indices.compactMap { i in
            matches[i] == 0 ? nil : (ruleSet.rules[i].id, matches[i], heldBack[i])
        }
    }
}
