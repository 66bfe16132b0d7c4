/// A rule compiled once, ready to evaluate.
public struct CompiledRule {
    public let id: String
    public let eventType: EventType?
    public let predicate: Predicate
    public let definition: RuleDefinition
}

/// Loaded rules bucketed by event type: an event is only evaluated against its own rules (and the
/// few rules that name no event type).
public final class RuleSet {
    public let rules: [CompiledRule]
    /// Indexed by `EventType.rawValue`.
    private let buckets: [[CompiledRule]]
    private let anyEvent: [CompiledRule]
    /// The predicates alone, per bucket: iterating them retains nothing but the closures.
    private let bucketPredicates: [[Predicate]]
    private let anyEventPredicates: [Predicate]
    let registry: FieldRegistry

    init(rules: [CompiledRule], registry: FieldRegistry) {
        self.rules = rules
        self.registry = registry
        let maxRaw = Int(EventType.allCases.map(\.rawValue).max() ?? 0)
        var buckets = [[CompiledRule]](repeating: [], count: maxRaw + 1)
        var anyEvent: [CompiledRule] = []
        for rule in rules {
            if let t = rule.eventType { buckets[Int(t.rawValue)].append(rule) } else { anyEvent.append(rule) }
        }
        self.buckets = buckets
        self.anyEvent = anyEvent
        bucketPredicates = buckets.map { $0.map(\.predicate) }
        anyEventPredicates = anyEvent.map(\.predicate)
    }

    /// Rules that an event of this type meets.
    public func rules(for type: EventType) -> [CompiledRule] {
        let i = Int(type.rawValue)
        return i < buckets.count ? buckets[i] : []
    }

    /// Calls `body` for each matching rule, in policy order within a bucket. Allocates nothing itself.
    @inline(__always)
    public func forEachMatch(_ event: Event, context: EvalContext, _ body: (CompiledRule) -> Void) {
        context.event = event
        context.ancestor = nil
        let i = Int(event.type.rawValue)
        if i < bucketPredicates.count {
            let predicates = bucketPredicates[i]
            var j = 0
            while j < predicates.count {
                if predicates[j](context) { body(buckets[i][j]) }
                j += 1
            }
        }
        var k = 0
        while k < anyEventPredicates.count {
            if anyEventPredicates[k](context) { body(anyEvent[k]) }
            k += 1
        }
    }

    /// Number of rules matching `event` (used by the benchmark).
    public func countMatches(_ event: Event, context: EvalContext) -> Int {
        context.event = event
        context.ancestor = nil
        var n = 0
        let i = Int(event.type.rawValue)
        if i < bucketPredicates.count {
            let predicates = bucketPredicates[i]
            for j in 0..<predicates.count where predicates[j](context) { n += 1 }
        }
        for k in 0..<anyEventPredicates.count where anyEventPredicates[k](context) { n += 1 }
        return n
    }

    /// Ids of the rules matching `event`.
    public func matches(_ event: Event, context: EvalContext = EvalContext()) -> [String] {
        var ids: [String] = []
        forEachMatch(event, context: context) { ids.append($0.id) }
        return ids
    }
}
