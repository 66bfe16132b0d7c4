import AgentCore
import Glibc
import Probes
import Serializers

/// A policy that cannot be read or parsed at start-up.
struct PolicyLoadError: Error, CustomStringConvertible {
    var message: String
    var description: String { "cannot load policy: \(message)" }
}

/// Start-up, the drain loop, and the orderly stop.
struct AgentRunner {
    /// How long the loop waits for a wakeup before consuming anyway. The kernel side wakes us only
    /// past a fill threshold, so this bounds the delay of an event on a quiet host.
    static let consumeIntervalMs: Int32 = 20
    static let pruneIntervalNs: UInt64 = 30_000_000_000
    static let lostCheckIntervalNs: UInt64 = 5_000_000_000
    /// Records handled per libbpf call before the loop flushes output and checks for a stop.
    static let recordsPerCall = 16_384
    /// How long the drain after SIGTERM may take, from the signal, before the agent exits anyway:
    /// the probes detach meanwhile (1–3 s here, by the host's load: see `LinkDetacher`), and what
    /// they left is drained after them.
    static let finalDrainNs: UInt64 = 1_700_000_000
    /// How long the stop waits for hashes under way before their lines are written without them.
    static let finalHashWaitNs: UInt64 = 500_000_000

    let source: BPFObjectSource
    let writeAllEvents: Bool
    /// The policies to run (nil when only every event is written: `--all-events` alone), the
    /// loader options, rate limits and log settings: what a reload may change.
    let settings: ReloadableSettings
    /// What the lines hide of arguments and environments (rules see the real values).
    let scrubbing: ScrubbingSettings
    /// The configuration file SIGHUP reads again, when one is in use.
    let configReload: ConfigReload?
    /// Where Prometheus metrics are served (`--metrics-listen`) and written (`--metrics-textfile`).
    var metricsListen: MetricsAddress? = nil
    var metricsTextfile: String? = nil
    /// How often the loop checks whether the process cache shrank enough to give memory back.
    static let trimCheckIntervalNs: UInt64 = 1_000_000_000
    /// Process entries gone since the cache's last high-water mark before `malloc_trim` runs.
    static let trimAfterEvictedEntries = 1_024
    /// How often the loop copies its counters into the metrics.
    static let metricsIntervalNs: UInt64 = 1_000_000_000
    /// Where the lines go, and in which format.
    var outputs = OutputSettings()

