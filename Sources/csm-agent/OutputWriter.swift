import Glibc

/// Buffers JSON lines and writes them to a file descriptor (stdout) in large writes.
final class OutputWriter {
    /// Flush when this much is buffered, besides the flush after every drain cycle.
    static let flushThreshold = 256 * 1024

    private let fd: Int32
    var buffer: [UInt8] = []
    private(set) var failed = false

    init(fd: Int32) {
        self.fd = fd
        buffer.reserveCapacity(OutputWriter.flushThreshold + 64 * 1024)
    }

    func flushIfFull() throws {
        if buffer.count >= OutputWriter.flushThreshold { try flush() }
    }

    /// Writes everything buffered, retrying partial writes and EINTR/EAGAIN.
    func flush() throws {
        guard !buffer.isEmpty, !failed else { buffer.removeAll(keepingCapacity: true); return }
        try buffer.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    if errno == EAGAIN {
                        var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                        _ = Glibc.poll(&pfd, 1, 100)
                        continue
                    }
                    failed = true
                    throw OutputError.writeFailed(errno: errno)
                }
                offset += written
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }
}

enum OutputError: Error, CustomStringConvertible {
    case writeFailed(errno: Int32)

    var description: String {
        switch self {
        case let .writeFailed(code): return "writing events to stdout failed: \(String(cString: strerror(code)))"
        }
    }
}
