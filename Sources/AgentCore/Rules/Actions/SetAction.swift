import Foundation

/// `set:` action: assigns a variable when its rule matches (run by `VariableStore.apply`).
///
/// As in Datadog: exactly one of `value` (a string, integer, boolean or list of them), `field` (a
/// SECL field whose value the event gives) and `expression` (a SECL expression, which needs
/// `default_value` to type the variable); `append` makes the variable an array (of strings or
/// integers) whose values accumulate, at most `size` of them (100 by default), the oldest dropped
/// first; a set to an array adds its values too. `scope` is global (absent), `process`,
/// `container` or `cgroup`; `inherited` (process scope only) lets an image read its ancestors'
/// value. `ttl` (`10s`, `5m`, `1h30m`, or an integer of nanoseconds, as Datadog reads it) bounds the
/// life of each value, measured in event time. `private` is accepted: variables are not written in
/// the agent's events. `scope_field` is not supported.
public struct SetAction {
    public let declaration: VariableDeclaration
    /// Arrays: add the values (a scalar `append` is refused when the policy loads).
    public let append: Bool
    /// How long a written value lives (ns of event time); 0: until the scope goes.
    public let ttlNs: UInt64
    public let isPrivate: Bool
    let source: SetSource

    /// The variable as expressions name it (`process.correlation_key`).
    public var name: String { declaration.scopedName }

    static let keys: Set<String> = ["name", "value", "default_value", "field", "expression", "append", "scope", "scope_field",
                                    "size", "ttl", "private", "inherited"]

    /// Parses and compiles `set:`'s mapping; `eventType` is the rule's (a field or expression of
    /// another event type is an error). Throws `ActionError` for a bad definition and
    /// `UnsupportedError` for a field the agent does not provide.
    static func compile(_ definition: [String: Any], compiler: ExpressionCompiler, eventType: EventType?) throws -> SetAction {
        for key in definition.keys.sorted() where !keys.contains(key) {
            throw ActionError("set: unknown key '\(key)'")
        }
        guard let name = definition["name"] as? String, !name.isEmpty else { throw ActionError("set: variable name is empty") }
        guard isIdentifier(name) else {
            throw ActionError("set: invalid variable name '\(name)' (letters, digits and '_', not starting with a digit)")
        }
        let scopeName = definition["scope"].map { PolicyParser.string($0) ?? "\($0)" } ?? ""
        guard let scope = VariableScope(rawValue: scopeName) else {
            throw ActionError("set \(name): unknown scope '\(scopeName)' (process, container, cgroup, or none for global)")
        }
        let scoped = VariableDeclaration.scopedName(name, scope)
        let given = ["value", "field", "expression"].filter { definition[$0] != nil }
        guard given.count == 1 else {
            throw ActionError("set \(scoped): exactly one of 'value', 'field' or 'expression' must be given (\(given.isEmpty ? "none" : given.joined(separator: ", ")))")
        }
        if definition["expression"] != nil && definition["default_value"] == nil {
            throw ActionError("set \(scoped): an expression needs a 'default_value' to type the variable")
        }
        let inherited = try flag(definition, "inherited", scoped)
        if inherited && scope != .process { throw ActionError("set \(scoped): only process variables can be inherited") }
        if let field = definition["scope_field"] {
            if scope != .process { throw ActionError("set \(scoped): only process variables can have a scope_field") }
            throw ActionError("set \(scoped): scope_field is not supported by this agent (scope_field: \(PolicyParser.string(field) ?? "\(field)"))")
        }
        let append = try flag(definition, "append", scoped)
        let isPrivate = try flag(definition, "private", scoped)
        var ttl: UInt64 = 0
        if let raw = definition["ttl"] {
            do { ttl = try duration(raw) } catch let e as ActionError { throw ActionError("set \(scoped): ttl: \(e.message)") }
        }
        if let raw = definition["size"] {
            guard let size = raw as? Int, size >= 0, size <= VariableDeclaration.maxArraySize else {
                throw ActionError("set \(scoped): size must be an integer from 0 to \(VariableDeclaration.maxArraySize), found \(raw)")
            }
        }
        if let raw = definition["default_value"] {
            do { _ = try VariableValue.parse(raw) } catch let e as ActionError { throw ActionError("set \(scoped): default_value: \(e.message)") }
        }
        // The value first (its errors say more than a variable left without a type), then the
        // declaration it must agree with.
        var value: VariableValue?
        var compiled: (source: SetSource, type: SECLType, what: String)?
        if let raw = definition["value"] {
            do { value = try VariableValue.parse(raw) } catch let e as ActionError { throw ActionError("set \(scoped): value: \(e.message)") }
        } else {
            let what = definition["field"] != nil ? "field" : "expression"
            guard let text = definition[what] as? String, !text.isEmpty else {
                throw ActionError("set \(scoped): \(what) must be a non-empty string")
            }
            let result: (value: CValue, eventType: EventType?)
            do { result = try compiler.compileValue(text, fieldOnly: what == "field") } catch let e as SECLError {
                throw ActionError("set \(scoped): \(what) '\(text)': \(e.description)")
            }
            if let t = result.eventType, t != eventType {
                throw ActionError("set \(scoped): \(what) '\(text)' reads \(t.name) events, the rule matches \(eventType?.name ?? "every event type")")
            }
            let (source, type) = try sourceOf(result.value, "\(what) '\(text)'", scoped)
            compiled = (source, type, "\(what) '\(text)'")
        }
        let declaration = try compiler.catalog.declaration(scoped)
        if definition["size"] != nil && !declaration.isArray {
            throw ActionError("set \(scoped): size applies to arrays (append or a list value), the variable is \(declaration.typeName)")
        }
        let source: SetSource
        if var value {
            // An empty list takes the variable's element type.
            if value == .strings([]) && declaration.type == .int { value = .ints([]) }
            let shape = value.shape
            guard shape.type == declaration.type, !shape.isArray || declaration.isArray else {
                throw ActionError("set \(scoped): value is \(shape.isArray ? "[]" : "")\(shape.type.rawValue), the variable is \(declaration.typeName)")
            }
            source = .constant(value)
        } else {
            let (s, type, what) = compiled!
            guard type == declaration.type else {
                throw ActionError("set \(scoped): \(what) gives \(type.rawValue), the variable is \(declaration.typeName)")
            }
            source = s
        }
        return SetAction(declaration: declaration, append: append, ttlNs: ttl, isPrivate: isPrivate, source: source)
    }

