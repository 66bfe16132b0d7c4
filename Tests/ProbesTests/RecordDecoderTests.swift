import AgentCore
import CLibBPF
@testable import Probes
import XCTest

/// Decoding records built byte by byte, as the kernel side lays them out.
final class RecordDecoderTests: XCTestCase {
    let decoder = RecordDecoder(clock: BootClock(offsetNs: 1_000_000_000))

    private func header(_ type: csm_event_type, pid: UInt32 = 42, comm: String = "tester") -> csm_event_header {
        RecordFixture.header(type, pid: pid, tid: pid + 1, comm: comm, timestampNs: 5_000, cgroupID: 77)
    }

    func testOpenSuccess() throws {
        var fixed = csm_open_event()
        fixed.hdr = header(CSM_EVENT_OPEN)
        fixed.retval = 3
        fixed.flags = 0o100 | 0o1 // O_CREAT | O_WRONLY
        fixed.mode = 0o644
        fixed.dirfd = -100
        fixed.syscall = UInt32(CSM_SYS_OPENAT.rawValue)
        fixed.file.inode = 1234
        fixed.file.mode = 0o100644
        fixed.file.mount_id = 9
        let path = Array("/etc/passwd".utf8)
        let user = Array("passwd".utf8)
        fixed.file.path_len = UInt16(path.count)
        fixed.user_path_len = UInt32(user.count)

        let event = try decoder.decode(bytes: RecordFixture.record(fixed, data: path + user))
        XCTAssertEqual(event.type, .open)
        XCTAssertEqual(event.pid, 42)
        XCTAssertEqual(event.tid, 43)
        XCTAssertEqual(event.comm, "tester")
        XCTAssertEqual(event.cgroupID, 77)
        XCTAssertEqual(event.timeNs, 1_000_005_000)
        XCTAssertEqual(event.retval, 3)
        guard case let .open(open) = event.payload else { return XCTFail("not an open payload") }
        XCTAssertEqual(open.file.path, "/etc/passwd")
        XCTAssertEqual(open.file.name, "passwd")
        XCTAssertEqual(open.file.inode, 1234)
        XCTAssertEqual(open.file.mountID, 9)
        XCTAssertEqual(open.userPath, "passwd")
        XCTAssertEqual(open.syscall, .openat)
        XCTAssertNil(open.file.pathResolutionError)
    }

    func testFailedRelativeOpenIsMadeAbsolute() throws {
        var fixed = csm_open_event()
        fixed.hdr = header(CSM_EVENT_OPEN)
        fixed.retval = -2
        let base = Array("/home/user".utf8)
        let user = Array("./a/../missing.txt".utf8)
        fixed.file.path_len = UInt16(base.count)
        fixed.user_path_len = UInt32(user.count)
        let event = try decoder.decode(bytes: RecordFixture.record(fixed, data: base + user))
        guard case let .open(open) = event.payload else { return XCTFail("not an open payload") }
        XCTAssertEqual(open.file.path, "/home/user/missing.txt")
        XCTAssertEqual(open.file.inode, 0)
        XCTAssertEqual(event.outcome, .error)
    }

    /// The directory and the relative path are decoded apart, then joined: the joined text is the
    /// encoding of the joined bytes (`a\b` escaped as `a\x5cb` only while an invalid byte remains).
    func testFailedRelativeOpenJoinsToCanonicalText() throws {
        for (base, user, expected) in [
            (Array("/d".utf8) + [0xFF], Array("a\\b".utf8), "/d\\xff/a\\x5cb"),
            (Array("/d".utf8) + [0xFF], Array("../a\\b".utf8), "/a\\b"),
            (Array("/d".utf8), Array("x\\xff".utf8), "/d/x\\x5cxff"),
        ] {
            var fixed = csm_open_event()
            fixed.hdr = header(CSM_EVENT_OPEN)
            fixed.retval = -2
            fixed.file.path_len = UInt16(base.count)
            fixed.user_path_len = UInt32(user.count)
            let event = try decoder.decode(bytes: RecordFixture.record(fixed, data: base + user))
            guard case let .open(open) = event.payload else { return XCTFail("not an open payload") }
            XCTAssertEqual(open.file.path, expected)
            XCTAssertEqual(open.file.name, FileInfo.baseName(of: String(kernelBytes: [UInt8](decodingKernelString: expected))))
        }
    }

    func testInvalidUTF8AndControlBytesSurvive() throws {
        var fixed = csm_open_event()
        fixed.hdr = header(CSM_EVENT_OPEN)
        let path: [UInt8] = Array("/tmp/a\nb".utf8) + [0xFF, 0xC3]
        fixed.file.path_len = UInt16(path.count)
        let event = try decoder.decode(bytes: RecordFixture.record(fixed, data: path))
        guard case let .open(open) = event.payload else { return XCTFail("not an open payload") }
        XCTAssertEqual(open.file.path, "/tmp/a\nb\\xff\\xc3")
    }

