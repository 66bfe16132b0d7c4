/// An IPv4 or IPv6 address with a prefix length; IPv4 is kept as an IPv4-mapped IPv6 address so one
/// comparison covers both families.
public struct IPNetwork: Sendable, Equatable {
    public var high: UInt64
    public var low: UInt64
    /// Prefix length over the 128-bit form.
    public var prefix: Int

    /// Parses `10.0.0.1`, `10.0.0.0/8`, `::1`, `fe80::/10`. Returns nil on anything else.
    public init?(parsing text: String) {
        var copy = text
        guard let parsed = copy.withUTF8({ IPNetwork.parse($0) }) else { return nil }
        self = parsed
    }

    init(high: UInt64, low: UInt64, prefix: Int) {
        self.high = high
        self.low = low
        self.prefix = prefix
    }

    /// True when `other` (an address) lies inside this network.
    @inline(__always)
    public func contains(_ other: IPNetwork) -> Bool {
        let p = min(prefix, other.prefix == 128 ? 128 : other.prefix)
        if p < prefix { return false }
        let highMask: UInt64 = prefix >= 64 ? ~0 : (prefix == 0 ? 0 : ~0 << UInt64(64 - prefix))
        let lowMask: UInt64 = prefix <= 64 ? 0 : (prefix >= 128 ? ~0 : ~0 << UInt64(128 - prefix))
        return (high & highMask) == (other.high & highMask) && (low & lowMask) == (other.low & lowMask)
    }

    /// Parses without allocating (used on event values).
    static func parse(_ b: UnsafeBufferPointer<UInt8>) -> IPNetwork? {
        var end = b.count
        var prefix = -1
        if let slash = b.firstIndex(of: 47) {
            end = slash
            var value = 0
            guard slash + 1 < b.count, b.count - slash - 1 <= 3 else { return nil }
            for i in (slash + 1)..<b.count {
                guard b[i] >= 48, b[i] <= 57 else { return nil }
                value = value * 10 + Int(b[i] - 48)
            }
            prefix = value
        }
        guard end > 0 else { return nil }
        var hasColon = false
        for i in 0..<end where b[i] == 58 { hasColon = true; break }
        if !hasColon {
            guard let v4 = parseV4(b, 0, end) else { return nil }
            if prefix > 32 { return nil }
            return IPNetwork(high: 0, low: 0x0000_FFFF_0000_0000 | UInt64(v4), prefix: prefix < 0 ? 128 : 96 + prefix)
        }
        guard let (h, l) = parseV6(b, end) else { return nil }
        if prefix > 128 { return nil }
        return IPNetwork(high: h, low: l, prefix: prefix < 0 ? 128 : prefix)
    }

    private static func parseV4(_ b: UnsafeBufferPointer<UInt8>, _ from: Int, _ to: Int) -> UInt32? {
        var result: UInt32 = 0
        var part: UInt32 = 0
        var digits = 0
        var parts = 0
        var i = from
        while i <= to {
            if i == to || b[i] == 46 {
                guard digits > 0, part <= 255 else { return nil }
                result = result << 8 | part
                parts += 1
                part = 0
                digits = 0
            } else if b[i] >= 48 && b[i] <= 57 {
                part = part * 10 + UInt32(b[i] - 48)
                digits += 1
                if digits > 3 { return nil }
            } else {
                return nil
            }
            i += 1
        }
        return parts == 4 ? result : nil
    }

    private static func hexValue(_ c: UInt8) -> UInt16? {
        switch c {
        case 48...57: return UInt16(c - 48)
        case 97...102: return UInt16(c - 87)
        case 65...70: return UInt16(c - 55)
        default: return nil
        }
    }

    private static func parseV6(_ b: UnsafeBufferPointer<UInt8>, _ end: Int) -> (UInt64, UInt64)? {
        var groups: (UInt16, UInt16, UInt16, UInt16, UInt16, UInt16, UInt16, UInt16) = (0, 0, 0, 0, 0, 0, 0, 0)
        var head = [UInt16]()  // small, only at compile time or on rare IPv6 events
        var tail = [UInt16]()
        var seenDouble = false
        var i = 0
        if end >= 2, b[0] == 58, b[1] == 58 {
            seenDouble = true
            i = 2
        }
        while i < end {
            // Embedded IPv4 at the end.
            var j = i
            var isV4 = false
            while j < end, b[j] != 58 {
                if b[j] == 46 { isV4 = true }
                j += 1
            }
            if isV4 {
                guard j == end, let v4 = parseV4(b, i, end) else { return nil }
                if seenDouble { tail += [UInt16(v4 >> 16), UInt16(v4 & 0xFFFF)] } else { head += [UInt16(v4 >> 16), UInt16(v4 & 0xFFFF)] }
                i = end
                break
            }
            guard j > i, j - i <= 4 else { return nil }
            var value: UInt16 = 0
            for k in i..<j {
                guard let h = hexValue(b[k]) else { return nil }
                value = value << 4 | h
            }
            if seenDouble { tail.append(value) } else { head.append(value) }
            i = j
            if i < end {
                i += 1  // ':'
                if i < end, b[i] == 58 {
                    if seenDouble { return nil }
                    seenDouble = true
                    i += 1
                } else if i == end {
                    return nil
                }
            }
        }
        let total = head.count + tail.count
        if seenDouble ? total > 7 : total != 8 { return nil }
        var all = head + [UInt16](repeating: 0, count: 8 - total) + tail
        guard all.count == 8 else { return nil }
        withUnsafeMutableBytes(of: &groups) { _ in }
        var h: UInt64 = 0
        var l: UInt64 = 0
        for k in 0..<4 { h = h << 16 | UInt64(all[k]) }
        for k in 4..<8 { l = l << 16 | UInt64(all[k]) }
        all.removeAll()
        return (h, l)
    }
}
