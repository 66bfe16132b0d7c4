/// Where the values of a variable live (`scope:` of a `set` action).
public enum VariableScope: String, Sendable, CaseIterable {
    /// One value for the whole agent (`${name}`).
    case global = ""
    /// One value per process image (`${process.name}`), see `VariableStore`.
    case process
    /// One value per container id (`${container.name}`).
    case container
    /// One value per cgroup (`${cgroup.name}`).
    case cgroup
}

/// A value as a policy writes it (`value:`, `default_value:`).
public enum VariableValue: Equatable, Sendable {
    case string(String)
    case int(Int64)
    case bool(Bool)
    case strings([String])
    case ints([Int64])
}

/// One variable, as the `set` actions of the loaded rules declare it: its name, scope, type and
/// the options that shape its reads (`inherited`, `size`, `default_value`). The compiled reads of
/// `${...}` and the `set` actions that write it share one declaration, which numbers the variable
/// within its scope (`slot`).
public final class VariableDeclaration: CustomStringConvertible {
    /// The name without its scope (`correlation_key`).
    public let name: String
    public let scope: VariableScope
    /// `.string`, `.int` or `.bool` (the type of the elements of an array).
    public let type: SECLType
    /// An array: `append`, a list value or a field with several values.
    public let isArray: Bool
    /// Process scope only: an image without its own value reads the nearest ancestor's.
    public let inherited: Bool
    /// Arrays: the most values kept; the oldest is dropped beyond.
    public let size: Int
    /// What a read gives when no value is set (or the set value expired).
    public let defaultValue: VariableValue
    /// The default is an empty array: `x in ${variable}` is false while no value is set.
    var defaultIsEmptyArray: Bool { defaultValue == .strings([]) || defaultValue == .ints([]) }
    /// The rule whose action declared the variable first (for error messages).
    public let declaredBy: String
    /// The variable's index among the variables of its scope.
    let slot: Int
    /// The variable's index among all the variables of its rule set.
    let id: Int

    /// Datadog's bound on array variables without `size`.
    public static let defaultArraySize = 100
    /// The largest `size` a policy may ask for.
    public static let maxArraySize = 100_000

    init(name: String, scope: VariableScope, type: SECLType, isArray: Bool, inherited: Bool, size: Int,
         defaultValue: VariableValue, declaredBy: String, slot: Int, id: Int) {
        self.name = name
        self.scope = scope
        self.type = type
        self.isArray = isArray
        self.inherited = inherited
        self.size = size
        self.defaultValue = defaultValue
        self.declaredBy = declaredBy
        self.slot = slot
        self.id = id
        defaultBytes = Array((defaultValue.stringValue ?? "").utf8)
        defaultInt = defaultValue.intValue ?? 0
        defaultBool = defaultValue.boolValue ?? false
        if case .strings(let list) = defaultValue { defaultStrings = list.map { Array($0.utf8) } } else { defaultStrings = [] }
        if case .ints(let list) = defaultValue { defaultInts = list } else { defaultInts = [] }
    }

    /// `process.name`, `container.name`, `cgroup.name` or `name`: how expressions spell it.
    public var scopedName: String { VariableDeclaration.scopedName(name, scope) }

    static func scopedName(_ name: String, _ scope: VariableScope) -> String {
        scope == .global ? name : "\(scope.rawValue).\(name)"
    }

    /// `string`, `[]int` ...: the type as policy errors name it.
    public var typeName: String { (isArray ? "[]" : "") + type.rawValue }

    public var description: String { "\(scopedName) (\(typeName))" }

    // The default, ready for reads (no conversion per read).
    let defaultBytes: [UInt8]
    let defaultInt: Int64
    let defaultBool: Bool
    let defaultStrings: [[UInt8]]
    let defaultInts: [Int64]
}

extension VariableValue {
    var stringValue: String? { if case .string(let s) = self { return s }; return nil }
    var intValue: Int64? { if case .int(let i) = self { return i }; return nil }
    var boolValue: Bool? { if case .bool(let b) = self { return b }; return nil }

