import Foundation

/// The agent version that `agent_version` constraints are checked against.
///
/// csm-agent implements the SECL of Datadog's agent up to this version; rules that need a newer agent
/// are `filtered`. Override with the `CSM_AGENT_COMPAT_VERSION` environment variable or
/// `PolicyLoader.Options.compatibilityVersion`.
public enum AgentCompatibility {
    public static let defaultVersion = "7.70.0"
    public static let environmentVariable = "CSM_AGENT_COMPAT_VERSION"

    /// The default version, or the environment override when set and valid.
    public static var current: String {
        if let v = ProcessInfo.processInfo.environment[environmentVariable], SemVer(v) != nil { return v }
        return defaultVersion
    }
}

/// A dotted version (`7.70.1`); missing parts are 0, a pre-release suffix is ignored.
public struct SemVer: Comparable, Sendable, CustomStringConvertible {
    public var parts: [Int]

    public init?(_ text: String) {
        var core = text.trimmingCharacters(in: .whitespaces)
        if core.hasPrefix("v") { core.removeFirst() }
        if let dash = core.firstIndex(where: { $0 == "-" || $0 == "+" }) { core = String(core[..<dash]) }
        let pieces = core.split(separator: ".", omittingEmptySubsequences: false)
        guard !pieces.isEmpty, pieces.count <= 4 else { return nil }
        var parsed: [Int] = []
        for p in pieces {
            guard !p.isEmpty, p.count <= 9, let v = Int(p), v >= 0 else { return nil }
            parsed.append(v)
        }
        while parsed.count < 3 { parsed.append(0) }
        parts = parsed
    }

    public static func < (a: SemVer, b: SemVer) -> Bool {
        for i in 0..<max(a.parts.count, b.parts.count) {
            let x = i < a.parts.count ? a.parts[i] : 0
            let y = i < b.parts.count ? b.parts[i] : 0
            if x != y { return x < y }
        }
        return false
    }

    public static func == (a: SemVer, b: SemVer) -> Bool { !(a < b) && !(b < a) }

    public var description: String { parts.map(String.init).joined(separator: ".") }

    /// Checks a constraint such as `>= 7.38`, `>=7.65 <7.70` or `>=7.60, <7.70`.
    /// Throws on a malformed constraint.
    public static func satisfies(_ version: SemVer, constraint: String) throws -> Bool {
        var rest = Substring(constraint.replacingOccurrences(of: ",", with: " "))
        var any = false
        while true {
            rest = rest.drop(while: { $0 == " " || $0 == "\t" })
            if rest.isEmpty { break }
            var op = ""
            while let c = rest.first, "<>=!~^".contains(c) {
                op.append(c)
                rest.removeFirst()
            }
            rest = rest.drop(while: { $0 == " " })
            let token = rest.prefix(while: { $0 != " " && $0 != "\t" })
            rest = rest.dropFirst(token.count)
            guard let v = SemVer(String(token)) else { throw SECLError("invalid version '\(token)' in agent_version '\(constraint)'") }
            any = true
            let ok: Bool
            switch op {
            case ">=": ok = version >= v
            case ">": ok = version > v
            case "<=": ok = version <= v
            case "<": ok = version < v
            case "", "=", "==": ok = version == v
            case "!=": ok = version != v
            case "~", "^":
                // Same major (and minor for ~).
                ok = version >= v && version.parts[0] == v.parts[0] && (op == "^" || version.parts[1] == v.parts[1])
            default: throw SECLError("invalid operator '\(op)' in agent_version '\(constraint)'")
            }
            if !ok { return false }
        }
        if !any { throw SECLError("empty agent_version constraint") }
        return true
    }
}
