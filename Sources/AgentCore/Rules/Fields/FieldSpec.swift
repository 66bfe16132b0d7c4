/// Value types of SECL.
public enum SECLType: String, Sendable {
    case string
    case int
    case bool
    /// IP address; compared with IP/CIDR literals.
    case ip
    /// Nanoseconds since the epoch; compared with durations as "age" (`now - value`).
    case time
}

/// One SECL field: its name, type, which event type carries it and how to read it.
public struct FieldSpec {
    public let name: String
    public let type: SECLType
    /// True when the field has several values (arrays, iterators): comparisons hold when any value matches.
    public let isArray: Bool
    /// The event type the field belongs to; nil for fields every event has (`process.*`, `container.*`).
    public let eventType: EventType?
    public let description: String
    /// Path fields use path-aware globbing.
    public let isPath: Bool
    /// Fields under `process.ancestors`: comparisons iterate the ancestors.
    public let iteratesAncestors: Bool
    let accessor: FieldAccessor
}
