/// Approvers: cheap necessary conditions that let the engine skip most rules of an event type.
///
/// A rule whose expression is `A && B && ...` cannot match unless every conjunct holds. When one
/// conjunct is a string comparison of a field with literals (`exec.file.name in ["sh", "bash"]`,
/// `open.file.path =~ "/etc/*"`, or a disjunction of such comparisons), the rule is indexed by those
/// literals: per event, each indexed field is read once, its value is looked up in a hash table of exact
/// values and walked down a trie of literal pattern prefixes, and only the rules it reaches (plus the
/// rules without an approver) are evaluated in full. The full predicate still decides, so approvers
/// change which rules are tried, never the result.

/// One comparison of an approver: `field (==|in|=~) literals`.
struct ApproverTerm {
    let fieldName: String
    let read: (EvalContext, StringBody) -> Bool
    let operands: [StringOperand]
    let isPath: Bool
    let isArray: Bool
    /// What the field's value depends on (decides whether its result may be kept per process).
    let scope: FieldScope
    /// `field != "literal"` (one exact operand, scalar field): matches when the value differs.
    var negated = false
    /// A whole conjunct tested as it is (no field, no operands): kept per process when `scope` is
    /// `.process` or `.chain`, tested per event when `.event` (cheap integer comparisons only).
    var predicate: PredicateBox?
    /// Environment-name fields: the list the names come from (see `FieldSpec.environment`).
    var environment: ((EvalContext) -> StringList?)?
    /// Derived fields: the field their values are a function of (see `FieldDeterminant`).
    var determinant: FieldDeterminant?

    /// A string comparison term.
    init(fieldName: String, read: @escaping (EvalContext, StringBody) -> Bool, operands: [StringOperand], isPath: Bool,
         isArray: Bool, scope: FieldScope, negated: Bool = false) {
        self.fieldName = fieldName
        self.read = read
        self.operands = operands
        self.isPath = isPath
        self.isArray = isArray
        self.scope = scope
        self.negated = negated
    }

    /// A whole-conjunct term (see `predicate`); the string-term properties stay empty.
    init(predicate: @escaping Predicate, scope: FieldScope) {
        self.init(fieldName: "", read: { _, _ in false }, operands: [], isPath: false, isArray: false, scope: scope)
        self.predicate = PredicateBox(evaluate: predicate)
    }

    /// Rough per-event cost of checking this term (exact values are one shared hash probe); a
    /// negated term is cheap but rarely rules anything out.
    var cost: Int {
        if predicate != nil { return scope == .event ? 8 : 2 }
        if negated { return 50 }
        var c = isArray ? 3 : 1
        for op in operands {
            switch op {
            case .exact(let s): if s.isEmpty { c += 40 }  // the empty value is common
            case .pattern(let p):
                let g = Glob(p, isPath: isPath)
                if g.exact != nil { break }
                c += g.prefix.isEmpty ? 20 : 2
            case .regex(let r): c += StringMatcher.requiredLiteral(r).isEmpty ? 1_000 : 5
            }
        }
        return c
    }
}

/// A rule's approver: up to two groups of terms (from different conjuncts); the rule may match only
/// if, in every group, one of the terms matches.
struct Approver {
    let groups: [[ApproverTerm]]
}

/// Sets bit `slot` of a candidate bit set.
@inline(__always)
func setCandidate(_ bits: UnsafeMutablePointer<UInt64>, _ slot: Int) {
    bits[slot >> 6] |= 1 << UInt64(slot & 63)
}

// MARK: - Exact-value table

/// Open-addressing hash table from byte strings to lists of rule indices. Built once; lookups
/// allocate nothing.
final class BytesTable {
    private let keyBytes: [UInt8]
    /// Per entry: key offset, key length, value start, value count.
    private let keyOffset: [Int32]
    private let keyLength: [Int32]
    private let hashes: [UInt64]
    private let valueStart: [Int32]
    private let valueCount: [Int32]
    let values: [Int32]
    /// Slot -> entry index + 1 (0 = empty).
    private let slots: [Int32]
    private let mask: Int
    let isEmpty: Bool

