import AgentCore
import CLibBPF
@testable import Probes
import XCTest

/// ptrace, signal, mmap, mprotect, splice and bpf records: byte fixtures laid out as the kernel side
/// writes them, hostile lengths, and the record layouts both sides must agree on.
final class ProcessMemoryDecoderTests: XCTestCase {
    let decoder = RecordDecoder(clock: BootClock(offsetNs: 1_000_000_000))

    private func header(_ type: csm_event_type, pid: UInt32 = 42) -> csm_event_header {
        RecordFixture.header(type, pid: pid, tid: pid, comm: "tester", timestampNs: 5_000)
    }

    // MARK: - Layouts (bpf/include/events.h; no implicit padding on either side)

    func testRecordSizesAndOffsets() {
        XCTAssertEqual(MemoryLayout<csm_ptrace_event>.size, 72)
        XCTAssertEqual(MemoryLayout<csm_ptrace_event>.offset(of: \.retval), 48)
        XCTAssertEqual(MemoryLayout<csm_ptrace_event>.offset(of: \.address), 56)
        XCTAssertEqual(MemoryLayout<csm_ptrace_event>.offset(of: \.request), 64)
        XCTAssertEqual(MemoryLayout<csm_ptrace_event>.offset(of: \.pid), 68)

        XCTAssertEqual(MemoryLayout<csm_signal_event>.size, 72)
        XCTAssertEqual(MemoryLayout<csm_signal_event>.offset(of: \.pid), 56)
        XCTAssertEqual(MemoryLayout<csm_signal_event>.offset(of: \.type), 60)
        XCTAssertEqual(MemoryLayout<csm_signal_event>.offset(of: \.tid), 68)

        XCTAssertEqual(MemoryLayout<csm_mmap_event>.size, 168)
        XCTAssertEqual(MemoryLayout<csm_mmap_event>.offset(of: \.file), 48)
        XCTAssertEqual(MemoryLayout<csm_mmap_event>.offset(of: \.retval), 120)
        XCTAssertEqual(MemoryLayout<csm_mmap_event>.offset(of: \.address), 128)
        XCTAssertEqual(MemoryLayout<csm_mmap_event>.offset(of: \.protection), 152)
        XCTAssertEqual(MemoryLayout<csm_mmap_event>.offset(of: \.pm_flags), 164)

        XCTAssertEqual(MemoryLayout<csm_mprotect_event>.size, 104)
        XCTAssertEqual(MemoryLayout<csm_mprotect_event>.offset(of: \.vm_start), 56)
        XCTAssertEqual(MemoryLayout<csm_mprotect_event>.offset(of: \.vm_protection), 88)
        XCTAssertEqual(MemoryLayout<csm_mprotect_event>.offset(of: \.pm_flags), 96)

        XCTAssertEqual(MemoryLayout<csm_splice_event>.size, 152)
        XCTAssertEqual(MemoryLayout<csm_splice_event>.offset(of: \.retval), 120)
        XCTAssertEqual(MemoryLayout<csm_splice_event>.offset(of: \.pipe_entry_flag), 136)
        XCTAssertEqual(MemoryLayout<csm_splice_event>.offset(of: \.pm_flags), 148)

        XCTAssertEqual(MemoryLayout<csm_bpf_event>.size, 152)
        XCTAssertEqual(MemoryLayout<csm_bpf_event>.offset(of: \.cmd), 56)
        XCTAssertEqual(MemoryLayout<csm_bpf_event>.offset(of: \.map_name), 80)
        XCTAssertEqual(MemoryLayout<csm_bpf_event>.offset(of: \.prog_name), 96)
        XCTAssertEqual(MemoryLayout<csm_bpf_event>.offset(of: \.tag), 112)
        XCTAssertEqual(MemoryLayout<csm_bpf_event>.offset(of: \.helpers), 120)
    }

    // MARK: - ptrace / signal

