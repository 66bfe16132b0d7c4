extension String {
    /// Decodes bytes from the kernel (paths, names, arguments, comm) into text that is always valid
    /// Unicode (so always valid in JSON once escaped) and that decodes back to exactly those bytes
    /// (`[UInt8](decodingKernelString:)`): two different byte strings never give the same text.
    ///
    /// - Verbatim: bytes that are valid UTF-8 and hold no `\x` followed by two hex digits (either
    ///   case) are the text as is; ordinary backslashes (`sed 's/\./x/'`) stay as they are.
    /// - Escaped: any other bytes. Every byte that is not part of a valid UTF-8 sequence becomes
    ///   `\xNN` (lowercase hex) and every backslash becomes `\x5c`; the rest of the valid UTF-8 stays
    ///   as is. A name holding the byte 0xff is `x\xff`; a name holding the four characters `\xff`
    ///   is `x\x5cxff`.
    ///
    /// Decoding: text that holds `\x` and two hex digits is escaped (every backslash in it begins a
    /// `\xHH`: each stands for its byte); any other text is verbatim. Rules match against this text,
    /// which is what the JSON carries, so a recorded line evaluates as the live event did.
    public init<Bytes: Collection>(kernelBytes bytes: Bytes) where Bytes.Element == UInt8 {
        if let text = bytes.withContiguousStorageIfAvailable({ String.decodingKernelBytes($0) }) {
            self = text
        } else {
            self = Array(bytes).withUnsafeBufferPointer { String.decodingKernelBytes($0) }
        }
    }

    /// `init(kernelBytes:)` for raw memory (ring-buffer records), which has contiguous storage.
    public init(kernelBytes bytes: UnsafeRawBufferPointer) {
        self = String.decodingKernelBytes(UnsafeBufferPointer(start: bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), count: bytes.count))
    }

    /// The canonical `init(kernelBytes:)` text of the bytes `text` stands for. Text cut from or
    /// joined out of kernel texts (a base name cut from an escaped path, a directory joined to a
    /// relative path) decodes to the right bytes but may be escaped where its own bytes need no
    /// escaping, or the reverse: a rule compares texts, so such text is made canonical. Text without
    /// a backslash is canonical already (and returned as is).
    public init(canonicalKernelText text: String) {
        var text = text
        let recoded = text.withUTF8 { utf8 -> String? in
            guard utf8.contains(UInt8(ascii: "\\")) else { return nil }
            return String(kernelBytes: [UInt8](decodingKernelString: utf8))
        }
        self = recoded ?? text
    }

    static func decodingKernelBytes(_ buffer: UnsafeBufferPointer<UInt8>) -> String {
        // Paths, names and arguments are nearly always ASCII without a backslash: one pass over the
        // bytes checks both (branch-free, so it vectorizes), then a copy without the UTF-8 validator.
        var high: UInt8 = 0
        var backslash: UInt8 = 0
        for byte in buffer {
            high |= byte
            backslash |= byte == UInt8(ascii: "\\") ? 1 : 0
        }
        let hasEscapePattern = backslash != 0 && KernelText.containsHexEscape(buffer)
        if !hasEscapePattern {
            if high < 0x80 { return String(decoding: buffer, as: UTF8.self) }
            if let valid = String(validating: buffer, as: UTF8.self) { return valid }
        }
        return escaping(buffer)
    }

    /// The escaped form (see `init(kernelBytes:)`).
    static func escaping(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 16)
        var index = 0
        func appendEscape(_ byte: UInt8) {
            out.append(UInt8(ascii: "\\"))
            out.append(UInt8(ascii: "x"))
            out.append(KernelText.hexDigits[Int(byte >> 4)])
            out.append(KernelText.hexDigits[Int(byte & 0xF)])
        }
        while index < bytes.count {
            let length = validSequenceLength(bytes, at: index)
            if length == 0 {
                appendEscape(bytes[index])
                index += 1
            } else if length == 1 && bytes[index] == UInt8(ascii: "\\") {
                appendEscape(bytes[index])
                index += 1
            } else {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[index..<index + length]))
                index += length
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Length of the valid UTF-8 scalar starting at `index`, or 0 when the bytes there are invalid.
    private static func validSequenceLength(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> Int {
        let first = bytes[index]
        if first < 0x80 { return 1 }
        let length: Int
        var lower: UInt8 = 0x80
        var upper: UInt8 = 0xBF
        switch first {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; lower = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; upper = 0x9F
        case 0xF0: length = 4; lower = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; upper = 0x8F
        default: return 0
        }
        guard index + length <= bytes.count else { return 0 }
        let second = bytes[index + 1]
        guard second >= lower && second <= upper else { return 0 }
        for offset in 2..<Swift.max(2, length) where !(0x80...0xBF).contains(bytes[index + offset]) { return 0 }
        return length
    }
}

extension Array where Element == UInt8 {
    /// The bytes a `String(kernelBytes:)` text stands for: when the text holds `\x` and two hex
    /// digits (either case) every such `\xHH` is its byte and the rest is its UTF-8; any other text
    /// is its own UTF-8. `[UInt8](decodingKernelString: String(kernelBytes: b)) == b` for all `b`.
    public init(decodingKernelString text: String) {
        var text = text
        self = text.withUTF8 { [UInt8](decodingKernelString: $0) }
    }

    /// The same, on the text's UTF-8.
    public init(decodingKernelString utf8: UnsafeBufferPointer<UInt8>) {
        guard KernelText.containsHexEscape(utf8) else {
            self = Array(utf8)
            return
        }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count)
        var i = 0
        while i < utf8.count {
            if utf8[i] == UInt8(ascii: "\\"), i + 3 < utf8.count, utf8[i + 1] == UInt8(ascii: "x"),
               let high = KernelText.hexValue(utf8[i + 2]), let low = KernelText.hexValue(utf8[i + 3]) {
                out.append(high << 4 | low)
                i += 4
            } else {
                out.append(utf8[i])
                i += 1
            }
        }
        self = out
    }
}

/// Helpers of the kernel text encoding (`String(kernelBytes:)`).
enum KernelText {
    static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    @inline(__always)
    static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return b - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// Whether `bytes` hold `\x` followed by two hex digits (either case): the mark of escaped text.
    static func containsHexEscape(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = 0
        while i + 3 < bytes.count {
            if bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "x"),
               hexValue(bytes[i + 2]) != nil, hexValue(bytes[i + 3]) != nil {
                return true
            }
            i += 1
        }
        return false
    }
}