    init(_ entries: [([UInt8], [Int32])]) {
        var keyBytes: [UInt8] = []
        var keyOffset: [Int32] = []
        var keyLength: [Int32] = []
        var hashes: [UInt64] = []
        var valueStart: [Int32] = []
        var valueCount: [Int32] = []
        var values: [Int32] = []
        for (key, vals) in entries {
            keyOffset.append(Int32(keyBytes.count))
            keyLength.append(Int32(key.count))
            keyBytes += key
            hashes.append(key.withUnsafeBufferPointer { BytesTable.hash($0) })
            valueStart.append(Int32(values.count))
            valueCount.append(Int32(vals.count))
            values += vals
        }
        var size = 8
        while size < entries.count * 2 { size *= 2 }
        var slots = [Int32](repeating: 0, count: size)
        for (i, h) in hashes.enumerated() {
            var s = Int(truncatingIfNeeded: h) & (size - 1)
            while slots[s] != 0 { s = (s + 1) & (size - 1) }
            slots[s] = Int32(i + 1)
        }
        self.keyBytes = keyBytes
        self.keyOffset = keyOffset
        self.keyLength = keyLength
        self.hashes = hashes
        self.valueStart = valueStart
        self.valueCount = valueCount
        self.values = values
        self.slots = slots
        mask = size - 1
        isEmpty = entries.isEmpty
    }

    /// Builds a membership table (values unused) from distinct keys.
    convenience init(keys: [[UInt8]]) {
        var seen = Set<[UInt8]>()
        var entries: [([UInt8], [Int32])] = []
        for k in keys where seen.insert(k).inserted { entries.append((k, [])) }
        self.init(entries)
    }

    @inline(__always)
    static func hash(_ v: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325 ^ UInt64(truncatingIfNeeded: v.count)
        var i = 0
        let n = v.count
        if n >= 8, let base = v.baseAddress {
            let raw = UnsafeRawPointer(base)
            while i + 8 <= n {
                let w = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                h = (h ^ w) &* 0x100_0000_01b3
                h ^= h >> 29
                i += 8
            }
        }
        while i < n {
            h = (h ^ UInt64(v[i])) &* 0x100_0000_01b3
            i += 1
        }
        h ^= h >> 32
        h = h &* 0x9e37_79b9_7f4a_7c15
        return h ^ (h >> 29)
    }

    /// Entry index of `v`, or -1.
    @inline(__always)
    func find(_ v: UnsafeBufferPointer<UInt8>) -> Int {
        if isEmpty { return -1 }
        let h = BytesTable.hash(v)
        var s = Int(truncatingIfNeeded: h) & mask
        while true {
            let e = Int(slots[s]) - 1
            if e < 0 { return -1 }
            if hashes[e] == h, Int(keyLength[e]) == v.count {
                let off = Int(keyOffset[e])
                var equal = true
                var i = 0
                while i < v.count {
                    if keyBytes[off + i] != v[i] { equal = false; break }
                    i += 1
                }
                if equal { return e }
            }
            s = (s + 1) & mask
        }
    }

    @inline(__always)
    func contains(_ v: UnsafeBufferPointer<UInt8>) -> Bool { find(v) >= 0 }

    @inline(__always)
    func valueRange(_ entry: Int) -> Range<Int> {
        let start = Int(valueStart[entry])
        return start..<(start + Int(valueCount[entry]))
    }
}

// MARK: - Pattern prefix trie

/// Patterns keyed by their literal prefix (the text before the first wildcard, which every match
/// starts with). Walking a value down the trie reaches only the patterns whose prefix it starts with.
final class PrefixTrie {
    private let label: [UInt8]
    private let firstChild: [Int32]
    private let nextSibling: [Int32]
    private let entryStart: [Int32]
    private let entryCount: [Int32]
    let globs: [Glob]
    let rules: [Int32]
    /// `globs[i].requiredBytes`, stored inline.
    let required: [ByteSet]
    let isEmpty: Bool

