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
    private let serializer = EventSerializer()
    private let allEventsContext: AgentContext
    private let writeAllEvents: Bool
    /// The running rules; nil when only every event is written. Swapped by `replaceRules`.
    private(set) var rules: DetectionRules?
    private let evalContext = EvalContext()
    let output: OutputWriter
    var stats = PipelineStats()
    /// Set when writing to stdout failed; the loop stops on it.
    private(set) var outputError: Error?

    init(decoder: RecordDecoder, resolvers: Resolvers, output: OutputWriter, writeAllEvents: Bool, rules: DetectionRules?) {
        self.decoder = decoder
        self.resolvers = resolvers
        self.output = output
        self.writeAllEvents = writeAllEvents
        self.rules = rules
        allEventsContext = AgentContext(version: AgentVersion.current)
    }

    /// Puts `new` in place of the running rules, between two records; the old rules' counts go to the stats.
    func replaceRules(_ new: DetectionRules) {
        if let old = rules { stats.addRuleCounts(old.counts()) }
        rules = new
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
            serializer.serialize(event, context: allEventsContext, into: &output.buffer)
            stats.written &+= 1
        }
        if let rules {
            withUnsafePointer(to: &event) { evaluate($0, rules) }
        }
        do { try output.flushIfFull() } catch { outputError = error }
    }

    private func evaluate(_ event: UnsafePointer<Event>, _ rules: DetectionRules) {
        let context = evalContext
        rules.ruleSet.forEachMatch(at: event, context: context) { rule in
            let index = rule.index
            rules.count(index)
            // A silent rule writes nothing, so nothing of it is held back.
            if rule.definition.silent { return }
            guard rules.admit(index, nowNs: event.pointee.bootTimeNs, context: context) else { return }
            serializer.serialize(event.pointee, context: rules.contexts[index], into: &output.buffer)
            stats.written &+= 1
            stats.ruleLines &+= 1
        }
    }
}
