import AgentCore
import CLibBPF
import Glibc

/// Decoders of mount, umount, bind, load_module and unload_module records (issue 4, layouts in the
/// `mount, umount, bind, load_module, unload_module records` section of bpf/include/events.h).
/// Every length comes from the record and is checked by `take` before use.
extension RecordDecoder {
    static func hasFlag(_ flags: UInt32, _ flag: csm_mbm_flag) -> Bool { flags & UInt32(flag.rawValue) != 0 }

    static let msBind: UInt64 = 4096

    // MARK: - mount, umount

    func decodeMount(_ record: UnsafeRawBufferPointer) throws -> Event {
        let fixed = try load(csm_mount_event.self, from: record)
        let type = fixed.hdr.type
        var cursor = MemoryLayout<csm_mount_event>.size
        let mountpoint = try take(Int(fixed.mountpoint_len), from: record, at: &cursor, type: type)
        let devname = try take(Int(fixed.devname_len), from: record, at: &cursor, type: type)
        let userTarget = String(kernelBytes: try take(Int(fixed.user_target_len), from: record, at: &cursor, type: type))
        let userSource = String(kernelBytes: try take(Int(fixed.user_source_len), from: record, at: &cursor, type: type))
        let userFSType = String(kernelBytes: try take(Int(fixed.user_fstype_len), from: record, at: &cursor, type: type))
        let base = String(kernelBytes: try take(Int(fixed.cwd_len), from: record, at: &cursor, type: type))
        let flags = fixed.mbm_flags
        let isMoveMount = fixed.syscall == UInt32(CSM_SYS_MOVE_MOUNT.rawValue)

        var payload = MountPayload(syscallName: isMoveMount ? "move_mount" : "mount")
        payload.flags = fixed.mount_flags
        payload.mountNamespace = fixed.mnt_ns
        payload.sourceArgument = userSource
        let userErrors = Self.userArgumentError(flags, baseError: fixed.cwd_error)

        if Self.hasFlag(flags, CSM_MNT_NEW_MOUNT) {
            payload.mountID = fixed.mount_id
            payload.parentMountID = fixed.parent_mount_id
            payload.device = fixed.device
            payload.fsType = Self.string(fromCharArray: fixed.fs_type)
            payload.mountpointPath = String(kernelBytes: mountpoint)
            payload.mountpointPathError = Self.pathError(fixed.mountpoint_error)
            let device = String(kernelBytes: devname)
            payload.sourceArgument = device.isEmpty ? userSource : device
        } else {
            // No mount was made (failure, remount, MS_MOVE, path-based move_mount): what was asked.
            payload.fsType = userFSType
            payload.mountpointPath = Self.absolute(userTarget, base: base)
            payload.mountpointPathError = userErrors
        }
        if !isMoveMount && fixed.mount_flags & Self.msBind != 0 {
            // A bind mount's source is a path: made absolute against the caller's cwd (not resolved
            // through symlinks). The mount resolver finds bind_src_mount_id from it.
            payload.sourcePath = Self.absolute(userSource, base: base)
            if userSource.hasPrefix("/") == false { payload.sourcePathError = userErrors }
        } else if isMoveMount {
            payload.sourcePath = Self.hasFlag(flags, CSM_MNT_NEW_MOUNT) ? payload.sourceArgument : userSource
        } else {
            payload.sourcePath = payload.sourceArgument
        }
        if Self.hasFlag(flags, CSM_MNT_USER_UNREADABLE), payload.sourcePath.isEmpty {
            payload.sourcePathError = "mount argument unreadable"
        }
        return Event(type: .mount, retval: fixed.retval, payload: .mount(payload))
    }

    func decodeUmount(_ record: UnsafeRawBufferPointer) throws -> Event {
        let fixed = try load(csm_umount_event.self, from: record)
        var cursor = MemoryLayout<csm_umount_event>.size
        let target = String(kernelBytes: try take(Int(fixed.user_target_len), from: record, at: &cursor, type: fixed.hdr.type))
        let base = String(kernelBytes: try take(Int(fixed.cwd_len), from: record, at: &cursor, type: fixed.hdr.type))
        var payload = UmountPayload(mountpointPath: Self.absolute(target, base: base), flags: fixed.flags)
        payload.mountNamespace = fixed.mnt_ns
        payload.mountpointPathError = Self.userArgumentError(fixed.mbm_flags, baseError: fixed.cwd_error)
        return Event(type: .umount, retval: fixed.retval, payload: .umount(payload))
    }

    /// `path` made absolute against `base` and normalized; "" stays "".
    static func absolute(_ path: String, base: String) -> String {
        if path.isEmpty { return "" }
        if path.hasPrefix("/") { return PathNormalizer.normalize(path) }
        if base.isEmpty { return path }
        return PathNormalizer.normalize(base + "/" + path)
    }

