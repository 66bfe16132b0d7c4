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
/// Storage (about 600 KB) is allocated at the first lookup, so rule sets without environment rules
/// or without exec events never pay for it. Written during evaluation: one thread at a time, like
/// the rule set that owns it (see `EvalContext`).
final class EnvironmentMarkCache {
    static let slotCount = 64
    static let ways = 4
    static let maxBytes = 8192
    static let maxElements = 256

    /// Reads the environment list of the event being evaluated.
    let list: (EvalContext) -> StringList?
    /// Candidate words a fill may set (both groups, see `ApproverIndex.candidates`).
    let words: Int
    /// Applied to every hash: tests pass 0 so that all lists collide and only the comparison of
    /// their bytes and ends tells them apart.
    let hashMask: UInt64
    private var storage: Storage?
    /// Lookups so far: the use stamp of a slot's last hit or fill.
    private var clock: UInt64 = 0

    /// Per slot: the list's bytes and element ends, its hash, sizes (-1 elements: empty slot),
    /// last use and bits.
    private struct Storage {
        let bytes: UnsafeMutablePointer<UInt8>
        let ends: UnsafeMutablePointer<UInt32>
        let hashes: UnsafeMutablePointer<UInt64>
        let byteCounts: UnsafeMutablePointer<Int>
        let elementCounts: UnsafeMutablePointer<Int>
        let lastUse: UnsafeMutablePointer<UInt64>
        let bits: UnsafeMutablePointer<UInt64>
    }

    init(list: @escaping (EvalContext) -> StringList?, words: Int, hashMask: UInt64 = ~0) {
        self.list = list
        self.words = words
        self.hashMask = hashMask
    }

    deinit {
        guard let s = storage else { return }
        s.bytes.deallocate()
        s.ends.deallocate()
        s.hashes.deallocate()
        s.byteCounts.deallocate()
        s.elementCounts.deallocate()
        s.lastUse.deallocate()
        s.bits.deallocate()
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
            let s = storage ?? allocate()
            clock &+= 1
            let hash = Self.hash(bytes, ends) & hashMask
            let first = Int(truncatingIfNeeded: hash) & (Self.slotCount - 1)
            var slot = -1
            var victim = first
            for way in 0..<Self.ways {
                let candidate = (first + way) & (Self.slotCount - 1)
                if s.hashes[candidate] == hash, s.elementCounts[candidate] == ends.count, s.byteCounts[candidate] == bytes.count,
                   Self.equal(s.ends + candidate * Self.maxElements, ends), Self.equal(s.bytes + candidate * Self.maxBytes, bytes) {
                    slot = candidate
                    break
                }
                if s.lastUse[candidate] < s.lastUse[victim] { victim = candidate }
            }
            if slot < 0 {
                slot = victim
                let kept = s.bits + slot * words
                kept.update(repeating: 0, count: words)
                fill(kept)
                if let base = bytes.baseAddress { (s.bytes + slot * Self.maxBytes).update(from: base, count: bytes.count) }
                if let base = ends.baseAddress { (s.ends + slot * Self.maxElements).update(from: base, count: ends.count) }
                s.hashes[slot] = hash
                s.byteCounts[slot] = bytes.count
                s.elementCounts[slot] = ends.count
            }
            s.lastUse[slot] = clock
            let kept = s.bits + slot * words
            for w in 0..<words { bits[w] |= kept[w] }
        }
    }

    private func allocate() -> Storage {
        let n = Self.slotCount
        let s = Storage(bytes: .allocate(capacity: n * Self.maxBytes), ends: .allocate(capacity: n * Self.maxElements),
                        hashes: .allocate(capacity: n), byteCounts: .allocate(capacity: n), elementCounts: .allocate(capacity: n),
                        lastUse: .allocate(capacity: n), bits: .allocate(capacity: n * words))
        s.hashes.initialize(repeating: 0, count: n)
        s.byteCounts.initialize(repeating: 0, count: n)
        s.elementCounts.initialize(repeating: -1, count: n)
        s.lastUse.initialize(repeating: 0, count: n)
        s.bits.initialize(repeating: 0, count: n * words)
        storage = s
        return s
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

    /// Whether `stored` holds the elements of `current`.
    @inline(__always)
    private static func equal<T>(_ stored: UnsafeMutablePointer<T>, _ current: UnsafeBufferPointer<T>) -> Bool {
        guard let base = current.baseAddress else { return true }
        return memcmp(stored, base, current.count * MemoryLayout<T>.stride) == 0
    }
}
