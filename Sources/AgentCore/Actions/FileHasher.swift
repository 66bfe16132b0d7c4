import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// `file.hash_state`: Datadog's `HashState` names (its stringer output), plus `FileChanged`, which
/// this agent adds because it checks that the file it opened is still the file of the event.
public enum HashState: String, CaseIterable, Sendable {
    /// Hashed (or not a regular file: Datadog reports `Done` without hashes then).
    case done = "Done"
    case fileNotFound = "FileNotFound"
    /// The event's path was incomplete or empty.
    case pathnameResolutionError = "PathnameResolutionError"
    /// Larger than the size limit (before or while reading).
    case fileTooBig = "FileTooBig"
    case fileEmpty = "FileEmpty"
    /// open(2) failed other than by ENOENT, or read(2) failed.
    case fileOpenError = "FileOpenError"
    /// Datadog's state for an event type its resolver is not configured to hash; the hasher never
    /// produces it, the caller may.
    case eventTypeNotConfigured = "EventTypeNotConfigured"
    /// The request queue was full.
    case rateLimited = "HashWasRateLimited"
    /// The time budget ran out, or the hasher stopped before reaching the request.
    case hashFailed = "HashFailed"
    /// The file at the path is not the event's any more (inode, size or mtime differ), or it changed
    /// while it was read. Not one of Datadog's states.
    case fileChanged = "FileChanged"
}

/// What to hash. Build it from the event's file with `init(file:pid:inContainer:action:)`.
public struct HashRequest: Sendable {
    /// The path as the event's process sees it.
    public var path: String
    /// The event's process: the file is opened through `/proc/<pid>/root`, so container paths
    /// resolve in the container's filesystem.
    public var pid: UInt32?
    /// The file's identity at event time, when known. `inode`, `size` and `modificationTimeNs` are
    /// checked against the opened file; with `device` and `changeTimeNs` too they also let `submit`
    /// answer from the cache without touching the file.
    public var device: UInt32?
    public var inode: UInt64?
    public var size: UInt64?
    public var modificationTimeNs: UInt64?
    public var changeTimeNs: UInt64?
    /// nil: `FileHasherSettings.algorithms`.
    public var algorithms: [HashAlgorithm]?
    /// nil: `FileHasherSettings.maxFileSize`.
    public var maxFileSize: UInt64?
    /// When `/proc/<pid>/root` is gone (the process exited), open `path` in the agent's own
    /// filesystem instead. Off for container processes: the same path on the host is another file.
    public var hostPathFallback: Bool

    public init(path: String, pid: UInt32? = nil, device: UInt32? = nil, inode: UInt64? = nil, size: UInt64? = nil,
                modificationTimeNs: UInt64? = nil, changeTimeNs: UInt64? = nil, algorithms: [HashAlgorithm]? = nil,
                maxFileSize: UInt64? = nil, hostPathFallback: Bool = true) {
        self.path = path
        self.pid = pid
        self.device = device
        self.inode = inode
        self.size = size
        self.modificationTimeNs = modificationTimeNs
        self.changeTimeNs = changeTimeNs
        self.algorithms = algorithms
        self.maxFileSize = maxFileSize
        self.hostPathFallback = hostPathFallback
    }

    /// The request for an event's file: its identity fields that are known (0 means unknown in
    /// `FileInfo`), the rule's options, and no host fallback for a container process.
    public init(file: FileInfo, pid: UInt32?, inContainer: Bool, action: HashAction? = nil) {
        self.init(path: file.pathResolutionError == nil ? file.path : "", pid: pid,
                  device: file.device != 0 ? file.device : nil,
                  inode: file.inode != 0 ? file.inode : nil,
                  modificationTimeNs: file.modificationTimeNs != 0 ? file.modificationTimeNs : nil,
                  changeTimeNs: file.changeTimeNs != 0 ? file.changeTimeNs : nil,
                  algorithms: action?.algorithms, maxFileSize: action?.maxFileSize, hostPathFallback: !inContainer)
    }
}

