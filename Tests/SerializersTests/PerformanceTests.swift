import AgentCore
import Foundation
import Serializers
import SchemaValidation
import XCTest

/// Prints the per-event cost; never asserts on timings (shared, noisy CI machines).
final class PerformanceTests: XCTestCase {
    func testExecSerializationTiming() {
        let serializer = EventSerializer()
        let event = Fixtures.exec()
        var buffer: [UInt8] = []
        buffer.reserveCapacity(16_384)
        serializer.serialize(event, context: Fixtures.context, into: &buffer)
        let size = buffer.count
        let iterations = 20_000
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            for _ in 0..<iterations {
                buffer.removeAll(keepingCapacity: true)
                serializer.serialize(event, context: Fixtures.context, into: &buffer)
            }
        }
        let nsPerEvent = Double(elapsed.components.attoseconds / 1_000_000_000 + elapsed.components.seconds * 1_000_000_000) / Double(iterations)
        print(String(format: "exec event with 5 ancestors: %.2f µs/event, %d bytes", nsPerEvent / 1000, size))
        SchemaValidation.assertValid(buffer)
    }
}