    func testDeepPathIsFlagged() throws {
        var fixed = csm_open_event()
        fixed.hdr = header(CSM_EVENT_OPEN)
        fixed.file.path_error = UInt32(CSM_PATH_ERR_TOO_DEEP.rawValue)
        let path = Array("/d/d/file".utf8)
        fixed.file.path_len = UInt16(path.count)
        let event = try decoder.decode(bytes: RecordFixture.record(fixed, data: path))
        guard case let .open(open) = event.payload else { return XCTFail("not an open payload") }
        XCTAssertNotNil(open.file.pathResolutionError)
        XCTAssertTrue(open.file.pathResolutionError!.contains("deeper"))
    }

    /// A memfd executable: the kernel side writes its dentry name and CSM_PATH_ERR_PSEUDO; the file
    /// has no path, the name the kernel gave it, and no error.
    func testMemfdExecutableHasANameAndNoPath() throws {
        var fixed = csm_exec_event()
        fixed.hdr = header(CSM_EVENT_EXEC, comm: "3")
        fixed.file.path_error = UInt32(CSM_PATH_ERR_PSEUDO.rawValue)
        let name = Array("memfd:payload".utf8)
        let args = Array("payload\0".utf8)
        fixed.file.path_len = UInt16(name.count)
        fixed.args_len = UInt32(args.count)
        let event = try decoder.decode(bytes: RecordFixture.record(fixed, data: name + args))
        guard case let .exec(exec) = event.payload else { return XCTFail("not an exec payload") }
        XCTAssertEqual(exec.file.path, "")
        XCTAssertEqual(exec.file.name, "memfd:payload")
        XCTAssertNil(exec.file.pathResolutionError)
    }

    /// A pipe's dentry name is empty: no path, no name, nothing written.
    func testPseudoFileWithEmptyName() throws {
        var fixed = csm_open_event()
        fixed.hdr = header(CSM_EVENT_OPEN)
        fixed.retval = 3
        fixed.file.path_error = UInt32(CSM_PATH_ERR_PSEUDO.rawValue)
        let event = try decoder.decode(bytes: RecordFixture.record(fixed))
        guard case let .open(open) = event.payload else { return XCTFail("not an open payload") }
        XCTAssertEqual(open.file.path, "")
        XCTAssertEqual(open.file.name, "")
        XCTAssertNil(open.file.pathResolutionError)
    }

    /// An unlinked file keeps its path and reads `deleted`, as the /proc snapshot writes it; with a
    /// walk error too, both are said.
    func testDeletedFileIsFlagged() throws {
        var fixed = csm_exec_event()
        fixed.hdr = header(CSM_EVENT_EXEC, comm: "vanishing")
        fixed.file.path_error = UInt32(CSM_PATH_ERR_DELETED.rawValue)
        let path = Array("/tmp/vanishing".utf8)
        fixed.file.path_len = UInt16(path.count)
        var event = try decoder.decode(bytes: RecordFixture.record(fixed, data: path))
        guard case let .exec(exec) = event.payload else { return XCTFail("not an exec payload") }
        XCTAssertEqual(exec.file.path, "/tmp/vanishing")
        XCTAssertEqual(exec.file.name, "vanishing")
        XCTAssertEqual(exec.file.pathResolutionError, "deleted")

        fixed.file.path_error |= UInt32(CSM_PATH_ERR_TOO_DEEP.rawValue)
        event = try decoder.decode(bytes: RecordFixture.record(fixed, data: path))
        guard case let .exec(deep) = event.payload else { return XCTFail("not an exec payload") }
        XCTAssertTrue(deep.file.pathResolutionError?.hasSuffix("; deleted") ?? false, "\(deep.file.pathResolutionError ?? "nil")")
    }

    /// A failed open's path is the caller's, made absolute against its cwd: a deleted cwd says
    /// nothing of the file asked for.
    func testFailedOpenIgnoresTheBaseDirectoryFacts() throws {
        var fixed = csm_open_event()
        fixed.hdr = header(CSM_EVENT_OPEN)
        fixed.retval = -2
        fixed.file.path_error = UInt32(CSM_PATH_ERR_DELETED.rawValue)
        let base = Array("/tmp/gone".utf8)
        let user = Array("missing".utf8)
        fixed.file.path_len = UInt16(base.count)
        fixed.user_path_len = UInt32(user.count)
        let event = try decoder.decode(bytes: RecordFixture.record(fixed, data: base + user))
        guard case let .open(open) = event.payload else { return XCTFail("not an open payload") }
        XCTAssertEqual(open.file.path, "/tmp/gone/missing")
        XCTAssertNil(open.file.pathResolutionError)
    }

