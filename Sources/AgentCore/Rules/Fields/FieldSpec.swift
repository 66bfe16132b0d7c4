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

/// What a field's value depends on, so the rule engine knows which results it may keep per process.
enum FieldScope {
    /// The event itself (its payload, time, return value): read anew for each event.
    case event
    /// Only the event's own process entry (`process.comm`, `container.id`): constant while the
    /// entry's `revision` is.
    case process
    /// Only the event's process's parent and its ancestors (`process.parent.*`,
    /// `process.ancestors.*`): constant while every entry of that chain keeps its `revision`.
    case chain
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
    let scope: FieldScope
    let accessor: FieldAccessor
    /// For environment-name fields of one process (`exec.envs`, not `process.ancestors.envs`): the
    /// list whose elements (`NAME=value`) the names come from, so that the approvers can keep their
    /// results per list (`EnvironmentMarkCache`).
    var environment: ((EvalContext) -> StringList?)? = nil
    /// For fields derived from another one (`exec.args_flags` from the arguments): what their
    /// values are a function of (see `FieldDeterminant`).
    var determinant: FieldDeterminant? = nil
}

/// The field whose values determine a derived field's values: equal values of `name`, equal values
/// of the derived field. The approvers' value cache keys a derived field by it (`EventValueMarkCache`),
/// so that the arguments, their flags and their options are one list in the key, read once.
struct FieldDeterminant {
    let name: String
    let read: (EvalContext, StringBody) -> Bool
}
