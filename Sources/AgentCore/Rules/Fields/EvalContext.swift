/// Per-evaluation state, reused from event to event so evaluation allocates nothing.
///
/// One context belongs to one thread at a time: the engine is not meant to be shared across threads
/// without one context per thread.
public final class EvalContext {
    /// The event being evaluated. Setting it extracts the payload parts fields read, once per event,
    /// so field reads project single values instead of copying payload structs.
    public var event: Event {
        didSet { prepare() }
    }
    /// The event's file (open, mmap, splice, load_module); `hasFile` false when there is none.
    var file = FileInfo()
    var hasFile = false
    /// open: flags, mode and the path argument.
    var openFlags: UInt32 = 0
    var openMode: UInt32 = 0
    var openUserPath = ""
    /// The ancestor the current iterator (`process.ancestors.*` or `process.ancestors[A]`) points at.
    var ancestor: ProcessEntry?
    /// Wall-clock "now" for duration comparisons: the event's time.
    var nowNs: Int64 { Int64(truncatingIfNeeded: event.timeNs) }

    /// Candidate-rule bit set of the approvers, grown once and reused.
    private var candidates: UnsafeMutablePointer<UInt64>
    private var candidateCapacity: Int

    public init(event: Event = Event(type: .exit, payload: .exit(ExitPayload(cause: .exited, code: 0)))) {
        self.event = event
        candidateCapacity = 8
        candidates = .allocate(capacity: 8)
        candidates.initialize(repeating: 0, count: 8)
        prepare()
    }

    deinit { candidates.deallocate() }

    /// At least `words` words of scratch for candidate bits.
    @inline(__always)
    func candidateBits(_ words: Int) -> UnsafeMutablePointer<UInt64> {
        if words > candidateCapacity {
            candidates.deallocate()
            candidates = .allocate(capacity: words)
            candidates.initialize(repeating: 0, count: words)
            candidateCapacity = words
        }
        return candidates
    }

    private func prepare() {
        hasFile = false
        switch event.payload {
        case .open(let p):
            file = p.file
            hasFile = true
            openFlags = p.flags
            openMode = p.mode
            openUserPath = p.userPath
        case .mmap(let p):
            if let f = p.file { file = f; hasFile = true }
        case .splice(let p):
            if let f = p.file { file = f; hasFile = true }
        case .loadModule(let p):
            if let f = p.file { file = f; hasFile = true }
        default:
            break
        }
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

/// A growable byte buffer owned by one compiled field read, for values that must be assembled
/// (joined arguments, `name=value` options). Capacity is kept between events.
final class ByteScratch {
    var bytes: [UInt8] = []

    init() { bytes.reserveCapacity(256) }
}