    /// The type of the value (of its elements for a list) and whether it is a list.
    var shape: (type: SECLType, isArray: Bool) {
        switch self {
        case .string: return (.string, false)
        case .int: return (.int, false)
        case .bool: return (.bool, false)
        case .strings: return (.string, true)
        case .ints: return (.int, true)
        }
    }

    /// A YAML scalar or list of scalars (`value:`, `default_value:`) as a value; nil for anything else.
    /// An empty list has no element type: it is `[]string` unless `elementType` says otherwise.
    static func parse(_ raw: Any, elementType: SECLType? = nil) throws -> VariableValue {
        switch raw {
        case let b as Bool: return .bool(b)
        case let i as Int: return .int(Int64(i))
        case let s as String: return .string(s)
        case let list as [Any]:
            if list.isEmpty { return elementType == .int ? .ints([]) : .strings([]) }
            var strings: [String] = []
            var ints: [Int64] = []
            for item in list {
                switch item {
                case let b as Bool: throw ActionError("lists of booleans are not supported (\(b))")
                case let i as Int: ints.append(Int64(i))
                case let s as String: strings.append(s)
                default: throw ActionError("list items must be strings or integers, found \(describe(item))")
                }
            }
            if !strings.isEmpty && !ints.isEmpty { throw ActionError("a list mixes strings and integers") }
            return strings.isEmpty ? .ints(ints) : .strings(strings)
        default:
            throw ActionError("expected a string, an integer, a boolean or a list of them, found \(describe(raw))")
        }
    }

    static func describe(_ raw: Any) -> String {
        switch raw {
        case is Double: return "a number with a fraction (\(raw))"
        case is [String: Any]: return "a mapping"
        case is [Any]: return "a list"
        default: return "\(type(of: raw))"
        }
    }
}

/// The variables declared by the `set` actions of a set of rules, numbered per scope. Built before
/// any rule compiles, so that a rule reading `${process.x}` compiles the same whether the rule that
/// sets it comes before or after it.
struct VariableCatalog {
    /// By scoped name (`process.correlation_key`).
    private(set) var declarations: [String: VariableDeclaration] = [:]
    /// Why a declaration could not be made, by scoped name: the actions that set the variable
    /// report it when they compile.
    private(set) var errors: [String: String] = [:]
    private var slots: [VariableScope: Int] = [:]

    init() {}

    /// Declares the variables set by `rules`' actions, in rule order: the first action that gives
    /// the variable a type declares it. Definitions that do not parse are left to `SetAction.compile`.
    init(rules: [RuleDefinition], registry: FieldRegistry) {
        var sets: [(rule: String, set: [String: Any])] = []
        for rule in rules {
            for action in rule.actions {
                if let a = action as? [String: Any], let set = a["set"] as? [String: Any] { sets.append((rule.id, set)) }
            }
        }
        self.init(sets: sets, registry: registry)
    }

    /// The variables of these `set` mappings, in order (`rule` names the rule of each).
    init(sets: [(rule: String, set: [String: Any])], registry: FieldRegistry) {
        var pending: [(name: String, scope: VariableScope, rule: String, set: [String: Any])] = []
        var order: [String] = []
        var byName: [String: [Int]] = [:]
        for (rule, set) in sets {
            guard let name = PolicyParser.string(set["name"]),
                  let scope = VariableScope(rawValue: PolicyParser.string(set["scope"]) ?? "") else { continue }
            let key = VariableDeclaration.scopedName(name, scope)
            if byName[key] == nil { order.append(key) }
            byName[key, default: []].append(pending.count)
            pending.append((name, scope, rule, set))
        }
        for key in order {
            let uses = byName[key]!.map { pending[$0] }
            do {
                try declare(uses.map { ($0.name, $0.scope, $0.rule, $0.set) }, registry: registry)
            } catch let e as ActionError {
                errors[key] = e.message
            } catch {
                errors[key] = "\(error)"
            }
        }
    }

    /// The declaration of `scopedName`, or the reason it has none.
    func declaration(_ scopedName: String) throws -> VariableDeclaration {
        if let d = declarations[scopedName] { return d }
        throw ActionError(errors[scopedName] ?? "variable \(scopedName) is not declared")
    }

