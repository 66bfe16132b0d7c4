/// Turns a SECL expression into tokens. Works on UTF-8 bytes; never traps on malformed input.
struct Lexer {
    private let bytes: [UInt8]
    private var index = 0
    private var line = 1
    private var lineStart = 0

    init(_ source: String) {
        bytes = Array(source.utf8)
    }

    private var position: SourcePosition {
        SourcePosition(offset: index, line: line, column: index - lineStart + 1)
    }

    private func peek(_ ahead: Int = 0) -> UInt8? {
        let at = index + ahead
        return at < bytes.count ? bytes[at] : nil
    }

    private static func isIdentStart(_ c: UInt8) -> Bool {
        (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c == 95
    }

    private static func isIdentChar(_ c: UInt8) -> Bool {
        isIdentStart(c) || isDigit(c) || c == 46
    }

    private static func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }

    private static func isHex(_ c: UInt8) -> Bool {
        isDigit(c) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70)
    }

    /// All tokens, ending with `.end`, or the first lexical error.
    mutating func tokenize() throws -> [Token] {
        var tokens: [Token] = []
        while true {
            let token = try next()
            tokens.append(token)
            if token.kind == .end { return tokens }
        }
    }

    private mutating func skipSpace() {
        while let c = peek() {
            if c == 10 {
                index += 1
                line += 1
                lineStart = index
            } else if c == 32 || c == 9 || c == 13 {
                index += 1
            } else {
                return
            }
        }
    }

    private func text(_ from: Int, _ to: Int) -> String {
        String(decoding: bytes[from..<to], as: UTF8.self)
    }

    private mutating func next() throws -> Token {
        skipSpace()
        let start = position
        guard let c = peek() else { return Token(kind: .end, position: start) }
        func tok(_ kind: TokenKind, _ length: Int) -> Token {
            index += length
            return Token(kind: kind, position: start)
        }
        switch c {
        case 40: return tok(.leftParen, 1)
        case 41: return tok(.rightParen, 1)
        case 91: return tok(.leftBracket, 1)
        case 93: return tok(.rightBracket, 1)
        case 44: return tok(.comma, 1)
        case 34:  // "
            index += 1
            return Token(kind: .string(try quoted(start)), position: start)
        case 126:  // ~
            if peek(1) == 34 {
                index += 2
                return Token(kind: .pattern(try quoted(start)), position: start)
            }
            throw SECLError("expected '\"' after '~'", at: start)
        case 114 where peek(1) == 34:  // r"
            index += 2
            return Token(kind: .regex(try quoted(start, raw: true)), position: start)
        case 36:  // $
            guard peek(1) == 123 else { throw SECLError("expected '{' after '$'", at: start) }
            index += 2
            let nameStart = index
            while let d = peek(), d != 125 {
                guard Lexer.isIdentChar(d) || d == 91 || d == 93 else {
                    throw SECLError("invalid character in variable name", at: position)
                }
                index += 1
            }
            guard peek() == 125 else { throw SECLError("unterminated variable, expected '}'", at: start) }
            let name = text(nameStart, index)
            index += 1
            guard !name.isEmpty else { throw SECLError("empty variable name", at: start) }
            return Token(kind: .variable(name), position: start)
        case 61:  // =
            if peek(1) == 61 { return tok(.op("=="), 2) }
            if peek(1) == 126 { return tok(.op("=~"), 2) }
            throw SECLError("unexpected '=', expected '==' or '=~'", at: start)
        case 33:  // !
            if peek(1) == 61 { return tok(.op("!="), 2) }
            if peek(1) == 126 { return tok(.op("!~"), 2) }
            return tok(.op("!"), 1)
        case 60:  // <
            if peek(1) == 61 { return tok(.op("<="), 2) }
            if peek(1) == 60 { return tok(.op("<<"), 2) }
            return tok(.op("<"), 1)
        case 62:
            if peek(1) == 61 { return tok(.op(">="), 2) }
            if peek(1) == 62 { return tok(.op(">>"), 2) }
            return tok(.op(">"), 1)
        case 38:
            if peek(1) == 38 { return tok(.op("&&"), 2) }
            return tok(.op("&"), 1)
        case 124:
            if peek(1) == 124 { return tok(.op("||"), 2) }
            return tok(.op("|"), 1)
        case 94: return tok(.op("^"), 1)
        case 43: return tok(.op("+"), 1)
        case 45: return tok(.op("-"), 1)
        case 58 where peek(1) == 58:  // ::1 style IPv6
            return Token(kind: try ipv6(), position: start)
        default:
            break
        }
        if Lexer.isDigit(c) { return Token(kind: try number(start), position: start) }
        if Lexer.isIdentStart(c) {
            if let v6 = try? lookaheadIPv6() { return Token(kind: v6, position: start) }
            return Token(kind: try identifier(start), position: start)
        }
        throw SECLError("unexpected character '\(text(index, index + 1))'", at: start)
    }

    /// Reads a quoted string after its opening quote. `\"` and `\\` are escapes; other backslashes are
    /// kept so patterns and regular expressions see them.
    private mutating func quoted(_ start: SourcePosition, raw: Bool = false) throws -> String {
        var out: [UInt8] = []
        while let c = peek() {
            if c == 34 {
                index += 1
                return String(decoding: out, as: UTF8.self)
            }
            if c == 92, let n = peek(1), n == 34 || (n == 92 && !raw) {
                out.append(n)
                index += 2
                continue
            }
            if c == 10 {
                line += 1
                lineStart = index + 1
            }
            out.append(c)
            index += 1
        }
        throw SECLError("unterminated string", at: start)
    }

    private mutating func number(_ start: SourcePosition) throws -> TokenKind {
        let from = index
        // Hex integer.
        if peek() == 48, let x = peek(1), x == 120 || x == 88 {
            index += 2
            let digitsStart = index
            while let d = peek(), Lexer.isHex(d) { index += 1 }
            guard index > digitsStart, let v = UInt64(text(digitsStart, index), radix: 16), v <= UInt64(Int64.max) else {
                throw SECLError("invalid hexadecimal number", at: start)
            }
            return .integer(Int64(v))
        }
        if let v6 = try? lookaheadIPv6() { return v6 }
        while let d = peek(), Lexer.isDigit(d) { index += 1 }
        if peek() == 46, let d = peek(1), Lexer.isDigit(d) {
            // IPv4 address or CIDR.
            while let d = peek(), Lexer.isDigit(d) || d == 46 { index += 1 }
            if peek() == 47 {
                index += 1
                while let d = peek(), Lexer.isDigit(d) { index += 1 }
            }
            let literal = text(from, index)
            guard IPNetwork(parsing: literal) != nil else { throw SECLError("invalid IP address '\(literal)'", at: start) }
            return .ip(literal)
        }
        guard let value = Int64(text(from, index)) else { throw SECLError("integer out of range", at: start) }
        // Duration units.
        let unitStart = index
        while let d = peek(), (d >= 97 && d <= 122) { index += 1 }
        if index == unitStart { return .integer(value) }
        let unit = text(unitStart, index)
        let scale: Int64
        switch unit {
        case "ns": scale = 1
        case "us", "µs": scale = 1_000
        case "ms": scale = 1_000_000
        case "s": scale = 1_000_000_000
        case "m": scale = 60_000_000_000
        case "h": scale = 3_600_000_000_000
        case "d": scale = 86_400_000_000_000
        default: throw SECLError("unknown duration unit '\(unit)'", at: start)
        }
        let (product, overflow) = value.multipliedReportingOverflow(by: scale)
        guard !overflow else { throw SECLError("duration out of range", at: start) }
        return .duration(product)
    }

    /// An IPv6 literal (with at least two ':'), optionally with a prefix length.
    private mutating func lookaheadIPv6() throws -> TokenKind {
        var end = index
        var colons = 0
        while end < bytes.count, Lexer.isHex(bytes[end]) || bytes[end] == 58 || bytes[end] == 46 {
            if bytes[end] == 58 { colons += 1 }
            end += 1
        }
        guard colons >= 2 else { throw SECLError("not IPv6") }
        return try ipv6()
    }

    private mutating func ipv6() throws -> TokenKind {
        let start = position
        let from = index
        while let d = peek(), Lexer.isHex(d) || d == 58 || d == 46 { index += 1 }
        if peek() == 47 {
            index += 1
            while let d = peek(), Lexer.isDigit(d) { index += 1 }
        }
        let literal = text(from, index)
        guard IPNetwork(parsing: literal) != nil else { throw SECLError("invalid IP address '\(literal)'", at: start) }
        return .ip(literal)
    }

    private mutating func identifier(_ start: SourcePosition) throws -> TokenKind {
        let from = index
        while let c = peek() {
            if Lexer.isIdentChar(c) {
                index += 1
            } else if c == 91, let n = peek(1), Lexer.isIdentStart(n) {
                // Iterator variable such as `process.ancestors[A].comm`: only when written without spaces.
                var end = index + 1
                while end < bytes.count, Lexer.isIdentChar(bytes[end]), bytes[end] != 46 { end += 1 }
                guard end < bytes.count, bytes[end] == 93 else { break }
                index = end + 1
            } else {
                break
            }
        }
        let name = text(from, index)
        if name.hasSuffix(".") || name.contains("..") {
            throw SECLError("invalid identifier '\(name)'", at: start)
        }
        return .identifier(name)
    }
}