/// The answer to one request.
public struct HashResult: Sendable, Equatable {
    /// The request's path.
    public let path: String
    public let state: HashState
    /// `<algorithm>:<hex>` in the request's algorithm order; empty unless `state` is `done`.
    public let hashes: [String]
    /// Why, for the states other than `done` (`ENOENT`, `inode 12, expected 13` ...); for logs and
    /// the action report.
    public let detail: String?
    /// True when the digests came from the cache (the file was not read again).
    public let fromCache: Bool

    public init(path: String, state: HashState, hashes: [String], detail: String?, fromCache: Bool) {
        self.path = path
        self.state = state
        self.hashes = hashes
        self.detail = detail
        self.fromCache = fromCache
    }
}

/// Identifies a submitted request in `takeCompleted()`.
public struct HashTicket: Hashable, Sendable {
    public let id: UInt64
}

/// What `submit` returns: the ticket and, when the answer is known without reading the file
/// (cache hit, unusable path, full queue), the answer itself. An immediate answer is not repeated
/// by `takeCompleted()`.
public struct HashSubmission: Sendable {
    public let ticket: HashTicket
    public let immediate: HashResult?
}

/// Totals since the hasher started; each request counts once under its outcome.
public struct FileHasherCounters: Sendable, Equatable {
    public var submitted = 0
    /// Files read and digested.
    public var hashed = 0
    public var bytesHashed: UInt64 = 0
    public var cacheHits = 0
    public var tooBig = 0
    public var empty = 0
    public var notFound = 0
    public var changed = 0
    /// Refused because the queue was full.
    public var rateLimited = 0
    /// Open and read errors, unusable paths, time budget overruns, requests dropped at shutdown.
    public var errors = 0
}

/// Settings of `FileHasher`; the defaults follow Datadog's hash resolver where it has one.
public struct FileHasherSettings: Sendable {
    /// Datadog's default (`hash_resolver.max_file_size`, 5 MiB): executables dropped by an attacker
    /// are mostly far smaller, and the bound keeps one file to tens of milliseconds of the worker,
    /// so the queue drains in seconds even when full. A rule raises it with `max_file_size`.
    public var maxFileSize: UInt64 = 5 << 20
    /// Requests waiting for the worker; a request beyond it is answered `HashWasRateLimited`.
    public var queueCapacity = 256
    /// Files whose digests are kept (Datadog's `hash_resolver.cache_size`: 500), least recently used out.
    public var cacheCapacity = 500
    /// Wall time one file may take to read and digest; beyond it the file is `HashFailed`.
    /// A read(2) that blocks (a hung network or FUSE file) cannot be interrupted: the budget is
    /// checked between reads, and `waitForOutstanding` bounds how long shutdown waits for it.
    public var timeBudgetNs: UInt64 = 2_000_000_000
    /// Datadog's default algorithms are sha1, sha256 and ssdeep; this agent does not compute ssdeep.
    public var algorithms: [HashAlgorithm] = [.sha1, .sha256]
    /// Bytes per read(2).
    public var readChunk = 64 << 10
    /// Where `/proc/<pid>/root` is looked up.
    public var procRoot = "/proc"

    public init() {}
}

/// Hashes the files of rule matches on one worker thread, away from the thread that drains events.
///
/// Poll-based, so that all output stays on the drain thread: `submit` never blocks (it answers at
/// once from the cache when it can), `takeCompleted` returns what the worker has finished since the
/// last call, and at shutdown `waitForOutstanding` waits a bounded time and `cancelPending` answers
/// whatever is left, so every ticket gets exactly one result.
///
/// A file is opened read-only, non-blocking (a FIFO is never waited on), without following a final
/// symbolic link and without touching its access time, through `/proc/<pid>/root/<path>` when the
/// pid is given. After opening, fstat(2) must agree with the event's inode, size and mtime when
/// they are known; after reading, with the first fstat, or the result is `FileChanged`.
public final class FileHasher: @unchecked Sendable {
    public let settings: FileHasherSettings
    private let shared: Shared