    static func userArgumentError(_ flags: UInt32, baseError: UInt32) -> String? {
        var reasons: [String] = []
        if hasFlag(flags, CSM_MNT_USER_UNREADABLE) { reasons.append("path argument unreadable") }
        if hasFlag(flags, CSM_MNT_USER_TRUNCATED) {
            reasons.append("path argument longer than \(CSM_MOUNT_USER_STR_MAX) bytes: truncated")
        }
        if let base = pathError(baseError) { reasons.append("base directory: " + base) }
        return reasons.isEmpty ? nil : reasons.joined(separator: "; ")
    }

    // MARK: - bind

    func decodeBind(_ record: UnsafeRawBufferPointer) throws -> Event {
        let fixed = try load(csm_bind_event.self, from: record)
        let length = min(Int(fixed.sockaddr_len), Int(CSM_BIND_SOCKADDR_MAX))
        var payload = withUnsafeBytes(of: fixed.sockaddr) { raw in
            Self.parseSockaddr(UnsafeRawBufferPointer(rebasing: raw[0..<length]))
        }
        payload.protocol_ = fixed.protocol
        return Event(type: .bind, retval: fixed.retval, payload: .bind(payload))
    }

    /// Family, IP and port (AF_INET, AF_INET6) or path (AF_UNIX; abstract names as `@name`) of a
    /// sockaddr of `bytes.count` bytes. Short or unknown addresses give what they hold, never a trap.
    static func parseSockaddr(_ bytes: UnsafeRawBufferPointer) -> BindPayload {
        guard bytes.count >= 2 else { return BindPayload(family: 0) }
        let family = UInt16(bytes[0]) | UInt16(bytes[1]) << 8
        func port() -> UInt16 { bytes.count >= 4 ? UInt16(bytes[2]) << 8 | UInt16(bytes[3]) : 0 }
        switch Int32(family) {
        case AF_INET:
            guard bytes.count >= 8 else { return BindPayload(family: family, port: port()) }
            return BindPayload(family: family, ip: "\(bytes[4]).\(bytes[5]).\(bytes[6]).\(bytes[7])", port: port())
        case AF_INET6:
            guard bytes.count >= 24 else { return BindPayload(family: family, port: port()) }
            var address = in6_addr()
            withUnsafeMutableBytes(of: &address) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[8..<24])) }
            var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            let ip = inet_ntop(AF_INET6, &address, &text, socklen_t(text.count)) != nil
                ? text.withUnsafeBufferPointer { String(cString: $0.baseAddress!) } : ""
            return BindPayload(family: family, ip: ip, port: port())
        case AF_UNIX:
            let path = UnsafeRawBufferPointer(rebasing: bytes[2...])
            if let first = path.first, first == 0 {
                // Abstract name: every byte up to the address length counts.
                return BindPayload(family: family, unixPath: "@" + String(kernelBytes: UnsafeRawBufferPointer(rebasing: path[1...])))
            }
            let end = path.firstIndex(of: 0) ?? path.endIndex
            return BindPayload(family: family, unixPath: String(kernelBytes: UnsafeRawBufferPointer(rebasing: path[path.startIndex..<end])))
        default:
            return BindPayload(family: family)
        }
    }

    // MARK: - load_module, unload_module

    func decodeLoadModule(_ record: UnsafeRawBufferPointer) throws -> Event {
        let fixed = try load(csm_load_module_event.self, from: record)
        let type = fixed.hdr.type
        var cursor = MemoryLayout<csm_load_module_event>.size
        let path = try take(Int(fixed.file.path_len), from: record, at: &cursor, type: type)
        let args = String(kernelBytes: try take(Int(fixed.args_len), from: record, at: &cursor, type: type))
        let modinfo = try take(Int(fixed.modinfo_len), from: record, at: &cursor, type: type)
        let flags = fixed.mbm_flags
        let fromMemory = fixed.syscall == UInt32(CSM_SYS_INIT_MODULE.rawValue)

        let file = Self.hasFlag(flags, CSM_MOD_HAS_FILE) ? Self.file(fixed.file, path: path) : nil
        var name = ""
        if Self.hasFlag(flags, CSM_MOD_KERNEL_NAME) {
            name = Self.string(fromCharArray: fixed.kernel_name)
        }
        if name.isEmpty, Self.hasFlag(flags, CSM_MOD_MODINFO) {
            name = ModuleInfo.name(inModinfo: modinfo) ?? ""
        }
        if name.isEmpty, let file {
            name = ModuleInfo.name(ofFileAt: file.path) ?? ModuleInfo.baseName(ofModuleFile: file.path)
        }
        let argv = StringList(args.split(separator: " ", omittingEmptySubsequences: true).map(String.init))
        let payload = LoadModulePayload(
            name: name, loadedFromMemory: fromMemory, argv: argv,
            argsTruncated: Self.hasFlag(flags, CSM_MOD_ARGS_TRUNCATED), file: file)
        return Event(type: .loadModule, retval: fixed.retval, payload: .loadModule(payload))
    }

    func decodeUnloadModule(_ record: UnsafeRawBufferPointer) throws -> Event {
        let fixed = try load(csm_unload_module_event.self, from: record)
        let payload = UnloadModulePayload(name: Self.string(fromCharArray: fixed.name))
        return Event(type: .unloadModule, retval: fixed.retval, payload: .unloadModule(payload))
    }
}

