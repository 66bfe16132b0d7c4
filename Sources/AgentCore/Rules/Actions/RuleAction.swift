/// One action of a rule (`actions:` in a policy), compiled when the policy loads and run by the
/// live pipeline each time the rule matches (after its `filter`, when it has one).
public struct RuleAction {
    public enum Kind {
        /// Sets a variable that later expressions read as `${name}`, `${process.name}` or `${container.name}`.
        case set(SetAction)
        /// Sends a signal to the event's process or to every process of its container.
        case kill(KillAction)
        /// Hashes the event's file and writes `file.hashes`.
        case hash(HashAction)
    }

    public let kind: Kind
    /// `filter:`: the action runs only when this holds for the matching event (nil: always).
    public let filter: Predicate?

    public init(kind: Kind, filter: Predicate?) {
        self.kind = kind
        self.filter = filter
    }

    /// Whether the action runs for the event the context points at: its `filter` holds (or it has none).
    @inline(__always)
    public func filterHolds(_ context: EvalContext) -> Bool {
        filter.map { $0(context) } ?? true
    }

    /// The action's name as policies spell it (`set`, `kill`, `hash`).
    public var name: String {
        switch kind {
        case .set: return "set"
        case .kill: return "kill"
        case .hash: return "hash"
        }
    }
}

/// Why an action definition cannot be used; the rule is reported in error with this text.
public struct ActionError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension CompiledRule {
    /// Runs the rule's `set` actions whose filter holds, in policy order, on the context's store.
    /// Call it from `RuleSet.forEachMatch`'s callback, while the context still points at the event
    /// (other actions, `kill` and `hash`, are the pipeline's). Does nothing for a rule without them.
    @inline(__always)
    public func runSetActions(context: EvalContext) {
        if !hasSetActions { return }
        for action in actions {
            if case .set(let set) = action.kind, action.filterHolds(context) { context.variables.apply(set, context: context) }
        }
    }
}
