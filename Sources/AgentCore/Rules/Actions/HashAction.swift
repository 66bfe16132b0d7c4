/// `hash:` action: which digests of the event's file. (Skeleton: filled in by the hash work.)
public struct HashAction {
    /// Parses `hash:`'s mapping (often empty: `hash: {}`).
    static func parse(_ definition: [String: Any]) throws -> HashAction {
        throw ActionError("hash actions are not supported yet")
    }
}
