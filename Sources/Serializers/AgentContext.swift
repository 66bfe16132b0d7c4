import AgentCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Per-event agent and rule context: the `agent` object and the `title` of one output line.
///
/// A value type so the caller can keep one template (version, os, arch) and change only the rule
/// fields per event.
public struct AgentContext: Sendable, Equatable {
    /// `agent.rule_id`: the matched rule's id, or `AgentContext.allEventsRuleID` when every event is emitted.
    public var ruleID: String
    public var ruleVersion: String?
    public var policyName: String?
    public var policyVersion: String?
    /// `agent.version`: the agent's version string.
    public var version: String
    /// `agent.os`.
    public var os: String
    /// `agent.arch`: uname machine (`x86_64`, `aarch64`).
    public var arch: String
    /// `agent.origin`.
    public var origin: String
    /// Top-level `title`: the rule's description, or a default such as `exec event`. When nil, the
    /// serializer writes `<event name> event`.
    public var title: String?
    /// `agent.rule_actions`: what the rule's actions did for this match, as a whole JSON array
    /// written by `JSONWriter` (see `ActionReportWriter`); nil or empty writes no key.
    public var ruleActions: [UInt8]?
    /// Members written verbatim at the end of the event's own file object (`file`, or for exec the
    /// process's `executable`): the `hash` action's `"hashes":[...],"hash_state":"..."`.
    public var fileMembers: [UInt8]?

    /// Rule id used when the agent runs without rules and emits every event.
    public static let allEventsRuleID = "all_events"

    public init(
        ruleID: String = AgentContext.allEventsRuleID, ruleVersion: String? = nil, policyName: String? = nil,
        policyVersion: String? = nil, version: String, os: String = "linux",
        arch: String = AgentContext.machineArchitecture(), origin: String = "ebpf", title: String? = nil
    ) {
        self.ruleID = ruleID
        self.ruleVersion = ruleVersion
        self.policyName = policyName
        self.policyVersion = policyVersion
        self.version = version
        self.os = os
        self.arch = arch
        self.origin = origin
        self.title = title
    }

    /// `uname -m` of this host (`x86_64`), or `unknown` when uname fails.
    public static func machineArchitecture() -> String {
        var info = utsname()
        guard uname(&info) == 0 else { return "unknown" }
        return withUnsafeBytes(of: &info.machine) { raw in
            let bytes = raw.prefix(while: { $0 != 0 })
            return String(kernelBytes: bytes)
        }
    }
}
