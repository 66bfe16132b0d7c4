import Foundation
import Yams

/// Reads one policy file (YAML) into definitions. Structural problems of the file as a whole throw
/// `PolicyFileError`; problems of one rule or macro are recorded on it; unknown keys are warnings.
public enum PolicyParser {
    static let topKeys: Set<String> = ["version", "type", "name", "macros", "rules", "hooks", "on_demand_hook_points", "description"]
    static let macroKeys: Set<String> = ["id", "expression", "values", "description", "combine", "filters", "agent_version"]
    static let ruleKeys: Set<String> = [
        "id", "version", "expression", "description", "tags", "product_tags", "filters", "agent_version", "disabled",
        "actions", "every", "silent", "combine", "override_options", "priority", "group_id", "limiter_token",
        "rate_limiter_token",
    ]

    /// A policy file that cannot be read at all.
    public struct PolicyFileError: Error, CustomStringConvertible, Sendable {
        public var file: String
        public var message: String
        public var description: String { "\(file): \(message)" }
    }

    public static func parse(path: String, limits: PolicyInputLimits = .default) throws -> PolicyFile {
        // The size is checked before reading: a huge file must not be read whole to be refused.
        if let attributes = try? FileManager.default.attributesOfItem(atPath: path),
           let size = attributes[.size] as? Int, size > limits.maxBytes {
            throw PolicyFileError(file: path, message: "policy is \(size) bytes, over the limit of \(limits.maxBytes) bytes")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PolicyFileError(file: path, message: "cannot read file")
        }
        return try parse(text: String(decoding: data, as: UTF8.self), path: path, limits: limits)
    }

    public static func parse(text: String, path: String, limits: PolicyInputLimits = .default) throws -> PolicyFile {
        let root: Any?
        do {
            try limits.checkText(text)
            // Composed first (aliases share their node), checked, and only then turned into values:
            // expanding aliases is where a small file becomes gigabytes.
            guard let node = try Yams.compose(yaml: text) else { throw PolicyFileError(file: path, message: "empty policy") }
            try limits.checkTree(node, text: text)
            root = node.any
        } catch let error as PolicyInputLimits.LimitError {
            throw PolicyFileError(file: path, message: error.message)
        } catch let error as PolicyFileError {
            throw error
        } catch let error as YamlError {
            throw PolicyFileError(file: path, message: "invalid YAML: \(describe(error))")
        } catch {
            throw PolicyFileError(file: path, message: "invalid YAML: \(error)")
        }
        guard let top = root as? [String: Any] else {
            throw PolicyFileError(file: path, message: root == nil ? "empty policy" : "a policy must be a YAML mapping")
        }
        var warnings: [String] = []
        for key in top.keys.sorted() where !topKeys.contains(key) {
            warnings.append("\(path): unknown key '\(key)' ignored")
        }
        var macros: [MacroDefinition] = []
        if let raw = top["macros"] {
            guard let list = raw as? [Any] else { throw PolicyFileError(file: path, message: "'macros' must be a list") }
            for (i, item) in list.enumerated() {
                guard let m = item as? [String: Any] else {
                    warnings.append("\(path): macro #\(i + 1) is not a mapping, ignored")
                    continue
                }
                for key in m.keys.sorted() where !macroKeys.contains(key) {
                    warnings.append("\(path): macro \(string(m["id"]) ?? "#\(i + 1)"): unknown key '\(key)' ignored")
                }
                guard let id = string(m["id"]), !id.isEmpty else {
                    warnings.append("\(path): macro #\(i + 1) has no id, ignored")
                    continue
                }
                macros.append(MacroDefinition(
                    id: id, expression: string(m["expression"]), values: (m["values"] as? [Any])?.compactMap { string($0) },
                    combine: string(m["combine"]), filters: strings(m["filters"]), agentVersion: string(m["agent_version"]),
                    description: string(m["description"]) ?? "", file: path))
            }
        }
        var rules: [RuleDefinition] = []
        if let raw = top["rules"] {
            guard let list = raw as? [Any] else { throw PolicyFileError(file: path, message: "'rules' must be a list") }
            for (i, item) in list.enumerated() {
                guard let r = item as? [String: Any] else {
                    rules.append(errorRule(id: "#\(i + 1)", path: path, "rule is not a mapping"))
                    continue
                }
                let id = string(r["id"]) ?? ""
                for key in r.keys.sorted() where !ruleKeys.contains(key) {
                    warnings.append("\(path): rule \(id.isEmpty ? "#\(i + 1)" : id): unknown key '\(key)' ignored")
                }
                var rule = RuleDefinition(
                    id: id.isEmpty ? "#\(i + 1)" : id, version: string(r["version"]), expression: string(r["expression"]),
                    description: string(r["description"]) ?? "", tags: tags(r["tags"]), productTags: strings(r["product_tags"]),
                    filters: strings(r["filters"]), agentVersion: string(r["agent_version"]), disabled: bool(r["disabled"]),
                    actions: r["actions"] as? [Any] ?? [], every: string(r["every"]), silent: bool(r["silent"]),
                    combine: string(r["combine"]),
                    overrideFields: ((r["override_options"] as? [String: Any])?["fields"] as? [Any])?.compactMap { string($0) },
                    priority: (r["priority"] as? Int), groupID: string(r["group_id"]), file: path, loadError: nil)
                rule.limiterToken = strings(r["limiter_token"] ?? r["rate_limiter_token"])
                rule.policyVersion = string(top["version"])
                if id.isEmpty {
                    rule.loadError = "rule has no id"
                } else if !id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) {
                    rule.loadError = "invalid rule id '\(id)': only letters, digits and '_' are allowed"
                }
                rules.append(rule)
            }
        }
        return PolicyFile(path: path, version: string(top["version"]), type: string(top["type"]), macros: macros, rules: rules, warnings: warnings)
    }

    static func errorRule(id: String, path: String, _ message: String) -> RuleDefinition {
        RuleDefinition(
            id: id, version: nil, expression: nil, description: "", tags: [:], productTags: [], filters: [], agentVersion: nil,
            disabled: false, actions: [], every: nil, silent: false, combine: nil, overrideFields: nil, priority: nil,
            groupID: nil, file: path, loadError: message)
    }

    static func describe(_ error: YamlError) -> String {
        // YamlError's description carries "line:column: problem" plus the offending line.
        let text = "\(error)"
        return text.split(separator: "\n").first.map(String.init) ?? text
    }

    static func string(_ v: Any?) -> String? {
        switch v {
        case let s as String: return s
        case let i as Int: return String(i)
        case let d as Double: return String(d)
        case let b as Bool: return b ? "true" : "false"
        default: return nil
        }
    }

    static func strings(_ v: Any?) -> [String] {
        if let list = v as? [Any] { return list.compactMap { string($0) } }
        if let s = string(v) { return [s] }
        return []
    }

    static func bool(_ v: Any?) -> Bool {
        if let b = v as? Bool { return b }
        if let s = v as? String { return s == "true" }
        return false
    }

    static func tags(_ v: Any?) -> [String: String] {
        guard let m = v as? [String: Any] else { return [:] }
        var out: [String: String] = [:]
        for (k, value) in m { out[k] = string(value) ?? "" }
        return out
    }
}
