import AgentCore
import XCTest

final class NamesTests: XCTestCase {
    func testOpenFlags() {
        XCTAssertEqual(openFlagNames(0), ["O_RDONLY"])
        XCTAssertEqual(openFlagNames(0o1 | 0o100 | 0o1000 | 0o2000000), ["O_WRONLY", "O_CREAT", "O_TRUNC", "O_CLOEXEC"])
        XCTAssertEqual(openFlagNames(0o2 | 0o4010000), ["O_RDWR", "O_SYNC"])
        XCTAssertEqual(openFlagNames(0o2 | 0o10000), ["O_RDWR", "O_DSYNC"])
        XCTAssertEqual(openFlagNames(0o2 | 0o20200000), ["O_RDWR", "O_TMPFILE"])
        XCTAssertEqual(openFlagNames(0o200000 | 0o10000000), ["O_RDONLY", "O_DIRECTORY", "O_PATH"])
        XCTAssertEqual(openFlagNames(3 | 0o20000 | 0x8000_0000), ["O_ACCMODE", "FASYNC", "0x80000000"])
    }

    func testCapabilities() {
        XCTAssertEqual(capabilityNames(0), [])
        XCTAssertEqual(capabilityNames(1 << 21 | 1), ["CAP_CHOWN", "CAP_SYS_ADMIN"])
        XCTAssertEqual(capabilityNames(1 << 40), ["CAP_CHECKPOINT_RESTORE"])
        XCTAssertEqual(capabilityNames(1 << 41), ["CAP_41"])
    }

    func testSignalsPtraceProtection() {
        XCTAssertEqual(signalName(10), "SIGUSR1")
        XCTAssertEqual(signalName(9), "SIGKILL")
        XCTAssertEqual(signalName(31), "SIGSYS")
        XCTAssertEqual(signalName(32), "SIGRTMIN")
        XCTAssertEqual(signalName(35), "SIGRTMIN+3")
        XCTAssertEqual(signalName(64), "SIGRTMAX")
        XCTAssertEqual(ptraceRequestName(16), "PTRACE_ATTACH")
        XCTAssertEqual(ptraceRequestName(0x4206), "PTRACE_SEIZE")
        XCTAssertEqual(ptraceRequestName(77), "PTRACE_77")
        XCTAssertEqual(protectionString(0), "PROT_NONE")
        XCTAssertEqual(protectionString(5), "PROT_READ|PROT_EXEC")
        XCTAssertEqual(mmapFlagsString(0x22), "MAP_PRIVATE|MAP_ANONYMOUS")
        XCTAssertEqual(pipeBufFlagsString(0x10), "PIPE_BUF_FLAG_CAN_MERGE")
        XCTAssertEqual(pipeBufFlagsString(0x81), "PIPE_BUF_FLAG_LRU|0x80")
        XCTAssertEqual(addressFamilyName(10), "AF_INET6")
    }

    func testBPF() {
        XCTAssertEqual(bpfCommandName(0), "BPF_MAP_CREATE")
        XCTAssertEqual(bpfCommandName(5), "BPF_PROG_LOAD")
        XCTAssertEqual(bpfMapTypeName(2), "BPF_MAP_TYPE_ARRAY")
        XCTAssertEqual(bpfMapTypeName(27), "BPF_MAP_TYPE_RINGBUF")
        XCTAssertEqual(bpfProgramTypeName(1), "BPF_PROG_TYPE_SOCKET_FILTER")
        XCTAssertEqual(bpfProgramTypeName(29), "BPF_PROG_TYPE_LSM")
        XCTAssertEqual(bpfAttachTypeName(0), "BPF_CGROUP_INET_INGRESS")
        XCTAssertEqual(bpfHelperName(1), "bpf_map_lookup_elem")
        XCTAssertEqual(bpfHelperName(14), "bpf_get_current_pid_tgid")
        XCTAssertEqual(bpfHelperName(130), "bpf_ringbuf_output")
        XCTAssertEqual(bpfHelperName(5000), "bpf_helper_5000")
    }

    /// Every name a writer produces reads back to its number (the JSON event reader's inverses),
    /// and text that is no name is nil, not 0.
    func testNamesReadBack() {
        for n in UInt32(0)...100 { XCTAssertEqual(signalNumber(named: Substring(signalName(n))), n, signalName(n)) }
        for n in Array(ptraceRequestTable.keys) + [77, 0x5000] { XCTAssertEqual(ptraceRequest(named: Substring(ptraceRequestName(n))), n) }
        for bit in 0..<64 { XCTAssertEqual(capabilityNumber(named: Substring(capabilityName(bit))), bit) }
        for family in Array(addressFamilyTable.keys) + [3, 99, 65535] {
            XCTAssertEqual(addressFamily(named: Substring(addressFamilyName(family))), family)
        }
        for n in UInt32(0)...500 {
            XCTAssertEqual(bpfCommand(named: Substring(bpfCommandName(n))), n)
            XCTAssertEqual(bpfMapType(named: Substring(bpfMapTypeName(n))), n)
            XCTAssertEqual(bpfProgramType(named: Substring(bpfProgramTypeName(n))), n)
            XCTAssertEqual(bpfAttachType(named: Substring(bpfAttachTypeName(n))), n)
            XCTAssertEqual(bpfHelper(named: Substring(bpfHelperName(n))), n)
        }
        XCTAssertEqual(bpfHelper(named: "BPF_FUNC_map_lookup_elem"), 1)
        XCTAssertEqual(bpfHelper(named: "BPF_PROBE_WRITE_USER"), 36)
        for (value, _) in dnsTypeTable + [(99, "")] { XCTAssertEqual(dnsType(named: Substring(dnsTypeName(value))), value) }
        XCTAssertEqual(dnsClass(named: "IN"), 1)
        XCTAssertEqual(dnsClass(named: "3"), 3)
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            // Random masks, biased to the named bits.
            let mask = UInt32.random(in: 0...UInt32.max, using: &rng) & (Bool.random(using: &rng) ? 0x0300_01FF : UInt32.max)
            XCTAssertEqual(protection(named: Substring(protectionString(mask))), mask, protectionString(mask))
            XCTAssertEqual(mmapFlags(named: Substring(mmapFlagsString(mask))), mask, mmapFlagsString(mask))
            XCTAssertEqual(pipeBufFlags(named: Substring(pipeBufFlagsString(mask))), mask, pipeBufFlagsString(mask))
            let names = openFlagNames(mask)
            XCTAssertEqual(names.reduce(UInt32(0)) { $0 | (openFlag(named: Substring($1)) ?? 0xDEAD) }, mask, "\(names)")
        }
        // The single high bit of O_SYNC or O_TMPFILE is written, as hex.
        XCTAssertEqual(openFlagNames(0o4000000), ["O_RDONLY", "0x100000"])
        XCTAssertEqual(openFlagNames(0o20000000), ["O_RDONLY", "0x400000"])
        for text in ["", "SIGFOO", "SIG", "SIGRTMIN+", "SIG-1", "SIG 9"] { XCTAssertNil(signalNumber(named: Substring(text)), text) }
        XCTAssertNil(ptraceRequest(named: "PTRACE_"))
        XCTAssertNil(capabilityNumber(named: "CAP_NOPE"))
        XCTAssertNil(addressFamily(named: "AF_70000"))
        XCTAssertNil(protection(named: "PROT_READ|"))
        XCTAssertNil(mmapFlags(named: "MAP_FOO"))
        XCTAssertNil(openFlag(named: "O_BOGUS"))
        XCTAssertNil(bpfCommand(named: "BPF_NOPE"))
    }
}
