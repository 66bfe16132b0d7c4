#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One JSON text parsed into a flat list of values ("nodes") in document order, each pointing at its
/// bytes in the text. Nothing is decoded until it is read: a string becomes a `String` only when the
/// event reader asks for it, and a field the reader does not use costs one pass of the tokenizer.
///
/// It exists for `EventJSONReader`: Foundation's JSONSerialization built a dictionary, an NSString
/// and an NSNumber for every value of every process of a line (an exec line of the agent holds about
/// ten processes, each with two lists of 41 capability names), and it cannot say which key held a
/// value of the wrong type. The text must stay valid and unchanged while the document is read (it
/// is read inside `String.withUTF8`).
final class JSONDocument {
    enum Kind: UInt8 {
        case null, `false`, `true`, number, string, array, object
    }

    struct Node {
        var kind: Kind
        /// Strings: the text holds a backslash escape. Numbers: an integer literal (no fraction, no
        /// exponent).
        var flag: Bool
        /// Strings: the bytes between the quotes. Numbers: the literal. Arrays and objects: from the
        /// opening bracket to after the closing one.
        var start: Int32
        var end: Int32
        /// Index of the first node after this value and everything inside it. The members of an
        /// object follow it as key, value, key, value ...; the elements of an array follow it.
        var next: Int32
    }

    let text: UnsafeBufferPointer<UInt8>
    private(set) var nodes: [Node] = []

    /// Capability lists already read from this text, by their bytes (`EventJSONReader`): the same
    /// list appears in most processes of a line.
    var capabilityLists: [(start: Int32, end: Int32, mask: UInt64)] = []

    /// Deeper nesting is refused: the parser recurses once per level.
    static let maxDepth = 256

    struct SyntaxError: Error {
        let message: String
        let offset: Int
    }

    init(parsing text: UnsafeBufferPointer<UInt8>) throws {
        guard text.count < Int(Int32.max) else { throw SyntaxError(message: "line too long", offset: 0) }
        self.text = text
        nodes.reserveCapacity(text.count / 10 + 4)
        var i = 0
        try parseValue(&i, depth: 0)
        skipWhitespace(&i)
        if i != text.count { throw expected("the end of the line after the value", at: i) }
    }

    // MARK: - Parsing

    /// `expected X, found Y` about the byte at `offset`.
    private func expected(_ what: String, at offset: Int) -> SyntaxError {
        SyntaxError(message: "expected \(what), found \(Self.describeByte(in: text, at: offset))", offset: offset)
    }

    /// `'x'`, `the byte 0xc3`, `the end of the line`: what stands at `offset`, for messages.
    static func describeByte(in text: UnsafeBufferPointer<UInt8>, at offset: Int) -> String {
        guard offset < text.count else { return "the end of the line" }
        let b = text[offset]
        if b >= 0x21 && b < 0x7F { return "'\(Character(Unicode.Scalar(b)))'" }
        if b == 0x20 { return "a space" }
        return "the byte 0x" + (b < 0x10 ? "0" : "") + String(b, radix: 16)
    }

    /// The 1-based column of byte `offset`, counting characters (Unicode scalars), for messages.
    static func column(in text: UnsafeBufferPointer<UInt8>, at offset: Int) -> Int {
        var column = 1
        for b in text.prefix(offset) where b & 0xC0 != 0x80 { column += 1 }
        return column
    }

    @inline(__always)
    private func skipWhitespace(_ i: inout Int) {
        while i < text.count {
            let b = text[i]
            guard b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 else { return }
            i += 1
        }
    }

    private func parseValue(_ i: inout Int, depth: Int) throws {
        skipWhitespace(&i)
        guard i < text.count else { throw expected("a value", at: i) }
        switch text[i] {
        case UInt8(ascii: "{"): try parseContainer(&i, depth: depth, object: true)
        case UInt8(ascii: "["): try parseContainer(&i, depth: depth, object: false)
        case UInt8(ascii: "\""): try parseString(&i)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try parseNumber(&i)
        case UInt8(ascii: "t"): try parseLiteral(&i, "true", .true)
        case UInt8(ascii: "f"): try parseLiteral(&i, "false", .false)
        case UInt8(ascii: "n"): try parseLiteral(&i, "null", .null)
        default: throw expected("a value (an object, array, string, number, true, false or null)", at: i)
        }
    }

