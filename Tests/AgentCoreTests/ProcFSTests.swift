import XCTest
import Foundation
import Glibc
@testable import AgentCore

final class ProcFSTests: XCTestCase {
    private let clock = BootClock()

    private func selfExe() -> String? { SysFS.readLink("/proc/self/exe") }

    func testLazyLookupOfOwnPid() throws {
        let tree = ProcessTree(source: ProcFSReader(clock: clock), clock: clock)
        var event = Event(type: .open, pid: UInt32(getpid()), tid: UInt32(getpid()), comm: "xctest",
                          payload: .open(OpenPayload(file: FileInfo(path: "/x"), flags: 0, mode: 0, dirfd: 0,
                                                     syscall: .open, userPath: "/x")))
        tree.resolve(&event)
        let entry = try XCTUnwrap(event.process)
        XCTAssertNil(event.processResolutionError)
        XCTAssertEqual(entry.pid, UInt32(getpid()))
        XCTAssertEqual(entry.ppid, UInt32(getppid()))
        XCTAssertEqual(entry.parent?.pid, UInt32(getppid()), "ancestors are read lazily too")
        XCTAssertEqual(entry.executable?.path, selfExe())
        XCTAssertNotEqual(entry.executable?.inode, 0)
        XCTAssertEqual(entry.credentials.uid, getuid())
        XCTAssertEqual(entry.credentials.euid, geteuid())
        XCTAssertEqual(entry.source, "procfs")
        XCTAssertFalse(entry.isKworker)
        XCTAssertEqual(tree.lazyLookups, tree.liveCount, "one read per process, ancestors included")

        // Fork time is this process's start: in the past, within a day.
        let now = BootClock.nowWallNs()
        XCTAssertLessThanOrEqual(entry.forkTimeNs, now + 1_000_000_000)
        XCTAssertGreaterThan(entry.forkTimeNs, now - 86_400 * 1_000_000_000)

        // A thread id resolves to its process.
        let threadEntry = ProcFSReader(clock: clock).readProcess(pid: UInt32(getpid()))
        XCTAssertEqual(threadEntry?.pid, UInt32(getpid()))
    }

    func testSnapshotHasInitAndSelfWithArgs() throws {
        let tree = ProcessTree(source: ProcFSReader(clock: clock), clock: clock)
        let count = tree.snapshot()
        XCTAssertGreaterThan(count, 2)
        XCTAssertEqual(tree.snapshotSize, count)
        let initEntry = try XCTUnwrap(tree.entry(forPid: 1))
        XCTAssertEqual(initEntry.ppid, 0)
        XCTAssertNil(initEntry.parent)
        XCTAssertEqual(initEntry.source, "snapshot")

        let me = try XCTUnwrap(tree.entry(forPid: UInt32(getpid())))
        XCTAssertEqual(me.ppid, UInt32(getppid()))
        XCTAssertTrue(me.parent === tree.entry(forPid: UInt32(getppid())))
        XCTAssertEqual(me.executable?.path, selfExe())
        let arguments = CommandLine.arguments
        XCTAssertEqual(me.argv0, arguments.first)
        XCTAssertEqual(Array(me.args), Array(arguments.dropFirst()))
        XCTAssertFalse(me.argsTruncated)
        XCTAssertFalse(me.envs.isEmpty)
        XCTAssertLessThanOrEqual(me.envs.reduce(0) { $0 + $1.utf8.count + 1 }, ProcFSReader.maxEnvsBytes + 1)
        XCTAssertNotNil(me.cgroupPath)

        let kthreadd = try XCTUnwrap(tree.entry(forPid: 2))
        XCTAssertTrue(kthreadd.isKworker)
        XCTAssertNil(kthreadd.executable)
        XCTAssertEqual(kthreadd.comm, "kthreadd")
    }

    func testStatParsingWithOddComm() throws {
        let line = "1234 (a) b (c)) S 77 1234 1234 34817 1234 4194560 100 0 0 0 1 2 0 0 20 0 1 0 5551 1000 10 0\n"
        let stat = try XCTUnwrap(ProcStat(Array(line.utf8)))
        XCTAssertEqual(stat.comm, "a) b (c)")
        XCTAssertEqual(stat.ppid, 77)
        XCTAssertEqual(stat.ttyNr, 34817)
        XCTAssertEqual(stat.startTicks, 5551)
        XCTAssertNil(ProcStat(Array("garbage".utf8)))
        XCTAssertNil(ProcStat(Array("1 (x) S 1 2".utf8)))
        let nonUTF8 = ProcStat(Array("1 (".utf8) + [0xFF] + Array(") S 0 1 1 0 1 0 0 0 0 0 0 0 0 0 0 0 1 0 9 0 0".utf8))
        XCTAssertEqual(nonUTF8?.comm, "\\xff")
    }

