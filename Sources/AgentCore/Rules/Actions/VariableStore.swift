import Foundation

/// The values of the variables that `set` actions write and `${...}` reads: one value per variable
/// for the global scope, per container id, per cgroup and per process image.
///
/// **Process keys.** A process image is keyed by values the agent's JSON output carries: pid, fork
/// time and exec time (`process.pid`, `fork_time`, `exec_time`). The live pipeline's shared
/// `ProcessEntry` objects and the entries `csm-agent policy evaluate` rebuilds from each line give
/// the same keys, so live and offline evaluation see the same values.
///
/// **Inheritance** follows Datadog's scopes, where a process-scoped variable belongs to one process
/// cache entry (one image) and an `inherited` read walks up the entry's ancestors until one holds
/// the variable. Datadog's ancestors of an image are the image it replaced by exec, then the image
/// that forked it. The agent's `parent` links skip the replaced images, so the store keeps, per
/// process (pid and fork time), its images that hold values, newest first: a read looks at the
/// event's image, then (inherited) at the earlier images of the same process, then at the forking
/// parent's images up to the one that forked, and so on up the `parent` links (at most
/// `ExpressionCompiler.maxAncestors` levels). The walk happens at read time: a value an ancestor
/// sets after the fork is seen by its descendants, as in Datadog, and nothing is copied at fork.
/// A child writes into its own image: `append` starts from the inherited values, then adds.
///
/// **Lifetime and bounds.** Datadog frees a process's variables with its cache entry, which lives
/// while a child still refers to it. Here `processExited` removes the images of an exited process,
/// except those holding an inherited variable, which stay readable by orphaned children in a FIFO
/// of exited images (`Limits.maxExitedProcessImages`). Every table is bounded (`Limits`): over a
/// bound the oldest record goes first; a value longer than `maxValueBytes` is not stored; past
/// `maxBytes` the oldest records of the written scope go. Every loss is counted in `stats`.
/// Containers and cgroups have no end event here: their records go by age over the bound, and
/// their values by `ttl`.
///
/// Not thread-safe: one store belongs to the thread that evaluates its events (see `EvalContext`).
/// A store serves one rule set: its slots are numbered by that rule set's declarations.
public final class VariableStore {
    /// Bounds on the store's memory.
    public struct Limits: Sendable {
        /// Process images holding values (live processes).
        public var maxProcessImages: Int
        /// Images of exited processes kept for their children's inherited reads.
        public var maxExitedProcessImages: Int
        public var maxContainers: Int
        public var maxCgroups: Int
        /// Bytes of values in the whole store (an estimate: string bytes plus a fixed cost per value).
        public var maxBytes: Int
        /// Longest string value stored.
        public var maxValueBytes: Int

        public init(maxProcessImages: Int = 65_536, maxExitedProcessImages: Int = 16_384, maxContainers: Int = 4_096,
                    maxCgroups: Int = 4_096, maxBytes: Int = 64 << 20, maxValueBytes: Int = 8_192) {
            self.maxProcessImages = max(maxProcessImages, 1)
            self.maxExitedProcessImages = max(maxExitedProcessImages, 0)
            self.maxContainers = max(maxContainers, 1)
            self.maxCgroups = max(maxCgroups, 1)
            self.maxBytes = max(maxBytes, 1)
            self.maxValueBytes = max(maxValueBytes, 0)
        }
    }

    /// What the store holds and what it lost.
    public struct Stats: Sendable, CustomStringConvertible {
        /// `set` actions run.
        public var sets = 0
        /// Process images, exited images kept, containers and cgroups holding values now.
        public var processImages = 0
        public var exitedProcessImages = 0
        public var containers = 0
        public var cgroups = 0
        /// Estimated bytes of values now.
        public var bytes = 0
        /// Images removed because their process exited (without an inherited value to keep).
        public var exitRemovals = 0
        /// Records dropped, oldest first, because their table was full.
        public var processEvictions = 0
        public var exitedProcessEvictions = 0
        public var containerEvictions = 0
        public var cgroupEvictions = 0
        /// Records dropped, oldest first, to stay under `maxBytes`.
        public var byteEvictions = 0
        /// Values not stored: longer than `maxValueBytes`, or no room left under `maxBytes`.
        public var valuesTooLong = 0
        public var valuesOverBudget = 0
        /// Array values dropped, oldest first, beyond the variable's `size`.
        public var arrayValuesDropped = 0
        /// `set` actions that had nowhere to write: no process, container or cgroup for the event.
        public var setsWithoutScope = 0
        /// `set` actions whose field or expression gave no value.
        public var setsWithoutValue = 0

