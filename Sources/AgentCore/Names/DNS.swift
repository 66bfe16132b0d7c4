/// DNS question types by number, shared by the serializer (`dns.question.type`) and the rule
/// engine's constants.
public let dnsTypeTable: [(UInt16, String)] = [
    (1, "A"), (2, "NS"), (5, "CNAME"), (6, "SOA"), (12, "PTR"), (15, "MX"), (16, "TXT"), (28, "AAAA"), (33, "SRV"), (255, "ANY"),
]

/// `A`, `AAAA`, `TXT`, ...; unknown types are written as their number.
public func dnsTypeName(_ type: UInt16) -> String {
    for (value, name) in dnsTypeTable where value == type { return name }
    return String(type)
}

/// The question type `dnsTypeName` writes as `name` (`AAAA`, or a number); nil for other text.
public func dnsType(named name: Substring) -> UInt16? {
    for (value, typeName) in dnsTypeTable where typeName == name { return value }
    return decimalValue(name).flatMap { UInt16(exactly: $0) }
}

/// The question class the serializer writes as `name` (`IN`, or a number); nil for other text.
public func dnsClass(named name: Substring) -> UInt16? {
    name == "IN" ? 1 : decimalValue(name).flatMap { UInt16(exactly: $0) }
}
