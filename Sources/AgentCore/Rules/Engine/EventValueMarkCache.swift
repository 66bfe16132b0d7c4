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
/// A hit is exact: the key holds every value of every key field, each with its length, so two keys
/// are equal only when every key field read the same values. A key field is the field itself, or,
/// for a field derived from another one, that one (`FieldDeterminant`): the arguments stand for
/// `exec.args`, `exec.args_flags` and `exec.args_options`, whose values they determine. The marks
/// depend on nothing else: an index's entries are fixed at compile time, and what the process, its
/// parent or the event's integers decide is added outside this cache. Keys longer than
/// `maxKeyBytes` are not kept: their values are looked up directly. Environment-name fields keep
/// their own cache (`EnvironmentMarkCache`), whose key is the environment list alone.
///
/// A host whose commands never repeat would pay for the key and the comparison on every event and
/// gain nothing, so the cache watches its hit rate: after a window of `window` lookups with fewer
/// than `minHitsPerWindow` hits it stands aside for `bypassLength` events (values looked up
/// directly, as without it), then tries again.
///
/// Storage (about 140 KB) is allocated at the first lookup. Written during evaluation: one thread
/// at a time, like the rule set that owns it (see `EvalContext`).
final class EventValueMarkCache {
    static let slotCount = 128
    static let ways = 4
    static let maxKeyBytes = 1024
    static let window = 256
    static let minHitsPerWindow = 64
    /// Events looked up directly after a window of too few hits (tests set 0: never).
    var bypassLength = 4096
    /// Ends the values of one field in a key (a value's length is always smaller).
    private static let fieldEnd = UInt32.max

    /// One key field, and the indexes of the fields it determines, looked up on a miss: those of
    /// the approvers' first groups and of their second groups (a field of both has one of each).
    struct Source {
        let first: [ApproverIndex.FieldIndex]
        let second: [ApproverIndex.FieldIndex]
        /// The index whose `keyRead` reads the key field (all of them read the same).
        var reader: ApproverIndex.FieldIndex { first.first ?? second[0] }
        var keyName: String { reader.keyName }
    }

    let sources: [Source]
    /// Rules whose first group holds terms outside this cache (first half of the candidate words):
    /// their second groups are looked up on every fill. The others' second groups only when their
    /// first group matched: otherwise the rule is no candidate whatever the second group says, and
    /// that depends on the key alone.
    let undecided: [UInt64]
    /// Each source's first index, unretained, whose `keyRead` is the source's (the strong list above
    /// owns them): iterating `sources` retained and released two references per field and event.
    private let readers: [Unmanaged<ApproverIndex.FieldIndex>]
    /// Every source's first-group and second-group indexes, unretained, for `fill`.
    private let firstIndexes: [Unmanaged<ApproverIndex.FieldIndex>]
    private let secondIndexes: [Unmanaged<ApproverIndex.FieldIndex>]
    /// Applied to every hash: tests set 0 (before the first lookup) so that all keys collide and
    /// only the comparison of their bytes tells them apart.
    var hashMask: UInt64
    /// The key of the event being evaluated.
    private let key: UnsafeMutablePointer<UInt8>
    /// The kept keys and their marks.
    private let table: MarkCacheTable
    /// Lookups, fills and events looked up directly while standing aside (for the benchmark's
    /// statistics and the tests).
    private(set) var lookups = 0
    var fills: Int { table.fills }
    private(set) var bypassed = 0
    /// The current window's lookups and hits, and the events left to look up directly.
    private var windowLookups = 0
    private var windowHits = 0
    private var bypassLeft = 0

    init(sources: [Source], undecided: [UInt64], words: Int, hashMask: UInt64 = ~0) {
        self.sources = sources
        self.undecided = undecided
        readers = sources.map { Unmanaged.passUnretained($0.reader) }
        firstIndexes = sources.flatMap(\.first).map { Unmanaged.passUnretained($0) }
        secondIndexes = sources.flatMap(\.second).map { Unmanaged.passUnretained($0) }
        self.hashMask = hashMask
        key = .allocate(capacity: Self.maxKeyBytes)
        table = MarkCacheTable(slotCount: Self.slotCount, ways: Self.ways, maxKeyBytes: Self.maxKeyBytes, words: words)
    }

    deinit { key.deallocate() }

    /// ORs into `bits` the marks of the event's values of every source: the stored ones when the
    /// same key values were seen, else those the sources' indexes set (then stored). False when it
    /// marked nothing, standing aside or for a key too long to keep: the caller looks the values up.
    @inline(__always)
    func mark(_ ctx: EvalContext, _ bits: UnsafeMutablePointer<UInt64>) -> Bool {
        if bypassLeft > 0 {
            bypassLeft -= 1
            bypassed &+= 1
            return false
        }
        guard let length = writeKey(ctx) else { return false }
        lookups &+= 1
        let hash = BytesTable.hash(UnsafeBufferPointer(start: key, count: length)) & hashMask
        let hit = table.mark(bits, hash: hash, length: length, equal: { memcmp($0, key, length) == 0 },
                             fill: { fill(ctx, $0) }, store: { $0.update(from: key, count: length) })
        windowLookups += 1
        if hit { windowHits += 1 }
        if windowLookups == Self.window {
            if windowHits < Self.minHitsPerWindow { bypassLeft = bypassLength }
            windowLookups = 0
            windowHits = 0
        }
        return true
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
            let overflow = readers[i]._withUnsafeGuaranteedRef { field in field.keyRead(ctx) { v in
                // Room for this value and the field's end.
                guard v.count <= capacity - length - 8 else { return true }
                Self.store(UInt32(truncatingIfNeeded: v.count), key + length)
                if let base = v.baseAddress, v.count > 0 { (key + length + 4).update(from: base, count: v.count) }
                length += 4 + v.count
                return false
            } }
            // A field without values still needs room for its end.
            if overflow || length > capacity - 4 { return nil }
            i += 1
            Self.store(Self.fieldEnd, key + length)
            length += 4
        }
        return length
    }

    /// Sets in `kept` (zeroed) the marks of the event's values, as each source's indexes decide:
    /// first groups, then the second groups of rules still possible (see `undecided`).
    private func fill(_ ctx: EvalContext, _ kept: UnsafeMutablePointer<UInt64>) {
        var i = 0
        while i < firstIndexes.count {
            firstIndexes[i]._withUnsafeGuaranteedRef { ApproverIndex.markValues($0, ctx, kept) }
            i += 1
        }
        i = 0
        while i < secondIndexes.count {
            secondIndexes[i]._withUnsafeGuaranteedRef { index in
                var w = 0
                while w < undecided.count {
                    if index.ruleMask[w] & (kept[w] | undecided[w]) != 0 {
                        ApproverIndex.markValues(index, ctx, kept)
                        return
                    }
                    w += 1
                }
            }
            i += 1
        }
    }

    @inline(__always)
    private static func store(_ value: UInt32, _ at: UnsafeMutablePointer<UInt8>) {
        UnsafeMutableRawPointer(at).storeBytes(of: value, as: UInt32.self)
    }
}