    public init(settings: FileHasherSettings = FileHasherSettings()) {
        self.settings = settings
        shared = Shared(settings: settings)
        let worker = Thread { [shared] in shared.runWorker() }
        worker.name = "csm-file-hasher"
        worker.start()
    }

    deinit {
        shared.stop()
    }

    /// Queues a request (or answers it at once). Never blocks on the file.
    public func submit(_ request: HashRequest) -> HashSubmission {
        shared.submit(request)
    }

    /// The results finished since the last call, in completion order.
    public func takeCompleted() -> [(ticket: HashTicket, result: HashResult)] {
        shared.takeCompleted()
    }

    /// Waits until no request is queued or being hashed, or until `timeoutNs` has passed; true when
    /// nothing is outstanding. Results stay for `takeCompleted()`.
    @discardableResult
    public func waitForOutstanding(timeoutNs: UInt64) -> Bool {
        shared.waitForOutstanding(timeoutNs: timeoutNs)
    }

    /// Stops the worker after the file it is reading and answers every queued request `HashFailed`
    /// (for `takeCompleted()`). Later submissions are answered `HashFailed` at once.
    public func cancelPending() {
        shared.stop()
    }

    /// Requests queued or being hashed.
    public var outstanding: Int { shared.outstandingCount }

    public var counters: FileHasherCounters { shared.countersSnapshot }

    /// `<algorithm>:<hex>` of a whole buffer (for tests and tools).
    public static func digestString(_ algorithm: HashAlgorithm, of bytes: [UInt8]) -> String {
        var digester = Digester(algorithm)
        bytes.withUnsafeBytes { digester.update($0) }
        return digester.finalize()
    }
}

// MARK: - State shared with the worker

/// The key of a file's content: what changes when its bytes may have (ctime too: mtime can be set
/// back by utimes(2), ctime cannot).
private struct FileKey: Hashable {
    var device: UInt32
    var inode: UInt64
    var modificationTimeNs: UInt64
    var changeTimeNs: UInt64
}

private struct CachedDigests {
    var size: UInt64
    var digests: [HashAlgorithm: String]

    func hashes(for algorithms: [HashAlgorithm]) -> [String]? {
        var out: [String] = []
        out.reserveCapacity(algorithms.count)
        for algorithm in algorithms {
            guard let digest = digests[algorithm] else { return nil }
            out.append(digest)
        }
        return out
    }
}

private final class Shared: @unchecked Sendable {
    let settings: FileHasherSettings
    /// Guards everything below; the worker waits on it.
    let condition = NSCondition()
    var queue: [(HashTicket, HashRequest)] = []
    var queueHead = 0
    var completed: [(ticket: HashTicket, result: HashResult)] = []
    var inFlight = 0
    var stopping = false
    var nextTicket: UInt64 = 1
    var counters = FileHasherCounters()
    var cache: LRUCache<FileKey, CachedDigests>

    init(settings: FileHasherSettings) {
        self.settings = settings
        cache = LRUCache(capacity: max(0, settings.cacheCapacity))
    }

    var queuedCount: Int { queue.count - queueHead }

