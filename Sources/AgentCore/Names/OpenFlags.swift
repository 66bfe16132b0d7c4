// open(2) flag names with their Linux x86_64 (asm-generic) values.

/// Status and creation flags, in the order they are written after the access mode. O_SYNC and
/// O_TMPFILE are multi-bit (they include O_DSYNC and O_DIRECTORY); `openFlagNames` handles that.
public let openFlagTable: [(value: UInt32, name: StaticString)] = [
    (0o100, "O_CREAT"), (0o200, "O_EXCL"), (0o400, "O_NOCTTY"), (0o1000, "O_TRUNC"), (0o2000, "O_APPEND"),
    (0o4000, "O_NONBLOCK"), (0o10000, "O_DSYNC"), (0o4010000, "O_SYNC"), (0o200000, "O_DIRECTORY"),
    (0o400000, "O_NOFOLLOW"), (0o2000000, "O_CLOEXEC"), (0o40000, "O_DIRECT"), (0o100000, "O_LARGEFILE"),
    (0o1000000, "O_NOATIME"), (0o10000000, "O_PATH"), (0o20200000, "O_TMPFILE"), (0o20000, "FASYNC"),
]

public let openAccessModeNames: [StaticString] = ["O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE"]

/// Calls `body` with each name of `flags`: the access mode first (O_RDONLY, O_WRONLY, O_RDWR, or
/// O_ACCMODE for the invalid value 3), then each set flag. A multi-bit flag (O_SYNC, O_TMPFILE) hides the
/// single bit it includes (O_DSYNC, O_DIRECTORY). Bits with no name are reported as one hex string
/// (`0x80000000`) so an unusual flag is never silently dropped.
@inline(__always)
public func forEachOpenFlagName(_ flags: UInt32, _ body: (StaticString) -> Void, unknown: (UInt32) -> Void) {
    body(openAccessModeNames[Int(flags & 3)])
    // Only the bits of the names written count as written: the high bit of O_SYNC (__O_SYNC) or of
    // O_TMPFILE (__O_TMPFILE) without the other one goes in the hex rest, not lost.
    var named: UInt32 = 3
    for entry in openFlagTable {
        guard flags & entry.value == entry.value else { continue }
        if entry.value == 0o10000 && flags & 0o4000000 != 0 { continue }  // part of O_SYNC
        if entry.value == 0o200000 && flags & 0o20000000 != 0 { continue }  // part of O_TMPFILE
        named |= entry.value
        body(entry.name)
    }
    let rest = flags & ~named
    if rest != 0 { unknown(rest) }
}

/// open(2) flags as names (`["O_WRONLY", "O_CREAT", "O_TRUNC"]`), access mode first.
public func openFlagNames(_ flags: UInt32) -> [String] {
    var names: [String] = []
    forEachOpenFlagName(flags, { names.append($0.description) }, unknown: { names.append(hexString($0)) })
    return names
}

/// `0x` followed by lowercase hex digits.
public func hexString<T: BinaryInteger>(_ value: T) -> String {
    "0x" + String(value, radix: 16)
}

/// The bits of one name `forEachOpenFlagName` writes (`O_WRONLY`, `O_CREAT`, `0x80000000`); nil for
/// other text.
public func openFlag(named name: Substring) -> UInt32? {
    for (mode, modeName) in openAccessModeNames.enumerated() where "\(modeName)" == name { return UInt32(mode) }
    if name == "O_RSYNC" { return 0o4010000 }
    return tableLookup(openFlagTable, name) ?? hexValue(name).flatMap { UInt32(exactly: $0) }
}
