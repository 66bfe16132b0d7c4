"""ptrace, signal, mmap, mprotect, splice and bpf events, triggered for real from the test process and
checked against ground truth (addresses from the calls themselves, /proc/self/maps, stat(2),
BPF_OBJ_GET_INFO_BY_FD). The session fixture validates every event against the schema."""
import ctypes
import errno
import os
import signal
import struct
import time

import pytest

libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
libc.ptrace.restype = ctypes.c_long
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
libc.mmap.restype = ctypes.c_void_p
libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
libc.splice.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t,
                        ctypes.c_uint]
libc.splice.restype = ctypes.c_ssize_t
libc.syscall.restype = ctypes.c_long

PTRACE_PEEKDATA, PTRACE_ATTACH, PTRACE_DETACH = 2, 16, 17
PROT_READ, PROT_WRITE, PROT_EXEC = 1, 2, 4
MAP_PRIVATE, MAP_ANONYMOUS = 0x02, 0x20
MAP_FAILED = ctypes.c_void_p(-1).value
PAGE = os.sysconf("SC_PAGE_SIZE")
SYS_TGKILL, SYS_BPF = 234, 321  # x86_64
BPF_MAP_CREATE, BPF_PROG_LOAD, BPF_OBJ_GET_INFO_BY_FD = 0, 5, 15
BPF_MAP_TYPE_ARRAY, BPF_PROG_TYPE_SOCKET_FILTER = 2, 1
BPF_FUNC_ktime_get_ns, BPF_FUNC_get_prandom_u32 = 5, 7


def mine(name, pid=None):
    """Events named `name` acted by `pid` (the test process by default)."""
    pid = pid or os.getpid()
    return lambda event: event["evt"]["name"] == name and event["process"]["pid"] == pid


def both(*predicates):
    return lambda event: all(predicate(event) for predicate in predicates)


def check(result):
    if result == -1 or result is None:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return result


class Child:
    """A forked child that ignores SIGUSR1/SIGUSR2 and waits to be killed; ready once it says so."""

    def __init__(self, new_group=False):
        read_end, write_end = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            try:
                if new_group:
                    os.setpgid(0, 0)
                signal.signal(signal.SIGUSR1, signal.SIG_IGN)
                signal.signal(signal.SIGUSR2, signal.SIG_IGN)
                os.write(write_end, b"r")
                while True:
                    time.sleep(1)
            finally:
                os._exit(0)
        os.close(write_end)
        assert os.read(read_end, 1) == b"r"
        os.close(read_end)

    def stop(self):
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)


@pytest.fixture
def child():
    running = Child()
    yield running
    running.stop()


# ---- ptrace -----------------------------------------------------------------------------------------

def test_ptrace_attach_and_peek_child(agent):
    word = ctypes.c_uint64(0x1122334455667788)  # allocated before the fork: same address in the child
    address = ctypes.addressof(word)
    tracee = os.fork()
    if tracee == 0:
        while True:
            time.sleep(1)
    try:
        check(libc.ptrace(PTRACE_ATTACH, tracee, None, None))
        _, status = os.waitpid(tracee, 0)
        assert os.WIFSTOPPED(status)
        ctypes.set_errno(0)
        peeked = libc.ptrace(PTRACE_PEEKDATA, tracee, ctypes.c_void_p(address), None)
        assert ctypes.get_errno() == 0 and peeked & 0xFFFFFFFFFFFFFFFF == 0x1122334455667788
        check(libc.ptrace(PTRACE_DETACH, tracee, None, None))
    finally:
        os.kill(tracee, signal.SIGKILL)
        os.waitpid(tracee, 0)

    attach = agent.find(both(mine("ptrace"), lambda e: e["ptrace"]["request"] == "PTRACE_ATTACH"
                             and e["ptrace"]["tracee"]["pid"] == tracee))[0]
    assert attach["evt"]["outcome"] == "Success"
    assert attach["evt"]["category"] in ("Process Activity", "Kernel Activity")
    assert attach["ptrace"]["address"] == "0x0"
    context = attach["ptrace"]["tracee"]
    assert context["ppid"] == os.getpid()
    assert context["parent"]["pid"] == os.getpid()
    assert context["comm"] == attach["process"]["comm"]  # a fork of this process, no exec
    assert context["credentials"]["uid"] == os.getuid()

    peek = agent.find(both(mine("ptrace"), lambda e: e["ptrace"]["request"] == "PTRACE_PEEKDATA"
                           and e["ptrace"]["tracee"]["pid"] == tracee))[0]
    assert peek["ptrace"]["address"] == hex(address)
    assert peek["evt"]["outcome"] == "Success"


