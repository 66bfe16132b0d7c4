import ArgumentParser
import Glibc
import Probes

/// The agent itself (default subcommand).
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Run the agent (default).")

    @Flag(name: .customLong("all-events"), help: "Write every captured event (agent.rule_id = all_events).")
    var allEvents = false

    @Option(name: .customLong("bpf-object"), help: "Load this BPF object instead of the embedded one.")
    var bpfObject: String?

    @Option(name: .customLong("log-level"), help: "error, warning, info or debug.")
    var logLevel: String = "info"

    func validate() throws {
        guard Log.Level(name: logLevel) != nil else {
            throw ValidationError("unknown log level '\(logLevel)': use error, warning, info or debug")
        }
    }

    func run() throws {
        // Rules do not drive the live pipeline yet (`csm-agent policy evaluate` runs them offline):
        // running without --all-events would write nothing, which must not look like a quiet host.
        guard allEvents else {
            throw ValidationError("rules do not drive the live pipeline yet: run with --all-events (and `csm-agent policy evaluate` to apply rules to its output)")
        }
        Log.threshold = Log.Level(name: logLevel) ?? .info
        let runner = AgentRunner(
            source: bpfObject.map { BPFObjectSource.file($0) } ?? .embedded, writeAllEvents: allEvents)
        do {
            try runner.run()
        } catch let error as ProbeLoadError {
            Log.error(error.description)
            throw ExitCode.failure
        } catch let error as OutputError {
            Log.error(error.description)
            throw ExitCode.failure
        } catch {
            Log.error("\(error)")
            throw ExitCode.failure
        }
    }
}
