/// Loads several policy files together: merges macros and rules (Datadog override/combine
/// semantics), applies filters and agent_version constraints, compiles what remains and reports a
/// status for every rule.
public struct PolicyLoader {
    public struct Options {
        public var compatibilityVersion: String
        public var host: HostFacts

        public init(compatibilityVersion: String = AgentCompatibility.current, host: HostFacts = HostFacts()) {
            self.compatibilityVersion = compatibilityVersion
            self.host = host
        }
    }

    /// Everything the loader produced.
    public struct Result {
        public var reports: [RuleReport]
        public var ruleSet: RuleSet
        public var warnings: [String]
        /// Files that could not be read (invalid YAML ...).
        public var fileErrors: [String]
    }

    public var options: Options

    public init(options: Options = Options()) {
        self.options = options
    }

    /// Reads and loads files; unreadable files are reported in `fileErrors`, never thrown.
    public func load(paths: [String]) -> Result {
        var files: [PolicyFile] = []
        var fileErrors: [String] = []
        for path in paths {
            do { files.append(try PolicyParser.parse(path: path)) } catch {
                fileErrors.append("\(error)")
            }
        }
        var result = load(files: files)
        result.fileErrors = fileErrors
        return result
    }

    public func load(files: [PolicyFile]) -> Result {
        var warnings = files.flatMap(\.warnings)
        let macros = mergeMacros(files, &warnings)
        let rules = mergeRules(files)
        let registry = FieldRegistry()
        let catalog = VariableCatalog(rules: rules, registry: registry)
        let compiler = ExpressionCompiler(registry: registry, macros: macros, catalog: catalog)
        let version = SemVer(options.compatibilityVersion) ?? SemVer(AgentCompatibility.defaultVersion)!
        var reports: [RuleReport] = []
        var compiled: [CompiledRule] = []
        for rule in rules {
            var report = RuleReport(id: rule.id, status: .loaded, reason: "", file: rule.file, eventType: nil)
            if let err = rule.loadError {
                report.status = .error
                report.reason = err
            } else if rule.disabled {
                report.status = .disabled
                report.reason = "disabled"
            } else if let (status, reason) = checkFilters(rule.filters, rule.agentVersion, version) {
                report.status = status
                report.reason = reason
            } else if let expression = rule.expression, !expression.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                do {
                    let c = try compiler.compile(expression)
                    report.eventType = c.eventType
                    if let t = c.eventType, !t.hasProbe {
                        report.reason = "no probe produces '\(t.name)' events yet: the rule evaluates recorded events only"
                    }
                    let actions = try compileActions(rule, compiler, eventType: c.eventType)
                    compiled.append(CompiledRule(id: rule.id, eventType: c.eventType, predicate: c.predicate, definition: rule,
                                                 approver: c.approver, actions: actions))
                } catch let e as ActionError {
                    report.status = .error
                    report.reason = e.message
                } catch let e as UnsupportedError {
                    report.status = .unsupported
                    report.reason = e.reason
                } catch let e as SECLError {
                    report.status = .error
                    report.reason = e.description
                } catch {
                    report.status = .error
                    report.reason = "\(error)"
                }
            } else {
                report.status = .error
                report.reason = "rule has no expression"
            }
            reports.append(report)
        }
        let ruleSet = RuleSet(rules: compiled, registry: registry, variables: catalog.declarations.values.sorted { $0.scopedName < $1.scopedName })
        return Result(reports: reports, ruleSet: ruleSet, warnings: warnings, fileErrors: [])
    }

    /// The rule's `actions:`, each with its `filter`. An action kind the agent does not run (`coredump`,
    /// `log`, `network_filter` ...) is an error of the rule: loading it without the action would hide
    /// that the policy's response never happens. `eventType` is the rule's: a `hash` action's file
    /// field defaults from it and must belong to it.
    func compileActions(_ rule: RuleDefinition, _ compiler: ExpressionCompiler, eventType: EventType? = nil) throws -> [RuleAction] {
        var out: [RuleAction] = []
        for (i, raw) in rule.actions.enumerated() {
            guard let action = raw as? [String: Any] else { throw ActionError("action #\(i + 1) is not a mapping") }
            var filter: Predicate?
            if let source = PolicyParser.string(action["filter"]) {
                do {
                    let f = try compiler.compile(source)
                    filter = f.predicate
                } catch let e as SECLError {
                    throw ActionError("action #\(i + 1): filter: \(e.description)")
                }
            }
            let kinds = action.keys.filter { $0 != "filter" }.sorted()
            guard kinds.count == 1, let kind = kinds.first else {
                throw ActionError("action #\(i + 1) must have exactly one of set, kill, hash (has \(kinds.isEmpty ? "none" : kinds.joined(separator: ", ")))")
            }
            let body = action[kind] as? [String: Any] ?? [:]
            switch kind {
            case "set":
                guard let body = action[kind] as? [String: Any] else { throw ActionError("action #\(i + 1): set must be a mapping") }
                do {
                    out.append(RuleAction(kind: .set(try SetAction.compile(body, compiler: compiler, eventType: eventType)), filter: filter))
                } catch let e as ActionError {
                    throw ActionError("action #\(i + 1): \(e.message)")
                }
            case "kill": out.append(RuleAction(kind: .kill(try KillAction.parse(body)), filter: filter))
            case "hash": out.append(RuleAction(kind: .hash(try HashAction.parse(body, eventType: eventType, registry: compiler.registry)), filter: filter))
            default: throw ActionError("action '\(kind)' is not supported by this agent")
            }
        }
        return out
    }

    /// nil when the rule passes its filters; otherwise `filtered` (or `error` for a bad filter).
    func checkFilters(_ filters: [String], _ agentVersion: String?, _ version: SemVer) -> (RuleStatus, String)? {
        for filter in filters {
            do {
                if try !options.host.evaluate(filter: filter) {
                    return (.filtered, "filter '\(filter)' does not hold (os \(options.host.os), kernel \(options.host.kernelMajor).\(options.host.kernelMinor).\(options.host.kernelPatch))")
                }
            } catch {
                return (.error, "invalid filter '\(filter)': \(error)")
            }
        }
        if let constraint = agentVersion {
            do {
                if try !SemVer.satisfies(version, constraint: constraint) {
                    return (.filtered, "agent_version '\(constraint)' excludes compatibility version \(version)")
                }
            } catch {
                return (.error, "\(error)")
            }
        }
        return nil
    }

    /// Macros of all files; `combine: merge` appends values, a later definition otherwise replaces.
    func mergeMacros(_ files: [PolicyFile], _ warnings: inout [String]) -> [String: String] {
        let version = SemVer(options.compatibilityVersion) ?? SemVer(AgentCompatibility.defaultVersion)!
        var values: [String: [String]] = [:]
        var expressions: [String: String] = [:]
        for file in files {
            for m in file.macros {
                if checkFilters(m.filters, m.agentVersion, version) != nil { continue }
                if let v = m.values {
                    if m.combine == "merge", let existing = values[m.id] {
                        values[m.id] = existing + v
                    } else {
                        if values[m.id] != nil || expressions[m.id] != nil, m.combine != "override" {
                            warnings.append("\(file.path): macro \(m.id) redefined; the later definition wins")
                        }
                        values[m.id] = v
                        expressions[m.id] = nil
                    }
                } else if let e = m.expression {
                    if m.combine == "merge", let existing = expressions[m.id],
                       existing.hasPrefix("["), existing.hasSuffix("]"), e.hasPrefix("["), e.hasSuffix("]") {
                        expressions[m.id] = String(existing.dropLast()) + ", " + String(e.dropFirst())
                    } else {
                        if values[m.id] != nil || expressions[m.id] != nil, m.combine != "override" {
                            warnings.append("\(file.path): macro \(m.id) redefined; the later definition wins")
                        }
                        expressions[m.id] = e
                        values[m.id] = nil
                    }
                } else {
                    warnings.append("\(file.path): macro \(m.id) has neither expression nor values, ignored")
                }
            }
        }
        for (id, list) in values {
            let quoted = list.map { v -> String in
                let escaped = v.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                return "\"\(escaped)\""
            }
            expressions[id] = "[" + quoted.joined(separator: ", ") + "]"
        }
        return expressions
    }

    /// Rules in order of first appearance; a later rule with the same id overrides (`combine: override`),
    /// disables (`disabled: true`) or conflicts.
    func mergeRules(_ files: [PolicyFile]) -> [RuleDefinition] {
        var order: [String] = []
        var byID: [String: RuleDefinition] = [:]
        for file in files {
            for rule in file.rules {
                guard var existing = byID[rule.id] else {
                    order.append(rule.id)
                    byID[rule.id] = rule
                    continue
                }
                switch rule.combine {
                case "override"?:
                    let fields = rule.overrideFields ?? ["expression"]
                    for field in fields {
                        switch field {
                        case "expression": existing.expression = rule.expression
                        case "actions": existing.actions = rule.actions
                        case "every": existing.every = rule.every
                        case "tags": existing.tags = rule.tags
                        case "product_tags": existing.productTags = rule.productTags
                        default: existing.loadError = "\(rule.file): unknown override field '\(field)'"
                        }
                    }
                    existing.disabled = rule.disabled
                    existing.file = rule.file
                    if rule.loadError != nil { existing.loadError = rule.loadError }
                case nil:
                    if rule.disabled {
                        existing.disabled = true
                    } else {
                        existing.loadError = "rule \(rule.id) is defined again in \(rule.file) without 'combine: override'"
                    }
                case let other?:
                    existing.loadError = "\(rule.file): unknown combine policy '\(other)' for rule \(rule.id)"
                }
                byID[rule.id] = existing
            }
        }
        return order.compactMap { byID[$0] }
    }
}