    private func parseContainer(_ i: inout Int, depth: Int, object: Bool) throws {
        guard depth < Self.maxDepth else { throw SyntaxError(message: "nested deeper than \(Self.maxDepth) levels", offset: i) }
        let index = nodes.count
        nodes.append(Node(kind: object ? .object : .array, flag: false, start: Int32(i), end: 0, next: 0))
        let close = object ? UInt8(ascii: "}") : UInt8(ascii: "]")
        i += 1
        skipWhitespace(&i)
        if i < text.count, text[i] == close {
            i += 1
        } else {
            while true {
                if object {
                    skipWhitespace(&i)
                    guard i < text.count, text[i] == UInt8(ascii: "\"") else { throw expected("a key (a string)", at: i) }
                    try parseString(&i)
                    skipWhitespace(&i)
                    guard i < text.count, text[i] == UInt8(ascii: ":") else { throw expected("':'", at: i) }
                    i += 1
                }
                try parseValue(&i, depth: depth + 1)
                skipWhitespace(&i)
                if i < text.count, text[i] == UInt8(ascii: ",") {
                    i += 1
                    continue
                }
                guard i < text.count, text[i] == close else { throw expected(object ? "',' or '}'" : "',' or ']'", at: i) }
                i += 1
                break
            }
        }
        nodes[index].end = Int32(i)
        nodes[index].next = Int32(nodes.count)
    }

