import Glibc
import Logging
import Serializers

/// The agent's logging: swift-log's `Logger` with a handler that writes one line per message on
/// stderr (stdout carries events only).
///
/// `Log.info(...)` and its siblings are the call sites' short form; they forward to one `Logger`,
/// so that a library logging through swift-log lands in the same stream with the same format.
enum Log {
    /// The levels the agent's flags and configuration name, mapped onto swift-log's.
    enum Level: Int, Comparable {
        case error = 0, warning, info, debug
        static func < (lhs: Level, rhs: Level) -> Bool { lhs.rawValue < rhs.rawValue }

        init?(name: String) {
            switch name.lowercased() {
            case "error": self = .error
            case "warning", "warn": self = .warning
            case "info": self = .info
            case "debug": self = .debug
            default: return nil
            }
        }

        var name: String {
            switch self {
            case .error: return "error"
            case .warning: return "warning"
            case .info: return "info"
            case .debug: return "debug"
            }
        }

        var swiftLogLevel: Logger.Level {
            switch self {
            case .error: return .error
            case .warning: return .warning
            case .info: return .info
            case .debug: return .debug
            }
        }
    }

    /// How a line looks: `text` is `csm-agent level=info msg=...` (the message unquoted, to the end of
    /// the line: easy to grep and what the README shows), `json` one JSON object per line for a log
    /// pipeline that parses its input.
    enum Format: String, CaseIterable {
        case text, json
    }

    nonisolated(unsafe) private static var logger = Log.makeLogger(level: .info)

    /// Installs the stderr handler with `level` and `format`; called once, before anything logs.
    static func configure(level: Level, format: Format) {
        StderrLogHandler.format = format
        logger = makeLogger(level: level)
    }

    private static func makeLogger(level: Level) -> Logger {
        var logger = Logger(label: "csm-agent") { label in StderrLogHandler(label: label) }
        logger.logLevel = level.swiftLogLevel
        return logger
    }

    static func error(_ message: @autoclosure () -> String) { logger.error("\(message())") }
    static func warning(_ message: @autoclosure () -> String) { logger.warning("\(message())") }
    static func info(_ message: @autoclosure () -> String) { logger.info("\(message())") }
    static func debug(_ message: @autoclosure () -> String) { logger.debug("\(message())") }
}

/// A swift-log handler writing whole lines to fd 2 with one `write` each, so that lines of several
/// threads never interleave.
struct StderrLogHandler: LogHandler {
    nonisolated(unsafe) static var format: Log.Format = .text

    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    init(label: String) {
        self.label = label
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        var line: [UInt8]
        switch StderrLogHandler.format {
        case .text:
            var text = "\(label) level=\(Self.name(event.level)) msg=\(event.message)"
            for (key, value) in merged.sorted(by: { $0.key < $1.key }) { text += " \(key)=\(value)" }
            line = Array(text.utf8)
        case .json:
            var writer = JSONWriter()
            writer.beginObject()
            writer.key("logger"); writer.string(label)
            writer.key("level"); writer.string(Self.name(event.level))
            writer.key("msg"); writer.string("\(event.message)")
            for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
                writer.key(escaping: key); writer.string("\(value)")
            }
            writer.endObject()
            line = writer.bytes
        }
        // A message never spans lines: a newline inside one (a policy's text) is written as `\n`.
        if StderrLogHandler.format == .text, line.contains(UInt8(ascii: "\n")) {
            line = line.flatMap { $0 == UInt8(ascii: "\n") ? [UInt8(ascii: "\\"), UInt8(ascii: "n")] : [$0] }
        }
        line.append(UInt8(ascii: "\n"))
        line.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = Glibc.write(2, raw.baseAddress! + offset, raw.count - offset)
                if written <= 0 { if errno == EINTR { continue } else { return } }
                offset += written
            }
        }
    }

    /// The level names the agent has always written (swift-log's `.warning` and `.error`, the others
    /// by their own names).
    private static func name(_ level: Logger.Level) -> String {
        switch level {
        case .trace: return "trace"
        case .debug: return "debug"
        case .info: return "info"
        case .notice: return "notice"
        case .warning: return "warning"
        case .error: return "error"
        case .critical: return "critical"
        }
    }
}