    func run() throws {
        AgentSignals.install()
        let serializer = try EventSerializer(scrubbing: scrubbing)
        if scrubbing.enabled {
            Log.info("scrubbing on: \(scrubbing.sensitiveWords.count) sensitive words in arguments, environment written as names "
                     + "but for \(scrubbing.envsWithValue.count) variables")
        } else {
            Log.warning("scrubbing off (--no-scrub): arguments and environment values are written as captured, secrets included")
        }
        // Policies first: a policy that cannot be read is a one-line error before anything is attached.
        var rules: DetectionRules?
        var loadedPolicies: PolicySources.Loaded?
        if let policies = settings.policies {
            let loaded = policies.load(options: settings.loaderOptions)
            if let failure = loaded.failures.first { throw PolicyLoadError(message: failure) }
            PolicySources.logSummary(loaded, verb: "loaded")
            rules = DetectionRules(loaded: loaded, agentVersion: AgentVersion.current, rateLimit: settings.rateLimit)
            loadedPolicies = loaded
        }
        // Metrics next: a port in use is a one-line error before anything is attached.
        let metrics = metricsListen != nil || metricsTextfile != nil ? AgentMetrics() : nil
        let metricsServer = try metricsListen.map { try MetricsServer(address: $0, registry: metrics!.registry) }
        let metricsTextfileWriter = metricsTextfile.map { MetricsTextfileWriter(path: $0, registry: metrics!.registry) }
        var running = settings
        let reloader = settings.policies.map { _ in PolicyReloader() }
        let clock = BootClock()
        let probes = try ProbeLoader.load(source: source, settings: ProbeSettings())
        // A program whose event type another program still captures (a per-syscall tracepoint with a
        // raw-syscall fallback) is an info; a whole event type missing is a warning.
        let missingTypes = Set(probes.unavailableEventTypes)
        for (program, reason) in probes.unavailablePrograms {
            let types = ProbeCatalog.eventTypes(ofProgram: program)
            if types.contains(where: missingTypes.contains) {
                Log.warning("probe \(program) unavailable: \(reason)")
            } else {
                Log.info("probe \(program) not attached (its events come from another probe): \(reason)")
            }
        }
        if !probes.unavailableEventTypes.isEmpty {
            Log.warning("event types unavailable on this kernel: " + probes.unavailableEventTypes.map(\.name).joined(separator: ","))
        }
        // Rules on these load (the rule engine models them) but never match live events.
        Log.info("event types without a probe (modelled for rules and offline evaluation only): "
                 + EventType.allCases.filter { !$0.hasProbe }.map(\.name).joined(separator: ","))

        // The snapshot runs after attaching, so that no process can slip between the two.
        let resolvers = Resolvers(clock: clock)
        let snapshotSize = resolvers.snapshot()
        let output = OutputWriter(outputs: outputs.makeOutputs(), format: outputs.format)
        let pipeline = EventPipeline(
            decoder: RecordDecoder(clock: clock), resolvers: resolvers, output: output, writeAllEvents: writeAllEvents, rules: rules,
            serializer: serializer)
        let ring = try RingBuffer(map: probes.events) { record in pipeline.handle(record) }
        func publishMetrics(extra: [String] = []) {
            metrics?.publish(stats: pipeline.stats, lost: probes.lostCounts(), resolvers: resolvers.stats,
                             current: pipeline.rules?.counts() ?? [], extra: (pipeline.rules == nil ? [] : pipeline.actionCounters) + extra,
                             ringFillBytes: ring.fillBytes, ringCapacity: ring.capacityBytes)
        }
        if let metrics {
            metrics.publishProbes(attached: probes.attachedPrograms.count, unavailablePrograms: probes.unavailablePrograms.map(\.program),
                                  unavailableTypes: missingTypes)
            if let loadedPolicies { metrics.publishPolicies(loadedPolicies) }
            publishMetrics()
            if let metricsServer {
                metricsServer.start()
                Log.info("metrics: serving http://\(metricsServer.address.description)/metrics")
            }
            if let metricsTextfileWriter {
                metricsTextfileWriter.writeOnce()
                metricsTextfileWriter.start()
                Log.info("metrics: writing \(metricsTextfileWriter.path) every \(MetricsTextfileWriter.intervalSeconds) s")
            }
        }

        Log.info("ready: \(probes.attachedPrograms.count) probes attached, \(snapshotSize) processes in snapshot, mode=\(mode(rules)), rules=\(rules?.ruleSet.rules.count ?? 0)")
        SystemdNotify.send("READY=1")

        var lastPrune = BootClock.nowBootNs()
        var lastLostCheck = lastPrune
        var lastMetrics = lastPrune
        var lastTrimCheck = lastPrune
        var cacheHighWater = 0
        // The loop itself pings the watchdog: a loop stuck in a decoder or a blocked output stops
        // the pings, and systemd restarts the agent.
        let watchdogIntervalNs = SystemdNotify.watchdogIntervalNs()
        var lastWatchdog = lastPrune
        if let watchdogIntervalNs { Log.info("systemd watchdog: WATCHDOG=1 every \(watchdogIntervalNs / 1_000_000) ms") }
        var reportedLost: UInt64 = 0
        while AgentSignals.stopRequested == 0 {
            // Caught up: wait for the fill-threshold wakeup or the timer. Budget used up: more is
            // waiting, so flush and go on draining without waiting.
            if try ring.consume(budget: AgentRunner.recordsPerCall) < AgentRunner.recordsPerCall {
                try ring.poll(timeoutMs: AgentRunner.consumeIntervalMs, budget: AgentRunner.recordsPerCall)
            }
            pipeline.completeActions()
            try output.flush()
            if let error = pipeline.outputError { throw error }

            output.report(nowNs: BootClock.nowBootNs())
            if AgentSignals.take(&AgentSignals.reloadRequested) {
                output.reopen()
                if let configReload { running = AgentRunner.reconfigure(running, from: configReload) }
                if let reloader, let sources = running.policies {
                    Log.info("SIGHUP: reloading policies")
                    reloader.request(PolicyReloader.Request(sources: sources, options: running.loaderOptions, rateLimit: running.rateLimit))
                } else {
                    Log.info("SIGHUP: no policy to reload (every event is written)")
                }
            }
            if let (loaded, request) = reloader?.take() {
                if let failure = loaded.failures.first {
                    Log.error("policy reload failed, the previous rules keep running: \(failure)")
                } else {
                    PolicySources.logSummary(loaded, verb: "reloaded")
                    pipeline.replaceRules(DetectionRules(loaded: loaded, agentVersion: AgentVersion.current, rateLimit: request.rateLimit))
                    metrics?.publishPolicies(loaded)
                    Log.info("policies reloaded: \(pipeline.rules?.ruleSet.rules.count ?? 0) rules running")
                }
            }
            if AgentSignals.take(&AgentSignals.statsRequested) {
                Log.info(pipeline.stats.line(lost: probes.lostCounts(), resolvers: resolvers.stats, current: pipeline.rules?.counts() ?? [],
                                         extra: (pipeline.rules == nil ? [] : pipeline.actionCounters) + output.counters))
                output.reopen()
            }
            if AgentSignals.take(&AgentSignals.ignoredReceived) {
                Log.info("SIGUSR2 received and ignored")
            }

            let now = BootClock.nowBootNs()
            if now &- lastPrune >= AgentRunner.pruneIntervalNs {
                lastPrune = now
                clock.refresh()
                let pruned = resolvers.prune()
                if pruned > 0 { Log.debug("pruned \(pruned) processes that exited unseen") }
            }
            if now &- lastTrimCheck >= AgentRunner.trimCheckIntervalNs {
                lastTrimCheck = now
                let live = resolvers.stats.liveProcesses
                cacheHighWater = max(cacheHighWater, live)
                // Freed process entries stay in malloc's arenas otherwise: after a burst of
                // processes exits, the RSS would stay at its peak. Only a net shrink trims, so a
                // steady churn never pays for it.
                if cacheHighWater - live >= AgentRunner.trimAfterEvictedEntries {
                    malloc_trim(0)
                    cacheHighWater = live
                }
            }
            if let watchdogIntervalNs, now &- lastWatchdog >= watchdogIntervalNs {
                lastWatchdog = now
                SystemdNotify.send("WATCHDOG=1")
            }
            if metrics != nil, now &- lastMetrics >= AgentRunner.metricsIntervalNs {
                lastMetrics = now
                publishMetrics(extra: output.counters)
            }
            if now &- lastLostCheck >= AgentRunner.lostCheckIntervalNs {
                lastLostCheck = now
                let lost = probes.lostCounts().values.reduce(0, +)
                if lost > reportedLost {
                    Log.warning("ring buffer full: \(lost - reportedLost) events lost (total lost=\(lost))")
                    reportedLost = lost
                }
            }
        }

        SystemdNotify.send("STOPPING=1")
        // Stop the producers while draining: detaching takes a while (see `LinkDetacher`), and the
        // ring buffer keeps filling until it is done. Then what is left is bounded by the ring's
        // size: drain it, bounded in time. What the deadline leaves unread is counted.
        let drainDeadline = BootClock.nowBootNs() &+ AgentRunner.finalDrainNs
        let detacher = probes.startDetaching()
        while !detacher.isFinished {
            if try ring.consume(budget: AgentRunner.recordsPerCall) < AgentRunner.recordsPerCall {
                try ring.poll(timeoutMs: 5, budget: AgentRunner.recordsPerCall)
            }
            try output.flush()
        }
        while try ring.consume(budget: AgentRunner.recordsPerCall) == AgentRunner.recordsPerCall,
              BootClock.nowBootNs() < drainDeadline {
            try output.flush()
        }
        let unread = try ring.discardAvailable()
        if unread > 0 {
            Log.warning("stop: \(unread) events still in the ring buffer after the \(AgentRunner.finalDrainNs / 1_000_000) ms drain were not handled")
        }
        pipeline.finishActions(timeoutNs: AgentRunner.finalHashWaitNs)
        try output.flush()
        output.finish()
        let counters = (pipeline.rules == nil ? [] : pipeline.actionCounters) + ["unread_at_stop=\(unread)"] + output.counters
        publishMetrics(extra: ["unread_at_stop=\(unread)"] + output.counters)
        metricsTextfileWriter?.writeOnce()
        Log.info(pipeline.stats.line(lost: probes.lostCounts(), resolvers: resolvers.stats, current: pipeline.rules?.counts() ?? [],
                                     extra: counters))
    }

