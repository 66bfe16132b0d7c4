import AgentCore
import Foundation
import Glibc
import Serializers

/// Where the event lines go (`--output stdout`, `--output file:PATH`).
enum OutputSpec: Equatable, CustomStringConvertible {
    case stdout
    case file(path: String)

    /// `stdout` or `file:PATH`; nil for anything else.
    init?(_ text: String) {
        if text == "stdout" {
            self = .stdout
        } else if text.hasPrefix("file:"), text.count > "file:".count {
            self = .file(path: String(text.dropFirst("file:".count)))
        } else {
            return nil
        }
    }

    var description: String {
        switch self {
        case .stdout: return "stdout"
        case let .file(path): return "file:\(path)"
        }
    }
}

/// The line format of every output (`--format`).
enum OutputFormat: String {
    /// One JSON object per line, as the backend schema says (the default).
    case json
    /// One short line per event for a terminal: time, rule id, event type, process, key field.
    case compact
}

/// One destination of whole lines, written by its own writer thread (see `QueuedOutput`).
protocol EventOutput: AnyObject {
    /// `stdout` or `file:PATH`, as given.
    var name: String { get }
    /// Whether a write error ends the agent: stdout's reader gone has nothing to retry; a file
    /// that failed (disk full, EACCES) is tried again.
    var failureIsFatal: Bool { get }
    /// Opens the destination, or closes and opens it again (SIGHUP, SIGUSR1: logrotate moved it).
    func reopen() throws
    /// Writes `lines` (whole lines). Returns how many bytes went out, and the error that stopped it.
    func write(_ lines: UnsafeRawBufferPointer) -> (written: Int, error: OutputError?)
}

/// Writes `count` bytes at `base` to `fd`, retrying partial writes, EINTR and EAGAIN.
private func writeFully(_ fd: Int32, _ base: UnsafeRawPointer, _ count: Int, output: String) -> (written: Int, error: OutputError?) {
    var offset = 0
    while offset < count {
        let written = Glibc.write(fd, base + offset, count - offset)
        if written < 0 {
            if errno == EINTR { continue }
            if errno == EAGAIN {
                var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                _ = Glibc.poll(&pfd, 1, 100)
                continue
            }
            return (offset, .writeFailed(output: output, errno: errno))
        }
        offset += written
    }
    return (offset, nil)
}

/// The agent's stdout (fd 1).
final class StdoutOutput: EventOutput {
    let name = "stdout"
    let failureIsFatal = true
    func reopen() throws {}
    func write(_ lines: UnsafeRawBufferPointer) -> (written: Int, error: OutputError?) {
        guard let base = lines.baseAddress else { return (0, nil) }
        return writeFully(1, base, lines.count, output: name)
    }
}

/// A file opened with O_APPEND (each line goes out whole, after whatever another writer appended),
/// rotated by size as Tetragon's export is: when the next line would take the file past `maxSize`,
/// PATH.(n-1) becomes PATH.n, …, PATH becomes PATH.1, and a new PATH is opened. A line never
/// spans two files. `maxSize` 0: no rotation (logrotate's business, with SIGHUP to reopen).
final class FileOutput: EventOutput {
    let path: String
    let maxSize: UInt64
    /// Rotated files kept: PATH.1 … PATH.maxFiles (0: the full file is removed).
    let maxFiles: Int
    let failureIsFatal = false
    var name: String { "file:\(path)" }
    private var fd: Int32 = -1
    private var size: UInt64 = 0

    init(path: String, maxSize: UInt64, maxFiles: Int) {
        self.path = path
        self.maxSize = maxSize
        self.maxFiles = maxFiles
    }

    func reopen() throws {
        if fd >= 0 { Glibc.close(fd) }
        fd = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        if fd < 0 { throw OutputError.openFailed(output: name, errno: errno) }
        var status = stat()
        size = fstat(fd, &status) == 0 ? UInt64(status.st_size) : 0
    }

    func write(_ lines: UnsafeRawBufferPointer) -> (written: Int, error: OutputError?) {
        guard let base = lines.baseAddress else { return (0, nil) }
        if fd < 0 {
            do { try reopen() } catch let error as OutputError { return (0, error) } catch { return (0, nil) }
        }
        var offset = 0
        while offset < lines.count {
            var take = lines.count - offset
            if maxSize > 0, size + UInt64(take) > maxSize {
                let room = size < maxSize ? Int(maxSize - size) : 0
                take = FileOutput.wholeLines(base + offset, min(room, take))
                if take == 0 {
                    if size > 0 {
                        if let error = rotate() { return (offset, error) }
                        continue
                    }
                    // A line longer than the maximum size gets a file of its own.
                    take = FileOutput.firstLine(base + offset, lines.count - offset)
                }
            }
            let result = writeFully(fd, base + offset, take, output: name)
            size += UInt64(result.written)
            offset += result.written
            if let error = result.error {
                // Reopened before the next write: a file whose disk filled up or was replaced.
                Glibc.close(fd)
                fd = -1
                return (offset, error)
            }
        }
        return (offset, nil)
    }