    init(_ items: [(Glob, Int32)]) {
        final class Node {
            var children: [UInt8: Node] = [:]
            var entries: [(Glob, Int32)] = []
        }
        let root = Node()
        for (g, r) in items {
            var n = root
            for b in g.prefix {
                if let c = n.children[b] { n = c } else {
                    let c = Node()
                    n.children[b] = c
                    n = c
                }
            }
            n.entries.append((g, r))
        }
        var label: [UInt8] = [0]
        var firstChild: [Int32] = [-1]
        var nextSibling: [Int32] = [-1]
        var entryStart: [Int32] = [0]
        var entryCount: [Int32] = [0]
        var globs: [Glob] = []
        var rules: [Int32] = []
        // Breadth-first flattening.
        var queue: [(Node, Int)] = [(root, 0)]
        var qi = 0
        while qi < queue.count {
            let (node, index) = queue[qi]
            qi += 1
            entryStart[index] = Int32(globs.count)
            entryCount[index] = Int32(node.entries.count)
            for (g, r) in node.entries { globs.append(g); rules.append(r) }
            var previous = -1
            for b in node.children.keys.sorted() {
                let child = label.count
                label.append(b)
                firstChild.append(-1)
                nextSibling.append(-1)
                entryStart.append(0)
                entryCount.append(0)
                if previous < 0 { firstChild[index] = Int32(child) } else { nextSibling[previous] = Int32(child) }
                previous = child
                queue.append((node.children[b]!, child))
            }
        }
        self.label = label
        self.firstChild = firstChild
        self.nextSibling = nextSibling
        self.entryStart = entryStart
        self.entryCount = entryCount
        self.globs = globs
        self.rules = rules
        required = globs.map(\.requiredBytes)
        isEmpty = items.isEmpty
    }

    /// Calls `visit(entry)` for every pattern whose prefix `v` starts with (shortest prefixes first).
    @inline(__always)
    func walk(_ v: UnsafeBufferPointer<UInt8>, _ visit: (Int) -> Void) {
        if isEmpty { return }
        var node = 0
        var i = 0
        while true {
            let c = Int(entryCount[node])
            if c > 0 {
                let s = Int(entryStart[node])
                for e in s..<(s + c) { visit(e) }
            }
            if i >= v.count { return }
            let b = v[i]
            var child = Int(firstChild[node])
            while child >= 0, label[child] != b { child = Int(nextSibling[child]) }
            if child < 0 { return }
            node = child
            i += 1
        }
    }
}

// MARK: - Per-bucket index

/// The approver index of one list of rules (one event type's bucket, or the rules of every event).
final class ApproverIndex {
    final class FieldIndex {
        let name: String
        let read: (EvalContext, StringBody) -> Bool
        let exact: BytesTable
        let patterns: PrefixTrie
        /// Patterns starting with a wildcard, by their longest literal.
        let literalPatterns: LiteralIndex
        /// `!=` terms: the rule is a candidate when the value differs from the literal.
        let notEqual: [[UInt8]]
        let notEqualRules: [Int32]
        /// Regular expressions: the rule is a candidate when the value contains the regex's required literal.
        let contains: [[UInt8]]
        let containsRules: [Int32]
        /// Second-group fields: the rules with entries here (read the field only if one is still a candidate).
        let ruleMask: [UInt64]

        let scope: FieldScope
        /// The first two bytes of the exact values and pattern prefixes: a value of two bytes or more
        /// whose first two are not here matches none of them (multi-valued fields such as
        /// environment names have many values, and most miss).
        let startPairs: BytePairSet
        /// True when every pattern prefix has two bytes or more (else `startPairs` cannot rule out
        /// the patterns).
        let prefixesFiltered: Bool
        /// A value of two bytes or more that `startPairs` rules out and that is shorter than this
        /// matches no entry at all: no exact value or prefix starts like it, it is too short to hold
        /// a literal pattern's literal, and there are no `!=` or regex entries. Most values of
        /// multi-valued fields (the ~37 environment names of an exec) stop there.
        let quickRejectBelow: Int
        /// Environment-name fields read per event: the marks of recently seen environment lists.
        let environmentMarks: EnvironmentMarkCache?
        /// What the values are a function of, for `EventValueMarkCache` keys: the field itself, or
        /// the field it derives from (`FieldDeterminant`).
        let keyName: String
        let keyRead: (EvalContext, StringBody) -> Bool

