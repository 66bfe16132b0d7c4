/// `kill:` action: the signal and its scope. (Skeleton: filled in by the kill work.)
public struct KillAction {
    /// Parses `kill:`'s mapping.
    static func parse(_ definition: [String: Any]) throws -> KillAction {
        throw ActionError("kill actions are not supported yet")
    }
}
