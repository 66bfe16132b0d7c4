import Foundation

/// Durations as policies write them (`every: 30s`, `ttl: 1h30m`): Go's duration syntax (a sequence
/// of a number and a unit among ns, us, µs, ms, s, m, h) or a bare number of seconds.
public enum PolicyDuration {
    /// Nanoseconds, or nil when `text` is not a duration or overflows.
    public static func nanoseconds(_ text: String) -> UInt64? {
        let s = text.trimmingCharacters(in: .whitespaces)
        if s.isEmpty { return nil }
        if let seconds = UInt64(s) { return seconds.multipliedReportingOverflow(by: 1_000_000_000).overflow ? nil : seconds * 1_000_000_000 }
        var total: UInt64 = 0
        var rest = Substring(s)
        while !rest.isEmpty {
            let number = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            guard !number.isEmpty, let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            let unit = rest.prefix { !($0.isASCII && ($0.isNumber || $0 == ".")) }
            rest = rest.dropFirst(unit.count)
            let scale: Double
            switch unit {
            case "ns": scale = 1
            case "us", "µs": scale = 1_000
            case "ms": scale = 1_000_000
            case "s": scale = 1_000_000_000
            case "m": scale = 60_000_000_000
            case "h": scale = 3_600_000_000_000
            default: return nil
            }
            let part = value * scale
            guard part.isFinite, part < Double(UInt64.max) - Double(total) else { return nil }
            total += UInt64(part)
        }
        return total
    }
}