        /// One line for the agent's statistics.
        public var description: String {
            "variables: \(sets) sets, \(processImages) process images (\(exitedProcessImages) exited), \(containers) containers, "
                + "\(cgroups) cgroups, \(bytes) bytes; evicted: \(processEvictions) process, \(exitedProcessEvictions) exited, "
                + "\(containerEvictions) container, \(cgroupEvictions) cgroup, \(byteEvictions) over bytes; \(exitRemovals) exit removals; "
                + "dropped: \(arrayValuesDropped) array values over size, \(valuesTooLong) too long, \(valuesOverBudget) over bytes; "
                + "\(setsWithoutScope) sets without scope, \(setsWithoutValue) without value"
        }
    }

    public let limits: Limits
    private var counters = Stats()

    public var stats: Stats {
        var s = counters
        s.processImages = processes.live.count
        s.exitedProcessImages = processes.retired.count
        s.containers = containers.live.count
        s.cgroups = cgroups.live.count
        s.bytes = bytes
        return s
    }

    private var processes = RecordTable<ProcessKey>()
    private var containers = RecordTable<String>()
    private var cgroups = RecordTable<CgroupKey>()
    private var global = VariableRecord()
    /// Per variable (`VariableDeclaration.id`): how many records hold a value. A read of a
    /// variable no record holds returns its default without a lookup.
    private var holders: [Int] = []
    private var bytes = 0
    /// Values of the `set` being applied, read before its record is touched (the value may read
    /// the store itself).
    private var pendingBytes: [UInt8] = []
    private var pendingEnds: [Int] = []
    private var pendingInts: [Int64] = []

    public init(limits: Limits = Limits()) {
        self.limits = limits
        pendingBytes.reserveCapacity(256)
        pendingEnds.reserveCapacity(8)
        pendingInts.reserveCapacity(8)
    }

    // MARK: - Reads

    /// Calls `body` with the string value of `d` for the context's event (its default when unset
    /// or expired).
    func readString(_ d: VariableDeclaration, _ ctx: EvalContext, _ body: StringBody) -> Bool {
        if let slot = liveSlot(d, ctx), case .string(let s) = slot.value { return withBytes(s, body) }
        return d.defaultBytes.withUnsafeBufferPointer(body)
    }

    func readInt(_ d: VariableDeclaration, _ ctx: EvalContext, _ body: IntBody) -> Bool {
        if let slot = liveSlot(d, ctx), case .int(let i) = slot.value { return body(i) }
        return body(d.defaultInt)
    }

    func readBool(_ d: VariableDeclaration, _ ctx: EvalContext) -> Bool {
        if let slot = liveSlot(d, ctx), case .bool(let b) = slot.value { return b }
        return d.defaultBool
    }

    /// Calls `body` with each unexpired value of the array `d`, oldest first, until it returns true.
    func readStrings(_ d: VariableDeclaration, _ ctx: EvalContext, _ body: StringBody) -> Bool {
        if let slot = liveSlot(d, ctx), case .strings(let list) = slot.value {
            let now = ctx.event.timeNs
            for k in 0..<list.values.count where !VariableStore.expired(list.expiresAt[k], now) {
                if withBytes(list.values[k], body) { return true }
            }
            return false
        }
        for value in d.defaultStrings where value.withUnsafeBufferPointer(body) { return true }
        return false
    }

    func readInts(_ d: VariableDeclaration, _ ctx: EvalContext, _ body: IntBody) -> Bool {
        if let slot = liveSlot(d, ctx), case .ints(let list) = slot.value {
            let now = ctx.event.timeNs
            for k in 0..<list.values.count where !VariableStore.expired(list.expiresAt[k], now) {
                if body(list.values[k]) { return true }
            }
            return false
        }
        for value in d.defaultInts where body(value) { return true }
        return false
    }

    /// The value of `d` that the context's event sees, nil when it has none or it expired (an
    /// array with every value expired has none).
    @inline(__always)
    private func liveSlot(_ d: VariableDeclaration, _ ctx: EvalContext) -> StoredSlot? {
        if !isHeld(d) { return nil }
        guard let location = find(d, ctx) else { return nil }
        let slot = self.slot(location, d.slot)
        return slot.isLive(ctx.event.timeNs) ? slot : nil
    }

    @inline(__always)
    static func expired(_ expiresAt: UInt64, _ now: UInt64) -> Bool {
        expiresAt != 0 && now >= expiresAt
    }

    private enum Location {
        case global
        case process(Int32)
        case container(Int32)
        case cgroup(Int32)

        func isRecord(_ r: Int32, of scope: VariableScope) -> Bool {
            switch (self, scope) {
            case (.process(let x), .process), (.container(let x), .container), (.cgroup(let x), .cgroup): return x == r
            default: return false
            }
        }
    }

    private func slot(_ location: Location, _ index: Int) -> StoredSlot {
        switch location {
        case .global: return global.slots[index]
        case .process(let r): return processes.records[Int(r)].slots[index]
        case .container(let r): return containers.records[Int(r)].slots[index]
        case .cgroup(let r): return cgroups.records[Int(r)].slots[index]
        }
    }