    var outstandingCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return queuedCount + inFlight
    }

    var countersSnapshot: FileHasherCounters {
        condition.lock()
        defer { condition.unlock() }
        return counters
    }

    func submit(_ request: HashRequest) -> HashSubmission {
        condition.lock()
        defer { condition.unlock() }
        let ticket = HashTicket(id: nextTicket)
        nextTicket &+= 1
        counters.submitted += 1
        let algorithms = request.algorithms ?? settings.algorithms
        if request.path.isEmpty || !request.path.hasPrefix("/") || algorithms.isEmpty {
            let detail = algorithms.isEmpty ? "no algorithm" : (request.path.isEmpty ? "no path" : "relative path")
            return HashSubmission(ticket: ticket, immediate: finishLocked(request, .pathnameResolutionError, detail: detail))
        }
        if stopping {
            return HashSubmission(ticket: ticket, immediate: finishLocked(request, .hashFailed, detail: "the hasher is stopped"))
        }
        if let device = request.device, let inode = request.inode, let mtime = request.modificationTimeNs,
           let ctime = request.changeTimeNs,
           let entry = cache.get(FileKey(device: device, inode: inode, modificationTimeNs: mtime, changeTimeNs: ctime)),
           request.size == nil || request.size == entry.size,
           let hashes = entry.hashes(for: algorithms) {
            counters.cacheHits += 1
            return HashSubmission(ticket: ticket, immediate: HashResult(path: request.path, state: .done, hashes: hashes, detail: nil, fromCache: true))
        }
        if queuedCount >= settings.queueCapacity {
            return HashSubmission(ticket: ticket, immediate: finishLocked(request, .rateLimited, detail: "queue of \(settings.queueCapacity) full"))
        }
        queue.append((ticket, request))
        condition.signal()
        return HashSubmission(ticket: ticket, immediate: nil)
    }

    func takeCompleted() -> [(ticket: HashTicket, result: HashResult)] {
        condition.lock()
        defer { condition.unlock() }
        if completed.isEmpty { return [] }
        let out = completed
        completed.removeAll(keepingCapacity: true)
        return out
    }

    func waitForOutstanding(timeoutNs: UInt64) -> Bool {
        let deadline = Date(timeIntervalSinceNow: Double(timeoutNs) / 1e9)
        condition.lock()
        defer { condition.unlock() }
        while queuedCount + inFlight > 0 {
            if !condition.wait(until: deadline) { break }
        }
        return queuedCount + inFlight == 0
    }

    func stop() {
        condition.lock()
        defer { condition.unlock() }
        stopping = true
        while queueHead < queue.count {
            let (ticket, request) = queue[queueHead]
            queueHead += 1
            completed.append((ticket, finishLocked(request, .hashFailed, detail: "not hashed before the hasher stopped")))
        }
        queue.removeAll()
        queueHead = 0
        condition.broadcast()
    }

    /// A result that is not a digest, counted. Call with the lock held.
    func finishLocked(_ request: HashRequest, _ state: HashState, detail: String?) -> HashResult {
        count(state)
        return HashResult(path: request.path, state: state, hashes: [], detail: detail, fromCache: false)
    }

    func count(_ state: HashState) {
        switch state {
        case .done: break
        case .fileTooBig: counters.tooBig += 1
        case .fileEmpty: counters.empty += 1
        case .fileNotFound: counters.notFound += 1
        case .fileChanged: counters.changed += 1
        case .rateLimited: counters.rateLimited += 1
        case .pathnameResolutionError, .fileOpenError, .eventTypeNotConfigured, .hashFailed: counters.errors += 1
        }
    }

    // MARK: Worker

    func runWorker() {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(4096, settings.readChunk), alignment: 16)
        defer { buffer.deallocate() }
        condition.lock()
        while true {
            while queuedCount == 0 && !stopping { condition.wait() }
            if stopping { break }
            let (ticket, request) = queue[queueHead]
            queueHead += 1
            if queueHead == queue.count {
                queue.removeAll(keepingCapacity: true)
                queueHead = 0
            } else if queueHead > 1024 {
                queue.removeFirst(queueHead)
                queueHead = 0
            }
            inFlight += 1
            condition.unlock()
            let outcome = hash(request, buffer: buffer)
            condition.lock()
            inFlight -= 1
            switch outcome {
            case .digests(let key, let alias, let size, let digests, let bytesRead, let hashes):
                counters.hashed += 1
                counters.bytesHashed += bytesRead
                var entry = cache.get(key) ?? CachedDigests(size: size, digests: [:])
                if entry.size != size { entry = CachedDigests(size: size, digests: [:]) }
                entry.digests.merge(digests) { _, new in new }
                cache.set(key, entry)
                if let alias, alias != key { cache.set(alias, entry) }
                completed.append((ticket, HashResult(path: request.path, state: .done, hashes: hashes, detail: nil, fromCache: false)))
            case .cached(let hashes):
                counters.cacheHits += 1
                completed.append((ticket, HashResult(path: request.path, state: .done, hashes: hashes, detail: nil, fromCache: true)))
            case .notRegular:
                completed.append((ticket, HashResult(path: request.path, state: .done, hashes: [], detail: "not a regular file", fromCache: false)))
            case .failed(let state, let detail):
                completed.append((ticket, finishLocked(request, state, detail: detail)))
            }
            condition.broadcast()
        }
        condition.unlock()
    }

    enum Outcome {
        /// `alias`: the request's own key when it named the file fully (it may differ from fstat's
        /// on overlayfs), so that the next `submit` of that event hits the cache at once.
        case digests(key: FileKey, alias: FileKey?, size: UInt64, digests: [HashAlgorithm: String], bytesRead: UInt64, hashes: [String])
        case cached([String])
        case notRegular
        case failed(HashState, String)
    }

    /// O_NOATIME, O_NOFOLLOW and O_NOCTTY on x86_64/aarch64 Linux (Swift's Glibc module is built without _GNU_SOURCE).
    static let openNoAtime: Int32 = 0o1000000
    static let openNoFollow: Int32 = 0o400000
    static let openNoCTTY: Int32 = 0o400

    func hash(_ request: HashRequest, buffer: UnsafeMutableRawBufferPointer) -> Outcome {
        let start = monotonicNs()
        let algorithms = request.algorithms ?? settings.algorithms
        let limit = request.maxFileSize ?? settings.maxFileSize
        let fd: Int32
        switch openRequest(request) {
        case .success(let opened): fd = opened
        case .failure(let outcome): return outcome
        }
        defer { close(fd) }

        var st = stat()
        guard fstat(fd, &st) == 0 else { return .failed(.fileOpenError, "fstat: " + errnoName(errno)) }
        guard st.st_mode & S_IFMT == S_IFREG else { return .notRegular }
        let first = Identity(st)
        if let inode = request.inode, inode != first.inode { return .failed(.fileChanged, "inode \(first.inode), expected \(inode)") }
        if let size = request.size, size != first.size { return .failed(.fileChanged, "size \(first.size), expected \(size)") }
        if let mtime = request.modificationTimeNs, mtime != first.mtime {
            return .failed(.fileChanged, "mtime \(first.mtime), expected \(mtime)")
        }
        if first.size > limit { return .failed(.fileTooBig, "\(first.size) bytes, limit \(limit)") }
        if first.size == 0 { return .failed(.fileEmpty, "0 bytes") }

        let key = FileKey(device: first.device, inode: first.inode, modificationTimeNs: first.mtime, changeTimeNs: first.ctime)
        condition.lock()
        let cached = cache.get(key).flatMap { $0.size == first.size ? $0.hashes(for: algorithms) : nil }
        condition.unlock()
        if let cached { return .cached(cached) }

        var digesters = algorithms.map { Digester($0) }
        var total: UInt64 = 0
        while true {
            let n = read(fd, buffer.baseAddress, buffer.count)
            if n < 0 {
                if errno == EINTR { continue }
                return .failed(.fileOpenError, "read: " + errnoName(errno))
            }
            if n == 0 { break }
            total += UInt64(n)
            if total > limit { return .failed(.fileTooBig, "grew beyond the limit of \(limit) bytes while being read") }
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
            for i in digesters.indices { digesters[i].update(chunk) }
            if monotonicNs() &- start > settings.timeBudgetNs {
                return .failed(.hashFailed, "time budget of \(settings.timeBudgetNs / 1_000_000) ms exceeded after \(total) bytes")
            }
        }
        var after = stat()
        guard fstat(fd, &after) == 0 else { return .failed(.fileOpenError, "fstat: " + errnoName(errno)) }
        let second = Identity(after)
        if second.size != first.size || second.mtime != first.mtime || total != first.size {
            return .failed(.fileChanged, "modified while being hashed")
        }

        var digests: [HashAlgorithm: String] = [:]
        var hashes: [String] = []
        for (algorithm, var digester) in zip(algorithms, digesters) {
            let text = digester.finalize()
            digests[algorithm] = text
            hashes.append(text)
        }
        // The event's own key, when it named the file fully and its ctime is the file's (inode and
        // mtime were checked above; the device may differ from fstat's on overlayfs).
        var alias: FileKey?
        if let device = request.device, let inode = request.inode, let mtime = request.modificationTimeNs,
           let ctime = request.changeTimeNs, ctime == first.ctime {
            alias = FileKey(device: device, inode: inode, modificationTimeNs: mtime, changeTimeNs: ctime)
        }
        return .digests(key: key, alias: alias, size: first.size, digests: digests, bytesRead: total, hashes: hashes)
    }

    enum OpenResult {
        case success(Int32)
        case failure(Outcome)
    }

    private func openRequest(_ request: HashRequest) -> OpenResult {
        var path = request.path
        if let pid = request.pid {
            let root = "\(settings.procRoot)/\(pid)/root"
            let fd = openFile(root + request.path)
            if fd >= 0 { return .success(fd) }
            let error = errno
            // /proc/<pid>/root is unreachable once the process exited (or is a zombie): that is not
            // the file missing.
            let rootGone = access(root + "/", F_OK) != 0
            guard rootGone else { return .failure(openFailure(error)) }
            guard request.hostPathFallback else {
                return .failure(.failed(.fileNotFound, "process \(pid) exited and its files are not reachable"))
            }
            path = request.path
        }
        let fd = openFile(path)
        return fd >= 0 ? .success(fd) : .failure(openFailure(errno))
    }

    private func openFailure(_ error: Int32) -> Outcome {
        switch error {
        case ENOENT, ENOTDIR: return .failed(.fileNotFound, errnoName(error))
        // O_NOFOLLOW: the path's last component is a symbolic link now; the event's file was not.
        case ELOOP: return .failed(.fileChanged, "the path is a symbolic link now")
        default: return .failed(.fileOpenError, errnoName(error))
        }
    }

    private func openFile(_ path: String) -> Int32 {
        let flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | Shared.openNoCTTY | Shared.openNoFollow
        var fd = open(path, flags | Shared.openNoAtime)
        // O_NOATIME needs ownership or CAP_FOWNER; without it, read the file and let atime move.
        if fd < 0 && errno == EPERM { fd = open(path, flags) }
        return fd
    }

    private func monotonicNs() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }
}

