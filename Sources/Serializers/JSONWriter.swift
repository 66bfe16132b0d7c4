/// A minimal streaming JSON writer over a reusable byte buffer.
///
/// It exists because the agent writes one JSON object per kernel event: Foundation's JSONEncoder
/// allocates intermediate containers and reflects over Codable types, which costs tens of
/// microseconds per event. This writer appends UTF-8 bytes straight into `bytes` and only tracks
/// whether the next value needs a comma, so the caller is responsible for a well-formed sequence of
/// calls (keys inside objects, values after keys); the serializer's structure guarantees that.
public struct JSONWriter {
    /// The output so far. Callers may take it (swap it out) and reuse its capacity.
    public var bytes: [UInt8]
    /// True when the previous token was a complete value, so the next key or element needs a comma.
    @usableFromInline var needsComma = false
    /// Set by `EventSerializer` so repeated fragments are written from cached bytes.
    var caches: SerializerCaches?

    public init(bytes: [UInt8] = []) {
        self.bytes = bytes
    }

    // MARK: Structure

    @inlinable @inline(__always)
    mutating func separator() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
    }

    /// Starts an object (as a value: after a key, as an array element, or at top level).
    @inlinable
    public mutating func beginObject() {
        separator()
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
    }

    @inlinable
    public mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    @inlinable
    public mutating func beginArray() {
        separator()
        bytes.append(UInt8(ascii: "["))
        needsComma = false
    }

    @inlinable
    public mutating func endArray() {
        bytes.append(UInt8(ascii: "]"))
        needsComma = true
    }

    /// Writes `"key":`. Keys are compile-time ASCII constants without characters that need escaping,
    /// so their bytes are copied as is.
    @inlinable
    public mutating func key(_ key: StaticString) {
        separator()
        bytes.append(UInt8(ascii: "\""))
        key.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    /// Writes `"key":` for a key known only at run time (a log line's metadata), escaped as a string.
    public mutating func key(escaping key: String) {
        separator()
        appendQuoted(key)
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    /// Resets the comma state, for when the caller starts a fresh top-level value in the same buffer.
    public mutating func resetState() {
        needsComma = false
    }

    // MARK: Values

    /// A string value, escaped.
    @inlinable
    public mutating func string(_ value: String) {
        separator()
        appendQuoted(value)
        needsComma = true
    }

    /// A string value known to need no escaping (a name from a table).
    @inlinable
    public mutating func string(_ value: StaticString) {
        separator()
        bytes.append(UInt8(ascii: "\""))
        value.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "\""))
        needsComma = true
    }

    @inlinable
    public mutating func bool(_ value: Bool) {
        separator()
        if value {
            bytes.append(contentsOf: [0x74, 0x72, 0x75, 0x65])  // true
        } else {
            bytes.append(contentsOf: [0x66, 0x61, 0x6C, 0x73, 0x65])  // false
        }
        needsComma = true
    }

    @inlinable
    public mutating func int<T: BinaryInteger>(_ value: T) {
        separator()
        if value < 0 {
            bytes.append(UInt8(ascii: "-"))
            // magnitude avoids overflow on Int64.min.
            appendDecimal(UInt64(value.magnitude))
        } else {
            appendDecimal(UInt64(value))
        }
        needsComma = true
    }

    /// `"0x1f"`: addresses are strings in the backend schema (JSON numbers lose precision above 2^53).
    public mutating func hexString(_ value: UInt64) {
        separator()
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: "0"))
        bytes.append(UInt8(ascii: "x"))
        if value == 0 {
            bytes.append(UInt8(ascii: "0"))
        } else {
            var shift = (63 - value.leadingZeroBitCount) / 4 * 4
            while shift >= 0 {
                bytes.append(hexDigits[Int((value >> UInt64(shift)) & 0xF)])
                shift -= 4
            }
        }
        bytes.append(UInt8(ascii: "\""))
        needsComma = true
    }

    /// Appends cached object members (`"a":1,"b":2`, no braces) inside the current object.
    public mutating func rawMembers(_ raw: [UInt8]) {
        guard !raw.isEmpty else { return }
        separator()
        bytes.append(contentsOf: raw)
        needsComma = true
    }

    /// Appends bytes that already form one complete JSON value (a cached serialized object).
    public mutating func rawValue(_ raw: [UInt8]) {
        separator()
        bytes.append(contentsOf: raw)
        needsComma = true
    }

    // MARK: Encoding

    @inlinable
    mutating func appendDecimal(_ value: UInt64) {
        if value < 10 {
            bytes.append(UInt8(truncatingIfNeeded: value) &+ 0x30)
            return
        }
        var digits = 1
        var probe = value / 10
        while probe != 0 {
            digits &+= 1
            probe /= 10
        }
        appendDigits(value, count: digits)
    }

    /// Appends the last `count` decimal digits of `value`, zero-padded. The digits are stored by index
    /// into space appended first: mutating a slice of `bytes` (`bytes[a...].reverse()`) would go
    /// through a temporary that shares the storage and copy the whole buffer each time.
    @inlinable
    mutating func appendDigits(_ value: UInt64, count: Int) {
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(0x30, count: count))
        var rest = value
        var index = start + count - 1
        while index >= start {
            bytes[index] = UInt8(truncatingIfNeeded: rest % 10) &+ 0x30
            rest /= 10
            index -= 1
        }
    }

    /// Writes `"…"` with JSON escaping. Runs of bytes that need no escaping are copied in one go;
    /// Swift strings are valid Unicode, so bytes ≥ 0x80 are copied unchanged except for U+2028 and
    /// U+2029, which are legal JSON but break JavaScript consumers and line-oriented tools.
    @usableFromInline
    mutating func appendQuoted(_ value: String) {
        var value = value
        value.withUTF8 { appendQuoted(utf8: $0) }
    }

    /// A string value given as valid UTF-8 bytes (an element of a `StringList`), escaped.
    public mutating func string(utf8 value: UnsafeBufferPointer<UInt8>) {
        separator()
        appendQuoted(utf8: value)
        needsComma = true
    }

    /// `appendQuoted(_:)` for valid UTF-8 bytes.
    @usableFromInline
    mutating func appendQuoted(utf8: UnsafeBufferPointer<UInt8>) {
        bytes.append(UInt8(ascii: "\""))
        let count = utf8.count
        var runStart = 0
        var index = 0
        while index < count {
            let byte = utf8[index]
            if byte >= 0x20 && byte != 0x22 && byte != 0x5C && byte != 0xE2 {
                index &+= 1
                continue
            }
            if byte == 0xE2 {
                // U+2028 / U+2029 are E2 80 A8 / E2 80 A9.
                if index + 2 < count && utf8[index + 1] == 0x80 && (utf8[index + 2] == 0xA8 || utf8[index + 2] == 0xA9) {
                    flush(utf8, runStart, index)
                    bytes.append(contentsOf: utf8[index + 2] == 0xA8 ? escaped2028 : escaped2029)
                    index &+= 3
                    runStart = index
                } else {
                    index &+= 1
                }
                continue
            }
            flush(utf8, runStart, index)
            appendEscape(byte)
            index &+= 1
            runStart = index
        }
        flush(utf8, runStart, count)
        bytes.append(UInt8(ascii: "\""))
    }

    @inline(__always)
    private mutating func flush(_ utf8: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) {
        if end > start { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<end])) }
    }

    private mutating func appendEscape(_ byte: UInt8) {
        bytes.append(UInt8(ascii: "\\"))
        switch byte {
        case 0x22: bytes.append(UInt8(ascii: "\""))
        case 0x5C: bytes.append(UInt8(ascii: "\\"))
        case 0x0A: bytes.append(UInt8(ascii: "n"))
        case 0x09: bytes.append(UInt8(ascii: "t"))
        case 0x0D: bytes.append(UInt8(ascii: "r"))
        case 0x08: bytes.append(UInt8(ascii: "b"))
        case 0x0C: bytes.append(UInt8(ascii: "f"))
        default:
            bytes.append(contentsOf: [UInt8(ascii: "u"), 0x30, 0x30])
            bytes.append(hexDigits[Int(byte >> 4)])
            bytes.append(hexDigits[Int(byte & 0xF)])
        }
    }
}

@usableFromInline let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
private let escaped2028: [UInt8] = Array("\\u2028".utf8)
private let escaped2029: [UInt8] = Array("\\u2029".utf8)