    /// The record holding the value of `d` that the context's event reads, if any (expired or not:
    /// as in Datadog, an inherited read stops at the nearest holder even when its value expired).
    private func find(_ d: VariableDeclaration, _ ctx: EvalContext) -> Location? {
        switch d.scope {
        case .global:
            return global.holds(d.slot) ? .global : nil
        case .container:
            guard let key = VariableStore.containerKey(ctx), let r = containers.index[key],
                  containers.records[Int(r)].holds(d.slot) else { return nil }
            return .container(r)
        case .cgroup:
            guard let key = VariableStore.cgroupKey(ctx), let r = cgroups.index[key],
                  cgroups.records[Int(r)].holds(d.slot) else { return nil }
            return .cgroup(r)
        case .process:
            guard let process = ctx.event.process else { return nil }
            return findProcessHolder(d, process).map { .process($0) }
        }
    }

    /// The image record holding `d` for `process`: its own image, then (inherited) its earlier
    /// images and its ancestors' (see the type's comment). The last answer per variable is kept
    /// until a value of the variable is written or removed (`epochs`): the rules of one event, and
    /// the events of one process, read the same variables of the same process.
    private func findProcessHolder(_ d: VariableDeclaration, _ process: ProcessEntry) -> Int32? {
        let id = d.id
        if id < memos.count {
            let m = memos[id]
            if m.epoch == epochs[id], m.pid == process.pid, m.forkTimeNs == process.forkTimeNs, m.execTimeNs == process.execTimeNs {
                return m.holder >= 0 ? m.holder : nil
            }
        } else {
            memos.append(contentsOf: repeatElement(HolderMemo(), count: id + 1 - memos.count))
            if epochs.count <= id { epochs.append(contentsOf: repeatElement(1, count: id + 1 - epochs.count)) }
        }
        let holder = walkProcessHolders(d, process)
        memos[id] = HolderMemo(pid: process.pid, forkTimeNs: process.forkTimeNs, execTimeNs: process.execTimeNs, epoch: epochs[id],
                               holder: holder ?? -1)
        return holder
    }

    /// The last `findProcessHolder` answer of a variable, valid while its epoch is.
    private struct HolderMemo {
        var pid: UInt32 = 0
        var forkTimeNs: UInt64 = 0
        var execTimeNs: UInt64 = 0
        /// 0: never valid (epochs start at 1).
        var epoch: UInt64 = 0
        var holder: Int32 = -1
    }

    private var memos: [HolderMemo] = []
    /// Per variable: bumped when one of its values is written or removed.
    private var epochs: [UInt64] = []

    @inline(__always)
    private func changed(_ id: Int) {
        if id < epochs.count { epochs[id] &+= 1 }
    }

    private func walkProcessHolders(_ d: VariableDeclaration, _ process: ProcessEntry) -> Int32? {
        var entry = process
        var depth = 0
        while true {
            if let head = processes.index[ProcessKey(entry)] {
                let image = entry.execTimeNs
                var r = head
                // Images newer than this entry's belong to its process's later life, not its past.
                while r >= 0, processes.records[Int(r)].image > image { r = processes.records[Int(r)].previous }
                if d.inherited {
                    while r >= 0 {
                        if processes.records[Int(r)].holds(d.slot) { return r }
                        r = processes.records[Int(r)].previous
                    }
                } else {
                    return r >= 0 && processes.records[Int(r)].image == image && processes.records[Int(r)].holds(d.slot) ? r : nil
                }
            } else if !d.inherited {
                return nil
            }
            depth += 1
            guard let parent = entry.parent, depth <= ExpressionCompiler.maxAncestors else { return nil }
            entry = parent
        }
    }

    static func containerKey(_ ctx: EvalContext) -> String? {
        guard let id = ctx.event.process?.containerID, !id.isEmpty else { return nil }
        return id
    }

    /// The cgroup as the agent's JSON names it (`cgroup.id`): its path when known, else the kernel
    /// id, so that offline evaluation keys it the same way.
    static func cgroupKey(_ ctx: EvalContext) -> CgroupKey? {
        let process = ctx.event.process
        if let path = process?.cgroupPath, !path.isEmpty { return .path(path) }
        let id = ctx.event.cgroupID != 0 ? ctx.event.cgroupID : (process?.cgroupID ?? 0)
        return id != 0 ? .id(id) : nil
    }

    // MARK: - Writes