    private func parseString(_ i: inout Int) throws {
        let start = i + 1
        var j = start
        var escaped = false
        let base = UnsafeRawPointer(text.baseAddress!)
        while true {
            // Eight bytes at a time while none is a quote, a backslash or a control character (most
            // of a line is long strings: paths, arguments, capability names).
            while j + 8 <= text.count {
                let x = base.loadUnaligned(fromByteOffset: j, as: UInt64.self)
                let ones: UInt64 = 0x0101_0101_0101_0101
                let highs: UInt64 = 0x8080_8080_8080_8080
                let control = (x &- ones &* 0x20) & ~x & highs
                let q = x ^ (ones &* 0x22)
                let quote = (q &- ones) & ~q & highs
                let s = x ^ (ones &* 0x5C)
                let backslash = (s &- ones) & ~s & highs
                if control | quote | backslash != 0 { break }
                j += 8
            }
            guard j < text.count else { throw SyntaxError(message: "unterminated string", offset: i) }
            let b = text[j]
            if b == UInt8(ascii: "\"") { break }
            if b == UInt8(ascii: "\\") {
                escaped = true
                guard j + 1 < text.count else { throw SyntaxError(message: "unterminated string", offset: i) }
                switch text[j + 1] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                     UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    j += 2
                case UInt8(ascii: "u"):
                    guard j + 5 < text.count, (2...5).allSatisfy({ Self.hexValue(text[j + $0]) != nil }) else {
                        throw SyntaxError(message: "invalid \\u escape", offset: j)
                    }
                    j += 6
                default:
                    throw SyntaxError(message: "invalid escape", offset: j)
                }
                continue
            }
            if b < 0x20 { throw SyntaxError(message: "control character in a string", offset: j) }
            j += 1
        }
        nodes.append(Node(kind: .string, flag: escaped, start: Int32(start), end: Int32(j), next: Int32(nodes.count + 1)))
        i = j + 1
    }

    private func parseNumber(_ i: inout Int) throws {
        let start = i
        var j = i
        func digits() -> Int {
            let from = j
            while j < text.count, text[j] >= UInt8(ascii: "0"), text[j] <= UInt8(ascii: "9") { j += 1 }
            return j - from
        }
        if text[j] == UInt8(ascii: "-") { j += 1 }
        let intStart = j
        let intDigits = digits()
        guard intDigits > 0, !(intDigits > 1 && text[intStart] == UInt8(ascii: "0")) else {
            throw SyntaxError(message: "invalid number", offset: start)
        }
        var integer = true
        if j < text.count, text[j] == UInt8(ascii: ".") {
            j += 1
            integer = false
            guard digits() > 0 else { throw SyntaxError(message: "invalid number", offset: start) }
        }
        if j < text.count, text[j] == UInt8(ascii: "e") || text[j] == UInt8(ascii: "E") {
            j += 1
            integer = false
            if j < text.count, text[j] == UInt8(ascii: "+") || text[j] == UInt8(ascii: "-") { j += 1 }
            guard digits() > 0 else { throw SyntaxError(message: "invalid number", offset: start) }
        }
        nodes.append(Node(kind: .number, flag: integer, start: Int32(start), end: Int32(j), next: Int32(nodes.count + 1)))
        i = j
    }

    private func parseLiteral(_ i: inout Int, _ word: StaticString, _ kind: Kind) throws {
        let length = word.utf8CodeUnitCount
        let matches = word.withUTF8Buffer { w in
            i + length <= text.count && (0..<length).allSatisfy { text[i + $0] == w[$0] }
        }
        guard matches else { throw expected("a value (an object, array, string, number, true, false or null)", at: i) }
        nodes.append(Node(kind: kind, flag: false, start: Int32(i), end: Int32(i + length), next: Int32(nodes.count + 1)))
        i += length
    }

    @inline(__always)
    static func hexValue(_ b: UInt8) -> UInt32? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(b - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt32(b - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt32(b - UInt8(ascii: "A") + 10)
        default: return nil
        }
    }

    // MARK: - Reading

    /// The bytes of node `index` (see `Node.start`).
    @inline(__always)
    func bytes(_ index: Int) -> UnsafeBufferPointer<UInt8> {
        let node = nodes[index]
        return UnsafeBufferPointer(rebasing: text[Int(node.start)..<Int(node.end)])
    }

    /// Whether two nodes span the same bytes (two copies of one serialized value).
    func sameText(_ a: Int, _ b: Int) -> Bool {
        let x = bytes(a)
        let y = bytes(b)
        guard x.count == y.count else { return false }
        guard let px = x.baseAddress, let py = y.baseAddress else { return true }
        return memcmp(px, py, x.count) == 0
    }

    /// Whether string node `index` is exactly `key` (keys the serializer writes have no escapes; an
    /// escaped key is decoded first).
    @inline(__always)
    func stringEquals(_ index: Int, _ key: UnsafeBufferPointer<UInt8>) -> Bool {
        let node = nodes[index]
        if node.flag, let decoded = try? decodedBytes(index) { return decoded.elementsEqual(key) }
        let count = Int(node.end - node.start)
        guard count == key.count else { return false }
        guard count > 0, let base = text.baseAddress, let k = key.baseAddress else { return true }
        return memcmp(base + Int(node.start), k, count) == 0
    }

    /// String node `index` as a `String`. The text is valid UTF-8 (it comes from a `String`), so an
    /// unescaped string is copied as is; escapes are decoded (a lone surrogate is an error).
    func string(_ index: Int) throws -> String {
        if !nodes[index].flag { return String(decoding: bytes(index), as: UTF8.self) }
        let decoded = try decodedBytes(index)
        return String(decoding: decoded, as: UTF8.self)
    }

    /// Calls `body` with the UTF-8 bytes of string node `index` (in place when it has no escape).
    func withStringBytes<R>(_ index: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) throws -> R {
        if !nodes[index].flag { return try body(bytes(index)) }
        let decoded = try decodedBytes(index)
        return try decoded.withUnsafeBufferPointer(body)
    }

    struct EscapeError: Error {}

    private func decodedBytes(_ index: Int) throws -> [UInt8] {
        let raw = bytes(index)
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var i = 0
        func hex4(_ at: Int) -> UInt32 {
            (0..<4).reduce(0) { $0 << 4 | Self.hexValue(raw[at + $1])! }
        }
        while i < raw.count {
            let b = raw[i]
            guard b == UInt8(ascii: "\\") else {
                out.append(b)
                i += 1
                continue
            }
            let e = raw[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = hex4(i)
                i += 4
                if (0xD800...0xDBFF).contains(scalar) {
                    // A high surrogate must be followed by an escaped low one.
                    guard i + 5 < raw.count, raw[i] == UInt8(ascii: "\\"), raw[i + 1] == UInt8(ascii: "u") else { throw EscapeError() }
                    let low = hex4(i + 2)
                    guard (0xDC00...0xDFFF).contains(low) else { throw EscapeError() }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    i += 6
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    throw EscapeError()
                }
                guard let s = Unicode.Scalar(scalar) else { throw EscapeError() }
                UTF8.encode(s) { out.append($0) }
            default: out.append(e)  // `"`, `\`, `/`
            }
        }
        return out
    }

    /// Number node `index` as an integer when it is an integer literal that fits in `T`.
    func integer<T: FixedWidthInteger>(_ index: Int, as: T.Type) -> T? {
        let node = nodes[index]
        guard node.flag else { return nil }
        var i = Int(node.start)
        let end = Int(node.end)
        let negative = text[i] == UInt8(ascii: "-")
        if negative { i += 1 }
        var magnitude: UInt64 = 0
        while i < end {
            let (m, o1) = magnitude.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(UInt64(text[i] - UInt8(ascii: "0")))
            if o1 || o2 { return nil }
            magnitude = s
            i += 1
        }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
            let value = magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
            return T(exactly: value)
        }
        return T(exactly: magnitude)
    }
}

