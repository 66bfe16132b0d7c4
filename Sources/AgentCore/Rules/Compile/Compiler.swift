/// Compiles SECL expressions into predicates over `EvalContext`.
///
/// Compilation resolves macros, fields, constants and variables, type-checks every comparison and
/// builds a tree of closures; patterns and constant sets are prepared here so evaluation only reads.
public final class ExpressionCompiler {
    let registry: FieldRegistry
    /// Macro bodies, parsed once.
    var macros: [String: Result<Expr, SECLError>]
    /// The variables that the rules' `set` actions declare: `${...}` naming one reads it at run time.
    let catalog: VariableCatalog

    // Per-expression state.
    private var eventTypes: [EventType] = []
    private var boundIterators: Set<String> = []
    private var pendingIterator = false
    private var macroDepth = 0
    /// The event type of the expression being compiled, once known (names its approver fields).
    private var approverEventType: EventType?

    public convenience init(registry: FieldRegistry, macros: [String: String] = [:]) {
        self.init(registry: registry, macros: macros, catalog: VariableCatalog())
    }

    init(registry: FieldRegistry, macros: [String: String], catalog: VariableCatalog) {
        self.registry = registry
        var parsed: [String: Result<Expr, SECLError>] = [:]
        for (id, source) in macros {
            do { parsed[id] = .success(try Parser.parse(source)) } catch let e as SECLError {
                parsed[id] = .failure(SECLError("in macro \(id): \(e.message)", at: e.position))
            } catch {
                parsed[id] = .failure(SECLError("in macro \(id): \(error)"))
            }
        }
        self.macros = parsed
        self.catalog = catalog
    }

    /// The result of compiling one rule expression.
    public struct Compiled {
        public let predicate: Predicate
        /// nil when the expression uses no event-specific field (it then applies to every event).
        public let eventType: EventType?
        /// A necessary condition on literal string comparisons, used to index the rule (nil: none).
        let approver: Approver?
    }

    /// Compiles `source`. Throws `SECLError` (syntax, types) or `UnsupportedError`.
    public func compile(_ source: String) throws -> Compiled {
        eventTypes = []
        approverEventType = nil
        boundIterators = []
        pendingIterator = false
        macroDepth = 0
        let ast = try expand(try Parser.parse(source))
        try checkNames(ast)
        let value = try compile(ast)
        var predicate = try asPredicate(value, at: ast.position)
        if boundIterators.count > 1 {
            throw UnsupportedError(reason: "several iterator variables (\(boundIterators.sorted().joined(separator: ", "))) in one rule")
        }
        if !boundIterators.isEmpty { predicate = ExpressionCompiler.anyAncestor(predicate) }
        let distinct = Array(Set(eventTypes.map(\.rawValue))).compactMap(EventType.init(rawValue:))
        if distinct.count > 1 {
            throw SECLError("the expression mixes event types: \(distinct.map(\.name).sorted().joined(separator: ", "))", at: ast.position)
        }
        approverEventType = distinct.first
        // A rule folded to false never matches: an approver group without terms says so, and the
        // engine never evaluates it.
        if case .constBool(false) = value {
            return Compiled(predicate: predicate, eventType: distinct.first, approver: Approver(groups: [[]]))
        }
        return Compiled(predicate: predicate, eventType: distinct.first, approver: approver(of: ast))
    }

    /// Compiles `source` as a value (a `set` action's field or expression): its typed value and
    /// its event type. `fieldOnly`: the source must be one field name.
    func compileValue(_ source: String, fieldOnly: Bool) throws -> (value: CValue, eventType: EventType?) {
        eventTypes = []
        approverEventType = nil
        boundIterators = []
        pendingIterator = false
        macroDepth = 0
        let ast = try expand(try Parser.parse(source))
        if fieldOnly {
            guard case .identifier = ast else { throw SECLError("expected a field name", at: ast.position) }
        }
        try checkNames(ast)
        var value = try compile(ast)
        if !boundIterators.isEmpty {
            throw SECLError("iterator variables (\(boundIterators.sorted().joined(separator: ", "))) cannot be assigned", at: ast.position)
        }
        if pendingIterator {
            // Every ancestor's value, nearest first.
            switch value {
            case .strings(let read, let f): value = .strings({ ctx, body in ExpressionCompiler.anyAncestor(ctx) { read(ctx, body) } }, f)
            case .ints(let read, let t, let f): value = .ints({ ctx, body in ExpressionCompiler.anyAncestor(ctx) { read(ctx, body) } }, t, f)
            default: break
            }
        }
        let distinct = Array(Set(eventTypes.map(\.rawValue))).compactMap(EventType.init(rawValue:))
        if distinct.count > 1 {
            throw SECLError("the expression mixes event types: \(distinct.map(\.name).sorted().joined(separator: ", "))", at: ast.position)
        }
        return (value, distinct.first)
    }

    // MARK: - Approvers