    /// Runs `action` (a `set` action of a rule that matched) for the event the context points at:
    /// reads its value (value, field or expression) and stores it in the event's global, process,
    /// container or cgroup record. Call it from `RuleSet.forEachMatch`'s callback, after the
    /// action's `filter` held (`RuleAction.filterHolds(_:)`), or use `CompiledRule.runSetActions`.
    ///
    /// Allocates only what it keeps: a record the first time a scope gets a value, the string of a
    /// new string value (an equal value only has its ttl renewed).
    public func apply(_ action: SetAction, context ctx: EvalContext) {
        counters.sets += 1
        let d = action.declaration
        pendingBytes.removeAll(keepingCapacity: true)
        pendingEnds.removeAll(keepingCapacity: true)
        pendingInts.removeAll(keepingCapacity: true)
        var pendingBool = false
        var constant: VariableValue?
        switch action.source {
        case .constant(let v):
            constant = v
        case .strings(let read):
            _ = read(ctx) { bytes in
                self.pendingBytes.append(contentsOf: bytes)
                self.pendingEnds.append(self.pendingBytes.count)
                return !d.isArray
            }
            if pendingEnds.isEmpty { counters.setsWithoutValue += 1; return }
        case .ints(let read):
            _ = read(ctx) { value in
                self.pendingInts.append(value)
                return !d.isArray
            }
            if pendingInts.isEmpty { counters.setsWithoutValue += 1; return }
        case .bool(let p):
            pendingBool = p.evaluate(ctx)
        }
        let now = ctx.event.timeNs
        let expiresAt = action.ttlNs == 0 ? 0 : now &+ action.ttlNs
        // An inherited array that an image appends to starts from the values it inherits.
        var seed: StoredSlot?
        if d.isArray && action.append && d.inherited, let process = ctx.event.process {
            if let r = findProcessHolder(d, process), processes.records[Int(r)].image != process.execTimeNs
                || ProcessKey(process) != processes.keys[Int(r)] {
                seed = processes.records[Int(r)].slots[d.slot]
            }
        }
        guard let location = target(d.scope, ctx) else { counters.setsWithoutScope += 1; return }
        withSlot(location, d) { slot in
            if let seed, case .none = slot.value { slot.value = seed.value; slot.expiresAt = seed.expiresAt }
            switch constant {
            case .string(let s)?: self.writeString(&slot, bytes: nil, string: s, expiresAt)
            case .int(let i)?: self.writeScalar(&slot, .int(i), expiresAt)
            case .bool(let b)?: self.writeScalar(&slot, .bool(b), expiresAt)
            case .strings(let list)?:
                for s in list { self.appendString(&slot, d, bytes: nil, string: s, now, expiresAt) }
            case .ints(let list)?:
                for i in list { self.appendInt(&slot, d, i, now, expiresAt) }
            case nil:
                switch action.source {
                case .strings:
                    var start = 0
                    for end in self.pendingEnds {
                        self.pendingBytes.withUnsafeBufferPointer { all in
                            let bytes = UnsafeBufferPointer(rebasing: all[start..<end])
                            if d.isArray {
                                self.appendString(&slot, d, bytes: bytes, string: nil, now, expiresAt)
                            } else {
                                self.writeString(&slot, bytes: bytes, string: nil, expiresAt)
                            }
                        }
                        start = end
                    }
                case .ints:
                    for i in self.pendingInts {
                        if d.isArray { self.appendInt(&slot, d, i, now, expiresAt) } else { self.writeScalar(&slot, .int(i), expiresAt) }
                    }
                case .bool:
                    self.writeScalar(&slot, .bool(pendingBool), expiresAt)
                case .constant:
                    break
                }
            }
        }
    }

    /// Runs `body` on the slot of `d` in the record at `location`, keeping the counts of holders
    /// and bytes. The slot is moved out of its record meanwhile: `body` may evict other records to
    /// make room (never this one), and an array it changes is uniquely referenced (not copied).
    private func withSlot(_ location: Location, _ d: VariableDeclaration, _ body: (inout StoredSlot) -> Void) {
        func take(_ record: inout VariableRecord) -> StoredSlot {
            if record.slots.count <= d.slot { record.slots.append(contentsOf: repeatElement(StoredSlot(), count: d.slot + 1 - record.slots.count)) }
            let slot = record.slots[d.slot]
            record.slots[d.slot] = StoredSlot()
            return slot
        }
        func put(_ record: inout VariableRecord, _ slot: StoredSlot, _ cost: Int) {
            record.slots[d.slot] = slot
            record.bytes += slot.cost - cost
        }
        var slot: StoredSlot
        switch location {
        case .global: slot = take(&global)
        case .process(let r): slot = take(&processes.records[Int(r)])
        case .container(let r): slot = take(&containers.records[Int(r)])
        case .cgroup(let r): slot = take(&cgroups.records[Int(r)])
        }
        let held = slot.isSet
        let cost = slot.cost
        protected = location
        body(&slot)
        protected = nil
        slot.inherited = d.inherited
        slot.variable = d.id
        switch location {
        case .global: put(&global, slot, cost)
        case .process(let r): put(&processes.records[Int(r)], slot, cost)
        case .container(let r): put(&containers.records[Int(r)], slot, cost)
        case .cgroup(let r): put(&cgroups.records[Int(r)], slot, cost)
        }
        bytes += slot.cost - cost
        if slot.isSet != held { adjustHolders(d.id, slot.isSet ? 1 : -1) }
        changed(d.id)
    }

