// Socket address family names (include/linux/socket.h) for `bind.addr.family`.

public let addressFamilyTable: [UInt16: StaticString] = [
    0: "AF_UNSPEC", 1: "AF_UNIX", 2: "AF_INET", 10: "AF_INET6", 16: "AF_NETLINK", 17: "AF_PACKET",
    40: "AF_VSOCK", 44: "AF_XDP",
]

/// `AF_INET`, `AF_INET6`, `AF_UNIX`, ...; unknown families become `AF_<n>`.
public func addressFamilyName(_ family: UInt16) -> String {
    if let name = addressFamilyTable[family] { return name.description }
    return "AF_" + String(family)
}

private let addressFamilies: [String: UInt16] = {
    var families = Dictionary(uniqueKeysWithValues: addressFamilyTable.map { ("\($0.value)", $0.key) })
    families["AF_LOCAL"] = 1
    return families
}()

/// The family `addressFamilyName` writes as `name` (`AF_INET6`, `AF_42`; `AF_LOCAL` too); nil for
/// other text.
public func addressFamily(named name: Substring) -> UInt16? {
    if let family = addressFamilies[String(name)] { return family }
    return decimalSuffix(name, after: "AF_").flatMap { UInt16(exactly: $0) }
}