    /// A necessary condition of the expression made of literal string comparisons (see `Approvers.swift`).
    /// The two cheapest top-level conjuncts that give terms form its groups.
    private func approver(of ast: Expr) -> Approver? {
        var conjuncts: [Expr] = []
        func flatten(_ e: Expr) {
            if case .and(let a, let b, _) = e { flatten(a); flatten(b) } else { conjuncts.append(e) }
        }
        flatten(ast)
        var groups: [(cost: Int, terms: [ApproverTerm])] = []
        for c in conjuncts {
            guard let terms = approverTerms(c) ?? predicateTerm(c).map({ [$0] }) else { continue }
            let cost = terms.reduce(0) { $0 + $1.cost }
            if cost < 1_000 { groups.append((cost, terms)) }
        }
        if groups.isEmpty { return nil }
        // Ranked by how well a group tends to rule events out, then by cost: comparisons of strings
        // with literals rarely hold; predicates kept per process cost nothing per event but often
        // hold (`process.ancestors.file.path not in [...]`); `!=` terms almost always hold; a
        // predicate tested per event costs about what evaluating the rule's own first conjunct
        // does, so it only serves as a second group, tested when the first let the rule through.
        func rank(_ g: (cost: Int, terms: [ApproverTerm])) -> Int {
            if g.terms.contains(where: { $0.predicate != nil }) { return g.terms.contains { $0.scope == .event } ? 3 : 1 }
            return g.terms.contains { $0.negated } ? 2 : 0
        }
        let ranked = groups.enumerated().sorted { (rank($0.element), $0.element.cost, $0.offset) < (rank($1.element), $1.element.cost, $1.offset) }
        guard let first = ranked.first, rank(first.element) < 3 else { return nil }
        let second = ranked.dropFirst().first
        return Approver(groups: [first.element.terms] + (second.map { [$0.element.terms] } ?? []))
    }

    /// Terms such that the expression can only hold when one of them matches: for `a && b` those of
    /// the cheaper side, for `a || b` those of both sides, for `field (==|in|=~) literals`,
    /// `"literal" in field` and `field != "literal"` the comparison itself; nil when there are none.
    private func approverTerms(_ e: Expr) -> [ApproverTerm]? {
        switch e {
        case .and(let a, let b, _):
            let l = approverTerms(a)
            let r = approverTerms(b)
            guard let l else { return r }
            guard let r else { return l }
            return r.reduce(0) { $0 + $1.cost } < l.reduce(0) { $0 + $1.cost } ? r : l
        case .or(let a, let b, _):
            guard let l = approverTerms(a), let r = approverTerms(b) else { return nil }
            return l + r
        case .compare("!=", .identifier(let name, _), .string(let s, _), _) where !interpolates(s):
            guard let term = approverTerm(name, [.exact(s)]), !term.isArray else { return nil }
            var negated = ApproverTerm(fieldName: term.fieldName, read: term.read, operands: term.operands, isPath: term.isPath,
                                       isArray: false, scope: term.scope, negated: true)
            negated.determinant = term.determinant
            return [negated]
        case .compare(let op, .string(let s, _), .identifier(let name, _), _) where (op == "==" || op == "in") && !interpolates(s):
            return approverTerm(name, [.exact(s)]).map { [$0] }
        case .compare(let op, .identifier(let name, _), let rhs, _) where op == "==" || op == "in" || op == "=~":
            var operands: [StringOperand] = []
            func add(_ x: Expr) -> Bool {
                switch x {
                case .string(let s, _):
                    if interpolates(s) { return false }
                    operands.append(op == "=~" ? .pattern(s) : .exact(s))
                case .pattern(let s, _): operands.append(.pattern(s))
                case .regex(let r, _): operands.append(.regex(r))
                case .array(let items, _):
                    if op == "==" || op == "=~" { return false }
                    for i in items where !add(i) { return false }
                default: return false
                }
                return true
            }
            guard add(rhs) else { return nil }
            return approverTerm(name, operands).map { [$0] }
        default:
            return nil
        }
    }

    /// A conjunct without string terms that the approvers can still test whole: one whose fields all
    /// depend only on the process or only on its ancestry (any expression: its result is kept per
    /// process, see `ApproverCache`), or a comparison of the event's own scalar integer and boolean
    /// fields (cheap enough to test for every event). nil for anything else.
    private func predicateTerm(_ e: Expr) -> ApproverTerm? {
        let processKept = ApproverIndex.keepsProcessResults(for: approverEventType)
        var scopes = Set<FieldScope>()
        var scalar = true
        var usable = true
        e.forEachName { name, isVariable, _ in
            if isVariable { usable = false; return }
            if SECLConstants.integers[name] != nil { return }
            guard let (spec, _, length) = resolve(name) else { usable = false; return }
            // Times are compared with the event's time ("now"): the result is the event's own.
            scopes.insert(spec.type == .time ? .event : spec.scope == .process && !processKept ? .event : spec.scope)
            if length || spec.iteratesAncestors || !(spec.type == .int || spec.type == .bool || spec.type == .time) { scalar = false }
        }
        if case .compare = e {} else if case .not = e {} else if case .or = e {} else { scalar = false }
        guard usable, scopes.count == 1, let scope = scopes.first, scope != .event || scalar else { return nil }
        let saved = (eventTypes, boundIterators, pendingIterator)
        defer { (eventTypes, boundIterators, pendingIterator) = saved }
        boundIterators = []
        guard let value = try? compile(e), case .predicate(var predicate) = value, boundIterators.count <= 1 else { return nil }
        if !boundIterators.isEmpty { predicate = ExpressionCompiler.anyAncestor(predicate) }
        return ApproverTerm(predicate: predicate, scope: scope)
    }