/// The parts of struct stat the hasher compares, with the device in the kernel's encoding
/// (major << 20 | minor), as the BPF side reports `FileInfo.device`.
private struct Identity {
    var device: UInt32
    var inode: UInt64
    var size: UInt64
    var mtime: UInt64
    var ctime: UInt64

    init(_ st: stat) {
        let dev = UInt64(st.st_dev)
        // glibc's dev_t: major in bits 8-19 and 32-43, minor in bits 0-7 and 12-31.
        let major = UInt32(truncatingIfNeeded: ((dev >> 8) & 0xFFF) | ((dev >> 32) & ~UInt64(0xFFF)))
        let minor = UInt32(truncatingIfNeeded: (dev & 0xFF) | ((dev >> 12) & ~UInt64(0xFF)))
        device = (major << 20) | (minor & 0xFFFFF)
        inode = UInt64(st.st_ino)
        size = UInt64(max(0, st.st_size))
        mtime = UInt64(max(0, st.st_mtim.tv_sec)) &* 1_000_000_000 &+ UInt64(st.st_mtim.tv_nsec)
        ctime = UInt64(max(0, st.st_ctim.tv_sec)) &* 1_000_000_000 &+ UInt64(st.st_ctim.tv_nsec)
    }
}

// MARK: - Digests

