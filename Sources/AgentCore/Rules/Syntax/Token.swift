/// A position in a SECL expression: byte offset plus 1-based line and column, for error messages.
public struct SourcePosition: Sendable, Equatable, CustomStringConvertible {
    public var offset: Int
    public var line: Int
    public var column: Int

    public init(offset: Int, line: Int, column: Int) {
        self.offset = offset
        self.line = line
        self.column = column
    }

    public var description: String { "line \(line), column \(column)" }
}

/// A lexical token of SECL.
enum TokenKind: Equatable {
    case identifier(String)
    /// `${name}`
    case variable(String)
    case string(String)
    /// `~"..."`
    case pattern(String)
    /// `r"..."`
    case regex(String)
    case integer(Int64)
    /// Nanoseconds.
    case duration(Int64)
    /// IPv4/IPv6 address or CIDR, as written.
    case ip(String)
    case op(String)
    case leftParen, rightParen, leftBracket, rightBracket, comma
    case end
}

struct Token {
    var kind: TokenKind
    var position: SourcePosition
}

/// A compile error: what went wrong and where in the expression.
public struct SECLError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var position: SourcePosition?

    public init(_ message: String, at position: SourcePosition? = nil) {
        self.message = message
        self.position = position
    }

    public var description: String {
        if let position { return "\(position): \(message)" }
        return message
    }
}