    func testPtrace() throws {
        var fixed = csm_ptrace_event()
        fixed.hdr = header(CSM_EVENT_PTRACE)
        fixed.retval = -1 // EPERM
        fixed.request = 16
        fixed.address = 0x7fff_0000_1000
        fixed.pid = 4321
        let event = try decoder.decode(bytes: RecordFixture.record(fixed))
        XCTAssertEqual(event.type, .ptrace)
        XCTAssertEqual(event.outcome, .refused)
        guard case let .ptrace(ptrace) = event.payload else { return XCTFail("not ptrace") }
        XCTAssertEqual(ptrace.request, 16)
        XCTAssertEqual(ptrace.address, 0x7fff_0000_1000)
        XCTAssertEqual(ptrace.traceePid, 4321)
        XCTAssertNil(ptrace.tracee)
    }

    func testSignalToProcessGroup() throws {
        var fixed = csm_signal_event()
        fixed.hdr = header(CSM_EVENT_SIGNAL)
        fixed.pid = -777
        fixed.type = 10
        fixed.syscall = UInt32(CSM_SYS_KILL.rawValue)
        let event = try decoder.decode(bytes: RecordFixture.record(fixed))
        XCTAssertEqual(event.outcome, .success)
        guard case let .signal(signal) = event.payload else { return XCTFail("not signal") }
        XCTAssertEqual(signal.pid, -777)
        XCTAssertEqual(signal.type, 10)
    }

    func testTruncatedFixedPartThrows() {
        var fixed = csm_signal_event()
        fixed.hdr = header(CSM_EVENT_SIGNAL)
        let bytes = Array(RecordFixture.record(fixed, sizeOverride: 60).prefix(60))
        XCTAssertThrowsError(try decoder.decode(bytes: bytes))
    }

    // MARK: - mmap / mprotect

    func testMMapFileBacked() throws {
        var fixed = csm_mmap_event()
        fixed.hdr = header(CSM_EVENT_MMAP)
        fixed.retval = 0x7f00_0000_0000
        fixed.address = 0x7f00_0000_0000
        fixed.length = 8192
        fixed.offset = 4096
        fixed.protection = 5
        fixed.flags = 2
        fixed.fd = 3
        fixed.pm_flags = UInt32(CSM_PM_HAS_FILE.rawValue)
        fixed.file.inode = 99
        let path = Array("/usr/lib/libc.so.6".utf8)
        fixed.file.path_len = UInt16(path.count)
        let event = try decoder.decode(bytes: RecordFixture.record(fixed, data: path))
        XCTAssertEqual(event.outcome, .success)
        guard case let .mmap(mmap) = event.payload else { return XCTFail("not mmap") }
        XCTAssertEqual(mmap.address, 0x7f00_0000_0000)
        XCTAssertEqual(mmap.length, 8192)
        XCTAssertEqual(mmap.offset, 4096)
        XCTAssertEqual(mmap.protection, 5)
        XCTAssertEqual(mmap.flags, 2)
        XCTAssertEqual(mmap.file?.path, "/usr/lib/libc.so.6")
        XCTAssertEqual(mmap.file?.inode, 99)
    }

    func testMMapAnonymousHasNoFile() throws {
        var fixed = csm_mmap_event()
        fixed.hdr = header(CSM_EVENT_MMAP)
        fixed.retval = -9 // EBADF
        fixed.flags = 0x22
        let event = try decoder.decode(bytes: RecordFixture.record(fixed))
        XCTAssertEqual(event.outcome, .error)
        guard case let .mmap(mmap) = event.payload else { return XCTFail("not mmap") }
        XCTAssertNil(mmap.file)
    }

    func testMMapPathLongerThanRecordThrows() {
        var fixed = csm_mmap_event()
        fixed.hdr = header(CSM_EVENT_MMAP)
        fixed.pm_flags = UInt32(CSM_PM_HAS_FILE.rawValue)
        fixed.file.path_len = 4000
        XCTAssertThrowsError(try decoder.decode(bytes: RecordFixture.record(fixed, data: Array("/short".utf8)))) { error in
            XCTAssertEqual(error as? DecodeError, .inconsistentLengths(type: CSM_EVENT_MMAP.rawValue))
        }
    }

    func testMProtect() throws {
        var fixed = csm_mprotect_event()
        fixed.hdr = header(CSM_EVENT_MPROTECT)
        fixed.vm_start = 0x1000
        fixed.vm_end = 0x5000
        fixed.vm_protection = 3
        fixed.req_protection = 5
        let event = try decoder.decode(bytes: RecordFixture.record(fixed))
        guard case let .mprotect(mprotect) = event.payload else { return XCTFail("not mprotect") }
        XCTAssertEqual(mprotect.vmStart, 0x1000)
        XCTAssertEqual(mprotect.vmEnd, 0x5000)
        XCTAssertEqual(mprotect.vmProtection, 3)
        XCTAssertEqual(mprotect.reqProtection, 5)
    }

