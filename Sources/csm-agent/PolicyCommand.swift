import ArgumentParser

/// `csm-agent policy check|evaluate` (filled in by the rule-engine work).
struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "policy", abstract: "Check policies and evaluate them on recorded events.")
}