    /// The record being written, which `makeRoom` never evicts.
    private var protected: Location?

    /// Whether some record holds a value of `d` (expired or not). While none does, every read of
    /// `d` gives its default: compiled comparisons of a variable with constants test this first
    /// and return the result they have for the default.
    @inline(__always)
    func isHeld(_ d: VariableDeclaration) -> Bool {
        d.id < holders.count && holders[d.id] != 0
    }

    private func adjustHolders(_ id: Int, _ delta: Int) {
        if holders.count <= id { holders.append(contentsOf: repeatElement(0, count: id + 1 - holders.count)) }
        holders[id] += delta
    }

    private func writeScalar(_ slot: inout StoredSlot, _ value: StoredValue, _ expiresAt: UInt64) {
        slot.value = value
        slot.expiresAt = expiresAt
        slot.cost = StoredSlot.scalarCost
    }

    /// Writes a string, from `bytes` or `string`; an equal value only has its expiry renewed.
    private func writeString(_ slot: inout StoredSlot, bytes: UnsafeBufferPointer<UInt8>?, string: String?, _ expiresAt: UInt64) {
        let count = bytes?.count ?? string!.utf8.count
        if count > limits.maxValueBytes { counters.valuesTooLong += 1; return }
        if case .string(let old) = slot.value, VariableStore.equal(old, bytes, string) {
            slot.expiresAt = expiresAt
            return
        }
        let extra = StoredSlot.stringCost(count) - slot.cost
        if extra > 0 && !makeRoom(extra) { counters.valuesOverBudget += 1; return }
        slot.value = .string(string ?? String(decoding: bytes!, as: UTF8.self))
        slot.expiresAt = expiresAt
        slot.cost = StoredSlot.stringCost(count)
    }

    /// Adds a string to an array: an equal value moves to the newest place with a renewed expiry;
    /// expired values go first, then the oldest beyond `size`.
    private func appendString(_ slot: inout StoredSlot, _ d: VariableDeclaration, bytes: UnsafeBufferPointer<UInt8>?, string: String?,
                              _ now: UInt64, _ expiresAt: UInt64) {
        let count = bytes?.count ?? string!.utf8.count
        if count > limits.maxValueBytes { counters.valuesTooLong += 1; return }
        var list: StoredList<String>
        if case .strings(let existing) = slot.value { list = existing } else { list = StoredList() }
        slot.value = .none  // the list is uniquely referenced while it changes
        defer {
            slot.value = list.values.isEmpty ? .none : .strings(list)
            slot.cost = list.cost
        }
        list.removeExpired(now) { StoredList<String>.elementCost($0.utf8.count) }
        var key: UInt64 = 0
        if let bytes { key = VariableStore.hash(bytes) } else { _ = withBytes(string!) { key = VariableStore.hash($0); return true } }
        var k = 0
        while let found = list.index(of: key, from: k) {
            if VariableStore.equal(list.values[found], bytes, string) {
                list.moveToNewest(found, expiresAt)
                return
            }
            k = found + 1
        }
        let cost = StoredList<String>.elementCost(count)
        if !makeRoom(cost) { counters.valuesOverBudget += 1; return }
        list.append(string ?? String(decoding: bytes!, as: UTF8.self), key: key, expiresAt, cost: cost)
        while list.values.count > d.size {
            list.removeOldest(StoredList<String>.elementCost(list.values[0].utf8.count))
            counters.arrayValuesDropped += 1
        }
    }

    private func appendInt(_ slot: inout StoredSlot, _ d: VariableDeclaration, _ value: Int64, _ now: UInt64, _ expiresAt: UInt64) {
        var list: StoredList<Int64>
        if case .ints(let existing) = slot.value { list = existing } else { list = StoredList() }
        slot.value = .none
        defer {
            slot.value = list.values.isEmpty ? .none : .ints(list)
            slot.cost = list.cost
        }
        list.removeExpired(now) { _ in StoredList<Int64>.intCost }
        if let k = list.index(of: UInt64(bitPattern: value), from: 0) {
            list.moveToNewest(k, expiresAt)
            return
        }
        let cost = StoredList<Int64>.intCost
        if !makeRoom(cost) { counters.valuesOverBudget += 1; return }
        list.append(value, key: UInt64(bitPattern: value), expiresAt, cost: cost)
        while list.values.count > d.size {
            list.removeOldest(cost)
            counters.arrayValuesDropped += 1
        }
    }

