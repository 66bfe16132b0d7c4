import AgentCore
import Foundation
import Glibc
import Serializers

/// The outputs to write and how (`--output`, `--format`, `--output-max-size`, `--output-max-files`).
struct OutputSettings {
    static let defaultMaxSize: UInt64 = 100 << 20
    static let defaultMaxFiles = 5

    var specs: [OutputSpec] = [.stdout]
    var format: OutputFormat = .json
    /// A file output is rotated before it would grow past this (0: never).
    var maxSize: UInt64 = OutputSettings.defaultMaxSize
    /// Rotated files kept per file output.
    var maxFiles: Int = OutputSettings.defaultMaxFiles

    func makeOutputs() -> [EventOutput] {
        specs.map { spec -> EventOutput in
            switch spec {
            case .stdout: return StdoutOutput()
            case let .file(path): return FileOutput(path: path, maxSize: maxSize, maxFiles: maxFiles)
            }
        }
    }
}

/// Buffers event lines and hands them, in large chunks of whole lines, to every output's queue
/// (see `QueuedOutput`): the loop never waits for an output.
final class OutputWriter {
    /// Hand the lines over when this much is buffered, besides after every drain cycle.
    static let flushThreshold = 256 * 1024
    /// How long the stop lets the outputs write what they still hold.
    static let finishTimeout: TimeInterval = 2

    let format: OutputFormat
    let outputs: [QueuedOutput]
    var buffer: [UInt8] = []

    init(outputs: [EventOutput], format: OutputFormat) {
        self.format = format
        self.outputs = outputs.map { QueuedOutput(output: $0) }
        buffer.reserveCapacity(OutputWriter.flushThreshold + 64 * 1024)
    }

    /// Appends the event's line in the output format.
    func append(_ event: Event, context: AgentContext, serializer: EventSerializer) {
        switch format {
        case .json: serializer.serialize(event, context: context, into: &buffer)
        case .compact: CompactFormat.append(event, ruleID: context.ruleID, into: &buffer)
        }
    }

    func flushIfFull() throws {
        if buffer.count >= OutputWriter.flushThreshold { try flush() }
    }

    /// Queues everything buffered on every output; throws when stdout can no longer be written.
    func flush() throws {
        for output in outputs {
            if let error = output.fatalError { throw error }
        }
        guard !buffer.isEmpty else { return }
        // An exact-size copy, shared by every queue: the buffer keeps its capacity for the next lines.
        let chunk = [UInt8](unsafeUninitializedCapacity: buffer.count) { storage, count in
            _ = buffer.withUnsafeBytes { memcpy(storage.baseAddress!, $0.baseAddress!, $0.count) }
            count = buffer.count
        }
        for output in outputs { output.enqueue(chunk) }
        buffer.removeAll(keepingCapacity: true)
    }

    /// SIGHUP, SIGUSR1: every output closes and opens its destination again (after logrotate).
    func reopen() {
        for output in outputs { output.requestReopen() }
    }

    /// Warns about drops and write failures (at most once per interval per output).
    func report(nowNs: UInt64) {
        for output in outputs { output.report(nowNs: nowNs) }
    }

    /// At stop: the outputs write what they hold, within `finishTimeout`; what is left is counted.
    func finish() {
        let deadline = Date(timeIntervalSinceNow: OutputWriter.finishTimeout)
        for output in outputs { output.finish(deadline: deadline) }
        for output in outputs { output.report(nowNs: BootClock.nowBootNs(), force: true) }
    }

    /// Stats words: totals, then per output (`output_dropped_stdout=..`).
    var counters: [String] {
        let each = outputs.map { ($0.output.name.map { $0.isWhitespace || $0 == "=" ? "_" : $0 }, $0.snapshot) }
        var words = ["output_dropped=\(each.reduce(0) { $0 &+ $1.1.dropped })", "output_failed=\(each.reduce(0) { $0 &+ $1.1.failed })"]
        for (name, c) in each {
            words += ["output_written_\(String(name))=\(c.written)", "output_dropped_\(String(name))=\(c.dropped)",
                      "output_failed_\(String(name))=\(c.failed)", "output_errors_\(String(name))=\(c.errors)"]
        }
        return words
    }
}

enum OutputError: Error, CustomStringConvertible {
    case writeFailed(output: String, errno: Int32)
    case openFailed(output: String, errno: Int32)
    case rotateFailed(output: String, errno: Int32)

    var description: String {
        switch self {
        case let .writeFailed(output, code): return "writing events to \(output) failed: \(String(cString: strerror(code)))"
        case let .openFailed(output, code): return "opening \(output) failed: \(String(cString: strerror(code)))"
        case let .rotateFailed(output, code): return "rotating \(output) failed: \(String(cString: strerror(code)))"
        }
    }
}