def test_ptrace_refused_attach_to_own_process(agent):
    assert libc.ptrace(PTRACE_ATTACH, os.getpid(), None, None) == -1
    assert ctypes.get_errno() == errno.EPERM
    event = agent.find(both(mine("ptrace"), lambda e: e["ptrace"]["request"] == "PTRACE_ATTACH"
                            and e["ptrace"]["tracee"]["pid"] == os.getpid()))[0]
    assert event["evt"]["outcome"] == "Refused"


# ---- signal -----------------------------------------------------------------------------------------

def signalled(kind, pid):
    return both(mine("signal"), lambda e: e["signal"]["type"] == kind and e["signal"]["pid"] == pid)


def test_kill_sigusr1_to_child(agent, child):
    os.kill(child.pid, signal.SIGUSR1)
    event = agent.find(signalled("SIGUSR1", child.pid))[0]
    assert event["evt"]["outcome"] == "Success"
    target = event["signal"]["target"]
    assert target["pid"] == child.pid
    assert target["ppid"] == os.getpid()
    assert target["credentials"]["uid"] == os.getuid()


def test_tgkill_and_sigqueue_to_child(agent, child):
    check(libc.syscall(SYS_TGKILL, child.pid, child.pid, signal.SIGUSR2))
    check(libc.sigqueue(child.pid, signal.SIGUSR1, 7))  # rt_sigqueueinfo
    agent.find(signalled("SIGUSR2", child.pid))
    events = agent.find(signalled("SIGUSR1", child.pid))
    assert all(e["signal"]["target"]["pid"] == child.pid for e in events)


def test_signal_to_process_group(agent):
    group = Child(new_group=True)
    try:
        os.killpg(group.pid, signal.SIGUSR2)
        event = agent.find(signalled("SIGUSR2", -group.pid))[0]
        assert event["evt"]["outcome"] == "Success"
        assert "target" not in event["signal"]  # a group has no single target
    finally:
        group.stop()


def test_failed_kill_is_reported(agent):
    gone = os.fork()
    if gone == 0:
        os._exit(0)
    os.waitpid(gone, 0)
    with pytest.raises(ProcessLookupError):
        os.kill(gone, signal.SIGUSR1)
    event = agent.find(signalled("SIGUSR1", gone))[0]
    assert event["evt"]["outcome"] == "Error"


# ---- mmap / mprotect --------------------------------------------------------------------------------

def test_mmap_exec_file_mapping(agent, tmp_path):
    target = tmp_path / "mapped.bin"
    target.write_bytes(b"\x90" * (3 * PAGE))
    fd = os.open(target, os.O_RDONLY)
    try:
        address = check(libc.mmap(None, 2 * PAGE, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, PAGE))
        libc.munmap(ctypes.c_void_p(address), 2 * PAGE)
    finally:
        os.close(fd)
    event = agent.find(both(mine("mmap"), lambda e: e["mmap"]["address"] == hex(address)))[0]
    assert event["evt"]["outcome"] == "Success"
    assert event["mmap"]["protection"] == "PROT_READ|PROT_EXEC"
    assert event["mmap"]["flags"] == "MAP_PRIVATE"
    assert event["mmap"]["length"] == 2 * PAGE
    assert event["mmap"]["offset"] == PAGE
    assert event["file"]["path"] == str(target)
    assert event["file"]["name"] == "mapped.bin"
    assert event["file"]["inode"] == os.stat(target).st_ino


def test_mmap_anonymous_has_no_file(agent):
    address = check(libc.mmap(None, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))
    libc.munmap(ctypes.c_void_p(address), PAGE)
    event = agent.find(both(mine("mmap"), lambda e: e["mmap"]["address"] == hex(address)))[0]
    assert event["mmap"]["flags"] == "MAP_PRIVATE|MAP_ANONYMOUS"
    assert event["mmap"]["protection"] == "PROT_READ|PROT_WRITE"
    assert "file" not in event


