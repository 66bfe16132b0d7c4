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
}