/// One running digest of swift-crypto.
struct Digester {
    private enum State {
        case sha1(Insecure.SHA1)
        case sha256(SHA256)
        case md5(Insecure.MD5)
    }

    private var state: State
    let algorithm: HashAlgorithm

    init(_ algorithm: HashAlgorithm) {
        self.algorithm = algorithm
        switch algorithm {
        case .sha1: state = .sha1(Insecure.SHA1())
        case .sha256: state = .sha256(SHA256())
        case .md5: state = .md5(Insecure.MD5())
        }
    }

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        switch state {
        case .sha1(var h):
            h.update(bufferPointer: bytes)
            state = .sha1(h)
        case .sha256(var h):
            h.update(bufferPointer: bytes)
            state = .sha256(h)
        case .md5(var h):
            h.update(bufferPointer: bytes)
            state = .md5(h)
        }
    }

    /// `<algorithm>:<lowercase hex>`.
    mutating func finalize() -> String {
        var text = algorithm.rawValue + ":"
        func append<D: Sequence>(_ digest: D) where D.Element == UInt8 {
            let digits = Array("0123456789abcdef".utf8)
            var bytes: [UInt8] = []
            for byte in digest {
                bytes.append(digits[Int(byte >> 4)])
                bytes.append(digits[Int(byte & 0xF)])
            }
            text += String(decoding: bytes, as: UTF8.self)
        }
        switch state {
        case .sha1(let h): append(h.finalize())
        case .sha256(let h): append(h.finalize())
        case .md5(let h): append(h.finalize())
        }
        return text
    }
}