        init(name: String, read: @escaping (EvalContext, StringBody) -> Bool, environment: ((EvalContext) -> StringList?)? = nil,
             determinant: FieldDeterminant? = nil, scope: FieldScope, exact: [([UInt8], [Int32])], patterns: [(Glob, Int32)], literalPatterns: LiteralIndex,
             notEqual: [([UInt8], Int32)], contains: [([UInt8], Int32)], ruleMask: [UInt64]) {
            environmentMarks = environment.map { EnvironmentMarkCache(list: $0, words: 2 * ruleMask.count) }
            self.ruleMask = ruleMask
            self.scope = scope
            let starts = exact.map(\.0).filter { $0.count >= 2 } + patterns.map(\.0.prefix).filter { $0.count >= 2 }
            startPairs = BytePairSet(starts.map { ($0[0], $0[1]) })
            prefixesFiltered = patterns.allSatisfy { $0.0.prefix.count >= 2 }
            quickRejectBelow = prefixesFiltered && notEqual.isEmpty && contains.isEmpty ? literalPatterns.shortestLiteral : 0
            self.name = name
            self.read = read
            // Not `determinant?.read ?? read`: a closure passed through a generic (`??`) comes out in
            // its most general form, and every call then went through a thunk that allocates.
            if let determinant {
                keyName = determinant.name
                keyRead = determinant.read
            } else {
                keyName = name
                keyRead = read
            }
            self.exact = BytesTable(exact)
            self.patterns = PrefixTrie(patterns)
            self.literalPatterns = literalPatterns
            self.notEqual = notEqual.map(\.0)
            notEqualRules = notEqual.map(\.1)
            self.contains = contains.map(\.0)
            containsRules = contains.map(\.1)
        }
    }

    let ruleCount: Int
    let words: Int
    /// Rules without an approver: always evaluated.
    let always: [UInt64]
    /// Fields of the first groups, then of the second groups.
    let fields: [FieldIndex]
    let secondFields: [FieldIndex]
    /// The fields read for each event: those of `fields` and `secondFields` whose results are not
    /// kept per process.
    let eventFields: [FieldIndex]
    let eventSecondFields: [FieldIndex]
    /// With `cachesEventValues`: the marks of the per-event fields other than environment names,
    /// kept per combination of their values. Those fields are then left out of the two lists below.
    let valueCache: EventValueMarkCache?
    /// The same, unretained (the property above owns it).
    private let valueCacheRef: Unmanaged<EventValueMarkCache>?
    /// The per-event fields looked up one by one beside the value cache (all of them without one),
    /// unretained for the per-event loops: an element read from an array is retained for the call
    /// that uses it (about 14 atomic retains and releases per exec event); these stay alive as long
    /// as the strong lists above, which the index owns.
    private let eventFieldRefs: [Unmanaged<FieldIndex>]
    private let eventSecondFieldRefs: [Unmanaged<FieldIndex>]
    /// Every per-event field, for events the value cache does not mark (see `candidates`).
    private let allEventFieldRefs: [Unmanaged<FieldIndex>]
    private let allEventSecondFieldRefs: [Unmanaged<FieldIndex>]
    /// Fields and predicates of either group whose results are kept on the event's process entry
    /// (`.process` scope) or on its parent entry (`.chain` scope, the same for all its children);
    /// see `ApproverCache`.
    let processKept: KeptTerms
    let chainKept: KeptTerms
    /// Predicate terms tested per event (`ApproverTerm.predicate` of `.event` scope), by group.
    let eventPredicates: [PredicateTerm]
    let eventSecondPredicates: [PredicateTerm]

    /// A predicate term of one rule: its candidate slot (see `init`) and rule index.
    struct PredicateTerm {
        let slot: Int
        let rule: Int
        let predicate: PredicateBox
    }

    /// Terms whose results are kept per process entry, all of one scope.
    struct KeptTerms {
        let fields: [FieldIndex]
        let predicates: [PredicateTerm]
        var isEmpty: Bool { fields.isEmpty && predicates.isEmpty }

        /// Sets the slots of the terms that hold.
        @inline(__always)
        func mark(_ ctx: EvalContext, _ bits: UnsafeMutablePointer<UInt64>) {
            for field in fields { ApproverIndex.mark(field, ctx, bits) }
            for p in predicates where p.predicate(ctx) { setCandidate(bits, p.slot) }
        }
    }
    /// Identifies this index's slots in `ApproverCache`s.
    let token = ApproverCache.newToken()
    /// Rules whose approver is an empty list: they can never match.
    let approvedCount: Int

