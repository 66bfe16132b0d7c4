/// `set:` action: assigns a variable. (Skeleton: filled in by the variables work.)
public struct SetAction {
    public let name: String

    /// Parses and compiles `set:`'s mapping.
    static func compile(_ definition: [String: Any], compiler: ExpressionCompiler) throws -> SetAction {
        throw ActionError("set actions are not supported yet")
    }
}
