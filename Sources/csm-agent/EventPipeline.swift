import AgentCore
import Probes
import Serializers

/// Decode, resolve, (match,) serialize: what happens to each ring-buffer record, in that order.
final class EventPipeline {
    private let decoder: RecordDecoder
    let resolvers: Resolvers
    private let serializer = EventSerializer()
    private let context: AgentContext
    private let writeAllEvents: Bool
    let output: OutputWriter
    var stats = PipelineStats()
    /// Set when writing to stdout failed; the loop stops on it.
    private(set) var outputError: Error?

    init(decoder: RecordDecoder, resolvers: Resolvers, output: OutputWriter, writeAllEvents: Bool) {
        self.decoder = decoder
        self.resolvers = resolvers
        self.output = output
        self.writeAllEvents = writeAllEvents
        context = AgentContext(version: AgentVersion.current)
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
        guard writeAllEvents, outputError == nil else { return }
        serializer.serialize(event, context: context, into: &output.buffer)
        stats.written &+= 1
        do { try output.flushIfFull() } catch { outputError = error }
    }
}
