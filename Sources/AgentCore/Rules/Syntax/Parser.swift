/// Recursive-descent parser for SECL.
///
/// Precedence, loosest first: `||`/`or`, `&&`/`and`, `!`/`not`, comparisons (`==`, `in`, `=~`, ...),
/// `|`, `^`, `&`, `+`/`-`, unary minus, primaries. Bitwise operators bind tighter than comparisons so
/// `open.flags & O_CREAT > 0` means `(open.flags & O_CREAT) > 0`, as in Datadog's grammar.
struct Parser {
    private var tokens: [Token]
    private var index = 0
    private var depth = 0
    /// Deeply nested input would otherwise exhaust the stack.
    private static let maxDepth = 200

    init(tokens: [Token]) {
        self.tokens = tokens
    }

    /// Parses a whole expression; trailing tokens are an error.
    static func parse(_ source: String) throws -> Expr {
        var lexer = Lexer(source)
        var parser = Parser(tokens: try lexer.tokenize())
        let expr = try parser.parseOr()
        guard case .end = parser.current.kind else {
            throw SECLError("unexpected \(parser.describe(parser.current)), expected an operator or end of expression", at: parser.current.position)
        }
        return expr
    }

    private var current: Token { tokens[min(index, tokens.count - 1)] }

    private mutating func advance() { if index < tokens.count - 1 { index += 1 } }

    private func describe(_ t: Token) -> String {
        switch t.kind {
        case .identifier(let n): return "'\(n)'"
        case .variable(let n): return "'${\(n)}'"
        case .string(let s): return "string \"\(s)\""
        case .pattern(let s): return "pattern ~\"\(s)\""
        case .regex(let s): return "regex r\"\(s)\""
        case .integer(let v): return "integer \(v)"
        case .duration: return "duration"
        case .ip(let s): return "IP \(s)"
        case .op(let o): return "'\(o)'"
        case .leftParen: return "'('"
        case .rightParen: return "')'"
        case .leftBracket: return "'['"
        case .rightBracket: return "']'"
        case .comma: return "','"
        case .end: return "end of expression"
        }
    }

    private func isOp(_ names: String...) -> String? {
        switch current.kind {
        case .op(let o) where names.contains(o): return o
        case .identifier(let n) where names.contains(n): return n
        default: return nil
        }
    }

    private mutating func enter() throws {
        depth += 1
        if depth > Parser.maxDepth { throw SECLError("expression nested too deeply", at: current.position) }
    }

    mutating func parseOr() throws -> Expr {
        try enter()
        defer { depth -= 1 }
        var lhs = try parseAnd()
        while isOp("||", "or") != nil {
            let p = current.position
            advance()
            lhs = .or(lhs, try parseAnd(), p)
        }
        return lhs
    }

    private mutating func parseAnd() throws -> Expr {
        var lhs = try parseNot()
        while isOp("&&", "and") != nil {
            let p = current.position
            advance()
            lhs = .and(lhs, try parseNot(), p)
        }
        return lhs
    }

    private mutating func parseNot() throws -> Expr {
        if isOp("!", "not") != nil {
            let p = current.position
            try enter()
            defer { depth -= 1 }
            advance()
            return .not(try parseNot(), p)
        }
        return try parseComparison()
    }

    private mutating func parseComparison() throws -> Expr {
        let lhs = try parseBitOr()
        let p = current.position
        if let op = isOp("==", "!=", "<", "<=", ">", ">=", "=~", "!~", "in", "allin") {
            advance()
            return .compare(op, lhs, try parseBitOr(), p)
        }
        if isOp("not") != nil, index + 1 < tokens.count, case .identifier("in") = tokens[index + 1].kind {
            advance()
            advance()
            return .compare("not in", lhs, try parseBitOr(), p)
        }
        return lhs
    }

    private mutating func parseBitOr() throws -> Expr {
        var lhs = try parseBitXor()
        while isOp("|") != nil {
            let p = current.position
            advance()
            lhs = .arith("|", lhs, try parseBitXor(), p)
        }
        return lhs
    }

    private mutating func parseBitXor() throws -> Expr {
        var lhs = try parseBitAnd()
        while isOp("^") != nil {
            let p = current.position
            advance()
            lhs = .arith("^", lhs, try parseBitAnd(), p)
        }
        return lhs
    }

    private mutating func parseBitAnd() throws -> Expr {
        var lhs = try parseShift()
        while isOp("&") != nil {
            let p = current.position
            advance()
            lhs = .arith("&", lhs, try parseShift(), p)
        }
        return lhs
    }

    private mutating func parseShift() throws -> Expr {
        var lhs = try parseAdditive()
        while let op = isOp("<<", ">>") {
            let p = current.position
            advance()
            lhs = .arith(op, lhs, try parseAdditive(), p)
        }
        return lhs
    }

    private mutating func parseAdditive() throws -> Expr {
        var lhs = try parseUnary()
        while let op = isOp("+", "-") {
            let p = current.position
            advance()
            lhs = .arith(op, lhs, try parseUnary(), p)
        }
        return lhs
    }

    private mutating func parseUnary() throws -> Expr {
        if isOp("-") != nil {
            let p = current.position
            try enter()
            defer { depth -= 1 }
            advance()
            return .negate(try parseUnary(), p)
        }
        if isOp("!") != nil {
            let p = current.position
            try enter()
            defer { depth -= 1 }
            advance()
            return .not(try parseUnary(), p)
        }
        return try parsePrimary()
    }

    private mutating func parsePrimary() throws -> Expr {
        let t = current
        let p = t.position
        switch t.kind {
        case .string(let s): advance(); return .string(s, p)
        case .pattern(let s): advance(); return .pattern(s, p)
        case .regex(let s): advance(); return .regex(s, p)
        case .integer(let v): advance(); return .integer(v, p)
        case .duration(let v): advance(); return .duration(v, p)
        case .ip(let s): advance(); return .ip(s, p)
        case .variable(let n): advance(); return .variable(n, p)
        case .identifier(let n):
            if ["in", "not", "and", "or", "allin"].contains(n) {
                throw SECLError("unexpected '\(n)', expected a value", at: p)
            }
            advance()
            if n == "true" { return .bool(true, p) }
            if n == "false" { return .bool(false, p) }
            return .identifier(n, p)
        case .leftParen:
            advance()
            let inner = try parseOr()
            guard case .rightParen = current.kind else {
                throw SECLError("expected ')', found \(describe(current))", at: current.position)
            }
            advance()
            return inner
        case .leftBracket:
            advance()
            var items: [Expr] = []
            if case .rightBracket = current.kind {
                advance()
                return .array(items, p)
            }
            while true {
                try enter()
                defer { depth -= 1 }
                items.append(try parseBitOr())
                if case .comma = current.kind {
                    advance()
                    continue
                }
                guard case .rightBracket = current.kind else {
                    throw SECLError("expected ',' or ']' in array, found \(describe(current))", at: current.position)
                }
                advance()
                return .array(items, p)
            }
        default:
            throw SECLError("unexpected \(describe(t)), expected a value", at: p)
        }
    }
}
