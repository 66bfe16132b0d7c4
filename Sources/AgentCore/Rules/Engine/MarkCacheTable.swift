/// The slots of a mark cache (`EnvironmentMarkCache`, `EventValueMarkCache`): keys of at most
/// `maxKeyBytes` bytes, their hashes and the candidate bits that were computed for them.
///
/// A key may sit in any of the `ways` slots after the one its hash names; a new key replaces the
/// least recently used of them. Only the owner knows what its keys hold, so it compares and writes
/// them (`equal`, `store`); the table compares the hash and length first. Storage is allocated at
/// the first lookup, so rule sets that never look anything up never pay for it. Written during
/// evaluation: one thread at a time, like the rule set that owns it (see `EvalContext`).
final class MarkCacheTable {
    let slotCount: Int
    let ways: Int
    let maxKeyBytes: Int
    /// Candidate words per slot.
    let words: Int
    /// Lookups so far: the use stamp of a slot's last hit or fill.
    private var clock: UInt64 = 0
    private(set) var fills = 0
    private var storage: Storage?

    /// Per slot: the key's bytes, its hash, its length (-1: empty slot), last use and bits.
    private struct Storage {
        let keys: UnsafeMutablePointer<UInt8>
        let hashes: UnsafeMutablePointer<UInt64>
        let lengths: UnsafeMutablePointer<Int>
        let lastUse: UnsafeMutablePointer<UInt64>
        let bits: UnsafeMutablePointer<UInt64>
    }

    init(slotCount: Int, ways: Int, maxKeyBytes: Int, words: Int) {
        precondition(slotCount > 0 && slotCount & (slotCount - 1) == 0 && ways <= slotCount, "slot count: a power of two")
        self.slotCount = slotCount
        self.ways = ways
        self.maxKeyBytes = maxKeyBytes
        self.words = words
    }

    deinit {
        guard let s = storage else { return }
        s.keys.deallocate()
        s.hashes.deallocate()
        s.lengths.deallocate()
        s.lastUse.deallocate()
        s.bits.deallocate()
    }

    /// ORs into `bits` the bits kept for the key of `hash` and `length` that `equal` recognizes in a
    /// slot's key bytes. On a miss the least recently used slot of the hash is replaced: `fill` sets
    /// its bits (zeroed first) and `store` writes its key (`length` bytes, at most `maxKeyBytes`).
    /// True on a hit.
    @inline(__always)
    @discardableResult
    func mark(_ bits: UnsafeMutablePointer<UInt64>, hash: UInt64, length: Int, equal: (UnsafeMutablePointer<UInt8>) -> Bool,
              fill: (UnsafeMutablePointer<UInt64>) -> Void, store: (UnsafeMutablePointer<UInt8>) -> Void) -> Bool {
        let s = storage ?? allocate()
        clock &+= 1
        let first = Int(truncatingIfNeeded: hash) & (slotCount - 1)
        var slot = -1
        var victim = first
        for way in 0..<ways {
            let candidate = (first + way) & (slotCount - 1)
            if s.hashes[candidate] == hash, s.lengths[candidate] == length, equal(s.keys + candidate * maxKeyBytes) {
                slot = candidate
                break
            }
            if s.lastUse[candidate] < s.lastUse[victim] { victim = candidate }
        }
        let hit = slot >= 0
        if !hit {
            slot = victim
            fills &+= 1
            let kept = s.bits + slot * words
            kept.update(repeating: 0, count: words)
            fill(kept)
            store(s.keys + slot * maxKeyBytes)
            s.hashes[slot] = hash
            s.lengths[slot] = length
        }
        s.lastUse[slot] = clock
        let kept = s.bits + slot * words
        for w in 0..<words { bits[w] |= kept[w] }
        return hit
    }

    private func allocate() -> Storage {
        let n = slotCount
        let s = Storage(keys: .allocate(capacity: n * maxKeyBytes), hashes: .allocate(capacity: n), lengths: .allocate(capacity: n),
                        lastUse: .allocate(capacity: n), bits: .allocate(capacity: n * words))
        s.hashes.initialize(repeating: 0, count: n)
        s.lengths.initialize(repeating: -1, count: n)
        s.lastUse.initialize(repeating: 0, count: n)
        s.bits.initialize(repeating: 0, count: n * words)
        storage = s
        return s
    }
}