    /// The length of the whole lines among the first `limit` bytes.
    private static func wholeLines(_ base: UnsafeRawPointer, _ limit: Int) -> Int {
        var index = limit
        let bytes = base.assumingMemoryBound(to: UInt8.self)
        while index > 0 {
            if bytes[index - 1] == 0x0A { return index }
            index -= 1
        }
        return 0
    }

    /// The length of the first line, its newline included.
    private static func firstLine(_ base: UnsafeRawPointer, _ count: Int) -> Int {
        let bytes = base.assumingMemoryBound(to: UInt8.self)
        for index in 0..<count where bytes[index] == 0x0A { return index + 1 }
        return count
    }

    private func rotate() -> OutputError? {
        if maxFiles > 0 {
            // Missing older files (ENOENT) are fine: the first rotations have fewer.
            for index in stride(from: maxFiles - 1, through: 1, by: -1) {
                _ = Glibc.rename("\(path).\(index)", "\(path).\(index + 1)")
            }
            if Glibc.rename(path, "\(path).1") != 0 && errno != ENOENT { return .rotateFailed(output: name, errno: errno) }
        } else if Glibc.unlink(path) != 0 && errno != ENOENT {
            return .rotateFailed(output: name, errno: errno)
        }
        do { try reopen() } catch let error as OutputError { return error } catch { return nil }
        return nil
    }
}

/// An output behind a bounded queue, written by a thread of its own, so that a slow or blocked
/// destination never stalls the kernel drain: past `capacity` queued bytes, lines are dropped and
/// counted (and warned about by `report`). Lines that failed to be written are counted too.
final class QueuedOutput {
    /// Bytes an output may hold queued before lines are dropped.
    static let defaultCapacity = 32 << 20
    /// After a failed write, how long the writer waits before trying again (lines queue meanwhile).
    static let retryDelay: TimeInterval = 1
    /// Warnings about drops and failures, at most once per this interval per output.
    static let reportIntervalNs: UInt64 = 5_000_000_000

    let output: EventOutput
    let capacity: Int
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var chunks: [[UInt8]] = []
    private var queuedBytes = 0
    private var reopenRequested = false
    private var stopping = false
    private var finished = false
    private var retryAt: Date?
    private var counters = Counters()
    private var lastError: OutputError?
    private var fatal: OutputError?
    // The loop thread's: what `report` said last.
    private var reported = Counters()
    private var lastReportNs: UInt64 = 0

    struct Counters {
        /// Lines written whole.
        var written: UInt64 = 0
        /// Lines dropped because the queue was full.
        var dropped: UInt64 = 0
        /// Lines lost to write errors (a line cut by the error included).
        var failed: UInt64 = 0
        /// Write or open errors.
        var errors: UInt64 = 0
    }

    init(output: EventOutput, capacity: Int = QueuedOutput.defaultCapacity) {
        self.output = output
        self.capacity = capacity
        do {
            try output.reopen()
        } catch {
            // Not fatal: the writer tries again before each write, and `report` says so.
            lastError = error as? OutputError
            counters.errors = 1
        }
        let thread = Thread { [self] in run() }
        thread.name = "output \(output.name)"
        thread.start()
    }

    /// Queues whole lines; what does not fit under the capacity is dropped and counted.
    func enqueue(_ chunk: [UInt8]) {
        condition.lock()
        defer { condition.unlock() }
        if stopping { return }
        if queuedBytes + chunk.count <= capacity {
            chunks.append(chunk)
            queuedBytes += chunk.count
        } else {
            counters.dropped &+= QueuedOutput.lineCount(chunk[...])
        }
        condition.signal()
    }

    /// Closes and opens the destination again, from the writer thread, before its next write.
    func requestReopen() {
        condition.lock()
        reopenRequested = true
        condition.signal()
        condition.unlock()
    }

    /// The error that ends the agent (stdout closed), once one happened.
    var fatalError: OutputError? {
        condition.lock()
        defer { condition.unlock() }
        return fatal
    }

    var snapshot: Counters {
        condition.lock()
        defer { condition.unlock() }
        return counters
    }

