#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Splits a byte stream read in chunks into lines (without their `\n`), in time linear in the
/// input: each byte is searched for a newline once, and only the unfinished last line is kept
/// between chunks. Searching the whole pending buffer again for every chunk made one 10 MiB line
/// read in 64 KiB chunks cost 160 passes over up to 10 MiB.
public struct LineSplitter {
    private var pending: [UInt8] = []
    /// Bytes of `pending` already searched: none of them is a newline.
    private var searched = 0

    public init() {}

    /// Adds `chunk` and calls `body` with each line it completes, in order. The bytes passed to
    /// `body` are valid only during the call.
    public mutating func append(_ chunk: UnsafeRawBufferPointer, _ body: (UnsafeBufferPointer<UInt8>) throws -> Void) rethrows {
        guard !chunk.isEmpty else { return }
        pending.append(contentsOf: chunk)
        var lineStart = 0
        let consumed: Int = try pending.withUnsafeBufferPointer { buffer in
            let base = buffer.baseAddress!
            var from = searched
            while from < buffer.count, let hit = memchr(base + from, 0x0A, buffer.count - from) {
                let newline = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                try body(UnsafeBufferPointer(rebasing: buffer[lineStart..<newline]))
                lineStart = newline + 1
                from = lineStart
            }
            return lineStart
        }
        // What is left is the start of a line: bytes of this chunk only, unless no newline came.
        if consumed > 0 { pending.removeFirst(consumed) }
        searched = pending.count
    }

    /// Calls `body` with the last line when the input did not end with a newline.
    public mutating func finish(_ body: (UnsafeBufferPointer<UInt8>) throws -> Void) rethrows {
        defer {
            pending.removeAll()
            searched = 0
        }
        guard !pending.isEmpty else { return }
        try pending.withUnsafeBufferPointer { try body($0) }
    }
}