    /// A term on a plain string field (an ancestor field reads every ancestor).
    private func approverTerm(_ nameIn: String, _ operands: [StringOperand]) -> ApproverTerm? {
        var name = nameIn
        // On exec and exit events `process.X` and `exec.X` (`exit.X`) read the same process: one
        // index field serves both, so the event's value is read and looked up once.
        if let t = approverEventType, t == .exec || t == .exit, name.hasPrefix("process."),
           !name.hasPrefix("process.parent."), !name.hasPrefix("process.ancestors"),
           registry.lookup(t.name + name.dropFirst("process".count)) != nil {
            name = t.name + name.dropFirst("process".count)
        }
        guard let (spec, bound, length) = resolve(name), bound == nil, !length, spec.type == .string,
              case .string(let read) = spec.accessor else { return nil }
        if spec.iteratesAncestors {
            let reader: (EvalContext, StringBody) -> Bool = { ctx, body in
                ExpressionCompiler.anyAncestor(ctx) { read(ctx, body) }
            }
            return ApproverTerm(fieldName: spec.name, read: reader, operands: operands, isPath: spec.isPath, isArray: true, scope: spec.scope)
        }
        var term = ApproverTerm(fieldName: spec.name, read: read, operands: operands, isPath: spec.isPath, isArray: spec.isArray, scope: spec.scope)
        term.environment = spec.environment
        term.determinant = spec.determinant
        return term
    }

    // MARK: - Macros and names

    private func expand(_ e: Expr) throws -> Expr {
        switch e {
        case .identifier(let name, let p):
            guard let macro = macros[name] else { return e }
            macroDepth += 1
            defer { macroDepth -= 1 }
            if macroDepth > 32 { throw SECLError("macro \(name) expands into itself", at: p) }
            switch macro {
            case .success(let body): return try expand(body)
            case .failure(let err): throw SECLError(err.description, at: p)
            }
        case .array(let items, let p): return .array(try items.map(expand), p)
        case .not(let x, let p): return .not(try expand(x), p)
        case .negate(let x, let p): return .negate(try expand(x), p)
        case .and(let a, let b, let p): return .and(try expand(a), try expand(b), p)
        case .or(let a, let b, let p): return .or(try expand(a), try expand(b), p)
        case .compare(let op, let a, let b, let p): return .compare(op, try expand(a), try expand(b), p)
        case .arith(let op, let a, let b, let p): return .arith(op, try expand(a), try expand(b), p)
        default: return e
        }
    }

    /// Resolves a field name, including `process.ancestors[A].x` (bound iterator) and `.length`.
    private func resolve(_ name: String) -> (spec: FieldSpec, bound: String?, length: Bool)? {
        var base = name
        var bound: String?
        if let open = name.firstIndex(of: "["), let close = name.firstIndex(of: "]"), open < close {
            bound = String(name[name.index(after: open)..<close])
            base = String(name[..<open]) + String(name[name.index(after: close)...])
        }
        if let spec = registry.lookup(base) { return (spec, bound, false) }
        if base.hasSuffix(".length"), let spec = registry.lookup(String(base.dropLast(7))), spec.type == .string {
            return (spec, bound, true)
        }
        return nil
    }

    private func classifyUnknown(_ name: String, _ p: SourcePosition) -> Error {
        let first = name.split(separator: ".").first.map(String.init) ?? name
        if FieldRegistry.unproducedEventTypes.contains(first) {
            return UnsupportedError(reason: "event type '\(first)' is not produced by this agent (field \(name))")
        }
        if name.contains(".") {
            return UnsupportedError(reason: "field \(name) is not provided by this agent")
        }
        return SECLError("unknown identifier '\(name)': not a field, constant or macro", at: p)
    }

    private func checkNames(_ e: Expr) throws {
        var firstError: Error?
        var unsupported: UnsupportedError?
        e.forEachName { name, isVariable, p in
            if isVariable { return }
            if SECLConstants.integers[name] != nil || resolve(name) != nil { return }
            let err = classifyUnknown(name, p)
            if let u = err as? UnsupportedError { if unsupported == nil { unsupported = u } } else if firstError == nil { firstError = err }
        }
        if let unsupported { throw unsupported }
        if let firstError { throw firstError }
    }

    // MARK: - Values

    private func compile(_ e: Expr) throws -> CValue {
        unsetGuard = nil
        let value = try compileNode(e)
        switch e {
        case .compare, .not, .and, .or: break
        default: unsetGuard = nil
        }
        return value
    }

    /// What the boolean node just compiled is while the variables it reads hold no value (see
    /// `whileUnset`); nil when that depends on the event. Set by `compare` and combined by `!`, `&&`
    /// and `||`: `a && b` is false while `b`'s variables are unset when `b` is, so the rule's
    /// other conditions need not be evaluated then.
    private var unsetGuard: UnsetGuard?

    private struct UnsetGuard {
        let variables: [VariableDeclaration]
        let value: Bool

        /// `predicate`, or `value` without evaluating it while none of the variables holds a value.
        func apply(_ predicate: @escaping Predicate) -> Predicate {
            let value = self.value
            if variables.count == 1 {
                let d = variables[0]
                return { ctx in ctx.variables.isHeld(d) ? predicate(ctx) : value }
            }
            let variables = self.variables
            return { ctx in
                for d in variables where ctx.variables.isHeld(d) { return predicate(ctx) }
                return value
            }
        }

        func merged(_ other: UnsetGuard) -> UnsetGuard {
            UnsetGuard(variables: variables + other.variables.filter { d in !variables.contains { $0 === d } }, value: value)
        }
    }

