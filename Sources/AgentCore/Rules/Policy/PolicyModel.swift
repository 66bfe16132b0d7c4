/// A macro as written in a policy file.
public struct MacroDefinition: Sendable {
    public var id: String
    public var expression: String?
    public var values: [String]?
    public var combine: String?
    public var filters: [String]
    public var agentVersion: String?
    public var description: String
    public var file: String
}

/// A rule as written in a policy file (after override/combine, see `PolicyLoader`).
public struct RuleDefinition: @unchecked Sendable {
    public var id: String
    public var version: String?
    public var expression: String?
    public var description: String
    public var tags: [String: String]
    public var productTags: [String]
    public var filters: [String]
    public var agentVersion: String?
    public var disabled: Bool
    /// Raw action definitions (`set`, `filter`, `hash`, `kill` ...): kept for the pipeline; `set` types variables.
    public var actions: [Any]
    public var every: String?
    public var silent: Bool
    public var combine: String?
    public var overrideFields: [String]?
    public var priority: Int?
    public var groupID: String?
    /// `limiter_token` (or `rate_limiter_token`): fields whose values each get their own rate-limit bucket.
    public var limiterToken: [String] = []
    /// Policy file the rule (last) came from.
    public var file: String
    /// The `version` of that policy file.
    public var policyVersion: String?
    /// Set by merging when the definition is invalid as a whole (id conflict, bad combine).
    public var loadError: String?
}

/// One policy file.
public struct PolicyFile: @unchecked Sendable {
    public var path: String
    public var version: String?
    public var type: String?
    public var macros: [MacroDefinition]
    public var rules: [RuleDefinition]
    /// Unknown keys and other non-fatal findings.
    public var warnings: [String]
}

/// What the loader decided for one rule.
public enum RuleStatus: String, Sendable, Codable {
    case loaded, disabled, filtered, unsupported, error
}

/// The status of one rule and why.
public struct RuleReport: Sendable {
    public var id: String
    public var status: RuleStatus
    /// Why the rule is not loaded; for a loaded rule, empty or a note (its event type has no probe).
    public var reason: String
    public var file: String
    /// Event type of a loaded rule (nil: every event).
    public var eventType: EventType?
}
