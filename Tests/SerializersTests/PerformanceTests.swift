import AgentCore
import Foundation
import Serializers
import SchemaValidation
import XCTest

/// Prints the per-event cost; never asserts on timings (shared, noisy CI machines).
final class PerformanceTests: XCTestCase {
    /// The same exec again and again: every process object and the lineage come from the caches.
    func testExecSerializationTiming() {
        let serializer = EventSerializer()
        let event = Fixtures.exec()
        measure("exec event with 5 ancestors, cached", serializer, event) {}
    }

    /// An exec whose own process object is serialized anew every time (its entry's revision
    /// changes, as for every new exec): a realistic command line and 37 environment variables go
    /// through the writer, and through scrubbing when it is on. The lineage stays cached.
    func testExecSerializationTimingUncached() {
        let serializer = EventSerializer()
        let event = Fixtures.exec()
        let process = event.process!
        process.args = ["-fsSL", "--retry", "3", "-H", "Accept: application/json", "https://example.com/install.sh", "-o", "/tmp/install.sh"]
        var envs = StringList()
        for name in ["SHELL", "PWD", "LOGNAME", "XDG_SESSION_TYPE", "MOTD_SHOWN", "HOME", "LANG", "LS_COLORS", "SSH_CONNECTION",
                     "LESSCLOSE", "XDG_SESSION_CLASS", "TERM", "LESSOPEN", "USER", "SHLVL", "XDG_SESSION_ID", "XDG_RUNTIME_DIR",
                     "SSH_CLIENT", "XDG_DATA_DIRS", "PATH", "DBUS_SESSION_BUS_ADDRESS", "SSH_TTY", "OLDPWD", "_", "EDITOR",
                     "HISTSIZE", "HISTFILESIZE", "GOPATH", "NVM_DIR", "NVM_BIN", "NVM_INC", "MAIL", "COLORTERM", "LC_ALL",
                     "TZ", "PAGER", "AWS_SECRET_ACCESS_KEY"] {
            envs.append(name + "=/some/value/of/typical/length:" + name.lowercased())
        }
        process.envs = envs
        measure("exec event with 5 ancestors, 8 args, 37 envs, process object uncached", serializer, event) {
            process.envsTruncated = false  // bumps the revision: the process object is written anew
        }
    }

    private func measure(_ what: String, _ serializer: EventSerializer, _ event: Event, before: () -> Void) {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(16_384)
        serializer.serialize(event, context: Fixtures.context, into: &buffer)
        let size = buffer.count
        let iterations = 20_000
        let clock = ContinuousClock()
        var best = Duration.seconds(1_000)
        for _ in 0..<3 {
            let elapsed = clock.measure {
                for _ in 0..<iterations {
                    before()
                    buffer.removeAll(keepingCapacity: true)
                    serializer.serialize(event, context: Fixtures.context, into: &buffer)
                }
            }
            best = min(best, elapsed)
        }
        let nsPerEvent = Double(best.components.attoseconds / 1_000_000_000 + best.components.seconds * 1_000_000_000) / Double(iterations)
        print(String(format: "%@: %.2f µs/event (best of 3 × %d), %d bytes", what, nsPerEvent / 1000, iterations, size))
        SchemaValidation.assertValid(buffer)
    }
}