    private func compileNode(_ e: Expr) throws -> CValue {
        switch e {
        case .string(let s, let p): return try interpolated(s, p) ?? .constString(s)
        case .pattern(let s, _): return .pattern(s)
        case .regex(let s, let p):
            do { _ = try StringMatcher([.regex(s)], isPath: false) } catch let err as SECLError { throw SECLError(err.message, at: p) }
            return .regex(s)
        case .integer(let v, _): return .constInt(v)
        case .duration(let v, _): return .duration(v)
        case .bool(let b, _): return .constBool(b)
        case .ip(let s, let p):
            guard let net = IPNetwork(parsing: s) else { throw SECLError("invalid IP address \(s)", at: p) }
            return .ip(net)
        case .identifier(let name, let p): return try identifier(name, p)
        case .variable(let name, let p): return try variable(name, p)
        case .array(let items, _):
            var flat: [CValue] = []
            for item in items {
                let v = try compile(item)
                if case .array(let inner) = v { flat += inner } else { flat.append(v) }
            }
            for v in flat where !v.isConstant {
                throw SECLError("arrays may only hold literal values, found \(v.typeName)", at: e.position)
            }
            return .array(flat)
        case .not(let x, let p):
            let v = try compile(x)
            let inner = try asPredicate(v, at: p)
            if case .constBool(let c) = v { return .constBool(!c) }
            unsetGuard = unsetGuard.map { UnsetGuard(variables: $0.variables, value: !$0.value) }
            return .predicate { !inner($0) }
        case .and(let a, let b, let p):
            let lv = try compile(a)
            let lg = unsetGuard
            let rv = try compile(b)
            let rg = unsetGuard
            let l = try asPredicate(lv, at: a.position)
            let r = try asPredicate(rv, at: b.position)
            _ = p
            // Constant sides (variables that no action sets keep their defaults) fold away.
            switch (lv, rv) {
            case (.constBool(false), _), (_, .constBool(false)):
                unsetGuard = nil
                return .constBool(false)  // evaluation has no side effects
            case (.constBool(true), _):
                unsetGuard = rg
                return rv.isBoolean ? rv : .predicate(r)
            case (_, .constBool(true)):
                unsetGuard = lg
                return lv.isBoolean ? lv : .predicate(l)
            default:
                if let g = [lg, rg].compactMap({ $0 }).first(where: { !$0.value }) {
                    unsetGuard = g
                    return .predicate(g.apply { l($0) && r($0) })
                }
                unsetGuard = lg.flatMap { x in rg.map { x.merged($0) } }
                return .predicate { l($0) && r($0) }
            }
        case .or(let a, let b, _):
            let lv = try compile(a)
            let lg = unsetGuard
            let rv = try compile(b)
            let rg = unsetGuard
            let l = try asPredicate(lv, at: a.position)
            let r = try asPredicate(rv, at: b.position)
            switch (lv, rv) {
            case (.constBool(true), _), (_, .constBool(true)):
                unsetGuard = nil
                return .constBool(true)
            case (.constBool(false), _):
                unsetGuard = rg
                return rv.isBoolean ? rv : .predicate(r)
            case (_, .constBool(false)):
                unsetGuard = lg
                return lv.isBoolean ? lv : .predicate(l)
            default:
                if let g = [lg, rg].compactMap({ $0 }).first(where: { $0.value }) {
                    unsetGuard = g
                    return .predicate(g.apply { l($0) || r($0) })
                }
                unsetGuard = lg.flatMap { x in rg.map { x.merged($0) } }
                return .predicate { l($0) || r($0) }
            }
        case .negate(let x, let p):
            let v = try compile(x)
            switch v {
            case .constInt(let i): return .constInt(0 &- i)
            case .ints(let src, let t, _): return .ints({ ctx, body in src(ctx) { body(0 &- $0) } }, t, nil)
            default: throw SECLError("'-' needs an integer, found \(v.typeName)", at: p)
            }
        case .arith(let op, let a, let b, let p):
            return try arithmetic(op, try compile(a), try compile(b), p)
        case .compare(let op, let a, let b, let p):
            return try compare(op, a, b, p)
        }
    }

    private func identifier(_ name: String, _ p: SourcePosition) throws -> CValue {
        if let (spec, bound, length) = resolve(name) {
            if let et = spec.eventType { eventTypes.append(et) }
            var iterates = spec.iteratesAncestors
            if let bound {
                guard spec.iteratesAncestors else { throw SECLError("[\(bound)] applies only to iterators such as process.ancestors", at: p) }
                boundIterators.insert(bound)
                iterates = false
            }
            if length {
                guard case .string(let src) = spec.accessor else { throw SECLError("\(name): .length needs a string field", at: p) }
                if iterates { pendingIterator = true }
                return .ints({ ctx, body in src(ctx) { body(Int64($0.count)) } }, .int, spec)
            }
            switch spec.accessor {
            case .string(let src):
                if iterates { pendingIterator = true }
                return .strings(src, spec)
            case .int(let src):
                if iterates { pendingIterator = true }
                return .ints(src, spec.type, spec)
            case .bool(let get):
                return .predicate(iterates ? ExpressionCompiler.anyAncestor(get) : get)
            }
        }
        if let c = SECLConstants.integers[name] { return .constInt(c) }
        throw classifyUnknown(name, p)
    }

