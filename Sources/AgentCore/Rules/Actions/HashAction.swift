/// `hash:` action: which file of the event to hash, as Datadog's `HashDefinition` spells it.
///
/// ```yaml
/// actions:
///   - hash: {}                      # exec rules: exec.file; open rules: open.file
///   - hash:
///       field: process.file         # required on other event types
///       max_file_size: 10485760     # bytes; the agent's default otherwise
/// ```
///
/// Datadog takes the digest algorithms from the agent's configuration, not from the rule; so does
/// this agent (`FileHasherSettings.algorithms`). `algorithms:` is this agent's extension for a rule
/// that wants others (`[sha256, md5]`). `FileHasher` runs it.
public struct HashAction: Sendable, Equatable {
    /// The file event field whose file is hashed (`exec.file`, `open.file`, `process.file`,
    /// `process.parent.file` ...), resolved from the rule's event type when the policy omits it.
    public let field: String
    /// `max_file_size`; nil: the hasher's default.
    public let maxFileSize: UInt64?
    /// `algorithms`; nil: the hasher's default.
    public let algorithms: [HashAlgorithm]?

    public init(field: String, maxFileSize: UInt64? = nil, algorithms: [HashAlgorithm]? = nil) {
        self.field = field
        self.maxFileSize = maxFileSize
        self.algorithms = algorithms
    }

    static let keys: Set<String> = ["field", "max_file_size", "algorithms"]

    /// Parses `hash:`'s mapping (often empty: `hash: {}`) for a rule on `eventType`; `registry` tells
    /// which file fields exist and which event type carries them.
    static func parse(_ definition: [String: Any], eventType: EventType?, registry: FieldRegistry) throws -> HashAction {
        if let unknown = definition.keys.filter({ !keys.contains($0) }).sorted().first {
            throw ActionError("hash: unknown option '\(unknown)' (known: \(keys.sorted().joined(separator: ", ")))")
        }
        let field: String
        if let raw = definition["field"] {
            guard let text = raw as? String, !text.isEmpty else { throw ActionError("hash: field must be a file field such as exec.file") }
            field = text
        } else {
            switch eventType {
            case .exec?: field = "exec.file"
            case .open?: field = "open.file"
            default: throw ActionError("hash: `field` is required for '\(eventType?.name ?? "untyped")' rules (for example field: process.file)")
            }
        }
        // A file field is one with a `.path` beneath it; ancestors are a list of files, not one.
        guard let path = registry.lookup(field + ".path"), !path.iteratesAncestors else {
            throw ActionError("hash: '\(field)' is not a file field (for example exec.file, open.file, process.file)")
        }
        if let owner = path.eventType, owner != eventType {
            throw ActionError("hash: field '\(field)' is not compatible with '\(eventType?.name ?? "untyped")' rules")
        }
        var maxFileSize: UInt64?
        if let raw = definition["max_file_size"] {
            guard let n = raw as? Int, n > 0, !(raw is Bool) else { throw ActionError("hash: max_file_size must be a positive number of bytes") }
            maxFileSize = UInt64(n)
        }
        var algorithms: [HashAlgorithm]?
        if let raw = definition["algorithms"] {
            guard let list = raw as? [Any], !list.isEmpty else { throw ActionError("hash: algorithms must be a list such as [sha256, md5]") }
            var parsed: [HashAlgorithm] = []
            for item in list {
                guard let name = item as? String, let algorithm = HashAlgorithm(rawValue: name.lowercased()) else {
                    throw ActionError("hash: unsupported algorithm '\(PolicyParser.string(item) ?? "\(item)")' (sha1, sha256, md5)")
                }
                if !parsed.contains(algorithm) { parsed.append(algorithm) }
            }
            algorithms = parsed
        }
        return HashAction(field: field, maxFileSize: maxFileSize, algorithms: algorithms)
    }
}

/// A digest the `hash` action computes. Names and output form follow Datadog's hash resolver:
/// `sha256:<lowercase hex>`.
public enum HashAlgorithm: String, CaseIterable, Sendable {
    case sha1
    case sha256
    case md5
}
