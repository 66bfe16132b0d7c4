import Foundation

/// Approver results kept on a process entry, so that the approver fields that depend only on a
/// process (`process.comm`, `container.id`) or only on its ancestry (`process.parent.*`,
/// `process.ancestors.*`) are read and looked up once per process, not once per event.
///
/// A slot belongs to one approver index (its `token`) and one scope. It holds the candidate bits
/// that the index's fields of that scope set, and the revisions they were computed at: for
/// `.process` the entry's own; for `.chain` the entry's and each ancestor's, nearest first. Every
/// change to an entry bumps its revision, and re-parenting is such a change, so equal revisions
/// along the chain mean the same entries with the same values: the bits still hold.
///
/// The cache is written during evaluation: entries must not be evaluated by two threads at once
/// (the agent evaluates on one thread; see `EvalContext`).
final class ApproverCache {
    /// Chains deeper than this are read for every event rather than cached.
    static let maxChainDepth = 128

    final class Slot {
        let token: UInt64
        let scope: FieldScope
        var bits: [UInt64]
        /// Empty until the first fill (a fill records at least the entry's own revision).
        var revisions: [UInt64] = []

        init(token: UInt64, scope: FieldScope, words: Int) {
            self.token = token
            self.scope = scope
            bits = [UInt64](repeating: 0, count: words)
            revisions.reserveCapacity(scope == .process ? 1 : 8)
        }
    }

    private var slots: [Slot] = []

    /// The same slots, unretained (the list above owns them), for `slot`.
    private var slotRefs: [Unmanaged<Slot>] = []

    /// The cache of `entry`, made if missing; unretained (the entry owns it).
    @inline(__always)
    static func of(_ entry: ProcessEntry) -> Unmanaged<ApproverCache> {
        if let cache = entry.approverCacheRef { return cache }
        let cache = ApproverCache()
        entry.approverCache = cache
        return Unmanaged.passUnretained(cache)
    }

    /// The slot of `token` and `scope`, made with `words` words of bits if missing; unretained (the
    /// cache owns it).
    @inline(__always)
    func slot(_ token: UInt64, _ scope: FieldScope, words: Int) -> Unmanaged<Slot> {
        var i = 0
        while i < slotRefs.count {
            let s = slotRefs[i]
            if s._withUnsafeGuaranteedRef({ $0.token == token && $0.scope == scope }) { return s }
            i += 1
        }
        let s = Slot(token: token, scope: scope, words: words)
        slots.append(s)
        slotRefs.append(Unmanaged.passUnretained(s))
        return Unmanaged.passUnretained(s)
    }

    /// True when `slot` was filled for `entry` as it is now (see the type's comment).
    @inline(__always)
    static func isCurrent(_ slot: Slot, _ entry: ProcessEntry) -> Bool {
        if slot.revisions.isEmpty { return false }
        if slot.scope == .process { return slot.revisions[0] == entry.revision }
        return slot.revisions.withUnsafeBufferPointer { revisions in
            // Walked unretained: the chain is reachable from `entry` for the whole walk, and a
            // retained `parent` cost an atomic retain and release per ancestor and event.
            var i = 0
            var current: Unmanaged<ProcessEntry>? = Unmanaged.passUnretained(entry)
            while let e = current {
                let (revision, parent) = e._withUnsafeGuaranteedRef { ($0.revision, $0.parent.map { Unmanaged.passUnretained($0) }) }
                if i == revisions.count || revisions[i] != revision { return false }
                i += 1
                current = parent
            }
            return i == revisions.count
        }
    }

    /// Records the revisions `slot` is filled at; false when the chain is too deep to cache.
    @inline(__always)
    static func stamp(_ slot: Slot, _ entry: ProcessEntry) -> Bool {
        slot.revisions.removeAll(keepingCapacity: true)
        if slot.scope == .process {
            slot.revisions.append(entry.revision)
            return true
        }
        var current: ProcessEntry? = entry
        while let e = current {
            if slot.revisions.count == maxChainDepth {
                slot.revisions.removeAll(keepingCapacity: true)
                return false
            }
            slot.revisions.append(e.revision)
            current = e.parent
        }
        return true
    }

    // MARK: - Tokens

    private static let tokenLock = NSLock()
    nonisolated(unsafe) private static var lastToken: UInt64 = 0

    /// A number no other approver index of this process has had: slots of a freed rule set never
    /// match a new one, even at the same address.
    static func newToken() -> UInt64 {
        tokenLock.lock()
        defer { tokenLock.unlock() }
        lastToken += 1
        return lastToken
    }
}