    /// FNV-1a of a string's bytes: what an array's values are first compared by.
    static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }

    static func equal(_ old: String, _ bytes: UnsafeBufferPointer<UInt8>?, _ string: String?) -> Bool {
        if let string { return old == string }
        guard let bytes, old.utf8.count == bytes.count else { return false }
        return withBytes(old) { stored in
            guard stored.count == bytes.count else { return false }
            return stored.count == 0 || memcmp(stored.baseAddress!, bytes.baseAddress!, stored.count) == 0
        }
    }

    // MARK: - Records

    /// The record the context's event writes `scope`'s variables into, created if needed (which
    /// may evict the oldest record of the table). nil when the event has no such scope.
    private func target(_ scope: VariableScope, _ ctx: EvalContext) -> Location? {
        switch scope {
        case .global:
            return .global
        case .container:
            guard let key = VariableStore.containerKey(ctx) else { return nil }
            if let r = containers.index[key] { return .container(r) }
            if containers.live.count >= limits.maxContainers { evictOldest(.container, counting: \.containerEvictions) }
            return .container(containers.insert(key))
        case .cgroup:
            guard let key = VariableStore.cgroupKey(ctx) else { return nil }
            if let r = cgroups.index[key] { return .cgroup(r) }
            if cgroups.live.count >= limits.maxCgroups { evictOldest(.cgroup, counting: \.cgroupEvictions) }
            return .cgroup(cgroups.insert(key))
        case .process:
            guard let process = ctx.event.process else { return nil }
            return .process(processImage(process))
        }
    }

    /// The record of `process`'s image, created (in its process's chain of images, newest first) if needed.
    private func processImage(_ process: ProcessEntry) -> Int32 {
        let key = ProcessKey(process)
        let image = process.execTimeNs
        var newer: Int32 = -1
        var r = processes.index[key] ?? -1
        while r >= 0, processes.records[Int(r)].image > image {
            newer = r
            r = processes.records[Int(r)].previous
        }
        if r >= 0, processes.records[Int(r)].image == image { return r }
        if processes.live.count >= limits.maxProcessImages { evictOldest(.process, counting: \.processEvictions) }
        // Eviction may have changed the chain: find the place again.
        newer = -1
        r = processes.index[key] ?? -1
        while r >= 0, processes.records[Int(r)].image > image {
            newer = r
            r = processes.records[Int(r)].previous
        }
        let created = processes.insert(key, indexed: newer < 0)
        processes.records[Int(created)].image = image
        processes.records[Int(created)].previous = r
        if newer >= 0 { processes.records[Int(newer)].previous = created }
        return created
    }

    /// Removes the oldest live record of `scope`, to make room for a new one (exited process images
    /// have their own bound).
    private func evictOldest(_ scope: VariableScope, counting counter: WritableKeyPath<Stats, Int>) {
        switch scope {
        case .global:
            return
        case .process:
            guard processes.live.oldest >= 0 else { return }
            removeProcessImage(processes.live.oldest)
        case .container:
            guard containers.live.oldest >= 0 else { return }
            release(&containers, containers.live.oldest)
        case .cgroup:
            guard cgroups.live.oldest >= 0 else { return }
            release(&cgroups, cgroups.live.oldest)
        }
        counters[keyPath: counter] += 1
    }

    /// Frees room for `extra` bytes by removing the oldest records (exited process images first,
    /// then the oldest of each table), never the record being written; false when nothing is left
    /// to remove.
    private func makeRoom(_ extra: Int) -> Bool {
        while bytes + extra > limits.maxBytes {
            if let r = oldest(processes.retired, .process) {
                removeProcessImage(r)
            } else if let r = oldest(processes.live, .process) {
                removeProcessImage(r)
            } else if let r = oldest(containers.live, .container) {
                release(&containers, r)
            } else if let r = oldest(cgroups.live, .cgroup) {
                release(&cgroups, r)
            } else {
                return false
            }
            counters.byteEvictions += 1
        }
        return true
    }

    /// The oldest record of a list that is not the record being written.
    private func oldest(_ ends: RecordEnds, _ scope: VariableScope) -> Int32? {
        var r = ends.oldest
        if r >= 0, let p = protected, p.isRecord(r, of: scope) {
            switch scope {
            case .process: r = processes.records[Int(r)].newer
            case .container: r = containers.records[Int(r)].newer
            case .cgroup: r = cgroups.records[Int(r)].newer
            case .global: r = -1
            }
        }
        return r >= 0 ? r : nil
    }

    private func removeProcessImage(_ r: Int32) {
        let key = processes.keys[Int(r)]!
        // Unlink it from its process's chain of images.
        if let head = processes.index[key] {
            if head == r {
                let previous = processes.records[Int(r)].previous
                if previous >= 0 { processes.index[key] = previous } else { processes.index[key] = nil }
            } else {
                var k = head
                while k >= 0, processes.records[Int(k)].previous != r { k = processes.records[Int(k)].previous }
                if k >= 0 { processes.records[Int(k)].previous = processes.records[Int(r)].previous }
            }
        }
        release(&processes, r, unindexed: true)
    }

    private func release<Key: Hashable>(_ table: inout RecordTable<Key>, _ r: Int32, unindexed: Bool = false) {
        let record = table.records[Int(r)]
        for value in record.slots where value.isSet {
            adjustHolders(value.variable, -1)
            changed(value.variable)
        }
        bytes -= record.bytes
        table.remove(r, keepIndex: unindexed)
    }

    /// Call when a process exits (after evaluating its exit event's rules and running their
    /// actions): its images' values go, except the images holding an inherited variable, which stay
    /// readable by the children they may have, among the `maxExitedProcessImages` most recent.
    public func processExited(pid: UInt32, forkTimeNs: UInt64) {
        let key = ProcessKey(pid: pid, forkTimeNs: forkTimeNs)
        guard var r = processes.index[key] else { return }
        var chain: [Int32] = []
        var keep = false
        while r >= 0 {
            chain.append(r)
            if !keep {
                keep = processes.records[Int(r)].slots.contains { $0.isSet && $0.inherited }
            }
            r = processes.records[Int(r)].previous
        }
        if !keep {
            for r in chain { removeProcessImage(r) }
            counters.exitRemovals += chain.count
            return
        }
        for r in chain where !processes.records[Int(r)].retired { processes.retire(r) }
        while processes.retired.count > limits.maxExitedProcessImages {
            removeProcessImage(processes.retired.oldest)
            counters.exitedProcessEvictions += 1
        }
    }

    /// `processExited(pid:forkTimeNs:)` for the exiting process's entry.
    public func processExited(_ process: ProcessEntry) {
        processExited(pid: process.pid, forkTimeNs: process.forkTimeNs)
    }

    /// Call when a container is gone: its values go.
    public func containerRemoved(id: String) {
        if let r = containers.index[id] { release(&containers, r) }
    }

    /// Removes every value (policy reload).
    public func removeAll() {
        processes = RecordTable()
        containers = RecordTable()
        cgroups = RecordTable()
        global = VariableRecord()
        holders = []
        for id in epochs.indices { epochs[id] &+= 1 }
        bytes = 0
    }
}

