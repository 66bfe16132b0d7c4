#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The candidate bits that one environment-name field (`exec.envs`) set for recently seen
/// environment lists.
///
/// Looking up an exec's ~37 environment names costs about a third of its evaluation, yet most execs
/// carry an environment seen moments before: children inherit it, and shells pass it on with at most
/// a few values changed (`_`, `SHLVL`, `PWD`). A list seen before costs a hash and one comparison.
///
/// A hit is exact: the whole list (its bytes and the end of each element) is compared with the
/// stored copy, and the bits depend on nothing else (the field's entries are fixed at compile time).
/// The hash reads a few bytes per element (see `hash`). A list may sit in any of the `ways` slots
/// after the one its hash names; a new list replaces the least recently used of them. Lists of
/// more than `maxBytes` bytes or `maxElements` elements are looked up name by name every time.
///
/// Storage (about 600 KB, in a `MarkCacheTable`) is allocated at the first lookup, so rule sets
/// without environment rules or without exec events never pay for it.
final class EnvironmentMarkCache {
    static let slotCount = 64
    static let ways = 4
    static let maxBytes = 8192
    static let maxElements = 256

    /// Reads the environment list of the event being evaluated.
    let list: (EvalContext) -> StringList?
    /// Applied to every hash: tests pass 0 so that all lists collide and only the comparison of
    /// their bytes and ends tells them apart.
    let hashMask: UInt64
    /// The kept lists, each as its key: element count, element ends, then bytes.
    private let table: MarkCacheTable

    init(list: @escaping (EvalContext) -> StringList?, words: Int, hashMask: UInt64 = ~0) {
        self.list = list
        self.hashMask = hashMask
        table = MarkCacheTable(slotCount: Self.slotCount, ways: Self.ways,
                               maxKeyBytes: 4 + Self.maxElements * MemoryLayout<UInt32>.stride + Self.maxBytes, words: words)
    }

    /// ORs into `bits` the marks of the event's environment list: the stored ones when the same
    /// list was seen, else those `fill` sets in zeroed scratch (then stored).
    @inline(__always)
    func mark(_ ctx: EvalContext, _ bits: UnsafeMutablePointer<UInt64>, _ fill: (UnsafeMutablePointer<UInt64>) -> Void) {
        guard let environment = list(ctx) else { return }
        environment.withStorage { bytes, ends in
            guard bytes.count <= Self.maxBytes, ends.count <= Self.maxElements else {
                fill(bits)
                return
            }
            let endBytes = ends.count * MemoryLayout<UInt32>.stride
            let hash = Self.hash(bytes, ends) & hashMask
            // The element count first: keys of equal length and bytes are then the same list.
            table.mark(bits, hash: hash, length: 4 + endBytes + bytes.count, equal: { stored in
                UnsafeRawPointer(stored).loadUnaligned(as: UInt32.self) == UInt32(ends.count)
                    && Self.equal(stored + 4, UnsafeRawBufferPointer(ends)) && Self.equal(stored + 4 + endBytes, UnsafeRawBufferPointer(bytes))
            }, fill: fill, store: { stored in
                UnsafeMutableRawPointer(stored).storeBytes(of: UInt32(ends.count), as: UInt32.self)
                if let base = ends.baseAddress { UnsafeMutableRawPointer(stored + 4).copyMemory(from: base, byteCount: endBytes) }
                if let base = bytes.baseAddress { (stored + 4 + endBytes).update(from: base, count: bytes.count) }
            })
        }
    }

    /// A hash of a list's element ends and the last 8 bytes of each element. It only picks the
    /// slots to compare: a hit is confirmed by comparing every byte, so lists that differ elsewhere
    /// with the same hash cost a comparison and share the slots of one set, never a wrong result.
    /// Lists of one shell mostly differ at an element's end (`_=/usr/bin/date` against
    /// `_=/usr/bin/find`, `PWD=`, `SHLVL=`); reading 8 bytes per element, not all of them, keeps the
    /// hash at about a fifth of the cost of hashing every byte (~1.7 KB per exec here).
    @inline(__always)
    static func hash(_ bytes: UnsafeBufferPointer<UInt8>, _ ends: UnsafeBufferPointer<UInt32>) -> UInt64 {
        let k: UInt64 = 0x9e37_79b9_7f4a_7c15
        var h0 = UInt64(truncatingIfNeeded: bytes.count) &* k
        var h1 = UInt64(truncatingIfNeeded: ends.count)
        guard let base = bytes.baseAddress else { return h0 ^ h1 }
        let raw = UnsafeRawPointer(base)
        for e in ends {
            let end = Int(e)
            var tail: UInt64
            if end >= 8 {
                tail = raw.loadUnaligned(fromByteOffset: end - 8, as: UInt64.self)
            } else {
                tail = 0
                for i in 0..<end { tail = tail << 8 | UInt64(base[i]) }
            }
            // Two lanes, so that consecutive elements do not wait on one multiply chain.
            h0 = (h0 ^ tail) &* k
            h1 = (h1 ^ UInt64(e)) &* k
        }
        var h = h0 ^ (h1 >> 7) ^ (h1 << 3)
        h ^= h >> 29
        h = h &* k
        return h ^ (h >> 32)
    }

    /// Whether `stored` holds the bytes of `current`.
    @inline(__always)
    private static func equal(_ stored: UnsafeMutablePointer<UInt8>, _ current: UnsafeRawBufferPointer) -> Bool {
        guard let base = current.baseAddress else { return true }
        return memcmp(stored, base, current.count) == 0
    }
}