def test_failed_mmap_is_reported(agent):
    hint = 0x7E5700000000
    assert libc.mmap(ctypes.c_void_p(hint), PAGE, PROT_READ, MAP_PRIVATE, 987654, 0) == MAP_FAILED
    assert ctypes.get_errno() == errno.EBADF
    event = agent.find(both(mine("mmap"), lambda e: e["mmap"]["address"] == hex(hint)))[0]
    assert event["evt"]["outcome"] == "Error"
    assert "file" not in event


def vma_of(address):
    """(start, end) of the /proc/self/maps line holding `address`."""
    with open("/proc/self/maps") as maps:
        for line in maps:
            start, end = (int(part, 16) for part in line.split()[0].split("-"))
            if start <= address < end:
                return start, end
    raise AssertionError(f"{address:#x} not mapped")


def test_mprotect_rw_to_rx(agent):
    address = check(libc.mmap(None, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))
    try:
        start, end = vma_of(address)  # ground truth before the call (the kernel may merge neighbours)
        assert libc.mprotect(ctypes.c_void_p(address), PAGE, PROT_READ | PROT_EXEC) == 0
    finally:
        libc.munmap(ctypes.c_void_p(address), 4 * PAGE)
    event = agent.find(both(mine("mprotect"), lambda e: e["mprotect"]["req_protection"] == "PROT_READ|PROT_EXEC"
                            and e["mprotect"]["vm_start"] == hex(start)))[0]
    assert event["evt"]["outcome"] == "Success"
    assert event["mprotect"]["vm_end"] == hex(end)
    assert event["mprotect"]["vm_protection"] == "PROT_READ|PROT_WRITE"


def test_failed_mprotect_is_reported(agent):
    address = check(libc.mmap(None, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))
    try:
        start, end = vma_of(address)
        # Unaligned start: EINVAL.
        assert libc.mprotect(ctypes.c_void_p(address + 1), PAGE, PROT_READ | PROT_WRITE) == -1
    finally:
        libc.munmap(ctypes.c_void_p(address), PAGE)
    event = agent.find(both(mine("mprotect"), lambda e: e["mprotect"]["vm_start"] == hex(start)
                            and e["evt"]["outcome"] == "Error"))[0]
    assert event["mprotect"]["vm_protection"] == "PROT_READ"
    assert event["mprotect"]["req_protection"] == "PROT_READ|PROT_WRITE"


# ---- splice -----------------------------------------------------------------------------------------

def test_splice_file_into_pipe(agent, tmp_path):
    source = tmp_path / "spliced.txt"
    source.write_bytes(b"hello from the page cache\n")
    read_end, write_end = os.pipe()
    fd = os.open(source, os.O_RDONLY)
    try:
        os.write(write_end, b"x")  # an anonymous pipe buffer: PIPE_BUF_FLAG_CAN_MERGE
        moved = libc.splice(fd, None, write_end, None, 5, 0)
        assert moved == 5
        assert os.read(read_end, 64) == b"xhello"
    finally:
        for descriptor in (fd, read_end, write_end):
            os.close(descriptor)
    event = agent.find(both(mine("splice"), lambda e: e.get("file", {}).get("path") == str(source)))[0]
    assert event["evt"]["outcome"] == "Success"
    assert event["splice"]["pipe_entry_flag"] == "PIPE_BUF_FLAG_CAN_MERGE"
    # A page-cache buffer is never mergeable (the Dirty Pipe fix): no CAN_MERGE after the call.
    assert "PIPE_BUF_FLAG_CAN_MERGE" not in event["splice"]["pipe_exit_flag"]
    assert event["file"]["inode"] == os.stat(source).st_ino


def test_failed_splice_is_reported(agent, tmp_path):
    source = tmp_path / "not-a-pipe.txt"
    source.write_bytes(b"data")
    fd = os.open(source, os.O_RDONLY)
    other = os.open(source, os.O_RDONLY)
    try:
        assert libc.splice(fd, None, other, None, 4, 0) == -1  # neither end is a pipe: EINVAL
    finally:
        os.close(fd)
        os.close(other)
    event = agent.find(both(mine("splice"), lambda e: e.get("file", {}).get("path") == str(source)))[0]
    assert event["evt"]["outcome"] == "Error"
    assert event["splice"]["pipe_entry_flag"] == "0" and event["splice"]["pipe_exit_flag"] == "0"


# ---- bpf --------------------------------------------------------------------------------------------

