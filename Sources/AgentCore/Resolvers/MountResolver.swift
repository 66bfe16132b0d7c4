import Glibc

/// The mount table: every mount known to the agent, per mount namespace, seeded from
/// /proc/<pid>/mountinfo (one read per namespace) and kept up to date by mount and umount events.
///
/// Used where the kernel side cannot look a path up: the mount a umount2(2) target names, the
/// source mount of a bind mount (`bind_src_mount_id`), the mount a remount targets. Mount points
/// are paths from the namespace's root, as both mountinfo and the kernel's dentry walk give them.
/// Not thread-safe: owned by the event loop, like the other resolvers.
public final class MountResolver {
    public struct Mount: Equatable, Sendable {
        public var id: UInt32
        public var parentID: UInt32
        /// Kernel encoding (major << 20 | minor), as the BPF side reports it.
        public var device: UInt32
        public var fsType: String
        public var mountpoint: String
        public var source: String
        public var namespace: UInt32

        public init(
            id: UInt32, parentID: UInt32, device: UInt32, fsType: String, mountpoint: String, source: String,
            namespace: UInt32
        ) {
            self.id = id
            self.parentID = parentID
            self.device = device
            self.fsType = fsType
            self.mountpoint = mountpoint
            self.source = source
            self.namespace = namespace
        }
    }

    /// Most namespaces and mounts remembered (a host churning containers must not grow it forever).
    public static let maxNamespaces = 4096
    public static let maxMounts = 200_000

    private let procRoot: String
    private var byID: [UInt32: Mount] = [:]
    /// namespace -> mount point -> mounts stacked on it, topmost last.
    private var byPath: [UInt32: [String: [UInt32]]] = [:]
    private var loadedNamespaces: Set<UInt32> = []
    public private(set) var procReads = 0

    public init(procRoot: String = "/proc") {
        self.procRoot = procRoot
    }

    public var count: Int { byID.count }

    public func mount(id: UInt32) -> Mount? { byID[id] }

    /// Sets `mountPath` and `mountSource` of a file from the mount its kernel mount id names.
    public func describe(_ file: inout FileInfo) {
        guard file.mountID != 0, let mount = byID[file.mountID] else { return }
        file.mountPath = mount.mountpoint
        file.mountSource = mount.source
    }

    /// The topmost mount on exactly `path` in `namespace`.
    public func mount(at path: String, namespace: UInt32) -> Mount? {
        byPath[namespace]?[path]?.last.flatMap { byID[$0] }
    }

    /// The mount holding `path` in `namespace`: the topmost one on its longest mounted prefix.
    public func mount(containing path: String, namespace: UInt32) -> Mount? {
        guard path.hasPrefix("/"), let table = byPath[namespace] else { return nil }
        var candidate = Substring(path)
        while true {
            if let id = table[String(candidate)]?.last, let mount = byID[id] { return mount }
            if candidate == "/" { return nil }
            guard let slash = candidate.lastIndex(of: "/") else { return nil }
            candidate = slash == candidate.startIndex ? "/" : candidate[..<slash]
        }
    }