    private func variable(_ name: String, _ p: SourcePosition) throws -> CValue {
        if name == "builtins.uuid4" { return ExpressionCompiler.uuid4() }
        if let d = catalog.declarations[name] { return ExpressionCompiler.read(d) }
        if resolve(name) != nil { return try identifier(name, p) }
        // Nothing sets it: it keeps the default of whatever it is compared with.
        return .untypedDefault
    }

    /// A variable that `set` actions write, read from the context's store at evaluation time. An
    /// array yields each of its values, as a field with several values does.
    static func read(_ d: VariableDeclaration) -> CValue {
        switch (d.type, d.isArray) {
        case (.int, false): return .ints({ ctx, body in ctx.variables.readInt(d, ctx, body) }, .int, nil)
        case (.int, true): return .ints({ ctx, body in ctx.variables.readInts(d, ctx, body) }, .int, nil)
        case (.bool, _): return .predicate { ctx in ctx.variables.readBool(d, ctx) }
        case (_, true): return .strings({ ctx, body in ctx.variables.readStrings(d, ctx, body) }, nil)
        case (_, false): return .strings({ ctx, body in ctx.variables.readString(d, ctx, body) }, nil)
        }
    }

    /// `${builtins.uuid4}`: a new random (version 4) UUID at each read.
    static func uuid4() -> CValue {
        let scratch = ByteScratch()
        return .strings({ _, body in scratch.write(capacity: 36, { writeUUID4(&$0) }, body) }, nil)
    }

