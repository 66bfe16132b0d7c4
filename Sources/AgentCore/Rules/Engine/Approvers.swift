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
    /// `field != "literal"` (one exact operand, scalar field): matches when the value differs.
    var negated = false

    /// Rough per-event cost of checking this term (exact values are one shared hash probe); a
    /// negated term is cheap but rarely rules anything out.
    var cost: Int {
        if negated { return 50 }
        var c = isArray ? 3 : 1
        for op in operands {
            switch op {
            case .exact: break
            case .pattern(let p):
                let g = Glob(p, isPath: isPath)
                if g.exact != nil { break }
                c += g.prefix.isEmpty ? 20 : 2
            case .regex: c += 1_000
            }
        }
        return c
    }
}

/// A rule's approver: the rule may match only if one of the terms matches.
struct Approver {
    let terms: [ApproverTerm]
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
        /// `!=` terms: the rule is a candidate when the value differs from the literal.
        let notEqual: [[UInt8]]
        let notEqualRules: [Int32]

        init(name: String, read: @escaping (EvalContext, StringBody) -> Bool, exact: BytesTable, patterns: PrefixTrie,
             notEqual: [([UInt8], Int32)]) {
            self.name = name
            self.read = read
            self.exact = exact
            self.patterns = patterns
            self.notEqual = notEqual.map(\.0)
            notEqualRules = notEqual.map(\.1)
        }
    }

    let ruleCount: Int
    let words: Int
    /// Rules without an approver: always evaluated.
    let always: [UInt64]
    let fields: [FieldIndex]
    /// Rules whose approver is an empty list: they can never match.
    let approvedCount: Int

    init(approvers: [Approver?]) {
        ruleCount = approvers.count
        words = (approvers.count + 63) / 64
        var always = [UInt64](repeating: 0, count: max(words, 1))
        var exactByField: [String: [[UInt8]: [Int32]]] = [:]
        var globsByField: [String: [(Glob, Int32)]] = [:]
        var notEqualByField: [String: [([UInt8], Int32)]] = [:]
        var readers: [String: (EvalContext, StringBody) -> Bool] = [:]
        var order: [String] = []
        var approved = 0
        for (i, a) in approvers.enumerated() {
            guard let a else {
                always[i >> 6] |= 1 << UInt64(i & 63)
                continue
            }
            approved += 1
            for t in a.terms {
                if readers[t.fieldName] == nil {
                    readers[t.fieldName] = t.read
                    order.append(t.fieldName)
                }
                if t.negated, t.operands.count == 1, case .exact(let s) = t.operands[0] {
                    notEqualByField[t.fieldName, default: []].append((Array(s.utf8), Int32(i)))
                    continue
                }
                for op in t.operands {
                    switch op {
                    case .exact(let s):
                        exactByField[t.fieldName, default: [:]][Array(s.utf8), default: []].append(Int32(i))
                    case .pattern(let p):
                        let g = Glob(p, isPath: t.isPath)
                        if let e = g.exact {
                            exactByField[t.fieldName, default: [:]][e, default: []].append(Int32(i))
                        } else {
                            globsByField[t.fieldName, default: []].append((g, Int32(i)))
                        }
                    case .regex:
                        // Never produced by the compiler's approver extraction.
                        break
                    }
                }
            }
        }
        self.always = always
        approvedCount = approved
        fields = order.map { name in
            let exact = (exactByField[name] ?? [:]).sorted { $0.key.lexicographicallyPrecedes($1.key) }.map { ($0.key, $0.value) }
            return FieldIndex(name: name, read: readers[name]!, exact: BytesTable(exact), patterns: PrefixTrie(globsByField[name] ?? []),
                              notEqual: notEqualByField[name] ?? [])
        }
    }

    /// Sets in `bits` (`words` words) the rules that the event may match.
    @inline(__always)
    func candidates(_ ctx: EvalContext, _ bits: UnsafeMutablePointer<UInt64>) {
        var w = 0
        while w < words { bits[w] = always[w]; w += 1 }
        var f = 0
        while f < fields.count {
            let field = fields[f]
            _ = field.read(ctx) { v in
                let e = field.exact.find(v)
                if e >= 0 {
                    for k in field.exact.valueRange(e) {
                        let r = Int(field.exact.values[k])
                        bits[r >> 6] |= 1 << UInt64(r & 63)
                    }
                }
                var n = 0
                while n < field.notEqual.count {
                    if !Glob.equal(v, 0, v.count, field.notEqual[n]) {
                        let r = Int(field.notEqualRules[n])
                        bits[r >> 6] |= 1 << UInt64(r & 63)
                    }
                    n += 1
                }
                field.patterns.walk(v) { entry in
                    let r = Int(field.patterns.rules[entry])
                    let bit: UInt64 = 1 << UInt64(r & 63)
                    if bits[r >> 6] & bit == 0, field.patterns.globs[entry].matches(v) {
                        bits[r >> 6] |= bit
                    }
                }
                return false
            }
            f += 1
        }
    }

    /// A one-line summary (for the benchmark and debugging).
    var summary: String {
        var parts: [String] = []
        for f in fields {
            parts.append("\(f.name): \(f.exact.values.count) exact, \(f.patterns.globs.count) patterns, \(f.notEqual.count) !=")
        }
        return "\(approvedCount)/\(ruleCount) rules with approvers; " + parts.joined(separator: "; ")
    }
}
