/// A file as the kernel described it: identity (inode, mount), ownership, times and its path.
///
/// Paths come from kernel bytes, as `String(kernelBytes:)` encodes them: valid Unicode that decodes
/// back to the kernel's bytes (bytes that are not UTF-8 are `\xNN`).
public struct FileInfo: Sendable, Equatable {
    /// Absolute path, or what could be resolved of it (see `pathResolutionError`).
    public var path: String
    /// Last path component.
    public var name: String
    /// Set when the path is incomplete or unknown; the event is still emitted.
    public var pathResolutionError: String?
    public var inode: UInt64
    /// `st_mode`: file type and permission bits.
    public var mode: UInt32
    public var mountID: UInt32
    /// Device number in the kernel's encoding (major << 20 | minor).
    public var device: UInt32
    /// Filesystem type name (`ext4`, `tmpfs`, `overlay`, ...).
    public var filesystem: String
    public var uid: UInt32
    public var gid: UInt32
    /// Names resolved from /etc/passwd and /etc/group; nil when unknown.
    public var user: String?
    public var group: String?
    /// Nanoseconds since the Unix epoch.
    public var changeTimeNs: UInt64
    public var modificationTimeNs: UInt64
    /// True when an overlayfs file lives in the upper (writable) layer.
    public var inUpperLayer: Bool
    /// Where the file's mount is mounted and what it mounts (device, source directory), from the
    /// mount table by `mountID`; nil when the mount is unknown.
    public var mountPath: String? = nil
    public var mountSource: String? = nil

    public init(
        path: String = "", name: String? = nil, pathResolutionError: String? = nil, inode: UInt64 = 0,
        mode: UInt32 = 0, mountID: UInt32 = 0, device: UInt32 = 0, filesystem: String = "",
        uid: UInt32 = 0, gid: UInt32 = 0, user: String? = nil, group: String? = nil,
        changeTimeNs: UInt64 = 0, modificationTimeNs: UInt64 = 0, inUpperLayer: Bool = false
    ) {
        self.path = path
        self.name = name ?? FileInfo.baseName(of: path)
        self.pathResolutionError = pathResolutionError
        self.inode = inode
        self.mode = mode
        self.mountID = mountID
        self.device = device
        self.filesystem = filesystem
        self.uid = uid
        self.gid = gid
        self.user = user
        self.group = group
        self.changeTimeNs = changeTimeNs
        self.modificationTimeNs = modificationTimeNs
        self.inUpperLayer = inUpperLayer
    }

    /// The last component of a path (`/` for the root). Works on UTF-8 bytes: it runs for every
    /// file of every event, and Character-level Substring operations were a visible share of decoding.
    public static func baseName(of path: String) -> String {
        var path = path
        return path.withUTF8 { bytes -> String in
            let slash = UInt8(ascii: "/")
            var end = bytes.count
            while end > 1, bytes[end - 1] == slash { end -= 1 }
            if end == 1, bytes[0] == slash { return "/" }
            var start = end
            while start > 0, bytes[start - 1] != slash { start -= 1 }
            let name = UnsafeBufferPointer(rebasing: bytes[start..<end])
            // A name cut from an escaped path (`/d\xff/a\x5cb`) is made canonical (`a\b`): see
            // `String(canonicalKernelText:)`.
            if name.contains(UInt8(ascii: "\\")) { return String(kernelBytes: [UInt8](decodingKernelString: name)) }
            return String(decoding: name, as: UTF8.self)
        }
    }
}
