import AgentCore
import CLibBPF
@testable import Probes

/// Ring-buffer records built byte by byte, as the kernel side lays them out: shared by the decoder tests.
enum RecordFixture {
    static func header(
        _ type: csm_event_type, pid: UInt32, tid: UInt32, comm: String = "", timestampNs: UInt64 = 0,
        cgroupID: UInt64 = 0
    ) -> csm_event_header {
        var header = csm_event_header()
        header.type = type.rawValue
        header.timestamp_ns = timestampNs
        header.pid = pid
        header.tid = tid
        header.cgroup_id = cgroupID
        setCharArray(&header.comm, comm)
        return header
    }

    /// The fixed part followed by its data, with `hdr.size` set to the total (or to `sizeOverride`).
    static func record<T>(_ fixed: T, data: [UInt8] = [], sizeOverride: UInt32? = nil) -> [UInt8] {
        var bytes = withUnsafeBytes(of: fixed) { Array($0) } + data
        let size = sizeOverride ?? UInt32(bytes.count)
        withUnsafeBytes(of: size) { bytes.replaceSubrange(4..<8, with: $0) }
        return bytes
    }

    /// Copies `text` into a C char array (imported as a tuple), keeping a terminating NUL.
    static func setCharArray<T>(_ array: inout T, _ text: String) {
        withUnsafeMutableBytes(of: &array) { raw in
            raw.copyBytes(from: Array(text.utf8.prefix(raw.count - 1)))
        }
    }
}

extension RecordDecoder {
    /// Decodes a fixture.
    func decode(bytes: [UInt8]) throws -> Event {
        try bytes.withUnsafeBytes { try decode($0) }
    }
}