    /// Lets the writer write what is queued, until `deadline`; what is left then is counted as dropped.
    func finish(deadline: Date) {
        condition.lock()
        stopping = true
        condition.broadcast()
        while !finished, condition.wait(until: deadline) {}
        if !finished {
            counters.dropped &+= chunks.reduce(0) { $0 &+ QueuedOutput.lineCount($1[...]) }
            chunks.removeAll()
            queuedBytes = 0
        }
        condition.unlock()
    }

    /// Warns about lines dropped or lost since the last warning, at most once per interval.
    func report(nowNs: UInt64, force: Bool = false) {
        guard force || nowNs &- lastReportNs >= QueuedOutput.reportIntervalNs else { return }
        condition.lock()
        let now = counters
        let error = lastError
        condition.unlock()
        let name = output.name
        if now.dropped > reported.dropped {
            Log.warning("output \(name): queue full (\(capacity) bytes): \(now.dropped - reported.dropped) lines dropped (total dropped=\(now.dropped))")
        }
        if now.errors > reported.errors || now.failed > reported.failed {
            Log.warning("output \(name): \(error.map { "\($0)" } ?? "write failed"): \(now.failed - reported.failed) lines lost "
                        + "(total lost=\(now.failed), errors=\(now.errors)); retrying")
        }
        if now.dropped > reported.dropped || now.errors > reported.errors || now.failed > reported.failed { lastReportNs = nowNs }
        reported = now
    }

    private func run() {
        condition.lock()
        while true {
            if !reopenRequested && !stopping {
                if chunks.isEmpty { condition.wait(); continue }
                if let retryAt, Date() < retryAt { _ = condition.wait(until: retryAt); continue }
            }
            if reopenRequested {
                reopenRequested = false
                condition.unlock()
                var failure: OutputError?
                do { try output.reopen() } catch { failure = error as? OutputError }
                condition.lock()
                if let failure {
                    lastError = failure
                    counters.errors &+= 1
                }
                continue
            }
            if chunks.isEmpty { break } // stopping, all written
            let chunk = chunks.removeFirst()
            condition.unlock()
            let result = chunk.withUnsafeBytes { output.write($0) }
            let whole = QueuedOutput.lineCount(chunk[..<result.written])
            let lost = result.error == nil ? 0 : QueuedOutput.lineCount(chunk[result.written...])
            condition.lock()
            queuedBytes -= chunk.count
            counters.written &+= whole
            if let error = result.error {
                counters.failed &+= lost
                counters.errors &+= 1
                lastError = error
                if output.failureIsFatal {
                    fatal = error
                    counters.failed &+= chunks.reduce(0) { $0 &+ QueuedOutput.lineCount($1[...]) }
                    chunks.removeAll()
                    queuedBytes = 0
                    stopping = true
                    break
                }
                retryAt = Date(timeIntervalSinceNow: QueuedOutput.retryDelay)
            } else {
                retryAt = nil
            }
        }
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    static func lineCount(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        var count: UInt64 = 0
        for byte in bytes where byte == 0x0A { count &+= 1 }
        return count
    }
}

/// One short human line per event (`--format compact`): time, rule id, event type, `comm[pid]`,
/// and the event's key field when it has one (the file, the mount point, the module).
enum CompactFormat {
    static func append(_ event: Event, ruleID: String, into buffer: inout [UInt8]) {
        var writer = JSONWriter()
        writer.rfc3339(nanoseconds: event.timeNs)
        // The JSON writer quotes the timestamp; the compact line does not.
        buffer += writer.bytes.filter { $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: ",") }
        appendField(ruleID, into: &buffer)
        appendField(event.type.name, into: &buffer)
        appendField("\(event.process?.comm ?? event.comm)[\(event.pid)]", into: &buffer)
        if let key = keyField(event) { appendField(key, into: &buffer) }
        if event.outcome != .success { appendField(event.outcome.rawValue.lowercased(), into: &buffer) }
        buffer.append(0x0A)
    }

    static func keyField(_ event: Event) -> String? {
        switch event.payload {
        case let .exec(p): return p.file.path
        case let .open(p): return p.file.path
        case let .mount(p): return p.mountpointPath
        case let .mmap(p): return p.file?.path
        case let .splice(p): return p.file?.path
        case let .loadModule(p): return p.name
        case let .unloadModule(p): return p.name
        case let .fileChange(p): return p.file.path
        default: return nil
        }
    }

    /// A space, then `text` with control bytes escaped as `\xHH`: a line stays one line.
    private static func appendField(_ text: String, into buffer: inout [UInt8]) {
        buffer.append(UInt8(ascii: " "))
        for byte in text.utf8 {
            if byte < 0x20 || byte == 0x7F {
                let hex = Array("0123456789abcdef".utf8)
                buffer += [UInt8(ascii: "\\"), UInt8(ascii: "x"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            } else {
                buffer.append(byte)
            }
        }
    }
}