    /// Whether the index of `type`'s rules keeps `.process` results on the event's process: worth it
    /// for event types a process has many of (open, mmap, ...), not for exec, fork or exit, which a
    /// process image has one of, nor for the rules of every event type.
    static func keepsProcessResults(for type: EventType?) -> Bool {
        guard let type else { return false }
        return type != .exec && type != .fork && type != .exit
    }

    /// Candidate bits are `2 * words` words: a rule's bit in the first half is set when its first
    /// group matched, in the second half when its second group matched (or it has none).
    ///
    /// `cachesProcess`: keep results of `.process` fields on the event's process (see
    /// `keepsProcessResults(for:)`); otherwise they are read per event, like the event's own fields.
    /// `cachesEventValues`: keep the marks of the per-event fields per combination of their values
    /// (see `EventValueMarkCache` and `keepsEventValueResults(for:)`).
    init(approvers: [Approver?], cachesProcess: Bool = false, cachesEventValues: Bool = false) {
        ruleCount = approvers.count
        words = max((approvers.count + 63) / 64, 1)
        let stride = words * 64
        var always = [UInt64](repeating: 0, count: 2 * words)
        var approved = 0
        func setAlways(_ slot: Int) { always[slot >> 6] |= 1 << UInt64(slot & 63) }
        for (i, a) in approvers.enumerated() {
            let groups = a?.groups ?? []
            if groups.isEmpty { setAlways(i) } else { approved += 1 }
            if groups.count < 2 { setAlways(stride + i) }
        }
        self.always = always
        approvedCount = approved
        // Where each scope's results live: read per event, or kept on the process or parent entry.
        func storage(_ scope: FieldScope) -> FieldScope { scope == .process && !cachesProcess ? .event : scope }
        let fields = ApproverIndex.fieldIndexes(approvers, level: 0, stride: stride, words: words, storage: storage)
        let secondFields = ApproverIndex.fieldIndexes(approvers, level: 1, stride: stride, words: words, storage: storage)
        self.fields = fields
        self.secondFields = secondFields
        eventFields = fields.filter { storage($0.scope) == .event }
        eventSecondFields = secondFields.filter { storage($0.scope) == .event }
        // Environment-name fields keep their own cache, keyed by the list alone.
        func isCached(_ f: FieldIndex) -> Bool { cachesEventValues && f.environmentMarks == nil }
        let cachedFirst = eventFields.filter(isCached)
        let cachedSecond = eventSecondFields.filter(isCached)
        // Rules with a second group whose first group the cache does not decide alone (a predicate,
        // or a field kept per process or read apart): their second groups are always looked up.
        var undecided = [UInt64](repeating: 0, count: words)
        let firstNames = Set(cachedFirst.map(\.name))
        for (i, a) in approvers.enumerated() {
            guard let groups = a?.groups, groups.count >= 2 else { continue }
            if groups[0].contains(where: { $0.predicate != nil || !firstNames.contains($0.fieldName) }) {
                undecided[i >> 6] |= 1 << UInt64(i & 63)
            }
        }
        valueCache = cachedFirst.isEmpty && cachedSecond.isEmpty ? nil
            : ApproverIndex.valueCache(first: cachedFirst, second: cachedSecond, undecided: undecided, words: words)
        valueCacheRef = valueCache.map { Unmanaged.passUnretained($0) }
        eventFieldRefs = eventFields.filter { !isCached($0) }.map { Unmanaged.passUnretained($0) }
        eventSecondFieldRefs = eventSecondFields.filter { !isCached($0) }.map { Unmanaged.passUnretained($0) }
        allEventFieldRefs = eventFields.map { Unmanaged.passUnretained($0) }
        allEventSecondFieldRefs = eventSecondFields.map { Unmanaged.passUnretained($0) }
        var predicates: [(level: Int, scope: FieldScope, term: PredicateTerm)] = []
        for (i, a) in approvers.enumerated() {
            for (level, group) in (a?.groups ?? []).prefix(2).enumerated() {
                for t in group {
                    guard let p = t.predicate else { continue }
                    predicates.append((level, t.scope, PredicateTerm(slot: level * stride + i, rule: i, predicate: p)))
                }
            }
        }
        func terms(_ scope: FieldScope, level: Int? = nil) -> [PredicateTerm] {
            predicates.filter { storage($0.scope) == scope && (level == nil || $0.level == level) }.map(\.term)
        }
        eventPredicates = terms(.event, level: 0)
        eventSecondPredicates = terms(.event, level: 1)
        processKept = KeptTerms(fields: (fields + secondFields).filter { storage($0.scope) == .process }, predicates: terms(.process))
        chainKept = KeptTerms(fields: (fields + secondFields).filter { storage($0.scope) == .chain }, predicates: terms(.chain))
    }

