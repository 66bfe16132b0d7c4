extension String {
    /// Decodes bytes from the kernel. Valid UTF-8 is kept as is; every byte that is not part of a
    /// valid UTF-8 sequence becomes the four characters `\xNN`, so nothing is lost and the result is
    /// always valid Unicode (and so always valid in JSON once escaped).
    public init<Bytes: Collection>(kernelBytes bytes: Bytes) where Bytes.Element == UInt8 {
        // Paths, names and arguments are nearly always ASCII: check that first, a plain byte loop
        // over contiguous storage, and copy without the UTF-8 validator.
        let ascii = bytes.withContiguousStorageIfAvailable { buffer -> String? in
            for byte in buffer where byte >= 0x80 { return nil }
            return String(decoding: buffer, as: UTF8.self)
        }
        if let ascii = ascii ?? nil {
            self = ascii
            return
        }
        if let valid = String(validating: bytes, as: UTF8.self) {
            self = valid
            return
        }
        self = String.escapingInvalidUTF8(Array(bytes))
    }

    /// `init(kernelBytes:)` for raw memory (ring-buffer records), which has contiguous storage.
    public init(kernelBytes bytes: UnsafeRawBufferPointer) {
        self.init(kernelBytes: UnsafeBufferPointer(start: bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), count: bytes.count))
    }

    /// Slow path of `init(kernelBytes:)`.
    static func escapingInvalidUTF8(_ bytes: [UInt8]) -> String {
        var out = String()
        out.reserveCapacity(bytes.count + 16)
        var index = 0
        let hex: [Character] = Array("0123456789abcdef")
        while index < bytes.count {
            let length = validSequenceLength(bytes, at: index)
            if length > 0 {
                out += String(decoding: bytes[index..<index + length], as: UTF8.self)
                index += length
            } else {
                let byte = bytes[index]
                out += "\\x"
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0xF)])
                index += 1
            }
        }
        return out
    }

    /// Length of the valid UTF-8 scalar starting at `index`, or 0 when the bytes there are invalid.
    private static func validSequenceLength(_ bytes: [UInt8], at index: Int) -> Int {
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