    /// The type a definition gives its variable (of its elements, with whether it is an array),
    /// before anything compiles: from its value, its field or its default value.
    static func shape(of set: [String: Any], registry: FieldRegistry) throws -> (type: SECLType, isArray: Bool) {
        if let raw = set["value"] { return try VariableValue.parse(raw).shape }
        if let field = set["field"] as? String {
            guard let spec = registry.lookup(field) else { throw ActionError("unknown field \(field)") }
            switch spec.type {
            case .string: return (.string, spec.isArray || spec.iteratesAncestors)
            case .int, .time: return (.int, spec.isArray || spec.iteratesAncestors)
            case .bool: return (.bool, spec.isArray || spec.iteratesAncestors)
            case .ip: throw ActionError("IP variables are not supported")
            }
        }
        if set["expression"] != nil, let raw = set["default_value"] { return try VariableValue.parse(raw).shape }
        throw ActionError("no type")
    }

    private static func sourceOf(_ value: CValue, _ what: String, _ scoped: String) throws -> (SetSource, SECLType) {
        switch value {
        case .strings(let read, let field):
            if field?.type == .ip { throw UnsupportedError(reason: "set \(scoped): IP variables are not supported (\(what))") }
            return (.strings(StringSource(read)), .string)
        case .ints(let read, _, _): return (.ints(IntSource(read)), .int)
        case .predicate(let p): return (.bool(PredicateBox(evaluate: p)), .bool)
        case .constString(let s): return (.constant(.string(s)), .string)
        case .constInt(let i): return (.constant(.int(i)), .int)
        case .constBool(let b): return (.constant(.bool(b)), .bool)
        case .array(let items):
            var strings: [String] = []
            var ints: [Int64] = []
            for item in items {
                switch item {
                case .constString(let s): strings.append(s)
                case .constInt(let i): ints.append(i)
                default: throw ActionError("set \(scoped): \(what): \(item.typeName) in a list value")
                }
            }
            if !strings.isEmpty && !ints.isEmpty { throw ActionError("set \(scoped): \(what): a list mixes strings and integers") }
            return ints.isEmpty ? (.constant(.strings(strings)), .string) : (.constant(.ints(ints)), .int)
        case .duration, .ip, .pattern, .regex, .untypedDefault:
            throw ActionError("set \(scoped): \(what) gives a \(value.typeName), which a variable cannot hold")
        }
    }

    private static func flag(_ definition: [String: Any], _ key: String, _ scoped: String) throws -> Bool {
        guard let raw = definition[key] else { return false }
        guard let b = raw as? Bool else { throw ActionError("set \(scoped): \(key) must be true or false, found \(raw)") }
        return b
    }

    private static func isIdentifier(_ s: String) -> Bool {
        for (i, c) in s.utf8.enumerated() {
            let letter = (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c == 95
            let digit = c >= 48 && c <= 57
            if !(letter || (digit && i > 0)) { return false }
        }
        return true
    }

    /// A duration as Datadog reads it: an integer is nanoseconds; a string is Go's duration syntax
    /// (`300ms`, `10s`, `5m`, `1h30m`, `1.5h`; units ns, us, µs, ms, s, m, h).
    static func duration(_ raw: Any) throws -> UInt64 {
        if raw is Bool { throw ActionError("expected a duration (10s, 5m) or nanoseconds, found \(raw)") }
        if let i = raw as? Int {
            guard i >= 0 else { throw ActionError("a duration cannot be negative (\(i))") }
            return UInt64(i)
        }
        guard let text = raw as? String else { throw ActionError("expected a duration (10s, 5m) or nanoseconds, found \(raw)") }
        let units: [(String, Double)] = [("ns", 1), ("us", 1e3), ("µs", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3600e9)]
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        if rest == "0" { return 0 }
        if rest.isEmpty { throw ActionError("empty duration") }
        var total = 0.0
        while !rest.isEmpty {
            let number = rest.prefix { ($0 >= "0" && $0 <= "9") || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else { throw ActionError("invalid duration '\(text)'") }
            rest = rest.dropFirst(number.count)
            let unit = rest.prefix { !(($0 >= "0" && $0 <= "9") || $0 == ".") }
            guard let factor = units.first(where: { $0.0 == unit })?.1 else {
                throw ActionError("invalid duration '\(text)': unit '\(unit)' (ns, us, ms, s, m, h)")
            }
            rest = rest.dropFirst(unit.count)
            total += value * factor
        }
        guard total < 1.8e19 else { throw ActionError("duration '\(text)' is too long") }
        return UInt64(total)
    }
}

/// Where a `set` action's value comes from.
enum SetSource {
    case constant(VariableValue)
    /// A field or expression of strings (each value of a multi-valued one, for arrays; the first
    /// for a scalar).
    case strings(StringSource)
    case ints(IntSource)
    case bool(PredicateBox)
}
