/// Patterns that start with a wildcard (`*stratum+tcp*`, `*/.ssh/*`), keyed by the longest literal
/// piece each one contains: a value can only match a pattern whose literal it contains.
///
/// The prefix trie cannot select these patterns (their prefix is empty), so without this index every
/// value would be tried against each of them. Here one pass over the value looks up each pair of
/// adjacent bytes in a small hashed table of the literals' first two bytes; only the patterns whose
/// literal occurs in the value are matched in full.
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
