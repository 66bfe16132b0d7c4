/// RFC 3339 timestamps (`2026-11-24T19:06:38.123456789Z`) written straight into the JSON buffer.
///
/// A DateFormatter per event costs microseconds and allocates; Unix nanoseconds only need integer
/// arithmetic: days since the epoch to a civil date (Howard Hinnant's `civil_from_days`, valid for
/// every date a UInt64 of nanoseconds can hold) plus the time of day.
extension JSONWriter {
    /// Writes the quoted timestamp for `ns` nanoseconds since the Unix epoch, UTC.
    public mutating func rfc3339(nanoseconds ns: UInt64) {
        separator()
        let seconds = ns / 1_000_000_000
        let fraction = ns % 1_000_000_000
        let days = Int64(seconds / 86_400)
        let secondOfDay = Int(seconds % 86_400)
        let (year, month, day) = civilFromDays(days)

        bytes.append(UInt8(ascii: "\""))
        appendPadded(UInt64(year), width: 4)
        bytes.append(UInt8(ascii: "-"))
        appendPadded(UInt64(month), width: 2)
        bytes.append(UInt8(ascii: "-"))
        appendPadded(UInt64(day), width: 2)
        bytes.append(UInt8(ascii: "T"))
        appendPadded(UInt64(secondOfDay / 3600), width: 2)
        bytes.append(UInt8(ascii: ":"))
        appendPadded(UInt64(secondOfDay / 60 % 60), width: 2)
        bytes.append(UInt8(ascii: ":"))
        appendPadded(UInt64(secondOfDay % 60), width: 2)
        bytes.append(UInt8(ascii: "."))
        appendPadded(fraction, width: 9)
        bytes.append(UInt8(ascii: "Z"))
        bytes.append(UInt8(ascii: "\""))
        needsComma = true
    }

    /// Zero-padded decimal of exactly `width` digits (the value always fits here).
    @inline(__always)
    mutating func appendPadded(_ value: UInt64, width: Int) {
        appendDigits(value, count: width)
    }
}

/// Days since 1970-01-01 to (year, month 1...12, day 1...31) in the proleptic Gregorian calendar.
@inline(__always)
func civilFromDays(_ daysSinceEpoch: Int64) -> (year: Int64, month: Int64, day: Int64) {
    let z = daysSinceEpoch + 719_468
    let era = (z >= 0 ? z : z - 146_096) / 146_097
    let dayOfEra = z - era * 146_097
    let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
    let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
    let mp = (5 * dayOfYear + 2) / 153
    let day = dayOfYear - (153 * mp + 2) / 5 + 1
    let month = mp < 10 ? mp + 3 : mp - 9
    let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    return (year, month, day)
}
