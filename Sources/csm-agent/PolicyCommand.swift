import AgentCore
import ArgumentParser
import Foundation

/// `csm-agent policy check|evaluate`: offline tools over policy files. The logic is in AgentCore
/// (`PolicyTools`); this file only parses arguments and does I/O.
struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy", abstract: "Check policies and evaluate them on recorded events.",
        subcommands: [Check.self, Evaluate.self])

    struct Options: ParsableArguments {
        @Option(name: .customLong("agent-version"), help: "Compatibility version for agent_version constraints (default \(AgentCompatibility.defaultVersion), or $\(AgentCompatibility.environmentVariable)).")
        var agentVersion: String?

        @Option(name: .customLong("kernel-release"), help: "Kernel release used by kernel.version filters (default: this host's).")
        var kernelRelease: String?

        func loaderOptions() throws -> PolicyLoader.Options {
            if let v = agentVersion, SemVer(v) == nil { throw ValidationError("invalid --agent-version '\(v)'") }
            return PolicyLoader.Options(
                compatibilityVersion: agentVersion ?? AgentCompatibility.current, host: HostFacts(kernelRelease: kernelRelease))
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Give every rule a status: loaded, disabled, filtered, unsupported or error.")

        @Flag(help: "Print {\"rules\": [{\"id\", \"status\", \"reason\"}, ...]}.")
        var json = false

        @OptionGroup var options: Options

        @Argument(help: "Policy files, loaded together in order.")
        var files: [String]

        func run() throws {
            let result = PolicyTools.check(paths: files, json: json, options: try options.loaderOptions())
            for w in result.warnings { FileHandle.standardError.write(Data("warning: \(w)\n".utf8)) }
            print(result.output)
            if result.exitCode != 0 { throw ExitCode(result.exitCode) }
        }
    }

    struct Evaluate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Evaluate rules on events in the agent's JSON format, one per line; prints {\"matched\": [...]} per event.")

        @Option(name: .customLong("policy"), help: "Policy file (repeatable).")
        var policies: [String] = []

        @OptionGroup var options: Options

        @Argument(help: "File of JSON events, one per line, or - for standard input (default).")
        var events: String = "-"

        func run() throws {
            guard !policies.isEmpty else { throw ValidationError("at least one --policy is required") }
            let evaluator = PolicyTools.Evaluator(paths: policies, options: try options.loaderOptions())
            for e in evaluator.load.fileErrors { FileHandle.standardError.write(Data("error: \(e)\n".utf8)) }
            let input: FileHandle
            if events == "-" {
                input = .standardInput
            } else {
                guard let h = FileHandle(forReadingAtPath: events) else { throw ValidationError("cannot open \(events)") }
                input = h
            }
            let status = evaluator.run(
                read: {
                    let chunk = input.readData(ofLength: 1 << 16)
                    return chunk.isEmpty ? nil : [UInt8](chunk)
                },
                output: { print($0) },
                error: { FileHandle.standardError.write(Data(($0 + "\n").utf8)) })
            if status != 0 { throw ExitCode(status) }
        }
    }
}
