/// `kill:` action: the signal and its scope, as Datadog's `KillDefinition` spells them.
///
/// ```yaml
/// actions:
///   - kill:
///       signal: SIGKILL            # required, as in Datadog (which has no default signal)
///       scope: container           # process (default) or container
///       disable_executable_disarmer: true
/// ```
///
/// `signal` takes Datadog's names (`SIGKILL`) and, beyond Datadog, the name without `SIG` (`KILL`,
/// any case) or the number (`9`, 1...64 for the real-time signals). `ProcessKiller` runs it.
public struct KillAction: Sendable, Equatable {
    /// Which processes receive the signal.
    public enum Scope: String, Sendable {
        /// The event's process.
        case process
        /// Every process of the event's container.
        case container
    }

    /// The signal number (Linux x86_64 numbering).
    public let signal: Int32
    /// The canonical name written in reports (`SIGKILL`, `SIGRTMIN+3`).
    public let signalName: String
    public let scope: Scope
    /// `disable_container_disarmer` / `disable_executable_disarmer`: this rule's kills skip that safeguard.
    public let disableContainerDisarmer: Bool
    public let disableExecutableDisarmer: Bool

    public init(signal: Int32, scope: Scope = .process, disableContainerDisarmer: Bool = false,
                disableExecutableDisarmer: Bool = false) {
        self.signal = signal
        self.signalName = AgentCore.signalName(UInt32(max(0, signal)))
        self.scope = scope
        self.disableContainerDisarmer = disableContainerDisarmer
        self.disableExecutableDisarmer = disableExecutableDisarmer
    }

    static let keys: Set<String> = ["signal", "scope", "disable_container_disarmer", "disable_executable_disarmer"]

    /// Parses `kill:`'s mapping. Unknown keys are errors: a misspelt option would otherwise change
    /// what the response does without a word.
    static func parse(_ definition: [String: Any]) throws -> KillAction {
        if let unknown = definition.keys.filter({ !keys.contains($0) }).sorted().first {
            throw ActionError("kill: unknown option '\(unknown)' (known: \(keys.sorted().joined(separator: ", ")))")
        }
        guard let raw = definition["signal"] else {
            throw ActionError("kill: a signal has to be specified (for example signal: SIGKILL)")
        }
        guard let signal = signalNumber(raw) else {
            throw ActionError("kill: unsupported signal '\(PolicyParser.string(raw) ?? "\(raw)")' (a name such as SIGKILL or SIGTERM, or a number 1...64)")
        }
        var scope = Scope.process
        if let rawScope = definition["scope"] {
            guard let text = rawScope as? String, let s = Scope(rawValue: text) else {
                throw ActionError("kill: unsupported scope '\(PolicyParser.string(rawScope) ?? "\(rawScope)")' (process or container)")
            }
            scope = s
        }
        return KillAction(signal: signal, scope: scope,
                          disableContainerDisarmer: try flag(definition, "disable_container_disarmer"),
                          disableExecutableDisarmer: try flag(definition, "disable_executable_disarmer"))
    }

    private static func flag(_ definition: [String: Any], _ key: String) throws -> Bool {
        guard let raw = definition[key] else { return false }
        guard let value = raw as? Bool else { throw ActionError("kill: \(key) must be true or false") }
        return value
    }

    /// `SIGKILL`, `KILL`, `sigkill`, `9` or 9 to 9; nil for anything else (0, the null signal, included:
    /// it would signal nothing).
    public static func signalNumber(_ raw: Any) -> Int32? {
        if raw is Bool { return nil }
        if let n = raw as? Int { return (1...64).contains(n) ? Int32(n) : nil }
        guard let text = raw as? String else { return nil }
        if let n = Int(text) { return (1...64).contains(n) ? Int32(n) : nil }
        var name = text.uppercased()
        if !name.hasPrefix("SIG") { name = "SIG" + name }
        // Index 0 of the table is the null signal's placeholder name.
        for (number, known) in signalNameTable.enumerated().dropFirst() where known.description == name {
            return Int32(number)
        }
        return nil
    }
}