extension VariableScope {
    var index: Int {
        switch self {
        case .global: return 0
        case .process: return 1
        case .container: return 2
        case .cgroup: return 3
        }
    }
}

/// A process (not one image: its images are told apart by exec time), as the JSON output names it.
struct ProcessKey: Hashable {
    let pid: UInt32
    let forkTimeNs: UInt64

    /// One word hashed instead of two (a lookup per ancestor of an inherited read).
    func hash(into hasher: inout Hasher) {
        hasher.combine(forkTimeNs &+ UInt64(pid) &* 0x9E37_79B9_7F4A_7C15)
    }

    init(pid: UInt32, forkTimeNs: UInt64) {
        self.pid = pid
        self.forkTimeNs = forkTimeNs
    }

    @inline(__always)
    init(_ process: ProcessEntry) {
        pid = process.pid
        forkTimeNs = process.forkTimeNs
    }
}

/// A cgroup: its path when known, else its kernel id.
enum CgroupKey: Hashable {
    case path(String)
    case id(UInt64)
}

/// One stored value. Costs are estimates of the memory a value takes, for `Limits.maxBytes`.
struct StoredSlot {
    var value: StoredValue = .none
    /// Scalars: when the value expires (event time, ns); 0: never.
    var expiresAt: UInt64 = 0
    var cost = 0
    /// The variable is inherited: the value outlives its process while children may read it.
    var inherited = false
    /// The variable's `VariableDeclaration.id`.
    var variable = 0

    var isSet: Bool {
        if case .none = value { return false }
        return true
    }

    /// Set and not expired at `now` (an array: one value at least not expired).
    func isLive(_ now: UInt64) -> Bool {
        switch value {
        case .none: return false
        case .string, .int, .bool: return !VariableStore.expired(expiresAt, now)
        case .strings(let list): return list.hasLive(now)
        case .ints(let list): return list.hasLive(now)
        }
    }

    static let scalarCost = 32
    static func stringCost(_ count: Int) -> Int { 48 + count }
}

enum StoredValue {
    case none
    case string(String)
    case int(Int64)
    case bool(Bool)
    case strings(StoredList<String>)
    case ints(StoredList<Int64>)
}

/// The values of an array variable, oldest first, each with its expiry (0: never) and its key (a
/// hash of a string, an integer's bits), which a search compares first.
struct StoredList<Value: Equatable> {
    var values: [Value] = []
    var keys: [UInt64] = []
    var expiresAt: [UInt64] = []
    var cost = 48

    static func elementCost(_ count: Int) -> Int { 64 + count }
    static var intCost: Int { 32 }

    func hasLive(_ now: UInt64) -> Bool {
        expiresAt.contains { !VariableStore.expired($0, now) }
    }

