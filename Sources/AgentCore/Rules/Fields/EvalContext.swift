/// Per-evaluation state, reused from event to event so evaluation allocates nothing.
///
/// The engine does not copy the event it evaluates: `RuleSet` points the context at the caller's event
/// for the duration of one evaluation (`withEvent`). Field reads reach the event and the rest of the
/// per-event state through `state`, a pointer: Swift checks exclusive access at run time on every read
/// of a class's stored `var`, but not through pointers, and these reads are the engine's inner loop.
///
/// One context belongs to one thread at a time, and so does the `RuleSet` it evaluates (compiled field
/// reads keep scratch buffers): use one rule set and one context per thread. Evaluation also writes
/// approver results on the events' process entries (`ApproverCache`), so the events of one process
/// tree are evaluated on one thread.
public final class EvalContext {
    /// What a field read needs, behind one pointer (see the type's comment).
    struct State {
        var event: UnsafePointer<Event>
        /// The ancestor the current iterator (`process.ancestors.*` or `process.ancestors[A]`) points
        /// at. Unowned: it is reachable from the event's process for the whole evaluation.
        unowned(unsafe) var ancestor: ProcessEntry?
        /// Bumped per evaluation: values derived from the event (joined arguments, ...) are cached in
        /// `derived` for the evaluation that computed them only.
        var generation: UInt64
        /// Candidate-rule bit set of the approvers, grown once and reused.
        var candidates: UnsafeMutablePointer<UInt64>
        var candidateCapacity: Int
        /// Per-evaluation cache of derived byte values, by slot (see `DerivedSlot`).
        var derived: UnsafeMutablePointer<DerivedValue>
        var derivedCount: Int
        /// The store of variable values (`variables` owns it).
        unowned(unsafe) var variables: VariableStore
    }

    let state: UnsafeMutablePointer<State>
    private var ownedVariables: VariableStore
    /// The event of contexts made with `init(event:)` or assigned `event` (tests, one-off use).
    private let owned: UnsafeMutablePointer<Event>

    public init(event: Event = Event(type: .exit, payload: .exit(ExitPayload(cause: .exited, code: 0))),
                variables: VariableStore = VariableStore()) {
        ownedVariables = variables
        owned = .allocate(capacity: 1)
        owned.initialize(to: event)
        let bits = UnsafeMutablePointer<UInt64>.allocate(capacity: 8)
        bits.initialize(repeating: 0, count: 8)
        state = .allocate(capacity: 1)
        state.initialize(to: State(event: UnsafePointer(owned), ancestor: nil, generation: 1, candidates: bits, candidateCapacity: 8,
                                    derived: .allocate(capacity: 0), derivedCount: 0, variables: variables))
    }

    /// The values that `${...}` reads and `set` actions write (`VariableStore.apply`). Each context
    /// starts with a store of its own; the pipeline and `policy evaluate` keep one for their whole
    /// stream of events (one store per rule set).
    public var variables: VariableStore {
        @inline(__always) get { state.pointee.variables }
        set {
            ownedVariables = newValue
            state.pointee.variables = newValue
        }
    }

    deinit {
        let derived = state.pointee.derived
        for i in 0..<state.pointee.derivedCount { derived[i].bytes?.deallocate() }
        derived.deinitialize(count: state.pointee.derivedCount)
        derived.deallocate()
        state.pointee.candidates.deallocate()
        state.deinitialize(count: 1)
        state.deallocate()
        owned.deinitialize(count: 1)
        owned.deallocate()
    }

    /// The event being evaluated, read in place. Assigning stores a copy in the context.
    public var event: Event {
        unsafeAddress { state.pointee.event }
        set {
            owned.pointee = newValue
            state.pointee.event = UnsafePointer(owned)
            state.pointee.ancestor = nil
            state.pointee.generation &+= 1
        }
    }

    /// Runs `body` with the event at `event` as the context's event; the event is not copied and
    /// must stay valid and unchanged until `body` returns.
    @inline(__always)
    func withEvent<R>(at event: UnsafePointer<Event>, _ body: () -> R) -> R {
        let saved = state.pointee.event
        state.pointee.event = event
        state.pointee.ancestor = nil
        state.pointee.generation &+= 1
        defer {
            state.pointee.event = saved
            state.pointee.ancestor = nil
        }
        return body()
    }

    var ancestor: ProcessEntry? {
        @inline(__always) get { state.pointee.ancestor }
        @inline(__always) set { state.pointee.ancestor = newValue }
    }

    /// Wall-clock "now" for duration comparisons: the event's time.
    var nowNs: Int64 { Int64(truncatingIfNeeded: event.timeNs) }

    /// The event's own file (open, mmap, splice, load_module); nil for other events.
    @inline(__always)
    func withFile<R>(_ body: (FileInfo) -> R?) -> R? {
        switch event.payload {
        case .open(let p): return body(p.file)
        case .mmap(let p): if let f = p.file { return body(f) }
        case .splice(let p): if let f = p.file { return body(f) }
        case .loadModule(let p): if let f = p.file { return body(f) }
        case .fileChange(let p): return body(p.file)
        default: break
        }
        return nil
    }

    /// The new path of a `link` or `rename` event; nil for other events.
    @inline(__always)
    func withDestinationFile<R>(_ body: (FileInfo) -> R?) -> R? {
        if case .fileChange(let p) = event.payload, let f = p.destination { return body(f) }
        return nil
    }

    /// The open event's payload values.
    var openFlags: UInt32 {
        if case .open(let p) = event.payload { return p.flags }
        return 0
    }
    var openMode: UInt32 {
        if case .open(let p) = event.payload { return p.mode }
        return 0
    }
    var openUserPath: String? {
        if case .open(let p) = event.payload { return p.userPath }
        return nil
    }