    func testExecArgumentsAndTruncation() throws {
        var fixed = csm_exec_event()
        fixed.hdr = header(CSM_EVENT_EXEC, comm: "ls")
        fixed.ppid = 1
        fixed.creds.uid = 1000
        fixed.creds.cap_effective = 1 << 21
        fixed.flags = UInt32(CSM_EXEC_ARGS_TRUNCATED.rawValue)
        let path = Array("/usr/bin/ls".utf8)
        let args: [UInt8] = Array("ls\0-l\0--colo".utf8) // the last argument was cut
        let envs: [UInt8] = Array("A=1\0B=two\0".utf8)
        fixed.file.path_len = UInt16(path.count)
        fixed.args_len = UInt32(args.count)
        fixed.envs_len = UInt32(envs.count)
        withUnsafeMutableBytes(of: &fixed.tty) { $0.copyBytes(from: Array("pts3".utf8)) }

        let event = try decoder.decode(bytes: RecordFixture.record(fixed, data: path + args + envs))
        guard case let .exec(exec) = event.payload else { return XCTFail("not an exec payload") }
        XCTAssertEqual(exec.file.path, "/usr/bin/ls")
        XCTAssertEqual(exec.argv0, "ls")
        XCTAssertEqual(exec.args, ["-l", "--colo"])
        XCTAssertTrue(exec.argsTruncated)
        XCTAssertFalse(exec.envsTruncated)
        XCTAssertEqual(exec.envs, ["A=1", "B=two"])
        XCTAssertEqual(exec.tty, "pts3")
        XCTAssertEqual(exec.credentials.uid, 1000)
        XCTAssertEqual(exec.credentials.capEffective, 1 << 21)
    }

    func testForkAndExit() throws {
        var fork = csm_fork_event()
        fork.hdr = header(CSM_EVENT_FORK)
        fork.child_pid = 100
        fork.child_tid = 100
        let forkEvent = try decoder.decode(bytes: RecordFixture.record(fork, data: []))
        guard case let .fork(payload) = forkEvent.payload else { return XCTFail("not a fork payload") }
        XCTAssertEqual(payload.childPid, 100)
        XCTAssertEqual(payload.parentPid, 42)

        var exit = csm_exit_event()
        exit.hdr = header(CSM_EVENT_EXIT)
        exit.cause = UInt32(CSM_EXIT_SIGNALED.rawValue)
        exit.code = 9
        let exitEvent = try decoder.decode(bytes: RecordFixture.record(exit, data: []))
        guard case let .exit(payload) = exitEvent.payload else { return XCTFail("not an exit payload") }
        XCTAssertEqual(payload.cause, .signaled)
        XCTAssertEqual(payload.code, 9)
    }

    func testCorruptRecordsAreErrorsNotCrashes() {
        // Shorter than a header.
        XCTAssertThrowsError(try decoder.decode(bytes: [1, 0, 0, 0]))
        // Unknown type.
        var unknown = csm_exit_event()
        unknown.hdr = header(CSM_EVENT_EXIT)
        unknown.hdr.type = 999
        XCTAssertThrowsError(try decoder.decode(bytes: RecordFixture.record(unknown, data: []))) { error in
            XCTAssertEqual(error as? DecodeError, .unknownType(999))
        }
        // Header claims more bytes than the buffer has.
        var exit = csm_exit_event()
        exit.hdr = header(CSM_EVENT_EXIT)
        XCTAssertThrowsError(try decoder.decode(bytes: RecordFixture.record(exit, data: [], sizeOverride: 4096)))
        // Variable lengths past the end of the record.
        var open = csm_open_event()
        open.hdr = header(CSM_EVENT_OPEN)
        open.file.path_len = 4000
        open.user_path_len = 10
        XCTAssertThrowsError(try decoder.decode(bytes: RecordFixture.record(open, data: Array("/x".utf8)))) { error in
            XCTAssertEqual(error as? DecodeError, .inconsistentLengths(type: CSM_EVENT_OPEN.rawValue))
        }
        // A fixed part cut short (exec record with only a header).
        XCTAssertThrowsError(try decoder.decode(bytes: RecordFixture.record(header(CSM_EVENT_EXEC), data: [])))
    }

    func testRandomBytesNeverCrash() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<5000 {
            let count = Int.random(in: 0..<600, using: &generator)
            var bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if bytes.count >= 8 {
                bytes[0] = UInt8.random(in: 1...16, using: &generator)
                bytes[1] = 0; bytes[2] = 0; bytes[3] = 0
                let size = UInt32(bytes.count)
                withUnsafeBytes(of: size) { raw in bytes.replaceSubrange(4..<8, with: raw) }
            }
            _ = try? decoder.decode(bytes: bytes)
        }
    }
}