def bpf(cmd, attr):
    buffer = ctypes.create_string_buffer(bytes(attr), len(attr))
    result = libc.syscall(SYS_BPF, cmd, buffer, len(attr))
    return result, buffer


def name16(name):
    return name.encode().ljust(16, b"\0")


def insn(code, dst=0, src=0, off=0, imm=0):
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


def test_bpf_map_create(agent):
    # union bpf_attr, BPF_MAP_CREATE: map_type, key_size, value_size, max_entries, map_flags,
    # inner_map_fd, numa_node, map_name[16] (include/uapi/linux/bpf.h).
    attr = struct.pack("<7I16s", BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0, 0, 0, name16("csm_test_map")).ljust(128, b"\0")
    fd, _ = bpf(BPF_MAP_CREATE, attr)
    assert fd >= 0, os.strerror(ctypes.get_errno())
    os.close(fd)
    event = agent.find(both(mine("bpf"), lambda e: e["bpf"].get("map", {}).get("name") == "csm_test_map"))[0]
    assert event["evt"]["outcome"] == "Success"
    assert event["bpf"]["cmd"] == "BPF_MAP_CREATE"
    assert event["bpf"]["map"]["map_type"] == "BPF_MAP_TYPE_ARRAY"
    assert "program" not in event["bpf"]


def prog_load_attr(insns, name):
    license_ = ctypes.create_string_buffer(b"GPL")
    code = ctypes.create_string_buffer(insns, len(insns))
    # prog_type, insn_cnt, insns, license, log_level, log_size, log_buf, kern_version, prog_flags,
    # prog_name[16], prog_ifindex, expected_attach_type.
    attr = struct.pack("<IIQQIIQII16sII", BPF_PROG_TYPE_SOCKET_FILTER, len(insns) // 8, ctypes.addressof(code),
                       ctypes.addressof(license_), 0, 0, 0, 0, 0, name16(name), 0, 0).ljust(128, b"\0")
    return attr, (license_, code)


def test_bpf_prog_load_socket_filter(agent):
    program = (insn(0x85, imm=BPF_FUNC_get_prandom_u32)   # call bpf_get_prandom_u32
               + insn(0x85, imm=BPF_FUNC_ktime_get_ns)    # call bpf_ktime_get_ns
               + insn(0xB7, dst=0, imm=0)                 # r0 = 0
               + insn(0x95))                              # exit
    attr, keep = prog_load_attr(program, "csm_test_prog")
    fd, _ = bpf(BPF_PROG_LOAD, attr)
    assert fd >= 0, os.strerror(ctypes.get_errno())
    try:
        # Ground truth: BPF_OBJ_GET_INFO_BY_FD (bpf_fd, info_len, info) -> bpf_prog_info (type, id, tag[8]).
        info = ctypes.create_string_buffer(256)
        get_info = struct.pack("<IIQ", fd, 256, ctypes.addressof(info)).ljust(128, b"\0")
        result, _ = bpf(BPF_OBJ_GET_INFO_BY_FD, get_info)
        assert result == 0, os.strerror(ctypes.get_errno())
        tag = info.raw[8:16].hex()
    finally:
        os.close(fd)
    del keep
    event = agent.find(both(mine("bpf"), lambda e: e["bpf"]["cmd"] == "BPF_PROG_LOAD"
                            and e["bpf"].get("program", {}).get("name") == "csm_test_prog"))[0]
    assert event["evt"]["outcome"] == "Success"
    prog = event["bpf"]["program"]
    assert prog["program_type"] == "BPF_PROG_TYPE_SOCKET_FILTER"
    assert prog["attach_type"] == "BPF_CGROUP_INET_INGRESS"  # expected_attach_type 0, as passed
    assert prog["tag"] == tag
    assert prog["helpers"] == ["bpf_ktime_get_ns", "bpf_get_prandom_u32"]  # by helper id


def test_bpf_prog_load_refused_by_verifier(agent):
    program = insn(0xB7, dst=0, imm=0)  # r0 = 0, and no exit: the verifier refuses it
    attr, keep = prog_load_attr(program, "csm_bad_prog")
    fd, _ = bpf(BPF_PROG_LOAD, attr)
    assert fd == -1
    del keep
    event = agent.find(both(mine("bpf"), lambda e: e["bpf"].get("program", {}).get("name") == "csm_bad_prog"))[0]
    assert event["evt"]["outcome"] in ("Error", "Refused")
    assert "tag" not in event["bpf"]["program"]