    /// A value cache over the `first` and `second` group fields: one source per key field (read
    /// once), feeding the indexes of the fields it determines.
    private static func valueCache(first: [FieldIndex], second: [FieldIndex], undecided: [UInt64], words: Int) -> EventValueMarkCache {
        var names: [String] = []
        var byName: [String: (first: [FieldIndex], second: [FieldIndex])] = [:]
        for (f, isFirst) in first.map({ ($0, true) }) + second.map({ ($0, false) }) {
            if byName[f.keyName] == nil { names.append(f.keyName) }
            if isFirst { byName[f.keyName, default: ([], [])].first.append(f) } else { byName[f.keyName, default: ([], [])].second.append(f) }
        }
        return EventValueMarkCache(sources: names.map { EventValueMarkCache.Source(first: byName[$0]!.first, second: byName[$0]!.second) },
                                   undecided: undecided, words: 2 * words)
    }

    /// Whether the index of `type`'s rules keeps the marks of its per-event fields per combination
    /// of their values: for exec, whose approver reads a dozen fields per event and whose values
    /// (a command line and its executable) come back again and again on a host.
    static func keepsEventValueResults(for type: EventType?) -> Bool {
        type == .exec
    }

    /// The field indexes of one group level. `storage` says where a scope's results live: only
    /// fields read per event get an environment cache (kept results are already read once per
    /// process or parent).
    private static func fieldIndexes(_ approvers: [Approver?], level: Int, stride: Int, words: Int,
                                     storage: (FieldScope) -> FieldScope) -> [FieldIndex] {
        var exactByField: [String: [[UInt8]: [Int32]]] = [:]
        var globsByField: [String: [(Glob, Int32)]] = [:]
        var literalGlobsByField: [String: [(Glob, Int32)]] = [:]
        var notEqualByField: [String: [([UInt8], Int32)]] = [:]
        var containsByField: [String: [([UInt8], Int32)]] = [:]
        var masks: [String: [UInt64]] = [:]
        var readers: [String: StringSource] = [:]
        var environments: [String: (EvalContext) -> StringList?] = [:]
        var determinants: [String: FieldDeterminant] = [:]
        var scopes: [String: FieldScope] = [:]
        var order: [String] = []
        for (i, a) in approvers.enumerated() {
            let groups = a?.groups ?? []
            if groups.count > level {
                let terms = groups[level]
                let slot = Int32(level * stride + i)
                for t in terms where t.predicate == nil {
                    if readers[t.fieldName] == nil {
                        readers[t.fieldName] = StringSource(t.read)
                        environments[t.fieldName] = t.environment
                        determinants[t.fieldName] = t.determinant
                        scopes[t.fieldName] = t.scope
                        order.append(t.fieldName)
                        masks[t.fieldName] = [UInt64](repeating: 0, count: words)
                    }
                    masks[t.fieldName]![i >> 6] |= 1 << UInt64(i & 63)
                    if t.negated, t.operands.count == 1, case .exact(let s) = t.operands[0] {
                        notEqualByField[t.fieldName, default: []].append((Array(s.utf8), slot))
                        continue
                    }
                    for op in t.operands {
                        switch op {
                        case .exact(let s):
                            exactByField[t.fieldName, default: [:]][Array(s.utf8), default: []].append(slot)
                        case .pattern(let p):
                            let g = Glob(p, isPath: t.isPath)
                            if let e = g.exact {
                                exactByField[t.fieldName, default: [:]][e, default: []].append(slot)
                            } else if g.prefix.isEmpty, LiteralIndex.indexable(g) {
                                literalGlobsByField[t.fieldName, default: []].append((g, slot))
                            } else {
                                globsByField[t.fieldName, default: []].append((g, slot))
                            }
                        case .regex(let r):
                            // The compiler only keeps regexes with a required literal; an empty one matches everything.
                            containsByField[t.fieldName, default: []].append((StringMatcher.requiredLiteral(r), slot))
                        }
                    }
                }
            }
        }
        return order.map { name in
            let exact = (exactByField[name] ?? [:]).sorted { $0.key.lexicographicallyPrecedes($1.key) }.map { ($0.key, $0.value) }
            let f = FieldIndex(name: name, read: readers[name]!.read, environment: storage(scopes[name]!) == .event ? environments[name] : nil,
                               determinant: determinants[name],
                               scope: scopes[name]!,
                               exact: exact, patterns: globsByField[name] ?? [],
                               literalPatterns: LiteralIndex(literalGlobsByField[name] ?? []),
                               notEqual: notEqualByField[name] ?? [], contains: containsByField[name] ?? [], ruleMask: masks[name]!)
            return f
        }
    }

