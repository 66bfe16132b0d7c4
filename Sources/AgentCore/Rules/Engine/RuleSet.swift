/// A rule compiled once, ready to evaluate.
public struct CompiledRule {
    public let id: String
    /// Position in `RuleSet.rules`, for per-rule state kept beside the rule set (counters, limiters).
    public internal(set) var index: Int = 0
    public let eventType: EventType?
    public let predicate: Predicate
    public let definition: RuleDefinition
    /// What the live pipeline does each time the rule matches, in policy order.
    public let actions: [RuleAction]
    /// Some action is a `set` (`runSetActions` has work).
    public let hasSetActions: Bool
    /// Necessary condition used to skip the rule for events it cannot match (nil: always evaluated).
    let approver: Approver?

    init(id: String, eventType: EventType?, predicate: @escaping Predicate, definition: RuleDefinition, approver: Approver? = nil,
         actions: [RuleAction] = []) {
        self.id = id
        self.actions = actions
        hasSetActions = actions.contains { if case .set = $0.kind { return true } else { return false } }
        self.eventType = eventType
        self.predicate = predicate
        self.definition = definition
        self.approver = approver
    }
}

/// Loaded rules bucketed by event type: an event is only evaluated against its own rules (and the
/// few rules that name no event type). Within a bucket, approvers (see `Approvers.swift`) select the
/// rules an event may match; only those are evaluated.
public final class RuleSet {
    public let rules: [CompiledRule]
    /// Indexed by `EventType.rawValue`.
    private let buckets: [[CompiledRule]]
    private let anyEvent: [CompiledRule]
    /// The predicates alone, per bucket.
    private let bucketPredicates: [[PredicateBox]]
    private let anyEventPredicates: [PredicateBox]
    /// The same, unretained, for `evaluate` (see `PredicateBox`); the lists above own them. One
    /// list for every bucket (`bucketPredicateStart` says where each one's starts): reading a
    /// bucket's own list out of a list of lists retained it.
    private let predicateRefs: [Unmanaged<PredicateBox>]
    private let bucketPredicateStart: [Int]
    private let anyEventPredicateRefs: [Unmanaged<PredicateBox>]
    private let bucketIndexes: [ApproverIndex]
    private let anyEventIndex: ApproverIndex
    /// The indexes, unretained (the lists above own them).
    private let bucketIndexRefs: [Unmanaged<ApproverIndex>]
    private let anyEventIndexRef: Unmanaged<ApproverIndex>
    private let maxWords: Int
    let registry: FieldRegistry
    /// The variables the rules' `set` actions declare, by scoped name.
    public let variables: [VariableDeclaration]

    init(rules: [CompiledRule], registry: FieldRegistry, variables: [VariableDeclaration] = []) {
        var rules = rules
        for i in rules.indices { rules[i].index = i }
        self.rules = rules
        self.registry = registry
        self.variables = variables
        let maxRaw = Int(EventType.allCases.map(\.rawValue).max() ?? 0)
        var buckets = [[CompiledRule]](repeating: [], count: maxRaw + 1)
        var anyEvent: [CompiledRule] = []
        for rule in rules {
            if let t = rule.eventType { buckets[Int(t.rawValue)].append(rule) } else { anyEvent.append(rule) }
        }
        self.buckets = buckets
        self.anyEvent = anyEvent
        bucketPredicates = buckets.map { $0.map { PredicateBox(evaluate: $0.predicate) } }
        anyEventPredicates = anyEvent.map { PredicateBox(evaluate: $0.predicate) }
        predicateRefs = bucketPredicates.flatMap { $0.map { Unmanaged.passUnretained($0) } }
        var start: [Int] = []
        var next = 0
        for list in bucketPredicates {
            start.append(next)
            next += list.count
        }
        bucketPredicateStart = start
        anyEventPredicateRefs = anyEventPredicates.map { Unmanaged.passUnretained($0) }
        bucketIndexes = buckets.enumerated().map { i, rules in
            let type = EventType(rawValue: numericCast(i))
            return ApproverIndex(approvers: rules.map(\.approver), cachesProcess: ApproverIndex.keepsProcessResults(for: type),
                                 cachesEventValues: ApproverIndex.keepsEventValueResults(for: type))
        }
        anyEventIndex = ApproverIndex(approvers: anyEvent.map(\.approver))
        bucketIndexRefs = bucketIndexes.map { Unmanaged.passUnretained($0) }
        anyEventIndexRef = Unmanaged.passUnretained(anyEventIndex)
        maxWords = 2 * max(bucketIndexes.map(\.words).max() ?? 1, anyEventIndex.words, 1)
    }

    /// Rules that an event of this type meets.
    public func rules(for type: EventType) -> [CompiledRule] {
        let i = Int(type.rawValue)
        return i < buckets.count ? buckets[i] : []
    }

    /// How the approvers index the rules of an event type (for the benchmark and debugging).
    public func approverSummary(for type: EventType?) -> String {
        guard let type else { return anyEventIndex.summary }
        let i = Int(type.rawValue)
        return i < bucketIndexes.count ? bucketIndexes[i].summary : ""
    }

