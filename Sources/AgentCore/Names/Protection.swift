// mmap/mprotect protection bits, mmap flags and pipe buffer flags, rendered as `A|B` strings because the
// backend schema types those fields as one string.

public let protectionTable: [(value: UInt32, name: StaticString)] = [
    (0x1, "PROT_READ"), (0x2, "PROT_WRITE"), (0x4, "PROT_EXEC"), (0x8, "PROT_SEM"),
    (0x0100_0000, "PROT_GROWSDOWN"), (0x0200_0000, "PROT_GROWSUP"),
]

public let mmapFlagTable: [(value: UInt32, name: StaticString)] = [
    (0x10, "MAP_FIXED"), (0x20, "MAP_ANONYMOUS"), (0x40, "MAP_32BIT"), (0x100, "MAP_GROWSDOWN"),
    (0x800, "MAP_DENYWRITE"), (0x1000, "MAP_EXECUTABLE"), (0x2000, "MAP_LOCKED"), (0x4000, "MAP_NORESERVE"),
    (0x8000, "MAP_POPULATE"), (0x10000, "MAP_NONBLOCK"), (0x20000, "MAP_STACK"), (0x40000, "MAP_HUGETLB"),
    (0x80000, "MAP_SYNC"), (0x100000, "MAP_FIXED_NOREPLACE"), (0x400_0000, "MAP_UNINITIALIZED"),
]

public let mmapTypeNames: [StaticString] = ["", "MAP_SHARED", "MAP_PRIVATE", "MAP_SHARED_VALIDATE"]

public let pipeBufFlagTable: [(value: UInt32, name: StaticString)] = [
    (0x01, "PIPE_BUF_FLAG_LRU"), (0x02, "PIPE_BUF_FLAG_ATOMIC"), (0x04, "PIPE_BUF_FLAG_GIFT"),
    (0x08, "PIPE_BUF_FLAG_PACKET"), (0x10, "PIPE_BUF_FLAG_CAN_MERGE"), (0x20, "PIPE_BUF_FLAG_WHOLE"),
    (0x40, "PIPE_BUF_FLAG_LOSS"),
]

/// Joins the names of the bits set in `value` with `|`; leftover unnamed bits are appended as hex.
public func joinedFlagNames(_ value: UInt32, _ table: [(value: UInt32, name: StaticString)], into out: inout String) {
    var known: UInt32 = 0
    for entry in table {
        known |= entry.value
        guard value & entry.value != 0 else { continue }
        if !out.isEmpty { out += "|" }
        out += entry.name.description
    }
    let rest = value & ~known
    if rest != 0 {
        if !out.isEmpty { out += "|" }
        out += hexString(rest)
    }
}

/// `PROT_READ|PROT_EXEC`; `PROT_NONE` for 0.
public func protectionString(_ prot: UInt32) -> String {
    if prot == 0 { return "PROT_NONE" }
    var out = ""
    joinedFlagNames(prot, protectionTable, into: &out)
    return out
}

/// `MAP_PRIVATE|MAP_ANONYMOUS`: the mapping type (low two bits) first, then the other flags.
public func mmapFlagsString(_ flags: UInt32) -> String {
    var out = mmapTypeNames[Int(flags & 3)].description
    joinedFlagNames(flags & ~3, mmapFlagTable, into: &out)
    if out.isEmpty { return "0" }
    return out
}

/// `PIPE_BUF_FLAG_CAN_MERGE|PIPE_BUF_FLAG_WHOLE` (include/linux/pipe_fs_i.h); `0` when no flag is set.
public func pipeBufFlagsString(_ flags: UInt32) -> String {
    if flags == 0 { return "0" }
    var out = ""
    joinedFlagNames(flags, pipeBufFlagTable, into: &out)
    return out
}

/// The protection `protectionString` writes as `text` (`PROT_READ|PROT_EXEC`, `PROT_NONE`); nil when
/// a part is not a name, hex or decimal.
public func protection(named text: Substring) -> UInt32? {
    flagValue(of: text) { name in
        name == "PROT_NONE" ? 0 : tableLookup(protectionTable, name).map(UInt64.init)
    }.flatMap { UInt32(exactly: $0) }
}

/// The flags `mmapFlagsString` writes as `text` (`MAP_PRIVATE|MAP_ANONYMOUS`, `0`).
public func mmapFlags(named text: Substring) -> UInt32? {
    flagValue(of: text) { name in
        if name == "MAP_ANON" { return 0x20 }
        if let type = mmapTypeNames.firstIndex(where: { $0.utf8CodeUnitCount > 0 && "\($0)" == name }) { return UInt64(type) }
        return tableLookup(mmapFlagTable, name).map(UInt64.init)
    }.flatMap { UInt32(exactly: $0) }
}

/// The flags `pipeBufFlagsString` writes as `text` (`PIPE_BUF_FLAG_CAN_MERGE`, `0`).
public func pipeBufFlags(named text: Substring) -> UInt32? {
    flagValue(of: text) { tableLookup(pipeBufFlagTable, $0).map(UInt64.init) }.flatMap { UInt32(exactly: $0) }
}