    /// The first value at or after `start` whose key is `key`.
    func index(of key: UInt64, from start: Int) -> Int? {
        var k = start
        while k < keys.count {
            if keys[k] == key { return k }
            k += 1
        }
        return nil
    }

    mutating func append(_ value: Value, key: UInt64, _ expiry: UInt64, cost: Int) {
        values.append(value)
        keys.append(key)
        expiresAt.append(expiry)
        self.cost += cost
    }

    mutating func moveToNewest(_ k: Int, _ expiry: UInt64) {
        let value = values.remove(at: k)
        let key = keys.remove(at: k)
        expiresAt.remove(at: k)
        values.append(value)
        keys.append(key)
        expiresAt.append(expiry)
    }

    mutating func removeOldest(_ cost: Int) {
        values.removeFirst()
        keys.removeFirst()
        expiresAt.removeFirst()
        self.cost -= cost
    }

    /// Drops the expired values (and their cost), keeping the order of the others.
    mutating func removeExpired(_ now: UInt64, cost elementCost: (Value) -> Int) {
        guard expiresAt.contains(where: { VariableStore.expired($0, now) }) else { return }
        var kept = 0
        for k in 0..<values.count {
            if VariableStore.expired(expiresAt[k], now) {
                cost -= elementCost(values[k])
            } else {
                if kept != k {
                    values.swapAt(kept, k)
                    keys[kept] = keys[k]
                    expiresAt[kept] = expiresAt[k]
                }
                kept += 1
            }
        }
        values.removeLast(values.count - kept)
        keys.removeLast(keys.count - kept)
        expiresAt.removeLast(expiresAt.count - kept)
    }
}

/// The values of one scope instance (a process image, a container, a cgroup), by slot.
struct VariableRecord {
    var slots: [StoredSlot] = []
    var bytes = 0
    /// Process images: the image's exec time, and the record of the process's image before it (-1: none).
    var image: UInt64 = 0
    var previous: Int32 = -1
    /// Links of the table's age order (`RecordTable.live` or `.retired`).
    var older: Int32 = -1
    var newer: Int32 = -1
    var retired = false

    @inline(__always)
    func holds(_ slot: Int) -> Bool {
        slot < slots.count && slots[slot].isSet
    }
}

/// The two ends of a list of records, oldest to newest.
struct RecordEnds {
    var oldest: Int32 = -1
    var newest: Int32 = -1
    var count = 0
}

/// Records in one array, reused through a free list, indexed by key and linked from oldest to
/// newest (live ones and retired ones apart): no allocation per lookup, one per new record.
struct RecordTable<Key: Hashable> {
    var records: [VariableRecord] = []
    var keys: [Key?] = []
    /// Processes: the newest image of each process.
    var index: [Key: Int32] = [:]
    var live = RecordEnds()
    var retired = RecordEnds()
    private var free: [Int32] = []

    /// A new, empty record for `key`, the newest live one; `indexed`: it becomes the key's entry.
    mutating func insert(_ key: Key, indexed: Bool = true) -> Int32 {
        let r: Int32
        if let reused = free.popLast() {
            r = reused
            records[Int(r)] = VariableRecord()
            keys[Int(r)] = key
        } else {
            r = Int32(records.count)
            records.append(VariableRecord())
            keys.append(key)
        }
        link(r, retired: false)
        if indexed { index[key] = r }
        return r
    }

    /// Moves a live record to the newest end of the retired list.
    mutating func retire(_ r: Int32) {
        unlink(r)
        records[Int(r)].retired = true
        link(r, retired: true)
    }

    /// Frees a record; `keepIndex`: the caller has already fixed the index.
    mutating func remove(_ r: Int32, keepIndex: Bool) {
        unlink(r)
        if !keepIndex, let key = keys[Int(r)], index[key] == r { index[key] = nil }
        records[Int(r)] = VariableRecord()
        keys[Int(r)] = nil
        free.append(r)
    }

    private mutating func link(_ r: Int32, retired isRetired: Bool) {
        var ends = isRetired ? retired : live
        records[Int(r)].older = ends.newest
        records[Int(r)].newer = -1
        if ends.newest >= 0 { records[Int(ends.newest)].newer = r } else { ends.oldest = r }
        ends.newest = r
        ends.count += 1
        if isRetired { retired = ends } else { live = ends }
    }

    private mutating func unlink(_ r: Int32) {
        let isRetired = records[Int(r)].retired
        var ends = isRetired ? retired : live
        let older = records[Int(r)].older
        let newer = records[Int(r)].newer
        if older >= 0 { records[Int(older)].newer = newer } else { ends.oldest = newer }
        if newer >= 0 { records[Int(newer)].older = older } else { ends.newest = older }
        ends.count -= 1
        if isRetired { retired = ends } else { live = ends }
    }
}
