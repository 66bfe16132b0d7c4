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

    @Option(name: .customLong("config"), help: "Configuration file (default \(AgentConfigFile.defaultPath) when it exists); flags override its settings.")
    var config: String?

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

    @Option(name: .customLong("rate-limit"), help: "Matches per second a rule without 'every' may write (default \(Int(RuleRateLimiter.defaultRatePerSecond))); the rest are counted as held back.")
    var rateLimit: Int?

    @Option(name: .customLong("rate-limit-burst"), help: "Matches a rule without 'every' may write at once before its rate applies (default \(Int(RuleRateLimiter.defaultBurst))).")
    var rateLimitBurst: Int?

    @Option(name: .customLong("metrics-listen"), help: "Serve Prometheus metrics at http://HOST:PORT/metrics (e.g. 127.0.0.1:9477; a loopback address unless --metrics-allow-remote).")
    var metricsListen: String?

    @Flag(name: .customLong("metrics-allow-remote"), help: "Let --metrics-listen bind an address other than loopback.")
    var metricsAllowRemote = false

    @Option(name: .customLong("metrics-textfile"), help: "Write the metrics to this file every 10 s (node_exporter's textfile collector; name it *.prom).")
    var metricsTextfile: String?
    @Option(name: .customLong("output"), help: "Where the lines go: stdout (default) or file:PATH (repeatable: every output gets every line).")
    var outputSpecs: [String] = []

    @Option(name: .customLong("format"), help: "json (one JSON object per line, default) or compact (one short line per event, for a terminal).")
    var format: String = "json"

    @Option(name: .customLong("output-max-size"), help: "Rotate a file output before it grows past this many bytes (default \(OutputSettings.defaultMaxSize); 0: never).")
    var outputMaxSize: Int?

    @Option(name: .customLong("output-max-files"), help: "Rotated files a file output keeps: PATH.1 … PATH.N (default \(OutputSettings.defaultMaxFiles)).")
    var outputMaxFiles: Int?

    /// The outputs these flags name.
    var outputSettings: OutputSettings {
        OutputSettings(specs: outputSpecs.isEmpty ? [.stdout] : outputSpecs.compactMap(OutputSpec.init),
                       format: OutputFormat(rawValue: format) ?? .json,
                       maxSize: UInt64(outputMaxSize ?? Int(OutputSettings.defaultMaxSize)),
                       maxFiles: outputMaxFiles ?? OutputSettings.defaultMaxFiles)
    }

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
        for (name, value) in [("--rate-limit", rateLimit), ("--rate-limit-burst", rateLimitBurst)] {
            if let value, !(1...1_000_000).contains(value) {
                throw ValidationError("invalid \(name) \(value): between 1 and 1000000")
            }
        }
        if let config, config.isEmpty { throw ValidationError("--config needs a file") }
        if let metricsListen {
            do { _ = try MetricsAddress.parse(metricsListen, allowRemote: metricsAllowRemote) } catch { throw ValidationError("\(error)") }
        }
        if let metricsTextfile, metricsTextfile.isEmpty { throw ValidationError("--metrics-textfile needs a file") }
        var seenOutputs: [OutputSpec] = []
        for text in outputSpecs {
            guard let spec = OutputSpec(text) else { throw ValidationError("invalid --output '\(text)': use stdout or file:PATH") }
            guard !seenOutputs.contains(spec) else { throw ValidationError("--output '\(text)' given twice") }
            seenOutputs.append(spec)
        }
        guard OutputFormat(rawValue: format) != nil else { throw ValidationError("unknown format '\(format)': use json or compact") }
        if let outputMaxSize, outputMaxSize < 0 { throw ValidationError("invalid --output-max-size \(outputMaxSize): 0 or more bytes") }
        if let outputMaxFiles, !(0...1000).contains(outputMaxFiles) {
            throw ValidationError("invalid --output-max-files \(outputMaxFiles): between 0 and 1000")
        }
    }

    /// The policies, loader options, rate limits and log settings these arguments give, which a
    /// reload may change, and the settings only a restart applies.
    var reloadableSettings: ReloadableSettings {
        // --all-events alone is the tracer: every event, no rules.
        let named = !policies.isEmpty || !policyDirectories.isEmpty
        return ReloadableSettings(
            policies: allEvents && !named ? nil : PolicySources(policies: policies, directories: policyDirectories),
            loaderOptions: PolicyLoader.Options(compatibilityVersion: agentVersion ?? AgentCompatibility.current),
            rateLimit: RuleRateLimiter.Defaults(ratePerSecond: Double(rateLimit ?? Int(RuleRateLimiter.defaultRatePerSecond)),
                                                burst: Double(rateLimitBurst ?? Int(RuleRateLimiter.defaultBurst))),
            logLevel: Log.Level(name: logLevel) ?? .info, logFormat: Log.Format(rawValue: logFormat) ?? .text,
            restartOnly: ["all_events=\(allEvents)", "rules=\(allEvents && !named ? "none" : "some")", "bpf_object=\(bpfObject ?? "embedded")",
                          "scrubbing.enabled=\(!noScrub)", "scrubbing.words=\(scrubWords)", "scrubbing.envs_with_value=\(envsWithValue)",
                          "metrics.listen=\(metricsListen ?? "-")", "metrics.allow_remote=\(metricsAllowRemote)", "metrics.textfile=\(metricsTextfile ?? "-")",
                          "outputs=\(outputSpecs)", "output.format=\(format)", "output.max_size=\(outputMaxSize.map(String.init) ?? "default")",
                          "output.max_files=\(outputMaxFiles.map(String.init) ?? "default")"])
    }

    func run() throws {
        let settings = reloadableSettings
        Log.configure(level: settings.logLevel, format: settings.logFormat)
        var configReload: ConfigReload?
        if let file = StartupConfiguration.file {
            for warning in file.warnings { Log.warning("config: \(warning)") }
            Log.info("config: \(file.path): \(file.settings.count) settings")
            configReload = ConfigReload(path: file.path, userArguments: StartupConfiguration.userArguments)
        }
        let runner = AgentRunner(
            source: bpfObject.map { BPFObjectSource.file($0) } ?? .embedded, writeAllEvents: allEvents, settings: settings,
            scrubbing: scrubbing, configReload: configReload,
            metricsListen: try metricsListen.map { try MetricsAddress.parse($0, allowRemote: metricsAllowRemote) }, metricsTextfile: metricsTextfile,
            outputs: outputSettings)
        do {
            try runner.run()
        } catch let error as ProbeLoadError {
            Log.error(error.description)
            throw ExitCode.failure
        } catch let error as OutputError {
            Log.error(error.description)
            throw ExitCode.failure
        } catch let error as MetricsError {
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
