/// The agent's version, written in every event's `agent.version`.
enum AgentVersion {
    static let current = "0.1.0"
}
