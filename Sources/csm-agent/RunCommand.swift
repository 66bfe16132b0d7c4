import ArgumentParser

/// The agent itself (default subcommand).
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Run the agent (default).")

    @Flag(name: .customLong("all-events"), help: "Write every captured event (agent.rule_id = all_events).")
    var allEvents = false

    @Option(name: .customLong("bpf-object"), help: "Load this BPF object instead of the embedded one.")
    var bpfObject: String?

    @Option(name: .customLong("log-level"), help: "error, warning, info or debug.")
    var logLevel: String = "info"

    func run() throws {
        throw ValidationError("not implemented yet")
    }
}