    /// Sets in `bits` (the first `words` words; `2 * words` are used) the rules that the event may match.
    @inline(__always)
    func candidates(_ ctx: EvalContext, _ bits: UnsafeMutablePointer<UInt64>) {
        var w = 0
        while w < 2 * words { bits[w] = always[w]; w += 1 }
        if !processKept.isEmpty { addKept(processKept, .process, unretained(ctx.event.process), ctx, bits) }
        if !chainKept.isEmpty { addKept(chainKept, .chain, unretained(ctx.event.process?.parent), ctx, bits) }
        // Both groups' marks of the cached fields at once: a second-group mark only counts where
        // the first group's is set, so setting it for every rule changes no result. When the cache
        // stands aside (or the key is too long to keep), every field is looked up below.
        let cacheMarked = valueCacheRef?._withUnsafeGuaranteedRef { $0.mark(ctx, bits) } ?? false
        if cacheMarked { markFirst(eventFieldRefs, ctx, bits) } else { markFirst(allEventFieldRefs, ctx, bits) }
        for p in eventPredicates where p.predicate(ctx) { setCandidate(bits, p.slot) }
        if cacheMarked { markSecond(eventSecondFieldRefs, ctx, bits) } else { markSecond(allEventSecondFieldRefs, ctx, bits) }
        for p in eventSecondPredicates where bits[p.rule >> 6] & (1 << UInt64(p.rule & 63)) != 0 && p.predicate(ctx) {
            setCandidate(bits, p.slot)
        }
        w = 0
        while w < words { bits[w] &= bits[words + w]; w += 1 }
    }

    /// Sets the marks of the first-group `fields`.
    @inline(__always)
    private func markFirst(_ fields: [Unmanaged<FieldIndex>], _ ctx: EvalContext, _ bits: UnsafeMutablePointer<UInt64>) {
        var f = 0
        while f < fields.count {
            fields[f]._withUnsafeGuaranteedRef { ApproverIndex.mark($0, ctx, bits) }
            f += 1
        }
    }

    /// Sets the marks of the second-group `fields` that can still change the outcome of a candidate.
    @inline(__always)
    private func markSecond(_ fields: [Unmanaged<FieldIndex>], _ ctx: EvalContext, _ bits: UnsafeMutablePointer<UInt64>) {
        var f = 0
        while f < fields.count {
            fields[f]._withUnsafeGuaranteedRef { field in
                var live = false
                var w = 0
                while w < words { if field.ruleMask[w] & bits[w] != 0 { live = true; break }; w += 1 }
                if live { ApproverIndex.mark(field, ctx, bits) }
            }
            f += 1
        }
    }

    /// Adds to `bits` the marks of `terms` (all of `scope`), kept on `entry`: tested once, then again
    /// only after a revision along what they read changed. Without an entry they read nothing
    /// worth keeping and are tested directly.
    @inline(__always)
    private func addKept(_ terms: borrowing KeptTerms, _ scope: FieldScope, _ entry: Unmanaged<ProcessEntry>?, _ ctx: EvalContext,
                         _ bits: UnsafeMutablePointer<UInt64>) {
        guard let entry else {
            terms.mark(ctx, bits)
            return
        }
        // Unretained: the entry is reachable from the event, its cache from the entry, and the
        // slot from the cache for the whole evaluation (retaining each cost atomic operations).
        entry._withUnsafeGuaranteedRef { entry in
            ApproverCache.of(entry)._withUnsafeGuaranteedRef { cache in
                cache.slot(token, scope, words: 2 * words)._withUnsafeGuaranteedRef { slot in
                    if !ApproverCache.isCurrent(slot, entry) {
                        guard ApproverCache.stamp(slot, entry) else {
                            terms.mark(ctx, bits)
                            return
                        }
                        slot.bits.withUnsafeMutableBufferPointer { kept in
                            for w in kept.indices { kept[w] = 0 }
                            terms.mark(ctx, kept.baseAddress!)
                        }
                    }
                    slot.bits.withUnsafeBufferPointer { kept in
                        for w in kept.indices { bits[w] |= kept[w] }
                    }
                }
            }
        }
    }

