/// Patterns that start with a wildcard (`*stratum+tcp*`, `*/.ssh/*`), keyed by the longest literal
/// piece each one contains: a value can only match a pattern whose literal it contains.
///
/// The prefix trie cannot select these patterns (their prefix is empty), so without this index every
/// value would be tried against each of them. Here one pass over the value tests each pair of
/// adjacent bytes against a bit set of the literals' first two bytes, and only on a hit looks up the
/// literals starting with that pair; only the patterns whose literal occurs in the value are matched
/// in full.
final class LiteralIndex {
    /// Table size (a power of two): 4096 Int32 slots fit in L1 cache.
    private static let tableSize = 4096

    let globs: [Glob]
    let rules: [Int32]
    /// Per entry: its literal (two bytes or more).
    private let literals: [[UInt8]]
    /// Hashed first-two-bytes slot -> first entry of the chain (-1: none); `next` links the chain.
    private let heads: [Int32]
    private let next: [Int32]
    /// The literals' first two bytes, for the pass over the value (most pairs miss).
    private let firstPairs: BytePairSet
    let isEmpty: Bool

    /// Entries whose longest literal is shorter than two bytes cannot be indexed: `indexable` says which.
    static func indexable(_ g: Glob) -> Bool { g.longestLiteral.count >= 2 }

    init(_ items: [(Glob, Int32)]) {
        globs = items.map(\.0)
        rules = items.map(\.1)
        literals = items.map(\.0.longestLiteral)
        var heads = [Int32](repeating: -1, count: LiteralIndex.tableSize)
        var next = [Int32](repeating: -1, count: items.count)
        // Insert in reverse so each chain lists its entries in pattern order.
        for e in stride(from: items.count - 1, through: 0, by: -1) {
            let lit = literals[e]
            let slot = LiteralIndex.slot(lit[0], lit[1])
            next[e] = heads[slot]
            heads[slot] = Int32(e)
        }
        self.heads = heads
        self.next = next
        firstPairs = BytePairSet(literals.map { ($0[0], $0[1]) })
        isEmpty = items.isEmpty
    }

    @inline(__always)
    private static func slot(_ a: UInt8, _ b: UInt8) -> Int {
        (Int(a) &* 131 &+ Int(b)) & (tableSize - 1)
    }

    /// Calls `visit(entry)` for each pattern whose literal occurs in `v` (possibly more than once per
    /// entry when the literal occurs several times; the caller skips entries it already decided).
    @inline(__always)
    func walk(_ v: UnsafeBufferPointer<UInt8>, _ visit: (Int) -> Void) {
        if isEmpty || v.count < 2 { return }
        var i = 0
        let last = v.count - 1
        while i < last {
            if !firstPairs.contains(v[i], v[i + 1]) {
                i += 1
                continue
            }
            var e = Int(heads[LiteralIndex.slot(v[i], v[i + 1])])
            while e >= 0 {
                let lit = literals[e]
                if lit[0] == v[i], lit[1] == v[i + 1], i + lit.count <= v.count, Glob.equal(v, i, i + lit.count, lit) {
                    visit(e)
                }
                e = Int(next[e])
            }
            i += 1
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