// MARK: - LRU

/// A fixed-capacity map that drops its least recently used entry; slots in arrays, linked by index.
struct LRUCache<Key: Hashable, Value> {
    private struct Slot {
        var key: Key
        var value: Value
        var previous: Int
        var next: Int
    }

    let capacity: Int
    private var slots: [Slot] = []
    private var index: [Key: Int] = [:]
    /// Most and least recently used slots; -1 when empty.
    private var head = -1
    private var tail = -1

    init(capacity: Int) {
        self.capacity = capacity
    }

    var count: Int { index.count }

    /// The value, marked most recently used.
    mutating func get(_ key: Key) -> Value? {
        guard let i = index[key] else { return nil }
        moveToFront(i)
        return slots[i].value
    }

    mutating func set(_ key: Key, _ value: Value) {
        guard capacity > 0 else { return }
        if let i = index[key] {
            slots[i].value = value
            moveToFront(i)
            return
        }
        let i: Int
        if slots.count < capacity {
            i = slots.count
            slots.append(Slot(key: key, value: value, previous: -1, next: -1))
        } else {
            // Reuse the least recently used slot.
            i = tail
            unlink(i)
            index[slots[i].key] = nil
            slots[i] = Slot(key: key, value: value, previous: -1, next: -1)
        }
        index[key] = i
        pushFront(i)
    }

    private mutating func moveToFront(_ i: Int) {
        guard head != i else { return }
        unlink(i)
        pushFront(i)
    }

    private mutating func unlink(_ i: Int) {
        let p = slots[i].previous, n = slots[i].next
        if p >= 0 { slots[p].next = n } else { head = n }
        if n >= 0 { slots[n].previous = p } else { tail = p }
        slots[i].previous = -1
        slots[i].next = -1
    }

    private mutating func pushFront(_ i: Int) {
        slots[i].previous = -1
        slots[i].next = head
        if head >= 0 { slots[head].previous = i }
        head = i
        if tail < 0 { tail = i }
    }
}