    func testStatusParsing() {
        let text = "Name:\tx\nTgid:\t42\nUid:\t1000\t1001\t1002\t1003\nGid:\t5\t6\t7\t8\nCapPrm:\t000001ffffffffff\nCapEff:\t0000000000000400\n"
        let status = ProcStatus(Array(text.utf8))
        XCTAssertEqual(status.tgid, 42)
        XCTAssertEqual(status.uids.1, 1001)
        XCTAssertEqual(status.uids.3, 1003)
        XCTAssertEqual(status.gids.0, 5)
        XCTAssertEqual(status.capPermitted, 0x1ff_ffff_ffff)
        XCTAssertEqual(status.capEffective, 0x400)
    }

    func testSplitNULAndTruncation() throws {
        XCTAssertEqual(StringList(nulSeparated: Array("a\0b c\0\0d\0".utf8)), ["a", "b c", "", "d"])
        XCTAssertEqual(StringList(nulSeparated: [UInt8]()), [])
        XCTAssertEqual(StringList(nulSeparated: Array("partial".utf8)), ["partial"])

        let path = NSTemporaryDirectory() + "csm-trunc-\(getpid())"
        defer { unlink(path) }
        let fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0o600)
        let bytes = [UInt8](repeating: 0x61, count: 10_000)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        let read = try XCTUnwrap(SysFS.readFile(path, limit: 4096))
        XCTAssertEqual(read.bytes.count, 4096)
        XCTAssertTrue(read.truncated)
        let whole = try XCTUnwrap(SysFS.readFile(path, limit: 10_000))
        XCTAssertEqual(whole.bytes.count, 10_000)
        XCTAssertFalse(whole.truncated)
        XCTAssertNil(SysFS.readFile("/proc/0/nonexistent", limit: 10))
    }

    func testUnifiedCgroupLine() {
        let text = "9:name=systemd:/\n4:memory:/foo\n0::/system.slice/docker-abc.scope\n"
        XCTAssertEqual(ProcFSReader.unifiedCgroupPath(Array(text.utf8)), "/system.slice/docker-abc.scope")
        XCTAssertNil(ProcFSReader.unifiedCgroupPath(Array("1:cpu:/\n".utf8)))
    }

    func testTTYNames() {
        XCTAssertEqual(TTYNames.name(ttyNr: 0), "")
        XCTAssertEqual(TTYNames.name(ttyNr: 136 << 8 | 3), "pts3")
        XCTAssertEqual(TTYNames.name(ttyNr: 137 << 8 | 1), "pts257")
        XCTAssertEqual(TTYNames.name(ttyNr: 4 << 8 | 1), "tty1")
        XCTAssertEqual(TTYNames.name(ttyNr: 4 << 8 | 64), "ttyS0")
        XCTAssertEqual(TTYNames.name(ttyNr: 5 << 8 | 1), "console")
        // Large pts numbers: minor bits above 8 live in bits 20-31.
        XCTAssertEqual(TTYNames.name(ttyNr: Int64(136 << 8 | 0x34 | (0x12 << 20))), "pts\(0x1234)")
    }

    /// A memfd reads `/memfd:NAME (deleted)` through its link: no path, the kernel's name, as the
    /// kernel side reports a memfd executed live. (An fd link reads as an exe link does.)
    func testMemfdExecutableHasNoPath() throws {
        // glibc's memfd_create is not in the Glibc module: looked up by name.
        typealias MemfdCreate = @convention(c) (UnsafePointer<CChar>, UInt32) -> Int32
        let symbol = try XCTUnwrap(dlsym(UnsafeMutableRawPointer(bitPattern: 0), "memfd_create"))
        let fd = unsafeBitCast(symbol, to: MemfdCreate.self)("csm-test", 0)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        let file = try XCTUnwrap(ProcFSReader.executable("/proc/self/fd/\(fd)"))
        XCTAssertEqual(file.path, "")
        XCTAssertEqual(file.name, "memfd:csm-test")
        XCTAssertNil(file.pathResolutionError)
        XCTAssertNotEqual(file.inode, 0)
    }

    func testDeletedExecutableKeepsItsPath() throws {
        let path = NSTemporaryDirectory() + "csm-deleted-\(getpid())"
        let fd = open(path, O_CREAT | O_RDWR | O_EXCL, 0o700)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        unlink(path)
        let file = try XCTUnwrap(ProcFSReader.executable("/proc/self/fd/\(fd)"))
        XCTAssertEqual(file.path, path)
        XCTAssertEqual(file.pathResolutionError, "deleted")
    }

    func testExecutableOfSelfHasStat() throws {
        let file = try XCTUnwrap(ProcFSReader.executable("/proc/self/exe"))
        var st = stat()
        XCTAssertEqual(stat(file.path, &st), 0)
        XCTAssertEqual(file.inode, UInt64(st.st_ino))
        XCTAssertEqual(file.mode, UInt32(st.st_mode))
        XCTAssertNotEqual(file.mountID, 0, "statx reports the mount id")
        XCTAssertFalse(file.filesystem.isEmpty)
        XCTAssertNil(file.pathResolutionError)
        XCTAssertEqual(file.name, FileInfo.baseName(of: file.path))
    }
}
