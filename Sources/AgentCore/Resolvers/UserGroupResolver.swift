/// User and group names by id.
public protocol UserGroupResolving: AnyObject {
    func userName(_ uid: UInt32) -> String?
    func groupName(_ gid: UInt32) -> String?
    /// Re-reads the databases when their files changed; checks at most once per interval of `nowNs`
    /// (any monotonic nanosecond clock, e.g. the event's boot time).
    func reloadIfChanged(nowNs: UInt64)
}

/// `UserGroupResolving` from passwd and group files (NSS sources such as LDAP are not consulted: the
/// agent must not block the event loop on the network).
public final class PasswdGroupResolver: UserGroupResolving {
    public let passwdPath: String
    public let groupPath: String
    /// Times the files were (re)loaded (stats and tests).
    public private(set) var loads = 0

    private var users: [UInt32: String] = [:]
    private var groups: [UInt32: String] = [:]
    private var passwdIdentity: FileIdentity?
    private var groupIdentity: FileIdentity?
    private var lastCheckNs: UInt64 = 0
    private let checkIntervalNs: UInt64

    /// Bound on the files read; larger files are read up to this size.
    static let maxFileSize = 64 << 20

    private struct FileIdentity: Equatable {
        var inode: UInt64
        var device: UInt32
        var size: UInt64
        var mtimeNs: UInt64
        var ctimeNs: UInt64
    }

    public init(
        passwdPath: String = "/etc/passwd", groupPath: String = "/etc/group",
        checkIntervalNs: UInt64 = 1_000_000_000
    ) {
        self.passwdPath = passwdPath
        self.groupPath = groupPath
        self.checkIntervalNs = checkIntervalNs
        reload()
    }

    public func userName(_ uid: UInt32) -> String? { users[uid] }
    public func groupName(_ gid: UInt32) -> String? { groups[gid] }

    public func reloadIfChanged(nowNs: UInt64) {
        // `nowNs < lastCheckNs` covers a clock that went backwards (a different clock passed later).
        if nowNs >= lastCheckNs && nowNs &- lastCheckNs < checkIntervalNs { return }
        lastCheckNs = nowNs
        if Self.identity(passwdPath) != passwdIdentity || Self.identity(groupPath) != groupIdentity {
            reload()
        }
    }

    /// Reads both files now.
    public func reload() {
        loads += 1
        passwdIdentity = Self.identity(passwdPath)
        groupIdentity = Self.identity(groupPath)
        users = Self.parse(passwdPath)
        groups = Self.parse(groupPath)
    }

    private static func identity(_ path: String) -> FileIdentity? {
        guard let stat = SysFS.fileStat(path) else { return nil }
        return FileIdentity(
            inode: stat.inode, device: stat.kernelDevice, size: stat.size, mtimeNs: stat.mtimeNs,
            ctimeNs: stat.ctimeNs)
    }

    /// `name:password:id:...` lines (passwd and group share the first three fields). The first entry
    /// of an id wins, as getpwuid(3) does; comments, blank lines and NIS `+`/`-` lines are skipped.
    static func parse(_ path: String) -> [UInt32: String] {
        guard let (bytes, _) = SysFS.readFile(path, limit: maxFileSize) else { return [:] }
        var names: [UInt32: String] = [:]
        for line in bytes.split(separator: UInt8(ascii: "\n")) {
            guard let first = line.first, first != UInt8(ascii: "#"), first != UInt8(ascii: "+"),
                  first != UInt8(ascii: "-")
            else { continue }
            let fields = line.split(separator: UInt8(ascii: ":"), maxSplits: 3, omittingEmptySubsequences: false)
            guard fields.count >= 3, !fields[0].isEmpty,
                  let id = UInt32(String(decoding: fields[2], as: UTF8.self).trimmingSpaces())
            else { continue }
            if names[id] == nil { names[id] = String(kernelBytes: fields[0]) }
        }
        return names
    }
}

extension String {
    fileprivate func trimmingSpaces() -> Substring {
        var view = Substring(self)
        while view.first == " " || view.first == "\t" || view.first == "\r" { view = view.dropFirst() }
        while view.last == " " || view.last == "\t" || view.last == "\r" { view = view.dropLast() }
        return view
    }
}
