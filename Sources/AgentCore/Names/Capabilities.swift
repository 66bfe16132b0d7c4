// Linux capability names, indexed by capability number (include/uapi/linux/capability.h), up to
// CAP_CHECKPOINT_RESTORE (40).

public let capabilityNameTable: [StaticString] = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
    "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
    "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
]

/// Name of one capability number (`CAP_SYS_ADMIN`); numbers newer than this table become `CAP_<n>`.
public func capabilityName(_ number: Int) -> String {
    if number >= 0 && number < capabilityNameTable.count { return capabilityNameTable[number].description }
    return "CAP_" + String(number)
}

/// Names of the capabilities set in a kernel capability mask, lowest bit first.
public func capabilityNames(_ mask: UInt64) -> [String] {
    var names: [String] = []
    var rest = mask
    while rest != 0 {
        let bit = rest.trailingZeroBitCount
        names.append(capabilityName(bit))
        rest &= rest &- 1
    }
    return names
}

private let capabilityNumbers = reverseTable(capabilityNameTable)

/// The capability number `capabilityName` writes as `name` (`CAP_SYS_ADMIN`: 21, `CAP_41`); nil for
/// other text.
public func capabilityNumber(named name: Substring) -> Int? {
    if let number = capabilityNumbers[String(name)] { return Int(number) }
    return decimalSuffix(name, after: "CAP_").map(Int.init)
}
