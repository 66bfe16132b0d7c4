/// A task's credentials, with names resolved by the user/group resolver.
public struct Credentials: Sendable, Equatable {
    public var uid: UInt32
    public var gid: UInt32
    public var euid: UInt32
    public var egid: UInt32
    public var fsuid: UInt32
    public var fsgid: UInt32
    /// Audit login uid; `Credentials.unsetAUID` when never set.
    public var auid: UInt32
    public var capEffective: UInt64
    public var capPermitted: UInt64

    public var user: String?
    public var group: String?
    public var euser: String?
    public var egroup: String?
    public var fsuser: String?
    public var fsgroup: String?

    public static let unsetAUID: UInt32 = 4_294_967_295

    public init(
        uid: UInt32 = 0, gid: UInt32 = 0, euid: UInt32 = 0, egid: UInt32 = 0, fsuid: UInt32 = 0,
        fsgid: UInt32 = 0, auid: UInt32 = Credentials.unsetAUID, capEffective: UInt64 = 0,
        capPermitted: UInt64 = 0
    ) {
        self.uid = uid
        self.gid = gid
        self.euid = euid
        self.egid = egid
        self.fsuid = fsuid
        self.fsgid = fsgid
        self.auid = auid
        self.capEffective = capEffective
        self.capPermitted = capPermitted
    }
}
