/// The syntax tree of a SECL expression, before fields and macros are resolved.
indirect enum Expr {
    case string(String, SourcePosition)
    case pattern(String, SourcePosition)
    case regex(String, SourcePosition)
    case integer(Int64, SourcePosition)
    case duration(Int64, SourcePosition)
    case bool(Bool, SourcePosition)
    case ip(String, SourcePosition)
    /// A field, constant or macro name.
    case identifier(String, SourcePosition)
    case variable(String, SourcePosition)
    case array([Expr], SourcePosition)
    case not(Expr, SourcePosition)
    case negate(Expr, SourcePosition)
    case and(Expr, Expr, SourcePosition)
    case or(Expr, Expr, SourcePosition)
    /// Comparison, membership or pattern operator.
    case compare(String, Expr, Expr, SourcePosition)
    /// Arithmetic or bitwise operator.
    case arith(String, Expr, Expr, SourcePosition)

    var position: SourcePosition {
        switch self {
        case .string(_, let p), .pattern(_, let p), .regex(_, let p), .integer(_, let p), .duration(_, let p),
             .bool(_, let p), .ip(_, let p), .identifier(_, let p), .variable(_, let p), .array(_, let p),
             .not(_, let p), .negate(_, let p), .and(_, _, let p), .or(_, _, let p), .compare(_, _, _, let p),
             .arith(_, _, _, let p):
            return p
        }
    }

    /// Calls `visit` on every identifier and variable name in the tree, the `${...}` written inside
    /// string literals included (as variables).
    func forEachName(_ visit: (String, Bool, SourcePosition) -> Void) {
        switch self {
        case .identifier(let n, let p): visit(n, false, p)
        case .variable(let n, let p): visit(n, true, p)
        case .string(let s, let p) where s.contains("${"):
            for part in ExpressionCompiler.placeholders(s) { if let name = part.name { visit(String(name), true, p) } }
        case .array(let items, _): items.forEach { $0.forEachName(visit) }
        case .not(let e, _), .negate(let e, _): e.forEachName(visit)
        case .and(let a, let b, _), .or(let a, let b, _), .compare(_, let a, let b, _), .arith(_, let a, let b, _):
            a.forEachName(visit)
            b.forEachName(visit)
        default: break
        }
    }
}