    /// At least `words` words of scratch for candidate bits.
    @inline(__always)
    func candidateBits(_ words: Int) -> UnsafeMutablePointer<UInt64> {
        if words > state.pointee.candidateCapacity {
            state.pointee.candidates.deallocate()
            state.pointee.candidates = .allocate(capacity: words)
            state.pointee.candidates.initialize(repeating: 0, count: words)
            state.pointee.candidateCapacity = words
        }
        return state.pointee.candidates
    }

    /// Calls `body` with the bytes of a value derived from `process` (joined arguments, ...),
    /// written by `fill` at most once per evaluation, slot and process. `fill` writes at most
    /// `capacity` bytes.
    @inline(__always)
    func withDerivedBytes(_ slot: DerivedSlot, _ process: ProcessEntry, capacity: Int, _ fill: (inout ByteWriter) -> Void,
                          _ body: StringBody) -> Bool {
        let i = slot.index
        if i >= state.pointee.derivedCount { growDerived(to: i + 1) }
        let value = state.pointee.derived + i
        let owner = ObjectIdentifier(process)
        if value.pointee.generation != state.pointee.generation || value.pointee.owner != owner {
            value.pointee.reserve(capacity)
            var writer = ByteWriter(base: value.pointee.bytes, capacity: value.pointee.capacity)
            fill(&writer)
            value.pointee.count = writer.count
            value.pointee.generation = state.pointee.generation
            value.pointee.owner = owner
        }
        return body(UnsafeBufferPointer(start: value.pointee.bytes, count: value.pointee.count))
    }

    private func growDerived(to count: Int) {
        let old = state.pointee.derived
        let oldCount = state.pointee.derivedCount
        let grown = UnsafeMutablePointer<DerivedValue>.allocate(capacity: count)
        grown.moveInitialize(from: old, count: oldCount)
        (grown + oldCount).initialize(repeating: DerivedValue(), count: count - oldCount)
        old.deallocate()
        state.pointee.derived = grown
        state.pointee.derivedCount = count
    }
}

/// A cache slot for one kind of derived value of one process source (`process.args` and `exec.args`
/// read the same process on exec events and share a slot). Slots are numbered by the registry.
struct DerivedSlot {
    let index: Int
}

/// One cached derived value: its bytes, and the evaluation and process they belong to. Kept in raw
/// memory owned by the context (read through a pointer: no retain, no exclusivity check).
struct DerivedValue {
    var bytes: UnsafeMutablePointer<UInt8>?
    var capacity = 0
    var count = 0
    var generation: UInt64 = 0
    var owner: ObjectIdentifier?

    /// Makes room for `needed` bytes (the contents are not kept: the value is rewritten).
    @inline(__always)
    mutating func reserve(_ needed: Int) {
        if needed <= capacity { return }
        bytes?.deallocate()
        capacity = max(needed, 256, 2 * capacity)
        bytes = .allocate(capacity: capacity)
    }
}

/// Appends bytes to a buffer of fixed capacity; the caller reserved enough (see
/// `EvalContext.withDerivedBytes`), and every append still checks it.
struct ByteWriter {
    let base: UnsafeMutablePointer<UInt8>?
    let capacity: Int
    private(set) var count = 0

    init(base: UnsafeMutablePointer<UInt8>?, capacity: Int) {
        self.base = base
        self.capacity = capacity
    }

    @inline(__always)
    mutating func append(_ byte: UInt8) {
        precondition(count < capacity, "derived value larger than reserved")
        base![count] = byte
        count += 1
    }

    @inline(__always)
    mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let from = bytes.baseAddress, bytes.count > 0 else { return }
        precondition(bytes.count <= capacity - count, "derived value larger than reserved")
        (base! + count).update(from: from, count: bytes.count)
        count += bytes.count
    }
}

/// Callback receiving one string value as UTF-8 bytes; returns true to stop ("found").
typealias StringBody = (UnsafeBufferPointer<UInt8>) -> Bool
typealias IntBody = (Int64) -> Bool

/// Reads a field from the context. Multi-valued fields call the body once per value and stop at the
/// first `true`, so one shape covers scalars, arrays and iterators without building arrays.
enum FieldAccessor {
    case string((EvalContext, StringBody) -> Bool)
    case int((EvalContext, IntBody) -> Bool)
    case bool((EvalContext) -> Bool)
}

@inline(__always)
func withBytes(_ s: String, _ body: StringBody) -> Bool {
    if let r = s.utf8.withContiguousStorageIfAvailable(body) { return r }
    var copy = s
    return copy.withUTF8(body)
}

@inline(__always)
func withBytes(_ s: Substring, _ body: StringBody) -> Bool {
    if let r = s.utf8.withContiguousStorageIfAvailable(body) { return r }
    var copy = String(s)
    return copy.withUTF8(body)
}

/// The empty string's bytes (the default value of missing string fields).
@inline(__always)
func withEmpty(_ body: StringBody) -> Bool {
    body(UnsafeBufferPointer(start: nil, count: 0))
}

/// A byte buffer owned by one compiled field read, for values that must be assembled on each read
/// (rare fields; see `EvalContext.withDerivedBytes` for the cached ones). Capacity is kept between
/// events.
final class ByteScratch {
    private var value = DerivedValue()

    deinit { value.bytes?.deallocate() }

    /// Calls `body` with the bytes `fill` writes (at most `capacity`).
    func write(capacity: Int, _ fill: (inout ByteWriter) -> Void, _ body: StringBody) -> Bool {
        value.reserve(capacity)
        var writer = ByteWriter(base: value.bytes, capacity: value.capacity)
        fill(&writer)
        return body(UnsafeBufferPointer(start: value.bytes, count: writer.count))
    }
}
