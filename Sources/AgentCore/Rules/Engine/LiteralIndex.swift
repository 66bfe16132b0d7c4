/// Patterns that start with a wildcard (`*stratum+tcp*`, `*/.ssh/*`), keyed by the longest literal
/// piece each one contains: a value can only match a pattern whose literal it contains.
///
/// The prefix trie cannot select these patterns (their prefix is empty), so without this index every
/// value would be tried against each of them. Every pair of adjacent bytes of every literal is
/// indexed, with its offset in the literal. With `L` the shortest literal's length, any occurrence
/// of a literal covers `L - 1` consecutive pair positions of the value, so testing every
/// `(L - 1)`-th position finds it: the pass over the value tests those pairs against a bit set and,
/// on a hit, checks the literals holding that pair where they would start. Only the patterns whose
/// literal occurs in the value are matched in full.
final class LiteralIndex {
    /// Table size (a power of two): 4096 Int32 slots fit in L1 cache.
    private static let tableSize = 4096

    let globs: [Glob]
    let rules: [Int32]
    /// Per entry: its literal (two bytes or more).
    private let literals: [[UInt8]]
    /// Hashed pair slot -> first node of its chain (-1: none). A node is one pair of one literal:
    /// its entry, the pair's offset in the literal and the next node of the chain.
    private let heads: [Int32]
    private let nodeEntry: [Int32]
    private let nodeOffset: [Int32]
    private let nodeNext: [Int32]
    /// Every indexed pair, for the pass over the value (most pairs miss).
    private let pairs: BytePairSet
    /// Distance between the tested positions: the shortest literal's length minus one.
    private let step: Int
    let isEmpty: Bool
    /// The shortest literal's length (`Int.max` without entries): a shorter value matches no entry.
    let shortestLiteral: Int

    /// Entries whose longest literal is shorter than two bytes cannot be indexed: `indexable` says which.
    static func indexable(_ g: Glob) -> Bool { g.longestLiteral.count >= 2 }

    init(_ items: [(Glob, Int32)]) {
        globs = items.map(\.0)
        rules = items.map(\.1)
        literals = items.map(\.0.longestLiteral)
        var heads = [Int32](repeating: -1, count: LiteralIndex.tableSize)
        var nodeEntry: [Int32] = []
        var nodeOffset: [Int32] = []
        var nodeNext: [Int32] = []
        var pairList: [(UInt8, UInt8)] = []
        // Insert in reverse so each chain lists its entries in pattern order.
        for e in stride(from: items.count - 1, through: 0, by: -1) {
            let lit = literals[e]
            for o in stride(from: lit.count - 2, through: 0, by: -1) {
                let slot = LiteralIndex.slot(lit[o], lit[o + 1])
                nodeEntry.append(Int32(e))
                nodeOffset.append(Int32(o))
                nodeNext.append(heads[slot])
                heads[slot] = Int32(nodeEntry.count - 1)
                pairList.append((lit[o], lit[o + 1]))
            }
        }
        self.heads = heads
        self.nodeEntry = nodeEntry
        self.nodeOffset = nodeOffset
        self.nodeNext = nodeNext
        pairs = BytePairSet(pairList)
        shortestLiteral = literals.map(\.count).min() ?? Int.max
        step = literals.isEmpty ? 1 : max(shortestLiteral - 1, 1)
        isEmpty = items.isEmpty
    }

    @inline(__always)
    private static func slot(_ a: UInt8, _ b: UInt8) -> Int {
        (Int(a) &* 131 &+ Int(b)) & (tableSize - 1)
    }

    /// Calls `visit(entry)` for each pattern whose literal occurs in `v` (possibly more than once per
    /// entry; the caller skips entries it already decided).
    @inline(__always)
    func walk(_ v: UnsafeBufferPointer<UInt8>, _ visit: (Int) -> Void) {
        if isEmpty || v.count < 2 { return }
        var i = 0
        let last = v.count - 1
        while i < last {
            let a = v[i], b = v[i + 1]
            if pairs.contains(a, b) {
                var n = Int(heads[LiteralIndex.slot(a, b)])
                while n >= 0 {
                    let e = Int(nodeEntry[n])
                    let start = i - Int(nodeOffset[n])
                    let lit = literals[e]
                    if start >= 0, start + lit.count <= v.count, Glob.equal(v, start, start + lit.count, lit) { visit(e) }
                    n = Int(nodeNext[n])
                }
            }
            i += step
        }
    }
}

/// A set of byte pairs, hashed into 4,096 bits (512 bytes: stays in L1 cache). `contains` may say
/// yes for a pair that was not added, never no for one that was: a filter in front of exact checks.
final class BytePairSet {
    private static let bitCount = 4096
    private let bits: UnsafeMutablePointer<UInt64>

    init(_ pairs: [(UInt8, UInt8)]) {
        bits = .allocate(capacity: BytePairSet.bitCount / 64)
        bits.initialize(repeating: 0, count: BytePairSet.bitCount / 64)
        for (a, b) in pairs {
            let k = BytePairSet.key(a, b)
            bits[k >> 6] |= 1 << UInt64(k & 63)
        }
    }

    deinit { bits.deallocate() }

    @inline(__always)
    private static func key(_ a: UInt8, _ b: UInt8) -> Int {
        (Int(a) &* 167 &+ Int(b)) & (bitCount - 1)
    }

    @inline(__always)
    func contains(_ a: UInt8, _ b: UInt8) -> Bool {
        let k = BytePairSet.key(a, b)
        return bits[k >> 6] & (1 << UInt64(k & 63)) != 0
    }
}
