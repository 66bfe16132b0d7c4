/// An ordered list of strings stored back to back in one UTF-8 buffer: a process's arguments or
/// environment.
///
/// An exec carries about forty environment strings. As `[String]` each longer than 15 bytes is its
/// own heap object, and reading them for every exec (the rule engine does) touches as many scattered
/// cache lines. Here they are two allocations, the bytes and their end offsets, read in one
/// sequential pass. Every element is valid UTF-8 (kernel bytes go through `String(kernelBytes:)`'s
/// repair first), so reading one as a `String` or writing it to JSON needs no validation.
public struct StringList: Sendable, Hashable {
    /// The UTF-8 bytes of every string, back to back, without separators.
    public private(set) var utf8: [UInt8] = []
    /// End offset in `utf8` of each string.
    private var ends: [UInt32] = []

    public init() {}

    public init<S: Sequence>(_ strings: S) where S.Element == String {
        for s in strings { append(s) }
    }

    /// Splits NUL-separated bytes from the kernel or /proc (`argv`, `environ`): one string per NUL,
    /// plus a last one when the bytes do not end with NUL. Invalid UTF-8 is repaired as
    /// `String(kernelBytes:)` does.
    public init(nulSeparated bytes: UnsafeRawBufferPointer) {
        // Read as bytes where they lie (as `String(kernelBytes:)` does), without rebinding the memory.
        let raw = UnsafeBufferPointer(start: bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), count: bytes.count)
        // Nearly always ASCII: copy the bytes once and record the NULs.
        var ascii = true
        var nuls = 0
        for byte in raw {
            if byte >= 0x80 { ascii = false; break }
            if byte == 0 { nuls += 1 }
        }
        if ascii {
            utf8.reserveCapacity(raw.count - nuls)
            ends.reserveCapacity(nuls + 1)
            var start = 0
            for index in raw.indices where raw[index] == 0 {
                utf8.append(contentsOf: UnsafeBufferPointer(rebasing: raw[start..<index]))
                ends.append(UInt32(utf8.count))
                start = index + 1
            }
            if start < raw.count {
                utf8.append(contentsOf: UnsafeBufferPointer(rebasing: raw[start..<raw.count]))
                ends.append(UInt32(utf8.count))
            }
            return
        }
        var start = 0
        for index in raw.indices where raw[index] == 0 {
            append(String(kernelBytes: UnsafeBufferPointer(rebasing: raw[start..<index])))
            start = index + 1
        }
        if start < raw.count { append(String(kernelBytes: UnsafeBufferPointer(rebasing: raw[start..<raw.count]))) }
    }

    /// `init(nulSeparated:)` for a byte array.
    public init(nulSeparated bytes: [UInt8]) {
        self = bytes.withUnsafeBytes { StringList(nulSeparated: $0) }
    }

    public mutating func append(_ string: String) {
        var s = string
        s.withUTF8 { utf8.append(contentsOf: $0) }
        ends.append(UInt32(utf8.count))
    }

    /// Appends one string given as its UTF-8 bytes, which must be valid UTF-8 (the JSON event reader
    /// copies strings straight from a line it got as a `String`).
    mutating func append(validUTF8 bytes: UnsafeBufferPointer<UInt8>) {
        utf8.append(contentsOf: bytes)
        ends.append(UInt32(utf8.count))
    }

    /// Removes and returns the first string (argv[0] before the arguments).
    @discardableResult
    public mutating func removeFirst() -> String {
        precondition(!ends.isEmpty, "removeFirst() on an empty StringList")
        let first = self[0]
        let cut = Int(ends[0])
        utf8.removeFirst(cut)
        ends.removeFirst()
        for i in ends.indices { ends[i] -= UInt32(cut) }
        return first
    }

    /// Byte range of element `i` in `utf8`.
    @inline(__always)
    public func byteRange(_ i: Int) -> Range<Int> {
        (i == 0 ? 0 : Int(ends[i - 1]))..<Int(ends[i])
    }

    /// Calls `body` with the UTF-8 bytes of each element in order, until it returns true; returns
    /// whether it did. Allocates nothing.
    @inline(__always)
    public func containsUTF8(where body: (UnsafeBufferPointer<UInt8>) -> Bool) -> Bool {
        if ends.isEmpty { return false }
        return utf8.withUnsafeBufferPointer { bytes in
            ends.withUnsafeBufferPointer { ends in
                var start = 0
                for end in ends {
                    let e = Int(end)
                    if body(UnsafeBufferPointer(rebasing: bytes[start..<e])) { return true }
                    start = e
                }
                return false
            }
        }
    }

    /// Calls `body` with the packed bytes and the end offset of each element (element `i` is
    /// `bytes[ends[i - 1]..<ends[i]]`, the first starts at 0), for a pass that needs no closure
    /// call per element.
    @inline(__always)
    public func withStorage<R>(_ body: (UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<UInt32>) throws -> R) rethrows -> R {
        try utf8.withUnsafeBufferPointer { bytes in try ends.withUnsafeBufferPointer { try body(bytes, $0) } }
    }

    /// Calls `body` with the UTF-8 bytes of element `i`.
    @inline(__always)
    public func withUTF8<R>(_ i: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        let range = byteRange(i)
        return try utf8.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[range])) }
    }
}

extension StringList: RandomAccessCollection {
    public var startIndex: Int { 0 }
    public var endIndex: Int { ends.count }

    /// Element `i` as a `String` (a copy: the rule engine reads the bytes in place instead).
    public subscript(i: Int) -> String {
        String(decoding: utf8[byteRange(i)], as: UTF8.self)
    }
}

extension StringList: ExpressibleByArrayLiteral {
    public init(arrayLiteral elements: String...) {
        self.init(elements)
    }
}

extension StringList: CustomStringConvertible {
    public var description: String { Array(self).description }
}
