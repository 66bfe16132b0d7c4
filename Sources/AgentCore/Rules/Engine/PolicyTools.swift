import Foundation

/// The logic behind `csm-agent policy check|evaluate` and `csm-agent fields`, kept here so tests reach it.
public enum PolicyTools {
    /// `"..."` with JSON escapes.
    public static func jsonString(_ s: String) -> String {
        "\"" + jsonEscaped(s, quotes: true) + "\""
    }

    /// `s` with JSON escapes for control characters and, when `quotes`, for `"` and `\`.
    static func jsonEscaped(_ s: String, quotes: Bool) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"" where quotes: out += "\\\""
            case "\\" where quotes: out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }

    /// Output and exit status of `policy check`.
    public static func check(paths: [String], json: Bool, options: PolicyLoader.Options = .init()) -> (output: String, warnings: [String], exitCode: Int32) {
        let result = PolicyLoader(options: options).load(paths: paths)
        var errors = result.fileErrors.count
        var lines: [String] = []
        var counts: [RuleStatus: Int] = [:]
        for r in result.reports {
            counts[r.status, default: 0] += 1
            if r.status == .error { errors += 1 }
        }
        if json {
            var items: [String] = []
            for r in result.reports {
                items.append("{\"id\": \(jsonString(r.id)), \"status\": \(jsonString(r.status.rawValue)), \"reason\": \(jsonString(r.reason))}")
            }
            var out = "{\"rules\": [" + items.joined(separator: ", ") + "]"
            if !result.fileErrors.isEmpty {
                out += ", \"file_errors\": [" + result.fileErrors.map(jsonString).joined(separator: ", ") + "]"
            }
            lines.append(out + "}")
        } else {
            for e in result.fileErrors { lines.append("error: \(e)") }
            for r in result.reports {
                var line = "\(r.id): \(r.status.rawValue)"
                if r.status == .loaded, let t = r.eventType { line += " (\(t.name))" }
                if !r.reason.isEmpty { line += " - \(r.reason)" }
                lines.append(line)
            }
            let order: [RuleStatus] = [.loaded, .disabled, .filtered, .unsupported, .error]
            lines.append("total \(result.reports.count): " + order.map { "\($0.rawValue) \(counts[$0] ?? 0)" }.joined(separator: ", "))
        }
        return (lines.joined(separator: "\n"), result.warnings, errors == 0 ? 0 : 1)
    }

    /// `policy evaluate`: one output line per input line.
    ///
    /// Runs the matching rules' `set` actions as the live pipeline does, on one variable store for
    /// the whole input, and forgets an exited process's variables after its exit event: a rule that
    /// reads a variable matches offline when the events that set it (in the agent's output) come
    /// before it in the input.
    ///
    /// Lines are read through one `EventReplay`, so that process entries are shared across lines as
    /// the live process cache shares them (an exec's environment serves the process's later events).
    public final class Evaluator {
        public let load: PolicyLoader.Result
        private let context = EvalContext()
        private let replay = EventReplay()
        /// Lines answered with an error so far.
        public private(set) var failedLines = 0

        public init(paths: [String], options: PolicyLoader.Options = .init()) {
            load = PolicyLoader(options: options).load(paths: paths)
        }

        /// The variables the evaluated lines have set.
        public var variables: VariableStore { context.variables }

        /// The message of the last line answered with an error.
        public private(set) var lastError: String?

        /// `{"matched": [...]}` or `{"error": "..."}`; nil for blank lines.
        public func evaluate(line: String) -> String? {
            if line.allSatisfy({ $0.isWhitespace }) { return nil }
            lastError = nil
            do {
                let event = try replay.event(fromLine: line)
                var ids: [String] = []
                load.ruleSet.forEachMatch(event, context: context) { rule in
                    ids.append(rule.id)
                    rule.runSetActions(context: context)
                }
                if event.type == .exit, let process = event.process { context.variables.processExited(process) }
                return "{\"matched\": [" + ids.map(PolicyTools.jsonString).joined(separator: ", ") + "]}"
            } catch {
                failedLines += 1
                lastError = "\(error)"
                return "{\"error\": \(PolicyTools.jsonString("\(error)"))}"
            }
        }

        /// Evaluates every line that `read` gives (chunks of bytes, then nil at the end): writes the
        /// answer to each non-blank line with `output` (an error too, so that output line N answers
        /// the Nth non-blank input line) and, for each line that failed, one line `line N: message`
        /// with `error`, N counting from 1. Returns the exit status: 0 when every line was
        /// evaluated and every policy file loaded, 1 otherwise (after a summary line on `error`).
        public func run(read: () -> [UInt8]?, output: (String) -> Void, error: (String) -> Void) -> Int32 {
            var splitter = LineSplitter()
            var lineNumber = 0
            func answer(_ bytes: UnsafeBufferPointer<UInt8>) {
                lineNumber += 1
                guard let out = evaluate(line: String(decoding: bytes, as: UTF8.self)) else { return }
                output(out)
                if let message = lastError { error("line \(lineNumber): " + PolicyTools.singleLine(message)) }
            }
            while let chunk = read() {
                chunk.withUnsafeBytes { splitter.append($0, answer) }
            }
            splitter.finish(answer)
            guard failedLines > 0 || !load.fileErrors.isEmpty else { return 0 }
            if failedLines > 0 { error("error: \(failedLines) of \(lineNumber) lines could not be evaluated") }
            return 1
        }
    }

    /// `message` on one line: control characters (a newline in a decoded key) written as JSON escapes.
    static func singleLine(_ message: String) -> String {
        guard message.unicodeScalars.contains(where: { $0.value < 0x20 }) else { return message }
        return jsonEscaped(message, quotes: false)
    }

    /// `csm-agent fields`: every field with its type, event type and description, sorted by name.
    public static func fieldsListing(json: Bool) -> String {
        let specs = FieldRegistry.listing.fields.values.sorted { $0.name < $1.name }
        if json {
            let items = specs.map { s in
                "{\"name\": \(jsonString(s.name)), \"type\": \(jsonString(typeName(s))), \"event_type\": \(jsonString(s.eventType?.name ?? "*")), \"description\": \(jsonString(s.description))}"
            }
            return "[" + items.joined(separator: ",\n ") + "]"
        }
        let width = (specs.map(\.name.count).max() ?? 10) + 2
        return specs.map { s in
            let name = s.name.padding(toLength: width, withPad: " ", startingAt: 0)
            let type = typeName(s).padding(toLength: 10, withPad: " ", startingAt: 0)
            let event = (s.eventType?.name ?? "*").padding(toLength: 15, withPad: " ", startingAt: 0)
            return "\(name)\(type)\(event)\(s.description)"
        }.joined(separator: "\n")
    }

    static func typeName(_ s: FieldSpec) -> String {
        s.isArray ? "[]\(s.type.rawValue)" : s.type.rawValue
    }
}
