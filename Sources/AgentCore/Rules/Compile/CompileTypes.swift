/// A compiled boolean expression.
public typealias Predicate = (EvalContext) -> Bool

// Closures kept in generic containers (Optional, Array, Dictionary) are stored in their most general
// form, and every call then goes through conversion thunks; converting a non-escaping closure argument
// (the body of a field read) even allocates. Wrapped in a struct, a closure keeps its own form: these
// wrappers are what the compiler and the engine store.

/// A field read yielding strings (see `FieldAccessor`), wrapped to be stored without conversion.
struct StringSource {
    let read: (EvalContext, StringBody) -> Bool
    init(_ read: @escaping (EvalContext, StringBody) -> Bool) { self.read = read }
    @inline(__always)
    func callAsFunction(_ ctx: EvalContext, _ body: StringBody) -> Bool { read(ctx, body) }
}

/// A field read yielding integers, wrapped like `StringSource`.
struct IntSource {
    let read: (EvalContext, IntBody) -> Bool
    init(_ read: @escaping (EvalContext, IntBody) -> Bool) { self.read = read }
    @inline(__always)
    func callAsFunction(_ ctx: EvalContext, _ body: IntBody) -> Bool { read(ctx, body) }
}

/// A compiled predicate in an object, for lists of predicates. A class, so that the evaluation loops
/// can hold it unretained (`Unmanaged`) and call it without retaining it: a closure read from an
/// array is retained for the call, one atomic pair per candidate rule.
final class PredicateBox {
    let evaluate: Predicate
    init(evaluate: @escaping Predicate) { self.evaluate = evaluate }
    @inline(__always)
    func callAsFunction(_ ctx: EvalContext) -> Bool { evaluate(ctx) }
}

/// The rule uses something the agent cannot produce (an event type or a field).
public struct UnsupportedError: Error, Sendable, CustomStringConvertible {
    public var reason: String
    public var description: String { reason }
}

/// What a `set` action declares about a variable, enough to type it.
public struct VariableInfo: Sendable {
    public var type: SECLType?
    public var isArray: Bool

    public init(type: SECLType?, isArray: Bool) {
        self.type = type
        self.isArray = isArray
    }
}

/// An intermediate, typed value during compilation.
indirect enum CValue {
    case strings((EvalContext, StringBody) -> Bool, FieldSpec?)
    case ints((EvalContext, IntBody) -> Bool, SECLType, FieldSpec?)
    case predicate(Predicate)
    case constString(String)
    case constInt(Int64)
    case constBool(Bool)
    case duration(Int64)
    case ip(IPNetwork)
    case pattern(String)
    case regex(String)
    /// Array literal (already flattened), or an array variable's default (empty, element type maybe unknown).
    case array([CValue])
    /// A variable whose type is not known: behaves as the default of whatever it is compared with.
    case untypedDefault

    var typeName: String {
        switch self {
        case .strings(_, let f): return f.map { "\($0.type.rawValue) field \($0.name)" } ?? "string"
        case .ints(_, let t, let f): return f.map { "\($0.type.rawValue) field \($0.name)" } ?? t.rawValue
        case .predicate: return "boolean expression"
        case .constString: return "string"
        case .constInt: return "integer"
        case .constBool: return "boolean"
        case .duration: return "duration"
        case .ip: return "IP address"
        case .pattern: return "pattern"
        case .regex: return "regular expression"
        case .array: return "array"
        case .untypedDefault: return "variable"
        }
    }

    /// An empty array, or a value without a type (an unknown variable), which `in` reads as one.
    var isEmptyList: Bool {
        switch self {
        case .array(let items): return items.isEmpty
        case .untypedDefault: return true
        default: return false
        }
    }

    var isConstant: Bool {
        switch self {
        case .strings, .ints, .predicate: return false
        case .array(let items): return items.allSatisfy { $0.isConstant }
        default: return true
        }
    }

    /// A boolean expression or constant (what `&&`, `||` and `!` take).
    var isBoolean: Bool {
        switch self {
        case .predicate, .constBool: return true
        default: return false
        }
    }

    var field: FieldSpec? {
        switch self {
        case .strings(_, let f), .ints(_, _, let f): return f
        default: return nil
        }
    }
}