    /// Sets the slots of the entries of `field` that its value(s) match.
    @inline(__always)
    static func mark(_ field: FieldIndex, _ ctx: EvalContext, _ bits: UnsafeMutablePointer<UInt64>) {
        if let cache = field.environmentMarks {
            cache.mark(ctx, bits) { markValues(field, ctx, $0) }
            return
        }
        markValues(field, ctx, bits)
    }

    /// `mark` without the environment cache: every value read and looked up.
    @inline(__always)
    static func markValues(_ field: FieldIndex, _ ctx: EvalContext, _ bits: UnsafeMutablePointer<UInt64>) {
        _ = field.read(ctx) { v in
            let startMisses = v.count >= 2 && !field.startPairs.contains(v[0], v[1])
            if startMisses && v.count < field.quickRejectBelow { return false }
            let e = startMisses ? -1 : field.exact.find(v)
            if e >= 0 {
                for k in field.exact.valueRange(e) {
                    setCandidate(bits, Int(field.exact.values[k]))
                }
            }
            var n = 0
            while n < field.notEqual.count {
                if !Glob.equal(v, 0, v.count, field.notEqual[n]) { setCandidate(bits, Int(field.notEqualRules[n])) }
                n += 1
            }
            n = 0
            while n < field.contains.count {
                if StringMatcher.contains(v, field.contains[n]) { setCandidate(bits, Int(field.containsRules[n])) }
                n += 1
            }
            field.literalPatterns.walk(v) { entry in
                let r = Int(field.literalPatterns.rules[entry])
                let bit: UInt64 = 1 << UInt64(r & 63)
                if bits[r >> 6] & bit == 0, field.literalPatterns.globs[entry].matches(v) {
                    bits[r >> 6] |= bit
                }
            }
            if field.patterns.isEmpty || (startMisses && field.prefixesFiltered) { return false }
            // The value's byte set, computed when the walk first reaches a pattern.
            var present: ByteSet?
            field.patterns.walk(v) { entry in
                let r = Int(field.patterns.rules[entry])
                let bit: UInt64 = 1 << UInt64(r & 63)
                if bits[r >> 6] & bit != 0 { return }
                if present == nil { present = ByteSet(of: v) }
                if field.patterns.required[entry].isSubset(of: present!), field.patterns.globs[entry].matches(v) {
                    bits[r >> 6] |= bit
                }
            }
            return false
        }
    }

    /// A one-line summary (for the benchmark and debugging).
    var summary: String {
        var parts: [String] = []
        let predicateCount = eventPredicates.count + eventSecondPredicates.count + processKept.predicates.count + chainKept.predicates.count
        if predicateCount > 0 {
            parts.append("predicates: \(eventPredicates.count + eventSecondPredicates.count) per event, \(processKept.predicates.count) kept per process, \(chainKept.predicates.count) kept per parent")
        }
        if let valueCache {
            parts.append("values kept per combination of \(valueCache.sources.map(\.keyName).joined(separator: ", ")) "
                         + "(\(valueCache.lookups) lookups, \(valueCache.fills) fills, \(valueCache.bypassed) looked up directly)")
        }
        for f in fields + secondFields {
            parts.append("\(f.name): \(f.exact.values.count) exact, \(f.patterns.globs.count) prefix patterns, \(f.literalPatterns.globs.count) literal patterns, \(f.notEqual.count) !=, \(f.contains.count) regex")
        }
        return "\(approvedCount)/\(ruleCount) rules with approvers; " + parts.joined(separator: "; ")
    }
}