    static func writeUUID4(_ w: inout ByteWriter) {
        var generator = SystemRandomNumberGenerator()
        var high = generator.next() as UInt64
        var low = generator.next() as UInt64
        high = (high & ~0xF000) | 0x4000  // version 4
        low = (low & ~(0xC000 << 48)) | (0x8000 << 48)  // variant 10
        let hex = hexDigits
        for i in 0..<32 {
            if i == 8 || i == 12 || i == 16 || i == 20 { w.append(UInt8(ascii: "-")) }
            let word = i < 16 ? high : low
            let nibble = Int(truncatingIfNeeded: word >> UInt64(60 - 4 * (i % 16))) & 0xF
            w.append(hex[nibble])
        }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// The `${name}` placeholders of a string literal, with the literal text between them.
    static func placeholders(_ s: String) -> [(literal: Substring, name: Substring?)] {
        var parts: [(Substring, Substring?)] = []
        var rest = Substring(s)
        while let open = rest.range(of: "${") {
            guard let close = rest[open.upperBound...].firstIndex(of: "}") else { break }
            let name = rest[open.upperBound..<close]
            let valid = !name.isEmpty && name.utf8.allSatisfy { c in
                (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c == 95 || c == 46
            }
            if !valid {
                parts.append((rest[..<rest.index(after: open.lowerBound)], nil))
                rest = rest[rest.index(after: open.lowerBound)...]
                continue
            }
            parts.append((rest[..<open.lowerBound], name))
            rest = rest[rest.index(after: close)...]
        }
        parts.append((rest, nil))
        return parts
    }

    /// A string literal is interpolated when one of its `${...}` names a variable that `set`
    /// actions write or a builtin (`${builtins.uuid4}`); otherwise it stays as written.
    func interpolates(_ s: String) -> Bool {
        guard s.contains("${") else { return false }
        return ExpressionCompiler.placeholders(s).contains { part in
            guard let name = part.name else { return false }
            return name.hasPrefix("builtins.") || catalog.declarations[String(name)] != nil
        }
    }

    /// `"text ${variable} text"`: the literal with its placeholders' values at evaluation time
    /// (a field or variable with several values gives its first; an unset one its default).
    private func interpolated(_ s: String, _ p: SourcePosition) throws -> CValue? {
        guard interpolates(s) else { return nil }
        var pieces: [InterpolatedString.Piece] = []
        for part in ExpressionCompiler.placeholders(s) {
            if !part.literal.isEmpty { pieces.append(.literal(Array(part.literal.utf8))) }
            guard let name = part.name.map(String.init) else { continue }
            if let d = catalog.declarations[name], d.isArray {
                throw SECLError("the array variable ${\(name)} cannot be written inside a string", at: p)
            }
            let saved = pendingIterator
            let value = try variable(name, p)
            if pendingIterator { throw SECLError("${\(name)} iterates: it cannot be written inside a string", at: p) }
            pendingIterator = saved
            switch value {
            case .strings(let read, _): pieces.append(.string(StringSource(read)))
            case .ints(let read, _, _): pieces.append(.int(IntSource(read)))
            case .predicate(let f): pieces.append(.bool(PredicateBox(evaluate: f)))
            case .constString(let c): pieces.append(.literal(Array(c.utf8)))
            case .constInt(let i): pieces.append(.literal(Array(String(i).utf8)))
            case .constBool(let b): pieces.append(.literal(Array((b ? "true" : "false").utf8)))
            case .untypedDefault: break
            default: throw SECLError("${\(name)} (\(value.typeName)) cannot be written inside a string", at: p)
            }
        }
        let string = InterpolatedString(pieces)
        return .strings({ ctx, body in string.read(ctx, body) }, nil)
    }

    private func asPredicate(_ v: CValue, at p: SourcePosition) throws -> Predicate {
        switch v {
        case .predicate(let f): return f
        case .constBool(let b): return { _ in b }
        case .untypedDefault: return { _ in false }
        default: throw SECLError("expected a boolean expression, found \(v.typeName)", at: p)
        }
    }

    // MARK: - Arithmetic

    private func intSource(_ v: CValue) -> IntSource? {
        switch v {
        case .ints(let s, _, _): return IntSource(s)
        case .constInt(let c), .duration(let c): return IntSource { _, body in body(c) }
        case .untypedDefault: return IntSource { _, body in body(0) }
        default: return nil
        }
    }

    static func apply(_ op: String, _ a: Int64, _ b: Int64) -> Int64 {
        switch op {
        case "+": return a &+ b
        case "-": return a &- b
        case "&": return a & b
        case "|": return a | b
        case "^": return a ^ b
        case "<<": return b < 0 || b > 63 ? 0 : a << b
        case ">>": return b < 0 || b > 63 ? 0 : a >> b
        default: return 0
        }
    }

    private func arithmetic(_ op: String, _ l: CValue, _ r: CValue, _ p: SourcePosition) throws -> CValue {
        switch (l, r) {
        case (.constInt(let a), .constInt(let b)): return .constInt(ExpressionCompiler.apply(op, a, b))
        case (.duration(let a), .duration(let b)): return .duration(ExpressionCompiler.apply(op, a, b))
        default: break
        }
        guard let ls = intSource(l) else { throw SECLError("'\(op)' needs integers, found \(l.typeName)", at: p) }
        guard let rs = intSource(r) else { throw SECLError("'\(op)' needs integers, found \(r.typeName)", at: p) }
        if case .constInt(let c) = r {
            return .ints({ ctx, body in ls(ctx) { body(ExpressionCompiler.apply(op, $0, c)) } }, .int, nil)
        }
        return .ints({ ctx, body in ls(ctx) { a in rs(ctx) { b in body(ExpressionCompiler.apply(op, a, b)) } } }, .int, nil)
    }

    // MARK: - Comparisons

    /// Bounds the walk up a parent chain (a corrupt chain may loop).
    static let maxAncestors = 1_024

    /// Points `ctx.ancestor` at each ancestor of the event's process in turn, nearest first, until
    /// `test` holds; returns whether it did. `ctx.ancestor` is restored afterwards.
    @inline(__always)
    static func anyAncestor(_ ctx: EvalContext, _ test: () -> Bool) -> Bool {
        let saved = ctx.ancestor
        defer { ctx.ancestor = saved }
        var current = ctx.event.process?.parent
        var depth = 0
        while let a = current, depth < maxAncestors {
            ctx.ancestor = a
            if test() { return true }
            current = a.parent
            depth += 1
        }
        return false
    }

    static func anyAncestor(_ p: @escaping Predicate) -> Predicate {
        { ctx in anyAncestor(ctx) { p(ctx) } }
    }

    private func compare(_ op: String, _ a: Expr, _ b: Expr, _ p: SourcePosition) throws -> CValue {
        let saved = pendingIterator
        pendingIterator = false
        let l = try compile(a)
        let r = try compile(b)
        unsetGuard = nil
        let iterates = pendingIterator
        pendingIterator = saved
        var positiveOp = op
        var negate = false
        switch op {
        case "!=": positiveOp = "=="; negate = true
        case "not in": positiveOp = "in"; negate = true
        case "!~": positiveOp = "=~"; negate = true
        default: break
        }
        var predicate = try positive(positiveOp, l, r, p)
        if iterates { predicate = ExpressionCompiler.anyAncestor(predicate) }
        if negate {
            let inner = predicate
            predicate = { !inner($0) }
        }
        if l.isConstant, r.isConstant, !iterates {
            return .constBool(predicate(EvalContext()))
        }
        // Nothing is in an empty list (a variable that no action sets, `${cgroup.x}`): the
        // comparison is constant, and folding it lets whole rules fold to never matching.
        if positiveOp == "in", r.isEmptyList {
            return .constBool(negate)
        }
        return .predicate(whileUnset(predicate, op: positiveOp, negated: negate, a, b, iterates: iterates))
    }

    /// A comparison that reads variables `set` actions write, made cheap while no value of them is
    /// set anywhere (a rule set whose actions have not run yet, or never match): then every read
    /// gives the default, so a comparison of the variables with constants has the result it has
    /// for the defaults, computed here, and `x in ${array}` with an empty default is false. The
    /// store says whether a value is held in one array read (`VariableStore.isHeld`).
    private func whileUnset(_ predicate: @escaping Predicate, op: String, negated: Bool, _ a: Expr, _ b: Expr, iterates: Bool) -> Predicate {
        unsetGuard = nil
        let variables = declaredVariables(a) + declaredVariables(b).filter { d in !declaredVariables(a).contains { $0 === d } }
        guard !variables.isEmpty else { return predicate }
        var g: UnsetGuard?
        if !readsEvent(a) && !readsEvent(b) && !iterates {
            g = UnsetGuard(variables: variables, value: predicate(EvalContext()))
        } else if op == "in", case .variable(let name, _) = b, let d = catalog.declarations[name], d.isArray, d.defaultIsEmptyArray {
            g = UnsetGuard(variables: [d], value: negated)
        }
        guard let g else { return predicate }
        unsetGuard = g
        return g.apply(predicate)
    }

    /// The variables that `set` actions write which `e` reads (`${...}`, in strings too).
    private func declaredVariables(_ e: Expr) -> [VariableDeclaration] {
        var out: [VariableDeclaration] = []
        e.forEachName { name, isVariable, _ in
            if isVariable, let d = catalog.declarations[name], !out.contains(where: { $0 === d }) { out.append(d) }
        }
        return out
    }

    /// Whether `e` reads anything of the event besides variables: a field (as such or as
    /// `${field}`) or a builtin (`${builtins.uuid4}` changes at each read).
    private func readsEvent(_ e: Expr) -> Bool {
        var reads = false
        e.forEachName { name, isVariable, _ in
            if isVariable {
                if catalog.declarations[name] != nil { return }
                if name.hasPrefix("builtins.") || resolve(name) != nil { reads = true }
            } else if SECLConstants.integers[name] == nil {
                reads = true
            }
        }
        return reads
    }

    private enum Domain { case string, int, bool, ip }

    private func domain(_ v: CValue) -> Domain? {
        switch v {
        case .strings(_, let f): return f?.type == .ip ? .ip : .string
        case .constString, .pattern, .regex: return .string
        case .ints, .constInt, .duration: return .int
        case .predicate, .constBool: return .bool
        case .ip: return .ip
        case .array(let items): return items.first.flatMap(domain)
        case .untypedDefault: return nil
        }
    }

    private func defaultValue(for d: Domain?) -> CValue {
        switch d {
        case .string?: return .constString("")
        case .int?: return .constInt(0)
        case .bool?: return .constBool(false)
        case .ip?, nil: return .constString("")
        }
    }

    private func positive(_ op: String, _ lIn: CValue, _ rIn: CValue, _ p: SourcePosition) throws -> Predicate {
        var l = lIn
        var r = rIn
        if case .untypedDefault = l { l = defaultValue(for: domain(r)) }
        if case .untypedDefault = r {
            r = (op == "in" || op == "allin") ? .array([]) : defaultValue(for: domain(l))
        }
        let ld = domain(l)
        let rd = domain(r)
        let d: Domain
        switch (ld, rd) {
        case (let x?, let y?) where x == y: d = x
        case (.ip?, .string?), (.string?, .ip?): d = .ip
        case (let x?, nil): d = x  // empty array
        case (nil, let y?): d = y
        case (nil, nil): return { _ in false }
        default:
            throw SECLError("type mismatch: cannot compare \(l.typeName) with \(r.typeName) using '\(op)'", at: p)
        }
        switch d {
        case .string: return try compareStrings(op, l, r, p)
        case .int: return try compareInts(op, l, r, p)
        case .bool: return try compareBools(op, l, r, p)
        case .ip: return try compareIPs(op, l, r, p)
        }
    }

    private func operands(_ v: CValue, op: String, _ p: SourcePosition) throws -> [StringOperand]? {
        switch v {
        case .constString(let s): return [op == "=~" ? .pattern(s) : .exact(s)]
        case .pattern(let s): return [.pattern(s)]
        case .regex(let s): return [.regex(s)]
        case .array(let items):
            return try items.map { item -> StringOperand in
                switch item {
                case .constString(let s): return op == "=~" ? .pattern(s) : .exact(s)
                case .pattern(let s): return .pattern(s)
                case .regex(let s): return .regex(s)
                default: throw SECLError("type mismatch: \(item.typeName) in an array of strings", at: p)
                }
            }
        default: return nil
        }
    }

    private func stringSource(_ v: CValue) -> StringSource? {
        switch v {
        case .strings(let s, _): return StringSource(s)
        case .constString(let c):
            let bytes = Array(c.utf8)
            return StringSource { _, body in bytes.withUnsafeBufferPointer { body($0) } }
        default: return nil
        }
    }

    private func compareStrings(_ op: String, _ l: CValue, _ r: CValue, _ p: SourcePosition) throws -> Predicate {
        guard ["==", "in", "=~", "allin"].contains(op) else {
            throw SECLError("operator '\(op)' does not apply to strings", at: p)
        }
        if case .array = l, op != "allin" { throw SECLError("an array cannot be on the left of '\(op)'", at: p) }
        if case .array = r, op == "==" || op == "=~" {
            // Datadog accepts `field == [..]`? No: arrays need `in`.
            throw SECLError("use 'in' to compare with an array", at: p)
        }
        if case .regex = l { throw SECLError("a regular expression must be on the right of '\(op)'", at: p) }
        if case .pattern = l { throw SECLError("a pattern must be on the right of '\(op)'", at: p) }
        var source = stringSource(l)
        var matcherOperands = try operands(r, op: op, p)
        var field = l.field
        if case .constString = l, case .strings(let s, let f) = r {
            // `"value" in field` or `"value" == field`: look for the constant among the field's values.
            source = StringSource(s)
            field = f
            matcherOperands = try operands(l, op: op, p)
        }
        guard let src = source else { throw SECLError("expected a string value, found \(l.typeName)", at: p) }
        if let ops = matcherOperands {
            let matcher: StringMatcher
            do { matcher = try StringMatcher(ops, isPath: field?.isPath ?? false) } catch let e as SECLError {
                throw SECLError(e.message, at: p)
            }
            if op == "allin" {
                return { ctx in
                    var any = false
                    let failed = src(ctx) { v in
                        any = true
                        return !matcher.matches(v)
                    }
                    return any && !failed
                }
            }
            if matcher.isEmpty { return { _ in false } }
            return { ctx in src(ctx) { matcher.matches($0) } }
        }
        // Field against field.
        guard let rs = stringSource(r) else { throw SECLError("expected a string value, found \(r.typeName)", at: p) }
        return { ctx in src(ctx) { a in rs(ctx) { b in
            guard a.count == b.count else { return false }
            var i = 0
            while i < a.count { if a[i] != b[i] { return false }; i += 1 }
            return true
        } } }
    }

    private func intConstants(_ v: CValue, _ p: SourcePosition) throws -> [Int64]? {
        switch v {
        case .constInt(let c), .duration(let c): return [c]
        case .array(let items):
            return try items.map { item -> Int64 in
                switch item {
                case .constInt(let c), .duration(let c): return c
                default: throw SECLError("type mismatch: \(item.typeName) in an array of integers", at: p)
                }
            }
        default: return nil
        }
    }

    private func compareInts(_ opIn: String, _ lIn: CValue, _ rIn: CValue, _ p: SourcePosition) throws -> Predicate {
        var op = opIn
        var l = lIn
        var r = rIn
        if op == "=~" { throw SECLError("operator '=~' does not apply to integers", at: p) }
        // Constant on the left: flip so the source is on the left.
        if l.isConstant, !r.isConstant {
            switch op {
            case "<": op = ">"
            case "<=": op = ">="
            case ">": op = "<"
            case ">=": op = "<="
            default: break
            }
            swap(&l, &r)
        }
        guard var src = intSource(l) else { throw SECLError("expected an integer value, found \(l.typeName)", at: p) }
        // Time fields against durations compare the age of the time.
        if case .ints(let s, .time, _) = l, case .duration = r {
            src = IntSource { ctx, body in
                s(ctx) { t in body(t == 0 ? Int64.max : ctx.nowNs &- t) }
            }
        } else if case .duration = r, case .ints(_, let t, let f) = l, t != .time {
            throw SECLError("a duration compares with time fields, not with \(f?.name ?? "an integer")", at: p)
        }
        if let consts = try intConstants(r, p) {
            let relational = ["<", "<=", ">", ">="].contains(op)
            if relational && consts.count != 1 { throw SECLError("'\(op)' needs a single value", at: p) }
            if relational, case .array = r { throw SECLError("'\(op)' needs a single value, not an array", at: p) }
            if consts.isEmpty { return op == "allin" ? { _ in false } : { _ in false } }
            let c = consts[0]
            switch op {
            case "<": return { ctx in src(ctx) { $0 < c } }
            case "<=": return { ctx in src(ctx) { $0 <= c } }
            case ">": return { ctx in src(ctx) { $0 > c } }
            case ">=": return { ctx in src(ctx) { $0 >= c } }
            case "allin":
                let set = Set(consts)
                return { ctx in
                    var any = false
                    let failed = src(ctx) { v in any = true; return !set.contains(v) }
                    return any && !failed
                }
            default:
                if consts.count == 1 { return { ctx in src(ctx) { $0 == c } } }
                if consts.count <= 8 { return { ctx in src(ctx) { v in consts.contains(v) } } }
                let set = Set(consts)
                return { ctx in src(ctx) { set.contains($0) } }
            }
        }
        guard let rs = intSource(r) else { throw SECLError("expected an integer value, found \(r.typeName)", at: p) }
        let cmp: (Int64, Int64) -> Bool
        switch op {
        case "<": cmp = (<)
        case "<=": cmp = (<=)
        case ">": cmp = (>)
        case ">=": cmp = (>=)
        default: cmp = (==)
        }
        return { ctx in src(ctx) { a in rs(ctx) { b in cmp(a, b) } } }
    }

    private func compareBools(_ op: String, _ l: CValue, _ r: CValue, _ p: SourcePosition) throws -> Predicate {
        guard op == "==" || op == "in" else { throw SECLError("operator '\(op)' does not apply to booleans", at: p) }
        func pred(_ v: CValue) throws -> Predicate {
            switch v {
            case .predicate(let f): return f
            case .constBool(let b): return { _ in b }
            case .array(let items) where items.count == 1: return try pred(items[0])
            default: throw SECLError("expected a boolean, found \(v.typeName)", at: p)
            }
        }
        if case .array(let items) = r, items.isEmpty { return { _ in false } }
        let lp = try pred(l)
        if case .constBool(let b) = r { return b ? lp : { !lp($0) } }
        let rp = try pred(r)
        return { lp($0) == rp($0) }
    }

    private func compareIPs(_ op: String, _ l: CValue, _ r: CValue, _ p: SourcePosition) throws -> Predicate {
        guard op == "==" || op == "in" else { throw SECLError("operator '\(op)' does not apply to IP addresses", at: p) }
        func nets(_ v: CValue) throws -> [IPNetwork] {
            switch v {
            case .ip(let n): return [n]
            case .constString(let s):
                guard let n = IPNetwork(parsing: s) else { throw SECLError("'\(s)' is not an IP address", at: p) }
                return [n]
            case .array(let items): return try items.flatMap(nets)
            default: throw SECLError("expected an IP address, found \(v.typeName)", at: p)
            }
        }
        var field = l
        var other = r
        if case .strings = r, !l.isConstant { } else if case .strings = r { swap(&field, &other) }
        guard case .strings(let src, _) = field else { throw SECLError("expected an IP field, found \(field.typeName)", at: p) }
        let networks = try nets(other)
        return { ctx in
            src(ctx) { bytes in
                guard let ip = IPNetwork.parse(bytes) else { return false }
                for n in networks where n.contains(ip) { return true }
                return false
            }
        }
    }
}