    /// The approver index of an event type's rules (for tests).
    func approverIndex(for type: EventType) -> ApproverIndex? {
        let i = Int(type.rawValue)
        return i < bucketIndexes.count ? bucketIndexes[i] : nil
    }

    /// Ids of the rules of an event type that have no approver (evaluated for every event of the type).
    public func rulesWithoutApprover(for type: EventType) -> [String] {
        rules(for: type).filter { $0.approver == nil }.map(\.id)
    }

    /// Ids of the rules the approvers let through for `event` (evaluated in full), for debugging.
    public func candidates(_ event: Event, context: EvalContext = EvalContext()) -> [String] {
        withUnsafePointer(to: event) { e in context.withEvent(at: e) { candidateIDs(event, context) } }
    }

    private func candidateIDs(_ event: Event, _ context: EvalContext) -> [String] {
        var ids: [String] = []
        let i = Int(event.type.rawValue)
        for (index, rules) in [(i < bucketIndexes.count ? bucketIndexes[i] : anyEventIndex, i < buckets.count ? buckets[i] : []),
                               (anyEventIndex, anyEvent)] where index.ruleCount > 0 {
            let bits = context.candidateBits(maxWords)
            index.candidates(context, bits)
            for j in 0..<index.ruleCount where bits[j >> 6] & (1 << UInt64(j & 63)) != 0 { ids.append(rules[j].id) }
        }
        return ids
    }

    /// Evaluates the rules of one index whose candidate bit is set, in order.
    @inline(__always)
    private func evaluate(_ indexRef: Unmanaged<ApproverIndex>, _ predicates: UnsafePointer<Unmanaged<PredicateBox>>, _ context: EvalContext,
                          _ body: (Int) -> Void) {
        indexRef._withUnsafeGuaranteedRef { index in
            if index.ruleCount == 0 { return }
            let bits = context.candidateBits(maxWords)
            index.candidates(context, bits)
            var w = 0
            while w < index.words {
                var word = bits[w]
                while word != 0 {
                    let j = w << 6 | word.trailingZeroBitCount
                    word &= word &- 1
                    if predicates[j]._withUnsafeGuaranteedRef({ $0(context) }) { body(j) }
                }
                w += 1
            }
        }
    }

    /// Calls `body` for each matching rule, in policy order within a bucket. Allocates nothing itself.
    ///
    /// Passing an event by value copies it (one retain and release per reference it holds, about a
    /// tenth of an evaluation); a caller that keeps the event in memory uses `forEachMatch(at:)`.
    @inline(__always)
    public func forEachMatch(_ event: Event, context: EvalContext, _ body: (CompiledRule) -> Void) {
        withUnsafePointer(to: event) { forEachMatch(at: $0, context: context, body) }
    }

    /// Like `forEachMatch(_:context:_:)` for the event at `event`, evaluated in place; it must stay
    /// valid and unchanged during the call.
    @inline(__always)
    public func forEachMatch(at event: UnsafePointer<Event>, context: EvalContext, _ body: (CompiledRule) -> Void) {
        context.withEvent(at: event) {
            let i = Int(event.pointee.type.rawValue)
            if i < bucketPredicates.count {
                predicateRefs.withUnsafeBufferPointer { refs in
                    // An empty list has no base address; its index has no rules to evaluate.
                    guard let base = refs.baseAddress else { return }
                    evaluate(bucketIndexRefs[i], base + bucketPredicateStart[i], context) { body(buckets[i][$0]) }
                }
            }
            anyEventPredicateRefs.withUnsafeBufferPointer { refs in
                guard let base = refs.baseAddress else { return }
                evaluate(anyEventIndexRef, base, context) { body(anyEvent[$0]) }
            }
        }
    }

    /// Like `forEachMatch`, without approvers: every rule of the bucket is evaluated (reference for tests).
    func forEachMatchUnfiltered(_ event: Event, context: EvalContext, _ body: (CompiledRule) -> Void) {
        withUnsafePointer(to: event) { pointer in
            context.withEvent(at: pointer) {
                let i = Int(event.type.rawValue)
                if i < bucketPredicates.count {
                    for (j, p) in bucketPredicates[i].enumerated() where p(context) { body(buckets[i][j]) }
                }
                for (k, p) in anyEventPredicates.enumerated() where p(context) { body(anyEvent[k]) }
            }
        }
    }

    /// Number of rules matching the event at `event` (used by the benchmark).
    public func countMatches(at event: UnsafePointer<Event>, context: EvalContext) -> Int {
        var n = 0
        forEachMatch(at: event, context: context) { _ in n += 1 }
        return n
    }

    /// Ids of the rules matching `event`.
    public func matches(_ event: Event, context: EvalContext = EvalContext()) -> [String] {
        var ids: [String] = []
        forEachMatch(event, context: context) { ids.append($0.id) }
        return ids
    }

    /// Ids of the rules matching `event`, evaluating every rule (no approvers).
    func matchesUnfiltered(_ event: Event, context: EvalContext = EvalContext()) -> [String] {
        var ids: [String] = []
        forEachMatchUnfiltered(event, context: context) { ids.append($0.id) }
        return ids
    }
}
