import AgentCore
import ArgumentParser
import Foundation

/// `csm-agent config check [FILE]`: the configuration file as `run` would read it, without starting.
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Validate the agent's configuration file.",
        subcommands: [Check.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check",
            abstract: "Validate a configuration file and the policies it names; exit 0 when both are usable.",
            discussion: "Unknown keys are warnings (exit 0); a wrong type or value, an unreadable file or a policy that fails to load is an error (exit 1).")

        @Argument(help: "The file (default \(AgentConfigFile.defaultPath)).")
        var file: String = AgentConfigFile.defaultPath

        func run() throws {
            let config: AgentConfigFile
            do {
                config = try AgentConfigFile.load(path: file)
            } catch {
                fputs("csm-agent: \(error)\n", stderr)
                throw ExitCode.failure
            }
            for warning in config.warnings { fputs("warning: \(warning)\n", stderr) }
            let command: RunCommand
            do {
                command = try RunCommand.parse(config.arguments(before: []))
            } catch {
                let message = RunCommand.message(for: error).split(whereSeparator: \.isNewline).first.map(String.init) ?? "\(error)"
                fputs("csm-agent: \(file): \(message)\n", stderr)
                throw ExitCode.failure
            }
            let settings = command.reloadableSettings
            var policySummary = "no policy (all_events alone)"
            if let policies = settings.policies {
                let loaded = policies.load(options: settings.loaderOptions)
                for failure in loaded.failures { fputs("csm-agent: \(file): policy: \(failure)\n", stderr) }
                if !loaded.failures.isEmpty { throw ExitCode.failure }
                let loadedRules = loaded.result.reports.filter { $0.status == .loaded }.count
                policySummary = "\(loaded.files.count) policy files, \(loadedRules) rules loaded"
            }
            print("\(file): ok: \(config.settings.count) settings, \(config.warnings.count) warnings; \(policySummary)")
        }
    }
}
