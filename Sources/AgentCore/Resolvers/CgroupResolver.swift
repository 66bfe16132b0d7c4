#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Maps cgroup v2 ids to cgroup paths and paths to container ids.
public protocol CgroupResolving: AnyObject {
    /// The cgroup path (`/system.slice/foo.service`, `/` for the root) of a cgroup v2 id, or nil.
    func path(forID id: UInt64) -> String?
    /// The cgroup v2 id of a cgroup path as /proc/<pid>/cgroup gives it, or nil when it is gone.
    func id(forPath path: String) -> UInt64?
    /// The container id in a cgroup path, nil outside containers.
    func containerID(forPath path: String) -> String?
}

/// `CgroupResolving` over the cgroup2 filesystem.
///
/// The id the kernel reports (`bpf_get_current_cgroup_id`) is the kernfs node id, which is the inode
/// number of the cgroup's directory. Hits come from a cache; a miss walks the whole hierarchy once
/// (filling the cache with every cgroup), at most once per `minRescanIntervalNs`, so a burst of events
/// from an unknown or already removed cgroup costs one walk, not one per event.
public final class CgroupFSResolver: CgroupResolving {
    /// Mount point of the cgroup2 hierarchy (`/sys/fs/cgroup`, or `/sys/fs/cgroup/unified` on hybrid
    /// systems).
    public let root: String
    /// Hierarchy walks done so far (stats).
    public private(set) var rescans = 0

    /// Bound on cached ids; far above real cgroup counts, it only guards against leaks.
    public static let maxCachedCgroups = 262_144
    private static let maxDepth = 64

    private var pathByID: [UInt64: String] = [:]
    private var lastRescanNs: UInt64 = 0
    private var hasRescanned = false
    private let minRescanIntervalNs: UInt64
    private let monotonicNs: () -> UInt64

    /// - Parameters:
    ///   - root: the cgroup2 mount point; discovered from /proc/self/mountinfo when nil.
    ///   - minRescanIntervalNs: minimum time between two hierarchy walks on cache misses.
    public init(
        root: String? = nil, minRescanIntervalNs: UInt64 = 1_000_000_000,
        monotonicNs: (() -> UInt64)? = nil
    ) {
        self.root = root ?? CgroupFSResolver.discoverRoot()
        self.minRescanIntervalNs = minRescanIntervalNs
        self.monotonicNs = monotonicNs ?? { SysFS.monotonicNs() }
    }

    /// The first cgroup2 mount in a mountinfo file; `/sys/fs/cgroup` when none is found.
    public static func discoverRoot(mountinfo: String = "/proc/self/mountinfo") -> String {
        guard let (bytes, _) = SysFS.readFile(mountinfo, limit: 1 << 20) else { return "/sys/fs/cgroup" }
        // Fields are split on the bytes: the text of one mount point is decoded alone (a mount
        // point elsewhere in the file that is not UTF-8 does not change how this one reads).
        let space = UInt8(ascii: " ")
        for line in bytes.split(separator: UInt8(ascii: "\n")) {
            // `36 25 0:31 / /sys/fs/cgroup rw,... - cgroup2 cgroup2 rw`
            let fields = line.split(separator: space)
            guard let dash = fields.firstIndex(where: { $0.elementsEqual([UInt8(ascii: "-")]) }), dash >= 5, dash + 1 < fields.count else { continue }
            if fields[dash + 1].elementsEqual("cgroup2".utf8), fields[3].elementsEqual([UInt8(ascii: "/")]) {
                return unescapeMountPath(fields[4])
            }
        }
        return "/sys/fs/cgroup"
    }

    /// mountinfo escapes space, tab, newline and backslash as `\ooo`.
    private static func unescapeMountPath(_ path: ArraySlice<UInt8>) -> String {
        var bytes: [UInt8] = []
        let utf8 = Array(path)
        var index = 0
        while index < utf8.count {
            if utf8[index] == UInt8(ascii: "\\"), index + 3 < utf8.count,
               let value = UInt8(String(decoding: utf8[index + 1...index + 3], as: UTF8.self), radix: 8) {
                bytes.append(value)
                index += 4
            } else {
                bytes.append(utf8[index])
                index += 1
            }
        }
        return String(kernelBytes: bytes)
    }

    public func path(forID id: UInt64) -> String? {
        if id == 0 { return nil }
        if let path = pathByID[id] { return path }
        let now = monotonicNs()
        if hasRescanned && now &- lastRescanNs < minRescanIntervalNs { return nil }
        rescan(now: now)
        return pathByID[id]
    }

    public func id(forPath path: String) -> UInt64? {
        let full = path == "/" ? root : root + path
        guard let stat = SysFS.fileStat(full) else { return nil }
        if pathByID.count < Self.maxCachedCgroups { pathByID[stat.inode] = path }
        return stat.inode
    }

    public func containerID(forPath path: String) -> String? {
        ContainerID.extract(fromCgroupPath: path)
    }

    /// Walks the hierarchy and replaces the cache with what exists now (removed cgroups drop out).
    public func rescan() {
        rescan(now: monotonicNs())
    }

    private func rescan(now: UInt64) {
        hasRescanned = true
        lastRescanNs = now
        rescans += 1
        var found: [UInt64: String] = [:]
        if let rootStat = SysFS.fileStat(root) { found[rootStat.inode] = "/" }
        walk(directory: root, relative: "", depth: 0, into: &found)
        pathByID = found
    }

    private func walk(directory: String, relative: String, depth: Int, into found: inout [UInt64: String]) {
        guard depth < Self.maxDepth, found.count < Self.maxCachedCgroups, let dir = opendir(directory) else {
            return
        }
        defer { closedir(dir) }
        var children: [(name: String, inode: UInt64)] = []
        while let entry = readdir(dir) {
            // kernfs reports the node id as d_ino and a real d_type, so no stat per cgroup is needed.
            guard entry.pointee.d_type == UInt8(DT_DIR) else { continue }
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                $0.withMemoryRebound(to: UInt8.self, capacity: 256) { pointer -> String in
                    String(kernelBytes: UnsafeBufferPointer(start: pointer, count: strlen(UnsafeRawPointer(pointer).assumingMemoryBound(to: CChar.self))))
                }
            }
            if name == "." || name == ".." { continue }
            children.append((name, UInt64(entry.pointee.d_ino)))
        }
        for child in children {
            let path = relative + "/" + child.name
            found[child.inode] = path
            walk(directory: directory + "/" + child.name, relative: path, depth: depth + 1, into: &found)
        }
    }
}
