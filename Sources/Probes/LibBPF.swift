import CLibBPF
import Glibc
import Synchronization
import SystemPackage

/// The one place that calls libbpf. Negative returns and NULL pointers become typed `Errno` errors
/// (libbpf 1.x returns `-errno` and sets `errno` for NULL); owning handles free themselves in `deinit`.
/// `BTF_KIND_DATASEC` of <linux/btf.h>; the imported name is ambiguous between two modules.
private let btfKindDatasec: UInt32 = 15

public enum LibBPF {
    /// Turns a libbpf integer result into a thrown `Errno` when negative.
    @discardableResult
    static func check(_ result: Int32) throws -> Int32 {
        if result < 0 { throw Errno(rawValue: -result) }
        return result
    }

    /// Turns a libbpf pointer result into a thrown `Errno` when NULL.
    static func check<T>(_ pointer: T?) throws -> T {
        guard let pointer else { throw Errno(rawValue: errno == 0 ? EINVAL : errno) }
        return pointer
    }

    /// Routes libbpf's diagnostics into `LibBPFLog` (kept, not printed), so that a verifier refusal
    /// can be shown as the tail of its log instead of pages of noise.
    public static func captureLogs() {
        libbpf_set_print { level, format, args in
            guard let format, let args else { return 0 }
            var buffer = [CChar](repeating: 0, count: 4096)
            let count = vsnprintf(&buffer, buffer.count, format, args)
            guard count > 0 else { return 0 }
            LibBPFLog.shared.append(String(cString: buffer), debug: level == LIBBPF_DEBUG)
            return 0
        }
    }
}

/// libbpf's recent messages: the verifier log of a refused program arrives through here.
public final class LibBPFLog: @unchecked Sendable {
    public static let shared = LibBPFLog()
    private var lines: [String] = []
    private let limit = 4000

    func append(_ text: String, debug: Bool) {
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            lines.append(String(line))
        }
        if lines.count > limit { lines.removeFirst(lines.count - limit) }
    }

    /// The last `count` non-debug-noise lines.
    public func tail(_ count: Int) -> [String] {
        let useful = lines.filter { !$0.contains("CO-RE relocating") && !$0.contains(": relo #") }
        return Array(useful.suffix(count))
    }

    public func clear() { lines.removeAll(keepingCapacity: true) }

    /// Whether the kept lines hold a program's verifier log, which libbpf writes between
    /// `-- BEGIN PROG LOAD LOG --` and `-- END PROG LOAD LOG --` when the kernel refuses a program.
    public var holdsVerifierLog: Bool {
        lines.contains { $0.contains("BEGIN PROG LOAD LOG") || $0.contains("END PROG LOAD LOG") }
    }
}

/// An opened (and later loaded) BPF object. Closes the object, and so detaches its links, on deinit.
public final class BPFObject {
    let pointer: OpaquePointer
    /// Keeps the bytes alive: libbpf may refer to the buffer given to `open_mem` until load.
    private let bytes: [UInt8]?

    /// Opens an object from memory (the embedded copy).
    public init(bytes: [UInt8], name: String) throws {
        self.bytes = bytes
        var opts = bpf_object_open_opts()
        opts.sz = MemoryLayout<bpf_object_open_opts>.size
        let object: OpaquePointer? = name.withCString { cName in
            opts.object_name = cName
            return bytes.withUnsafeBytes { raw in bpf_object__open_mem(raw.baseAddress, raw.count, &opts) }
        }
        pointer = try LibBPF.check(object)
    }

    /// Opens an object file from disk.
    public init(path: String) throws {
        bytes = nil
        pointer = try LibBPF.check(bpf_object__open_file(path, nil))
    }

    deinit { bpf_object__close(pointer) }

    /// Every program of the object, in section order.
    public var programs: [BPFProgram] {
        var result: [BPFProgram] = []
        var current = bpf_object__next_program(pointer, nil)
        while let program = current {
            result.append(BPFProgram(pointer: program, owner: self))
            current = bpf_object__next_program(pointer, program)
        }
        return result
    }

    public func map(named name: String) throws -> BPFMap {
        BPFMap(pointer: try LibBPF.check(bpf_object__find_map_by_name(pointer, name)), owner: self)
    }

