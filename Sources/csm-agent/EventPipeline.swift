import AgentCore
import Probes
import Serializers

/// Decode, resolve, match, serialize: what happens to each ring-buffer record, in that order.
///
/// With rules, each (event, matching rule) writes one line, in evaluation order; an event that
/// matches nothing writes nothing unless every event is written too (`--all-events`).
final class EventPipeline {
    private let decoder: RecordDecoder
    let resolvers: Resolvers
    private let serializer: EventSerializer
    private let allEventsContext: AgentContext
    private let writeAllEvents: Bool
    /// The running rules; nil when only every event is written. Swapped by `replaceRules`.
    private(set) var rules: DetectionRules?
    private let evalContext = EvalContext()
    /// Kill and hash actions, and the lines waiting for a hash.
    let actions: RuleActionRunner
    let output: OutputWriter
    var stats = PipelineStats()
    /// Set when stdout can no longer be written; the loop stops on it.
    private(set) var outputError: Error?

    init(decoder: RecordDecoder, resolvers: Resolvers, output: OutputWriter, writeAllEvents: Bool, rules: DetectionRules?,
         serializer: EventSerializer) {
        self.decoder = decoder
        self.serializer = serializer
        self.resolvers = resolvers
        self.output = output
        self.writeAllEvents = writeAllEvents
        self.rules = rules
        actions = RuleActionRunner(processes: resolvers.processes)
        allEventsContext = AgentContext(version: AgentVersion.current)
    }

    /// Puts `new` in place of the running rules, between two records; the old rules' counts go to the stats.
    func replaceRules(_ new: DetectionRules) {
        if let old = rules { stats.addRuleCounts(old.counts()) }
        rules = new
        // A new policy starts with every kill armed and no variable set, as with Datadog's agent (a
        // variable may even change type from one policy to the next).
        actions.killer.reset()
        evalContext.variables = VariableStore()
    }

    /// Writes the rule lines whose hashes are done (called every loop iteration).
    func completeActions() {
        actions.completeHashes { event, context in writeLine(event, context) }
        do { try output.flushIfFull() } catch { outputError = error }
    }

    /// At shutdown: the lines still waiting for a hash are written, with what the hasher has by then.
    func finishActions(timeoutNs: UInt64) {
        actions.finish(timeoutNs: timeoutNs) { event, context in writeLine(event, context) }
    }

    /// The actions' counters for the stats line (`kills_performed=.. hashes_done=..`).
    var actionCounters: [String] {
        let k = actions.killer.counters
        let h = actions.hasher.counters
        return ["kills_performed=\(k.performed + k.partiallyPerformed)", "kills_disarmed=\(k.disarmed)", "kills_refused=\(k.refused)",
                "kills_failed=\(k.failed)", "hashes_submitted=\(h.submitted)", "hashes_done=\(h.hashed)", "hash_cache_hits=\(h.cacheHits)",
                "hash_rate_limited=\(h.rateLimited)", "hash_errors=\(h.errors)"] + variableCounters
    }

    /// The variable store's counters, `key=value` (every loss of a value is counted there).
    private var variableCounters: [String] {
        let v = evalContext.variables.stats
        return ["variable_sets=\(v.sets)", "variable_process_images=\(v.processImages)", "variable_containers=\(v.containers)",
                "variable_bytes=\(v.bytes)",
                "variable_evictions=\(v.processEvictions + v.exitedProcessEvictions + v.containerEvictions + v.cgroupEvictions + v.byteEvictions)",
                "variable_values_dropped=\(v.arrayValuesDropped + v.valuesTooLong + v.valuesOverBudget)"]
    }

    private func writeLine(_ event: Event, _ context: AgentContext) {
        guard outputError == nil else { return }
        output.append(event, context: context, serializer: serializer)
        stats.written &+= 1
        stats.ruleLines &+= 1
    }

    func handle(_ record: UnsafeRawBufferPointer) {
        stats.received &+= 1
        var event: Event
        do {
            event = try decoder.decode(record)
        } catch {
            stats.decodeErrors &+= 1
            Log.debug("undecodable record: \(error)")
            return
        }
        stats.perType[Int(event.type.rawValue)] &+= 1
        resolvers.resolve(&event)
        guard outputError == nil else { return }
        if writeAllEvents {
            output.append(event, context: allEventsContext, serializer: serializer)
            stats.written &+= 1
        }
        if let rules {
            withUnsafePointer(to: &event) { evaluate($0, rules) }
            // An exited process's variables go with it (its children keep what they inherited).
            if event.type == .exit, let process = event.process { evalContext.variables.processExited(process) }
        }
        do { try output.flushIfFull() } catch { outputError = error }
    }

    private func evaluate(_ event: UnsafePointer<Event>, _ rules: DetectionRules) {
        let context = evalContext
        rules.ruleSet.forEachMatch(at: event, context: context) { rule in
            let index = rule.index
            rules.count(index)
            // Variables first, as Datadog's agent sets them: the rules after this one see them.
            rule.runSetActions(context: context)
            // Responses run on every match: neither a rate limit nor `silent` may hold back a kill.
            var reports: [[UInt8]] = []
            if rules.hasKill[index] {
                actions.runKills(rule, reportedID: rules.contexts[index].ruleID, event: event, context: context, reports: &reports)
            }
            // A silent rule writes nothing, so nothing of it is held back.
            if rule.definition.silent { return }
            guard rules.admit(index, nowNs: event.pointee.bootTimeNs, context: context) else { return }
            if rules.hasHash[index] {
                // Hashes serve the line: only a line that is written has its file hashed.
                actions.runHashes(rule, event: event, context: context, lineContext: rules.contexts[index], reports: reports) { e, c in
                    writeLine(e, c)
                }
            } else if reports.isEmpty {
                writeLine(event.pointee, rules.contexts[index])
            } else {
                var lineContext = rules.contexts[index]
                lineContext.ruleActions = RuleActionRunner.array(reports)
                writeLine(event.pointee, lineContext)
            }
        }
    }
}
