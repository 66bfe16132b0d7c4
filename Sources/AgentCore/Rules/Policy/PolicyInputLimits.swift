import Yams

/// Bounds on what one policy file may cost to read, checked before its YAML is turned into values:
/// a policy comes from a file anyone with write access to a policy directory controls, and the
/// agent reads it as root at start-up and at every reload.
///
/// - `maxBytes`: 8 MiB, about 38 times Datadog's 320-rule default policy (217 KiB).
/// - `maxDepth`: 64 levels of nested collections; policies use 5 or 6.
/// - `maxNodes`: 1,000,000 values once aliases are expanded (the corpus has about 12,000): a
///   "billion laughs" file of nine levels of aliases would expand to 387 million and gigabytes.
public struct PolicyInputLimits: Sendable, Equatable {
    public var maxBytes: Int
    public var maxDepth: Int
    public var maxNodes: Int

    public init(maxBytes: Int = 8 << 20, maxDepth: Int = 64, maxNodes: Int = 1_000_000) {
        self.maxBytes = maxBytes
        self.maxDepth = maxDepth
        self.maxNodes = maxNodes
    }

    public static let `default` = PolicyInputLimits()

    /// Throws a one-line message when `text` is over the byte limit or nests its flow collections
    /// (`[`, `{`) deeper than the depth limit. Runs before libyaml sees the text: libyaml's own
    /// failure on very deep input names no line.
    public func checkText(_ text: String) throws {
        let size = text.utf8.count
        if size > maxBytes {
            throw LimitError("policy is \(size) bytes, over the limit of \(maxBytes) bytes")
        }
        var depth = 0
        var line = 1
        var quote: UInt8 = 0
        var previous: UInt8 = UInt8(ascii: "\n")
        var inComment = false
        var escaped = false
        for byte in text.utf8 {
            defer { previous = byte }
            if byte == UInt8(ascii: "\n") {
                line += 1
                inComment = false
                continue
            }
            if inComment { continue }
            if quote != 0 {
                if quote == UInt8(ascii: "\"") {
                    if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == quote { quote = 0 }
                } else if byte == quote {
                    quote = 0 // a doubled '' reopens at once on the next byte
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "#") where previous == UInt8(ascii: " ") || previous == UInt8(ascii: "\t") || previous == UInt8(ascii: "\n"):
                inComment = true
            case UInt8(ascii: "\""), UInt8(ascii: "'"):
                // Quotes open a scalar only where one can start; inside a plain scalar they are text.
                if previous == UInt8(ascii: " ") || previous == UInt8(ascii: "[") || previous == UInt8(ascii: "{")
                    || previous == UInt8(ascii: ",") || previous == UInt8(ascii: ":") || previous == UInt8(ascii: "\n") {
                    quote = byte
                }
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                if depth > maxDepth { throw LimitError("nested deeper than \(maxDepth) at line \(line)") }
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                depth = max(0, depth - 1)
            default:
                break
            }
        }
    }

    /// Throws when `root` nests deeper than the depth limit or, aliases expanded, holds more than
    /// the node limit. The walk stops at the limit, so it is bounded whatever the file.
    ///
    /// Yams drops anchors once a document is composed (it holds them weakly), so the alias is named
    /// from `text`: the first `*alias` on the lines of the collections being expanded, outermost first.
    func checkTree(_ root: Node, text: String) throws {
        var count = 0
        var path: [Int] = []
        func walk(_ node: Node, _ depth: Int) throws {
            count += 1
            let line = node.mark?.line ?? 0
            if depth > maxDepth { throw LimitError("nested deeper than \(maxDepth) at line \(line)") }
            if count > maxNodes {
                if let (alias, at) = PolicyInputLimits.firstAlias(onLines: path + [line], of: text) {
                    throw LimitError("aliases expand past \(maxNodes) values: alias *\(alias) at line \(at)")
                }
                throw LimitError("more than \(maxNodes) values (the value at line \(line))")
            }
            path.append(line)
            defer { path.removeLast() }
            switch node {
            case .scalar, .alias:
                break
            case .mapping(let mapping):
                for (key, value) in mapping {
                    // Yams turns a mapping into a Swift dictionary, and a sequence or mapping as a key
                    // traps there (found by fuzz/FuzzPolicy). No policy key is anything but a scalar.
                    if case .scalar = key {} else {
                        throw LimitError("a mapping key that is not a scalar at line \(key.mark?.line ?? line)")
                    }
                    try walk(key, depth + 1)
                    try walk(value, depth + 1)
                }
            case .sequence(let sequence):
                for item in sequence { try walk(item, depth + 1) }
            }
        }
        try walk(root, 0)
    }

    /// The first `*name` alias on one of `lines` (1-based), in that order.
    static func firstAlias(onLines lines: [Int], of text: String) -> (String, Int)? {
        let all = text.split(separator: "\n", omittingEmptySubsequences: false)
        for line in lines where line >= 1 && line <= all.count {
            let content = all[line - 1]
            var index = content.startIndex
            while let star = content[index...].firstIndex(of: "*") {
                let before = star == content.startIndex ? " " : content[content.index(before: star)]
                let name = content[content.index(after: star)...].prefix { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }
                if !name.isEmpty, before == " " || before == "[" || before == "," || before == "{" || before == ":" {
                    return (String(name), line)
                }
                index = content.index(after: star)
            }
        }
        return nil
    }

    struct LimitError: Error, CustomStringConvertible {
        let message: String
        init(_ message: String) { self.message = message }
        var description: String { message }
    }
}
