import AgentCore
import ArgumentParser
import Glibc
import Probes
import Serializers

/// The agent itself (default subcommand): rule matches on stdout, with the embedded default policy
/// unless policies are named.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the agent (default): one JSON line per rule match on stdout.",
        discussion: """
            Without --policy or --policy-dir the embedded default policy runs. --policy default names \
            it, so that your own policies can be added on top. SIGHUP reloads every policy; a policy \
            that fails to load at reload leaves the running rules in place.
            """)

    @Flag(name: .customLong("all-events"), help: "Write every captured event (agent.rule_id = all_events); with --policy or --policy-dir, rule matches are written as well.")
    var allEvents = false

    @Option(name: .customLong("policy"), help: "Policy file to run (repeatable, loaded in order); 'default' is the embedded policy.")
    var policies: [String] = []

    @Option(name: .customLong("policy-dir"), help: "Run every *.policy and *.yaml file of this directory, in name order (repeatable).")
    var policyDirectories: [String] = []

    @Option(name: .customLong("agent-version"), help: "Compatibility version for agent_version constraints (default \(AgentCompatibility.defaultVersion), or $\(AgentCompatibility.environmentVariable)).")
    var agentVersion: String?

    @Option(name: .customLong("bpf-object"), help: "Load this BPF object instead of the embedded one.")
    var bpfObject: String?

    @Option(name: .customLong("log-level"), help: "error, warning, info or debug.")
    var logLevel: String = "info"

    @Option(name: .customLong("log-format"), help: "text (`csm-agent level=info msg=...`) or json (one object per line) on stderr.")
    var logFormat: String = "text"

    @Flag(name: .customLong("no-scrub"), help: "Write arguments and environment variables as captured, secrets included (forensics). Scrubbing is on by default.")
    var noScrub = false

    @Option(name: .customLong("scrub-word"), help: "Also scrub the values of arguments matching this word (repeatable; letters, digits, '_', '*' as a wildcard: '*vault_key*').")
    var scrubWords: [String] = []

    @Option(name: .customLong("env-with-value"), help: "Also write this environment variable with its value (repeatable; the others are written as names).")
    var envsWithValue: [String] = []

    /// Datadog's defaults with what the flags add.
    var scrubbing: ScrubbingSettings {
        ScrubbingSettings(enabled: !noScrub, sensitiveWords: ScrubbingSettings.defaultSensitiveWords + scrubWords,
                          envsWithValue: ScrubbingSettings.defaultEnvsWithValue + envsWithValue)
    }

    func validate() throws {
        guard Log.Level(name: logLevel) != nil else {
            throw ValidationError("unknown log level '\(logLevel)': use error, warning, info or debug")
        }
        guard Log.Format(rawValue: logFormat) != nil else {
            throw ValidationError("unknown log format '\(logFormat)': use text or json")
        }
        if let v = agentVersion, SemVer(v) == nil { throw ValidationError("invalid --agent-version '\(v)'") }
        do {
            _ = try ArgumentScrubber(words: scrubWords)
        } catch let error as ScrubbingWordError {
            throw ValidationError("invalid --scrub-word: \(error)")
        }
        if let bad = envsWithValue.first(where: { $0.isEmpty || $0.contains("=") }) {
            throw ValidationError("invalid --env-with-value '\(bad)': a variable name, without '='")
        }
    }

    func run() throws {
        Log.configure(level: Log.Level(name: logLevel) ?? .info, format: Log.Format(rawValue: logFormat) ?? .text)
        // --all-events alone is the tracer: every event, no rules.
        let named = !policies.isEmpty || !policyDirectories.isEmpty
        let sources = allEvents && !named ? nil : PolicySources(policies: policies, directories: policyDirectories)
        let runner = AgentRunner(
            source: bpfObject.map { BPFObjectSource.file($0) } ?? .embedded, writeAllEvents: allEvents, policies: sources,
            loaderOptions: PolicyLoader.Options(compatibilityVersion: agentVersion ?? AgentCompatibility.current),
            scrubbing: scrubbing)
        do {
            try runner.run()
        } catch let error as ProbeLoadError {
            Log.error(error.description)
            throw ExitCode.failure
        } catch let error as OutputError {
            Log.error(error.description)
            throw ExitCode.failure
        } catch let error as PolicyLoadError {
            Log.error(error.description)
            throw ExitCode.failure
        } catch {
            Log.error("\(error)")
            throw ExitCode.failure
        }
    }
}
