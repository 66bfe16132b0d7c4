import ArgumentParser

/// `csm-agent`: runs the agent by default; `policy` and `fields` are offline tools.
struct CSMAgent: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "csm-agent",
        abstract: "eBPF runtime security agent: kernel events to SECL rules to JSON lines on stdout.",
        subcommands: [RunCommand.self, PolicyCommand.self, FieldsCommand.self],
        defaultSubcommand: RunCommand.self
    )
}

CSMAgent.main()