    private mutating func declare(_ uses: [(name: String, scope: VariableScope, rule: String, set: [String: Any])],
                                  registry: FieldRegistry) throws {
        let first = uses[0]
        var shape: (type: SECLType, isArray: Bool, rule: String)?
        var defaultValue: (value: VariableValue, rule: String)?
        var inherited: (Bool, String)?
        var size: (Int, String)?
        for use in uses {
            let set = use.set
            let append = PolicyParser.bool(set["append"])
            if let own = try? SetAction.shape(of: set, registry: registry) {
                let isArray = own.isArray || append
                if let s = shape {
                    if s.type != own.type || s.isArray != isArray {
                        throw ActionError("conflicting types for variable \(VariableDeclaration.scopedName(first.name, first.scope)): "
                                          + "\(isArray ? "[]" : "")\(own.type.rawValue) in rule \(use.rule), "
                                          + "\(s.isArray ? "[]" : "")\(s.type.rawValue) in rule \(s.rule)")
                    }
                } else {
                    shape = (own.type, isArray, use.rule)
                }
            }
            if let raw = set["default_value"], let value = try? VariableValue.parse(raw) {
                if let d = defaultValue, d.value != value {
                    throw ActionError("conflicting default_value for variable \(VariableDeclaration.scopedName(first.name, first.scope)) "
                                      + "in rules \(d.rule) and \(use.rule)")
                }
                defaultValue = defaultValue ?? (value, use.rule)
            }
            let isInherited = PolicyParser.bool(set["inherited"])
            if let (i, rule) = inherited, i != isInherited {
                throw ActionError("conflicting 'inherited' for variable \(VariableDeclaration.scopedName(first.name, first.scope)) "
                                  + "in rules \(rule) and \(use.rule)")
            }
            inherited = inherited ?? (isInherited, use.rule)
            if let raw = set["size"] as? Int {
                if let (s, rule) = size, s != raw {
                    throw ActionError("conflicting 'size' for variable \(VariableDeclaration.scopedName(first.name, first.scope)) "
                                      + "in rules \(rule) and \(use.rule)")
                }
                size = size ?? (raw, use.rule)
            }
        }
        guard let shape else {
            throw ActionError("cannot infer the type of variable \(VariableDeclaration.scopedName(first.name, first.scope)): "
                              + "give it a value, a field or a default_value")
        }
        if shape.type == .bool && shape.isArray {
            throw ActionError("variable \(VariableDeclaration.scopedName(first.name, first.scope)): arrays (append, lists) hold strings or integers, not booleans")
        }
        var value: VariableValue
        switch (shape.type, shape.isArray) {
        case (.int, true): value = .ints([])
        case (_, true): value = .strings([])
        case (.int, false): value = .int(0)
        case (.bool, false): value = .bool(false)
        default: value = .string("")
        }
        if let d = defaultValue?.value {
            let s = d.shape
            let emptyList = d == .strings([]) || d == .ints([])
            if s.type == shape.type && s.isArray == shape.isArray {
                value = d
            } else if shape.isArray && (emptyList || (!s.isArray && s.type == shape.type)) {
                // A scalar default of an array only types its elements: the array starts empty.
            } else {
                throw ActionError("default_value of variable \(VariableDeclaration.scopedName(first.name, first.scope)) is "
                                  + "\(s.isArray ? "[]" : "")\(s.type.rawValue), the variable is \(shape.isArray ? "[]" : "")\(shape.type.rawValue)")
            }
        }
        let slot = slots[first.scope, default: 0]
        slots[first.scope] = slot + 1
        let declaration = VariableDeclaration(
            name: first.name, scope: first.scope, type: shape.type, isArray: shape.isArray, inherited: inherited?.0 ?? false,
            size: size.map { $0.0 > 0 ? $0.0 : VariableDeclaration.defaultArraySize } ?? VariableDeclaration.defaultArraySize,
            defaultValue: value, declaredBy: shape.rule, slot: slot, id: declarations.count)
        declarations[declaration.scopedName] = declaration
    }
}
