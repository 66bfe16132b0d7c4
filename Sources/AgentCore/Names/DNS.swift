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
