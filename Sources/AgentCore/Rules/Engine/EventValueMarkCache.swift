#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The candidate bits that the per-event string fields of one approver index set, kept for recently
/// seen combinations of their values.
///
/// An exec's approver reads about a dozen fields per event (`exec.file.path`, `exec.args`,
/// `exec.args_flags`, `exec.comm`, ...) and walks each value through exact tables, prefix tries and
/// the literal index of `exec.args`'s 76 patterns: about a quarter of its evaluation. Yet a host
/// runs the same commands again and again (shells, scripts, build steps, cron jobs): the 1,351
/// recorded execs of the benchmark carry 43 distinct combinations. So the values are copied into one
/// key, and the marks they set are looked up by it; a combination seen before costs the reads, a
/// hash and one comparison.
///
/// A hit is exact: the key holds every value of every field, each with its length, so two keys are
/// equal only when every field read the same values. The marks depend on nothing else: an index's
/// entries are fixed at compile time, and what the process, its parent or the event's integers
/// decide is added outside this cache. Keys longer than `maxKeyBytes` are not kept: their values
/// are looked up directly. Environment-name fields keep their own cache (`EnvironmentMarkCache`),
/// whose key is the environment list alone.
///
/// Storage (about 140 KB) is allocated at the first lookup. Written during evaluation: one thread
/// at a time, like the rule set that owns it (see `EvalContext`).
final class EventValueMarkCache {
    static let slotCount = 128
    static let ways = 4
    static let maxKeyBytes = 1024
    /// Ends the values of one field in a key (a value's length is always smaller).
    private static let fieldEnd = UInt32.max

    /// One field read into the key, and the indexes its values are looked up in on a miss (a
    /// field of both approver groups has one index per group).
    struct Source {
        /// The indexes, all of the same field (the first one's `read` is used).
        let indexes: [ApproverIndex.FieldIndex]
    }

    let sources: [Source]
    /// Each source's first index, unretained, whose `read` is the source's (the strong list above
    /// owns them): iterating `sources` retained and released two references per field and event.
    private let readers: [Unmanaged<ApproverIndex.FieldIndex>]
    /// Candidate words a fill may set (both groups, see `ApproverIndex.candidates`).
    let words: Int
    /// Applied to every hash: tests set 0 (before the first lookup) so that all keys collide and
    /// only the comparison of their bytes tells them apart.
    var hashMask: UInt64
    /// The key of the event being evaluated.
    private let key: UnsafeMutablePointer<UInt8>
    private var storage: Storage?
    /// Lookups so far: the use stamp of a slot's last hit or fill.
    private var clock: UInt64 = 0
    /// Lookups and fills (for the benchmark's statistics and the tests).
    private(set) var lookups = 0
    private(set) var fills = 0

    /// Per slot: the key's bytes, its hash, its length (-1: empty slot), last use and bits.
    private struct Storage {
        let keys: UnsafeMutablePointer<UInt8>
        let hashes: UnsafeMutablePointer<UInt64>
        let lengths: UnsafeMutablePointer<Int>
        let lastUse: UnsafeMutablePointer<UInt64>
        let bits: UnsafeMutablePointer<UInt64>
    }

    init(sources: [Source], words: Int, hashMask: UInt64 = ~0) {
        self.sources = sources
        readers = sources.map { Unmanaged.passUnretained($0.indexes[0]) }
        self.words = words
        self.hashMask = hashMask
        key = .allocate(capacity: Self.maxKeyBytes)
    }

    deinit {
        key.deallocate()
        guard let s = storage else { return }
        s.keys.deallocate()
        s.hashes.deallocate()
        s.lengths.deallocate()
        s.lastUse.deallocate()
        s.bits.deallocate()
    }