    /// Loads the mount tables of every namespace a process is in now. Returns the mounts known.
    @discardableResult
    public func snapshot() -> Int {
        guard let dir = opendir(procRoot) else { return count }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            guard let pid = UInt32(name) else { continue }
            loadNamespace(ofPid: pid)
        }
        return count
    }

    /// Applies a mount or umount event to the table and fills what the table knows into it:
    /// `bind_src_mount_id` of bind mounts, the unmounted mount's id.
    public func resolve(_ event: inout Event) {
        switch event.payload {
        case .mount(var mount):
            ensureNamespace(mount.mountNamespace, pid: event.pid)
            if mount.flags & 4096 != 0, mount.syscallName == "mount", mount.bindSourceMountID == 0,
               let source = self.mount(containing: mount.sourcePath, namespace: mount.mountNamespace),
               source.id != mount.mountID {
                mount.bindSourceMountID = source.id
            }
            if event.retval == 0 {
                if mount.mountID != 0 {
                    add(Mount(
                        id: mount.mountID, parentID: mount.parentMountID, device: mount.device, fsType: mount.fsType,
                        mountpoint: mount.mountpointPath, source: mount.sourceArgument, namespace: mount.mountNamespace))
                } else if let existing = self.mount(at: mount.mountpointPath, namespace: mount.mountNamespace) {
                    // A remount or move of an existing mount: describe it from the table.
                    mount.mountID = existing.id
                    mount.parentMountID = existing.parentID
                    mount.device = existing.device
                    if mount.fsType.isEmpty { mount.fsType = existing.fsType }
                }
            }
            event.payload = .mount(mount)
        case .umount(var umount):
            ensureNamespace(umount.mountNamespace, pid: event.pid)
            if let target = self.mount(at: umount.mountpointPath, namespace: umount.mountNamespace) {
                umount.mountID = target.id
                if event.retval == 0 { remove(target.id) }
            }
            event.payload = .umount(umount)
        default:
            break
        }
    }

    /// Adds (or replaces) one mount.
    public func add(_ mount: Mount) {
        if byID[mount.id] != nil { remove(mount.id) }
        guard byID.count < Self.maxMounts else { return }
        byID[mount.id] = mount
        byPath[mount.namespace, default: [:]][mount.mountpoint, default: []].append(mount.id)
    }

    public func remove(_ id: UInt32) {
        guard let mount = byID.removeValue(forKey: id) else { return }
        guard var stack = byPath[mount.namespace]?[mount.mountpoint] else { return }
        stack.removeAll { $0 == id }
        byPath[mount.namespace]?[mount.mountpoint] = stack.isEmpty ? nil : stack
    }

    // MARK: - /proc

    /// Loads a namespace met for the first time from its process, if that process still lives there.
    private func ensureNamespace(_ namespace: UInt32, pid: UInt32) {
        guard namespace != 0, !loadedNamespaces.contains(namespace) else { return }
        if namespaceInode(ofPid: pid) == namespace { loadNamespace(ofPid: pid) }
    }

    private func namespaceInode(ofPid pid: UInt32) -> UInt32? {
        var info = stat()
        guard stat("\(procRoot)/\(pid)/ns/mnt", &info) == 0 else { return nil }
        return UInt32(truncatingIfNeeded: info.st_ino)
    }

    private func loadNamespace(ofPid pid: UInt32) {
        guard let namespace = namespaceInode(ofPid: pid), !loadedNamespaces.contains(namespace),
              loadedNamespaces.count < Self.maxNamespaces,
              let bytes = Self.readFile("\(procRoot)/\(pid)/mountinfo") else { return }
        procReads += 1
        loadedNamespaces.insert(namespace)
        for line in bytes.split(separator: UInt8(ascii: "\n")) {
            if var mount = Self.parseMountinfoLine(bytes: line) {
                mount.namespace = namespace
                // Events already applied are newer than this read: keep them.
                if byID[mount.id] == nil { add(mount) }
            }
        }
    }

    /// One /proc/<pid>/mountinfo line: `id parent major:minor root mountpoint opts [optional...] - fstype source superopts`.
    public static func parseMountinfoLine(_ line: Substring) -> Mount? {
        parseMountinfoLine(bytes: Array(line.utf8)[...])
    }

    /// The same on the line's bytes: each path is decoded alone, as `String(kernelBytes:)` decodes
    /// the kernel's paths, so that a mount point reads as the event paths below it do.
    static func parseMountinfoLine(bytes line: ArraySlice<UInt8>) -> Mount? {
        let fields = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: true)
        func number(_ field: ArraySlice<UInt8>) -> UInt32? { UInt32(String(decoding: field, as: UTF8.self)) }
        guard fields.count >= 7, let id = number(fields[0]), let parent = number(fields[1]),
              let dash = fields.firstIndex(where: { $0.elementsEqual([UInt8(ascii: "-")]) }), dash >= 6, dash + 2 < fields.count
        else { return nil }
        let numbers = fields[2].split(separator: UInt8(ascii: ":"))
        guard numbers.count == 2, let major = number(numbers[0]), let minor = number(numbers[1]) else { return nil }
        return Mount(
            id: id, parentID: parent, device: major << 20 | (minor & 0xfffff), fsType: unescape(fields[dash + 1]),
            mountpoint: unescape(fields[4]), source: unescape(fields[dash + 2]), namespace: 0)
    }

    /// mountinfo escapes space, tab, newline and backslash as \ooo.
    static func unescape(_ raw: ArraySlice<UInt8>) -> String {
        guard raw.contains(UInt8(ascii: "\\")) else { return String(kernelBytes: raw) }
        var bytes: [UInt8] = []
        var index = raw.startIndex
        while index < raw.endIndex {
            if raw[index] == UInt8(ascii: "\\"), index + 3 < raw.endIndex,
               let value = UInt8(String(decoding: raw[(index + 1)...(index + 3)], as: UTF8.self), radix: 8) {
                bytes.append(value)
                index += 4
            } else {
                bytes.append(raw[index])
                index += 1
            }
        }
        return String(kernelBytes: bytes)
    }

    static func readFile(_ path: String, limit: Int = 16 << 20) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while data.count < limit {
            let got = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if got <= 0 { break }
            data.append(contentsOf: chunk[0..<got])
        }
        return data
    }
}
