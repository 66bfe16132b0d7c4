import ArgumentParser
import Foundation

/// `csm-agent`: runs the agent by default; `policy`, `fields` and `config` are offline tools.
struct CSMAgent: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "csm-agent",
        abstract: "eBPF runtime security agent: kernel events to SECL rules to JSON lines on stdout.",
        subcommands: [RunCommand.self, PolicyCommand.self, FieldsCommand.self, ConfigCommand.self, SelfTestCommand.self],
        defaultSubcommand: RunCommand.self
    )
}

/// The first word that names no subcommand where one is expected, with the names expected there.
/// With `run` as the default subcommand, ArgumentParser would hand a mistyped subcommand to `run`
/// and answer with run's usage. A word that starts with `-` ends the walk (`run`'s options).
func unknownSubcommand(_ arguments: [String]) -> (word: String, expected: [String])? {
    var command: ParsableCommand.Type = CSMAgent.self
    for word in arguments {
        let subcommands = command.configuration.subcommands
        guard !subcommands.isEmpty, !word.hasPrefix("-"), word != "help" else { return nil }
        guard let next = subcommands.first(where: { $0._commandName == word }) else {
            return (word, subcommands.map { $0._commandName })
        }
        command = next
    }
    return nil
}

/// A usage error as one line on stderr (`csm-agent: unknown option '--bogus'`), exit 64
/// (EX_USAGE, ArgumentParser's code for validation failures); help and clean exits as ArgumentParser
/// does them.
func exitWithUsageError(_ message: String) -> Never {
    let oneLine = message.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        .filter { !$0.isEmpty }.joined(separator: "; ")
    let text = oneLine.prefix(1).lowercased() + oneLine.dropFirst()
    fputs("csm-agent: \(text)\n", stderr)
    exit(ExitCode.validationFailure.rawValue)
}

/// `run`'s arguments with the configuration file's settings in front of the user's (flags win), or
/// the arguments unchanged for the other subcommands and for help. Exits 78 (EX_CONFIG) with one
/// line when the file cannot be used.
func mergingConfiguration(_ arguments: [String]) -> [String] {
    let isRun = arguments.first.map { $0 == RunCommand._commandName || $0.hasPrefix("-") } ?? true
    let asksForHelp = arguments.contains { ["-h", "--help", "help", "--version"].contains($0) }
    guard isRun, !asksForHelp else { return arguments }
    let leading = arguments.first == RunCommand._commandName ? [RunCommand._commandName] : []
    let userArguments = Array(arguments.dropFirst(leading.count))
    guard let path = StartupConfiguration.configPath(in: userArguments) else { return arguments }
    if path.isEmpty { exitWithUsageError("--config needs a file") }
    do {
        let file = try AgentConfigFile.load(path: path)
        StartupConfiguration.file = file
        StartupConfiguration.userArguments = userArguments
        return leading + file.arguments(before: userArguments)
    } catch {
        fputs("csm-agent: \(error)\n", stderr)
        exit(78)
    }
}

let userArguments = Array(CommandLine.arguments.dropFirst())
if let unknown = unknownSubcommand(userArguments) {
    exitWithUsageError("unknown subcommand '\(unknown.word)' (expected: \(unknown.expected.joined(separator: ", ")))")
}
let arguments = mergingConfiguration(userArguments)
do {
    var command = try CSMAgent.parseAsRoot(arguments)
    try command.run()
} catch {
    let code = CSMAgent.exitCode(for: error)
    // Help, clean exits, ExitCode(n) and the failures a command reported itself.
    if code == .success || error is ExitCode || code != .validationFailure { CSMAgent.exit(withError: error) }
    exitWithUsageError(CSMAgent.message(for: error))
}