    /// Writes `value` over the read-only global `name` (a `const volatile` in the BPF source) before
    /// load, finding its offset through the object's BTF as a generated skeleton would.
    public func setReadOnlyGlobal<T>(_ name: String, to value: T) throws {
        let btf = try LibBPF.check(bpf_object__btf(pointer))
        var rodata: OpaquePointer?
        var current = bpf_object__next_map(pointer, nil)
        while let map = current {
            if String(cString: bpf_map__name(map)).hasSuffix(".rodata") { rodata = map; break }
            current = bpf_object__next_map(pointer, map)
        }
        let map = try LibBPF.check(rodata)
        let sectionID = btf__find_by_name_kind(btf, ".rodata", btfKindDatasec)
        try LibBPF.check(sectionID)
        let section = try LibBPF.check(btf__type_by_id(btf, UInt32(sectionID)))
        var size = 0
        // Writable in fact: libbpf mmaps it and skeletons write through it (const only in 1.1's API).
        let initial = UnsafeMutableRawPointer(mutating: try LibBPF.check(bpf_map__initial_value(map, &size)))
        let count = Int(btf_vlen(section))
        let infos = btf_var_secinfos(section)!
        for index in 0..<count {
            let info = infos[index]
            let variable = btf__type_by_id(btf, info.type)!
            let varName = String(cString: btf__name_by_offset(btf, variable.pointee.name_off))
            guard varName == name else { continue }
            guard Int(info.size) == MemoryLayout<T>.size, Int(info.offset) + Int(info.size) <= size else {
                throw Errno.invalidArgument
            }
            withUnsafeBytes(of: value) { source in
                initial.advanced(by: Int(info.offset)).copyMemory(from: source.baseAddress!, byteCount: source.count)
            }
            return
        }
        throw Errno.noSuchFileOrDirectory
    }

    /// Loads every program whose autoload is on; the verifier runs here.
    public func load() throws {
        try LibBPF.check(bpf_object__load(pointer))
    }
}

/// A program of a `BPFObject`.
public struct BPFProgram {
    let pointer: OpaquePointer
    unowned let owner: BPFObject

    public var name: String { String(cString: bpf_program__name(pointer)) }
    /// The ELF section, e.g. `tracepoint/syscalls/sys_enter_openat` or `tp_btf/sched_process_exec`.
    public var section: String { String(cString: bpf_program__section_name(pointer)) }

    public func setAutoload(_ enabled: Bool) throws {
        try LibBPF.check(bpf_program__set_autoload(pointer, enabled))
    }

    /// Attaches the program where its section says.
    public func attach() throws -> BPFLink {
        BPFLink(pointer: try LibBPF.check(bpf_program__attach(pointer)))
    }
}

/// An attachment; destroyed (detached) by a `LinkDetacher` or on deinit.
public final class BPFLink {
    fileprivate var pointer: OpaquePointer?
    init(pointer: OpaquePointer) { self.pointer = pointer }
    deinit { if let pointer { bpf_link__destroy(pointer) } }
}

/// Detaches links on a thread of its own, so that the caller can go on draining the ring buffer.
///
/// Why: detaching a `tracepoint/` program waits for RCU grace periods inside the kernel while it
/// holds the trace event mutex (`perf_trace_event_unreg`), 25–70 ms a link here, one after another
/// whatever the number of threads (measured: the 42 links take 1.0 s on an idle host, 2.5–3 s on a
/// loaded one). Done before the final drain it would leave the ring buffer unread, and filling, for
/// that long; done after it, at exit, it adds to the stop. Fewer `tracepoint/` links (the raw
/// `sys_enter`/`sys_exit` hooks) is what would shorten it.
public final class LinkDetacher {
    /// What the thread works on; shared with it, so reference-counted and its flag atomic.
    private final class Work: Sendable {
        nonisolated(unsafe) let links: [OpaquePointer]
        let finished = Atomic<Bool>(false)
        init(links: [OpaquePointer]) { self.links = links }

        func run() {
            for link in links { bpf_link__destroy(link) }
            finished.store(true, ordering: .releasing)
        }
    }

    private let work: Work
    private var thread = pthread_t()
    private var joined: Bool

    /// Starts detaching `links`; they are detached by the time `isFinished` is true.
    public init(_ links: [BPFLink]) {
        work = Work(links: links.compactMap { link in
            defer { link.pointer = nil }
            return link.pointer
        })
        // The thread owns one reference to `work`, taken here and released by the thread.
        let argument = Unmanaged.passRetained(work).toOpaque()
        let started = pthread_create(&thread, nil, { argument in
            guard let argument else { return nil }
            let work = Unmanaged<Work>.fromOpaque(argument).takeRetainedValue()
            work.run()
            return nil
        }, argument)
        joined = started != 0
        if started != 0 {
            Unmanaged<Work>.fromOpaque(argument).release()
            work.run()
        }
    }

    /// True once every link is detached.
    public var isFinished: Bool {
        guard work.finished.load(ordering: .acquiring) else { return false }
        if !joined {
            pthread_join(thread, nil)
            joined = true
        }
        return true
    }

    deinit {
        if !joined { pthread_join(thread, nil) }
    }
}

/// A map of a `BPFObject`.
public struct BPFMap {
    let pointer: OpaquePointer
    unowned let owner: BPFObject

    public var fd: Int32 { bpf_map__fd(pointer) }

    public func setMaxEntries(_ entries: UInt32) throws {
        try LibBPF.check(bpf_map__set_max_entries(pointer, entries))
    }

    /// Looks up `key` in a per-CPU array of `UInt64` and returns the values of every possible CPU.
    public func perCPUValues(key: UInt32) throws -> [UInt64] {
        let cpus = try LibBPF.check(libbpf_num_possible_cpus())
        var values = [UInt64](repeating: 0, count: Int(cpus))
        var key = key
        try LibBPF.check(bpf_map_lookup_elem(fd, &key, &values))
        return values
    }
}

