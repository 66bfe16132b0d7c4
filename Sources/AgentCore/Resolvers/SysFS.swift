#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Small syscall helpers for /proc, /sys and /etc reads. Plain Glibc calls (no Foundation) because some
/// of these run on lazy lookups from the event loop.
enum SysFS {
    /// Reads at most `limit` bytes of a file. `truncated` is true when the file had more.
    /// Returns nil when the file cannot be opened or read (process gone, permission, ...).
    static func readFile(_ path: String, limit: Int) -> (bytes: [UInt8], truncated: Bool)? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { return nil }
        defer { close(fd) }
        // Read one byte past the limit to learn whether the content was cut.
        let capacity = limit + 1
        var bytes = [UInt8](repeating: 0, count: min(capacity, 4096))
        var count = 0
        while count < capacity {
            if count == bytes.count {
                bytes.append(contentsOf: repeatElement(0, count: min(bytes.count, capacity - bytes.count)))
            }
            let got = bytes.withUnsafeMutableBytes { buffer -> Int in
                read(fd, buffer.baseAddress! + count, buffer.count - count)
            }
            if got < 0 {
                if errno == EINTR { continue }
                // ESRCH and friends: the process went away mid-read. Keep nothing.
                return nil
            }
            if got == 0 { break }
            count += got
        }
        let truncated = count > limit
        bytes.removeSubrange(min(count, limit)...)
        return (bytes, truncated)
    }

    /// readlink(2) into a String (kernel bytes decoded); nil on failure.
    static func readLink(_ path: String) -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let length = buffer.withUnsafeMutableBytes { raw in
            readlink(path, raw.baseAddress!.assumingMemoryBound(to: CChar.self), raw.count)
        }
        if length < 0 { return nil }
        return String(kernelBytes: buffer[0..<length])
    }

    /// True when the path exists (no permission check beyond lookup).
    static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    /// Nanoseconds of a clock; 0 when the clock is unavailable.
    static func clockNs(_ clock: clockid_t) -> UInt64 {
        var ts = timespec()
        if clock_gettime(clock, &ts) != 0 { return 0 }
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// A cheap monotonic clock for rate limits.
    static func monotonicNs() -> UInt64 {
        clockNs(CLOCK_MONOTONIC_COARSE)
    }

    // MARK: statx / statfs

    // Swift's Glibc module is built without _GNU_SOURCE, so statx(2) and statfs(2) are not imported.
    // Both are stable ABI: bind them by symbol and read the structures at their documented offsets.
    private typealias StatxFunction = @convention(c) (
        Int32, UnsafePointer<CChar>, Int32, UInt32, UnsafeMutableRawPointer
    ) -> Int32
    private typealias StatfsFunction = @convention(c) (UnsafePointer<CChar>, UnsafeMutableRawPointer) -> Int32

    private static let statxFunction: StatxFunction? = {
        guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "statx") else { return nil }
        return unsafeBitCast(symbol, to: StatxFunction.self)
    }()

    private static let statfsFunction: StatfsFunction? = {
        guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "statfs") else { return nil }
        return unsafeBitCast(symbol, to: StatfsFunction.self)
    }()

    private static let statxBasicStats: UInt32 = 0x7ff
    private static let statxMountID: UInt32 = 0x1000

    /// What the resolvers need of a file's metadata.
    struct FileStat {
        var inode: UInt64
        var mode: UInt32
        var uid: UInt32
        var gid: UInt32
        var devMajor: UInt32
        var devMinor: UInt32
        /// 0 when the kernel did not report it.
        var mountID: UInt64
        var ctimeNs: UInt64
        var mtimeNs: UInt64
        var size: UInt64

        /// The kernel's in-memory dev_t encoding (major << 20 | minor), as the BPF side reports it.
        var kernelDevice: UInt32 { (devMajor << 20) | (devMinor & 0xFFFFF) }
    }

    /// statx(2) following symlinks (so `/proc/<pid>/exe` gives the executable itself, even deleted);
    /// falls back to stat(2) without a mount id when statx is missing.
    static func fileStat(_ path: String) -> FileStat? {
        if let statx = statxFunction {
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: 256, alignment: 8)
            defer { buffer.deallocate() }
            buffer.initializeMemory(as: UInt8.self, repeating: 0, count: 256)
            if statx(AT_FDCWD, path, 0, statxBasicStats | statxMountID, buffer) == 0 {
                let mask = buffer.load(fromByteOffset: 0, as: UInt32.self)
                func timestamp(_ offset: Int) -> UInt64 {
                    let seconds = buffer.load(fromByteOffset: offset, as: Int64.self)
                    let nanoseconds = buffer.load(fromByteOffset: offset + 8, as: UInt32.self)
                    return seconds < 0 ? 0 : UInt64(seconds) &* 1_000_000_000 &+ UInt64(nanoseconds)
                }
                return FileStat(
                    inode: buffer.load(fromByteOffset: 32, as: UInt64.self),
                    mode: UInt32(buffer.load(fromByteOffset: 28, as: UInt16.self)),
                    uid: buffer.load(fromByteOffset: 20, as: UInt32.self),
                    gid: buffer.load(fromByteOffset: 24, as: UInt32.self),
                    devMajor: buffer.load(fromByteOffset: 136, as: UInt32.self),
                    devMinor: buffer.load(fromByteOffset: 140, as: UInt32.self),
                    mountID: mask & statxMountID != 0 ? buffer.load(fromByteOffset: 144, as: UInt64.self) : 0,
                    ctimeNs: timestamp(96),
                    mtimeNs: timestamp(112),
                    size: buffer.load(fromByteOffset: 40, as: UInt64.self)
                )
            }
            if errno != ENOSYS { return nil }
        }
        var st = stat()
        if stat(path, &st) != 0 { return nil }
        let dev = UInt64(st.st_dev)
        // glibc's dev_t encoding: major in bits 8-19 and 32-43, minor in bits 0-7 and 12-31.
        let major = UInt32(((dev >> 8) & 0xFFF) | ((dev >> 32) & ~UInt64(0xFFF)))
        let minor = UInt32((dev & 0xFF) | ((dev >> 12) & ~UInt64(0xFF)))
        return FileStat(
            inode: UInt64(st.st_ino), mode: UInt32(st.st_mode), uid: st.st_uid, gid: st.st_gid,
            devMajor: major, devMinor: minor & 0xFFFFF, mountID: 0,
            ctimeNs: UInt64(max(0, st.st_ctim.tv_sec)) &* 1_000_000_000 &+ UInt64(st.st_ctim.tv_nsec),
            mtimeNs: UInt64(max(0, st.st_mtim.tv_sec)) &* 1_000_000_000 &+ UInt64(st.st_mtim.tv_nsec),
            size: UInt64(st.st_size)
        )
    }

    /// Filesystem type name of the filesystem holding `path` (`ext4`, `overlay`, ...), "" when unknown.
    static func filesystemName(_ path: String) -> String {
        guard let statfs = statfsFunction else { return "" }
        // struct statfs is 120 bytes on 64-bit Linux; f_type (a long) comes first.
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 256, alignment: 8)
        defer { buffer.deallocate() }
        if statfs(path, buffer) != 0 { return "" }
        let magic = UInt64(truncatingIfNeeded: buffer.load(fromByteOffset: 0, as: Int.self)) & 0xFFFF_FFFF
        return filesystemNames[magic] ?? ""
    }

    /// Superblock magic numbers (linux/magic.h) of the filesystems executables commonly live on.
    private static let filesystemNames: [UInt64: String] = [
        0xEF53: "ext4", 0x5846_5342: "xfs", 0x9123_683E: "btrfs", 0x0102_1994: "tmpfs",
        0x794C_7630: "overlay", 0x9FA0: "proc", 0x6265_6572: "sysfs", 0x2FC1_2FC1: "zfs",
        0x7371_7368: "squashfs", 0x6969: "nfs", 0xFF53_4D42: "cifs", 0x6573_5546: "fuse",
        0x6E73_6673: "nsfs", 0x4D44: "vfat", 0x2011_BAB0: "exfat", 0x5346_544E: "ntfs",
        0x9660: "iso9660", 0xF2F5_2010: "f2fs", 0x6367_7270: "cgroup2", 0x0027_E0EB: "cgroup",
        0x8584_58F6: "ramfs", 0x0102_1997: "9p", 0x6462_6720: "debugfs", 0x7472_6163: "tracefs",
        0xCAFE_4A11: "bpf", 0x1CD1: "devpts", 0xE0F5_E1E2: "erofs",
    ]
}