    // MARK: - splice

    func testSplice() throws {
        var fixed = csm_splice_event()
        fixed.hdr = header(CSM_EVENT_SPLICE)
        fixed.retval = 5
        fixed.pipe_entry_flag = 0x10
        fixed.pipe_exit_flag = 0
        fixed.pm_flags = UInt32(CSM_PM_HAS_FILE.rawValue)
        let path = Array("/etc/passwd".utf8)
        fixed.file.path_len = UInt16(path.count)
        let event = try decoder.decode(bytes: RecordFixture.record(fixed, data: path))
        guard case let .splice(splice) = event.payload else { return XCTFail("not splice") }
        XCTAssertEqual(splice.pipeEntryFlag, 0x10)
        XCTAssertEqual(splice.pipeExitFlag, 0)
        XCTAssertEqual(splice.file?.path, "/etc/passwd")
    }

    // MARK: - bpf

    func testBPFProgLoad() throws {
        var fixed = csm_bpf_event()
        fixed.hdr = header(CSM_EVENT_BPF)
        fixed.retval = 7
        fixed.cmd = 5
        fixed.pm_flags = UInt32(CSM_PM_HAS_PROG.rawValue | CSM_PM_HAS_TAG.rawValue)
        fixed.prog_type = 1
        fixed.attach_type = 0
        RecordFixture.setCharArray(&fixed.prog_name, "csm_test_prog")
        fixed.tag = (0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, 0x0a, 0xff)
        fixed.helpers.0 = (1 << 5) | (1 << 7)
        fixed.helpers.3 = 1 << 63 // helper 255
        let event = try decoder.decode(bytes: RecordFixture.record(fixed))
        guard case let .bpf(bpf) = event.payload else { return XCTFail("not bpf") }
        XCTAssertEqual(bpf.cmd, 5)
        XCTAssertEqual(bpf.progName, "csm_test_prog")
        XCTAssertEqual(bpf.progType, 1)
        XCTAssertEqual(bpf.attachType, 0)
        XCTAssertEqual(bpf.progTag, "deadbeef00010aff")
        XCTAssertEqual(bpf.helpers, [5, 7, 255])
        XCTAssertNil(bpf.mapName)
        XCTAssertNil(bpf.mapType)
    }

    func testBPFMapCreateWithUnterminatedName() throws {
        var fixed = csm_bpf_event()
        fixed.hdr = header(CSM_EVENT_BPF)
        fixed.cmd = 0
        fixed.pm_flags = UInt32(CSM_PM_HAS_MAP.rawValue)
        fixed.map_type = 2
        // A hostile caller may fill all 16 bytes without a NUL.
        withUnsafeMutableBytes(of: &fixed.map_name) { $0.copyBytes(from: Array(repeating: UInt8(ascii: "A"), count: 16)) }
        let event = try decoder.decode(bytes: RecordFixture.record(fixed))
        guard case let .bpf(bpf) = event.payload else { return XCTFail("not bpf") }
        XCTAssertEqual(bpf.mapName, String(repeating: "A", count: 16))
        XCTAssertEqual(bpf.mapType, 2)
        XCTAssertNil(bpf.progName)
        XCTAssertNil(bpf.progTag)
        XCTAssertEqual(bpf.helpers, [])
    }

    func testBPFOtherCommandCarriesOnlyTheCommand() throws {
        var fixed = csm_bpf_event()
        fixed.hdr = header(CSM_EVENT_BPF)
        fixed.cmd = 1
        fixed.retval = -2
        let event = try decoder.decode(bytes: RecordFixture.record(fixed))
        XCTAssertEqual(event.outcome, .error)
        guard case let .bpf(bpf) = event.payload else { return XCTFail("not bpf") }
        XCTAssertEqual(bpf.cmd, 1)
        XCTAssertNil(bpf.mapName)
        XCTAssertNil(bpf.progName)
    }
}
