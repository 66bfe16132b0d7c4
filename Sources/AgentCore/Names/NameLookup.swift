// Reading names back into numbers: the inverses of the name tables, for the JSON event reader
// (`EventJSONReader`), which must give the rule engine the values the agent had when it wrote them.

/// Index of each name of `table`.
func reverseTable(_ table: [StaticString]) -> [String: UInt32] {
    var numbers: [String: UInt32] = [:]
    for (index, name) in table.enumerated() { numbers["\(name)"] = UInt32(index) }
    return numbers
}

/// The decimal number of `text` (digits only, at least one, fitting in 32 bits).
func decimalValue(_ text: Substring) -> UInt32? {
    guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
    return UInt32(text)
}

/// The decimal number after `prefix` in `name` (`SIG70` after `SIG`).
func decimalSuffix(_ name: Substring, after prefix: String) -> UInt32? {
    guard name.hasPrefix(prefix) else { return nil }
    return decimalValue(name.dropFirst(prefix.count))
}

/// `0x1f` (or `0X1F`) as a number.
func hexValue(_ text: Substring) -> UInt64? {
    guard text.count > 2, text.hasPrefix("0x") || text.hasPrefix("0X") else { return nil }
    return UInt64(text.dropFirst(2), radix: 16)
}

/// The value of names joined by `|` as `joinedFlagNames` writes them (`PROT_READ|PROT_EXEC|0x40`):
/// each part (spaces and tabs around it are allowed) is a name `lookup` knows, `0x` hexadecimal or
/// decimal. Nil when a part is none of these.
public func flagValue(of text: Substring, _ lookup: (Substring) -> UInt64?) -> UInt64? {
    var result: UInt64 = 0
    for part in text.split(separator: "|", omittingEmptySubsequences: false) {
        let name = trimmedName(part)
        guard let value = lookup(name) ?? hexValue(name) ?? decimalValue(name).map(UInt64.init) else { return nil }
        result |= value
    }
    return result
}

/// `part` without the spaces and tabs around it (on UTF-8 bytes: Foundation's trimming bridges
/// through NSString).
func trimmedName(_ part: Substring) -> Substring {
    var u = part.utf8[...]
    while let f = u.first, f == 32 || f == 9 { u = u.dropFirst() }
    while let l = u.last, l == 32 || l == 9 { u = u.dropLast() }
    return Substring(u)
}

/// Looks a name up in a `(value, name)` table.
func tableLookup(_ table: [(value: UInt32, name: StaticString)], _ name: Substring) -> UInt32? {
    for entry in table where entry.name.utf8CodeUnitCount == name.utf8.count {
        let equal = entry.name.withUTF8Buffer { $0.elementsEqual(name.utf8) }
        if equal { return entry.value }
    }
    return nil
}