/// Module names from ELF images: the `name=` entry of the `.modinfo` section.
public enum ModuleInfo {
    /// Most bytes read from a module file for its headers, names and .modinfo.
    static let maxSectionBytes = 1 << 20
    static let maxSections = 4096

    /// `name=` in .modinfo bytes (NUL-separated `key=value` strings).
    public static func name(inModinfo bytes: UnsafeRawBufferPointer) -> String? {
        for entry in bytes.split(separator: 0, omittingEmptySubsequences: true) {
            let text = String(kernelBytes: UnsafeRawBufferPointer(rebasing: entry))
            if text.hasPrefix("name=") { return String(text.dropFirst(5)) }
        }
        return nil
    }

    /// The file's base name without `.ko` (and a compression suffix).
    public static func baseName(ofModuleFile path: String) -> String {
        var name = FileInfo.baseName(of: path)
        for suffix in [".ko.xz", ".ko.zst", ".ko.gz", ".ko"] where name.hasSuffix(suffix) {
            name.removeLast(suffix.count)
            break
        }
        return name
    }

    /// `name=` from the .modinfo of the ELF file at `path`; nil when it is not a readable regular
    /// ELF64 file with one. Reads are bounded; FIFOs and devices are never read.
    public static func name(ofFileAt path: String) -> String? {
        guard !path.isEmpty else { return nil }
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return nil }
        let size = UInt64(info.st_size)
        func read(_ offset: UInt64, _ count: Int) -> [UInt8]? {
            guard count >= 0, count <= maxSectionBytes, offset <= size, UInt64(count) <= size - offset else { return nil }
            var buffer = [UInt8](repeating: 0, count: count)
            let got = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(offset)) }
            return got == count ? buffer : nil
        }
        return elfModinfoName(size: size, read: read)
    }

    /// The ELF walk shared by files and images: `read(offset, count)` returns exactly those bytes.
    static func elfModinfoName(size: UInt64, read: (UInt64, Int) -> [UInt8]?) -> String? {
        guard let header = read(0, 64), header[0] == 0x7f, header[1] == 0x45, header[2] == 0x4c, header[3] == 0x46,
              header[4] == 2, header[5] == 1 else { return nil }
        func u16(_ b: [UInt8], _ at: Int) -> UInt64 { UInt64(b[at]) | UInt64(b[at + 1]) << 8 }
        func u32(_ b: [UInt8], _ at: Int) -> UInt64 { u16(b, at) | u16(b, at + 2) << 16 }
        func u64(_ b: [UInt8], _ at: Int) -> UInt64 { u32(b, at) | u32(b, at + 4) << 32 }
        let shoff = u64(header, 40), shentsize = u16(header, 58), shnum = Int(u16(header, 60)), shstrndx = Int(u16(header, 62))
        guard shentsize == 64, shnum > 0, shnum <= maxSections, shstrndx < shnum,
              let table = read(shoff, shnum * 64) else { return nil }
        let strOffset = u64(table, shstrndx * 64 + 24), strSize = u64(table, shstrndx * 64 + 32)
        guard strSize <= UInt64(maxSectionBytes), let names = read(strOffset, Int(strSize)) else { return nil }
        let wanted = Array(".modinfo".utf8) + [0]
        for index in 0..<shnum {
            let nameOffset = Int(u32(table, index * 64))
            guard nameOffset >= 0, nameOffset + wanted.count <= names.count,
                  Array(names[nameOffset..<nameOffset + wanted.count]) == wanted else { continue }
            let offset = u64(table, index * 64 + 24)
            let length = min(u64(table, index * 64 + 32), UInt64(maxSectionBytes))
            guard let modinfo = read(offset, Int(length)) else { return nil }
            return modinfo.withUnsafeBytes { name(inModinfo: $0) }
        }
        return nil
    }
}