/// A libbpf ring buffer manager over one ring-buffer map. Records are handed, in order, to the
/// closure given at creation, synchronously inside `poll` and `consume`.
///
/// Each call handles at most `budget` records: libbpf's consume loop otherwise runs for as long as
/// the producers keep up, and a loaded host could starve the caller's stop flag and flushes.
public final class RingBuffer {
    public typealias Handler = (UnsafeRawBufferPointer) -> Void

    /// What the callback returns to make libbpf stop early (after consuming the current record).
    private static let budgetExhausted = -ECANCELED

    private final class Context {
        let handler: Handler
        var remaining = 0
        /// Set by `discardAvailable`: records are counted and not handed to the handler.
        var discarding = false
        init(handler: @escaping Handler) { self.handler = handler }
    }

    private var pointer: OpaquePointer?
    private let context: Unmanaged<Context>
    /// Read-only mappings of the ring's consumer and producer position pages (the kernel's layout:
    /// the consumer page at offset 0, the producer page one page further), for `fill`; nil when
    /// they could not be mapped.
    private let positionPages: (consumer: UnsafeRawPointer, producer: UnsafeRawPointer, pageSize: Int)?
    /// The ring's data size in bytes.
    public let capacityBytes: UInt64

    public init(map: BPFMap, handler: @escaping Handler) throws {
        capacityBytes = UInt64(bpf_map__max_entries(map.pointer))
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let consumer = mmap(nil, pageSize, PROT_READ, MAP_SHARED, map.fd, 0)
        let producer = mmap(nil, pageSize, PROT_READ, MAP_SHARED, map.fd, off_t(pageSize))
        if let consumer, consumer != MAP_FAILED, let producer, producer != MAP_FAILED {
            positionPages = (UnsafeRawPointer(consumer), UnsafeRawPointer(producer), pageSize)
        } else {
            if let consumer, consumer != MAP_FAILED { munmap(consumer, pageSize) }
            if let producer, producer != MAP_FAILED { munmap(producer, pageSize) }
            positionPages = nil
        }
        context = Unmanaged.passRetained(Context(handler: handler))
        let callback: ring_buffer_sample_fn = { ctx, data, size in
            guard let ctx, let data else { return 0 }
            let context = Unmanaged<Context>.fromOpaque(ctx).takeUnretainedValue()
            if !context.discarding { context.handler(UnsafeRawBufferPointer(start: data, count: size)) }
            context.remaining -= 1
            return context.remaining > 0 ? 0 : RingBuffer.budgetExhausted
        }
        let created = ring_buffer__new(map.fd, callback, context.toOpaque(), nil)
        if created == nil { context.release() }
        pointer = try LibBPF.check(created)
    }

    deinit {
        ring_buffer__free(pointer)
        context.release()
        if let pages = positionPages {
            munmap(UnsafeMutableRawPointer(mutating: pages.consumer), pages.pageSize)
            munmap(UnsafeMutableRawPointer(mutating: pages.producer), pages.pageSize)
        }
    }

    /// Bytes written by the kernel and not yet consumed (records and their headers), read from the
    /// ring's position pages; nil when they are not mapped. libbpf 1.1 has no call for it.
    public var fillBytes: UInt64? {
        guard let pages = positionPages else { return nil }
        // Each position is one aligned 64-bit word the kernel updates with release semantics: a
        // plain load sees an old or a new value, never a torn one (x86-64, arm64).
        let consumed = pages.consumer.load(as: UInt64.self)
        let produced = pages.producer.load(as: UInt64.self)
        return produced >= consumed ? Swift.min(produced - consumed, capacityBytes) : 0
    }

    /// Waits up to `timeoutMs` for a wakeup and consumes what it signals, at most `budget` records.
    /// EINTR (a signal arrived) is not an error. Returns the records handled.
    @discardableResult
    public func poll(timeoutMs: Int32, budget: Int) throws -> Int {
        try run(budget: budget) { ring_buffer__poll(pointer, timeoutMs) }
    }

    /// Consumes what is available now, without waiting, at most `budget` records: the kernel side
    /// rarely wakes us, so this is how most records are read. Returns the records handled.
    @discardableResult
    public func consume(budget: Int) throws -> Int {
        try run(budget: budget) { ring_buffer__consume(pointer) }
    }

    /// Consumes everything available now without handling it and returns how many records that
    /// was: at a stop whose drain ran out of time, so that what was not read is counted, not
    /// silently dropped. Counting costs nanoseconds a record, so even a full ring empties at once.
    public func discardAvailable() throws -> Int {
        let state = context.takeUnretainedValue()
        state.discarding = true
        defer { state.discarding = false }
        var total = 0
        while true {
            let handled = try consume(budget: 1 << 20)
            total += handled
            if handled < 1 << 20 { return total }
        }
    }

    private func run(budget: Int, _ call: () -> Int32) throws -> Int {
        let state = context.takeUnretainedValue()
        state.remaining = Swift.max(1, budget)
        let result = call()
        let handled = Swift.max(1, budget) - state.remaining
        if result == RingBuffer.budgetExhausted || result == -EINTR { return handled }
        try LibBPF.check(result)
        return handled
    }
}