    /// ORs into `bits` the marks of the event's values of every source: the stored ones when the
    /// same values were seen, else those the sources' indexes set (then stored).
    @inline(__always)
    func mark(_ ctx: EvalContext, _ bits: UnsafeMutablePointer<UInt64>) {
        guard let length = writeKey(ctx) else {
            // Too long to keep: every value looked up, as without the cache.
            for source in sources {
                for index in source.indexes { ApproverIndex.markValues(index, ctx, bits) }
            }
            return
        }
        let s = storage ?? allocate()
        clock &+= 1
        lookups &+= 1
        let hash = BytesTable.hash(UnsafeBufferPointer(start: key, count: length)) & hashMask
        let first = Int(truncatingIfNeeded: hash) & (Self.slotCount - 1)
        var slot = -1
        var victim = first
        for way in 0..<Self.ways {
            let candidate = (first + way) & (Self.slotCount - 1)
            if s.hashes[candidate] == hash, s.lengths[candidate] == length,
               memcmp(s.keys + candidate * Self.maxKeyBytes, key, length) == 0 {
                slot = candidate
                break
            }
            if s.lastUse[candidate] < s.lastUse[victim] { victim = candidate }
        }
        if slot < 0 {
            slot = victim
            fills &+= 1
            let kept = s.bits + slot * words
            kept.update(repeating: 0, count: words)
            fill(length, kept)
            (s.keys + slot * Self.maxKeyBytes).update(from: key, count: length)
            s.hashes[slot] = hash
            s.lengths[slot] = length
        }
        s.lastUse[slot] = clock
        let kept = s.bits + slot * words
        for w in 0..<words { bits[w] |= kept[w] }
    }

    /// Writes the key of the event's values: per source, each value as its length (4 bytes) and
    /// bytes, then `fieldEnd`. Nil when it would be longer than `maxKeyBytes`.
    @inline(__always)
    private func writeKey(_ ctx: EvalContext) -> Int? {
        var length = 0
        let key = self.key
        let capacity = Self.maxKeyBytes
        var i = 0
        while i < readers.count {
            let overflow = readers[i]._withUnsafeGuaranteedRef { field in field.read(ctx) { v in
                // Room for this value and the field's end.
                guard v.count <= capacity - length - 8 else { return true }
                Self.store(UInt32(truncatingIfNeeded: v.count), key + length)
                if let base = v.baseAddress, v.count > 0 { (key + length + 4).update(from: base, count: v.count) }
                length += 4 + v.count
                return false
            } }
            if overflow { return nil }
            i += 1
            Self.store(Self.fieldEnd, key + length)
            length += 4
        }
        return length
    }

    /// Sets in `kept` the marks of the values in the key, as each source's indexes decide.
    private func fill(_ length: Int, _ kept: UnsafeMutablePointer<UInt64>) {
        var at = 0
        for source in sources {
            while at + 4 <= length {
                let count = Self.load(key + at)
                at += 4
                if count == Self.fieldEnd { break }
                let value = UnsafeBufferPointer(start: key + at, count: Int(count))
                for index in source.indexes { ApproverIndex.markValue(index, value, kept) }
                at += Int(count)
            }
        }
    }

    @inline(__always)
    private static func store(_ value: UInt32, _ at: UnsafeMutablePointer<UInt8>) {
        UnsafeMutableRawPointer(at).storeBytes(of: value, as: UInt32.self)
    }

    @inline(__always)
    private static func load(_ at: UnsafeMutablePointer<UInt8>) -> UInt32 {
        UnsafeRawPointer(at).loadUnaligned(as: UInt32.self)
    }

    private func allocate() -> Storage {
        let n = Self.slotCount
        let s = Storage(keys: .allocate(capacity: n * Self.maxKeyBytes), hashes: .allocate(capacity: n),
                        lengths: .allocate(capacity: n), lastUse: .allocate(capacity: n), bits: .allocate(capacity: n * words))
        s.hashes.initialize(repeating: 0, count: n)
        s.lengths.initialize(repeating: -1, count: n)
        s.lastUse.initialize(repeating: 0, count: n)
        s.bits.initialize(repeating: 0, count: n * words)
        storage = s
        return s
    }
}