    /// The configuration file read again: the settings to run with from now on, `running` kept
    /// whole when the file cannot be used. Settings that need a restart keep their running value.
    static func reconfigure(_ running: ReloadableSettings, from reload: ConfigReload) -> ReloadableSettings {
        switch reload.reread() {
        case .failure(let error):
            Log.error("config reload failed, the running configuration stays: \(error)")
            return running
        case .success(var next):
            let waiting = zip(running.restartOnly, next.restartOnly).filter { $0 != $1 }.map(\.1)
            if !waiting.isEmpty {
                Log.warning("config: \(waiting.joined(separator: " ")) changed in \(reload.path): takes effect at the next start")
            }
            if running.policies == nil || next.policies == nil { next.policies = running.policies }
            next.restartOnly = running.restartOnly
            Log.configure(level: next.logLevel, format: next.logFormat)
            Log.info("config: \(reload.path) read again")
            return next
        }
    }

    private func mode(_ rules: DetectionRules?) -> String {
        switch (writeAllEvents, rules != nil) {
        case (true, true): return "all-events+rules"
        case (true, false): return "all-events"
        case (false, _): return "rules"
        }
    }
}

/// glibc's `malloc_trim(3)`: `<malloc.h>` is not part of Swift's Glibc module. Its C signature is
/// `int malloc_trim(size_t pad)`, which this declaration matches on every 64-bit Linux ABI.
@_silgen_name("malloc_trim")
@discardableResult
private func malloc_trim(_ pad: Int) -> Int32
