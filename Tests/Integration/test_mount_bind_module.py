"""mount, umount, bind, load_module, unload_module events, triggered for real from the test process
(or a child it forks into a private mount namespace) and checked against ground truth."""
import ctypes
import json
import os
import platform
import socket
import struct

import pytest

libc = ctypes.CDLL(None, use_errno=True)

CLONE_NEWNS = 0x20000
MS_BIND = 4096
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MNT_DETACH = 2
ENOSYS = 38
SYSCALLS = {
    "x86_64": {"init_module": 175, "delete_module": 176, "finit_module": 313},
    "aarch64": {"init_module": 105, "delete_module": 106, "finit_module": 273},
}.get(platform.machine())


def by(name, pid=None):
    pid = pid or os.getpid()
    return lambda event: event["evt"]["name"] == name and event["process"]["pid"] == pid


def mountinfo_line(text, mountpoint):
    """The last mountinfo entry of `mountpoint` as a dict (ids, device in kernel encoding, fs, source)."""
    found = None
    for line in text.splitlines():
        fields = line.split()
        dash = fields.index("-")
        if fields[4] == mountpoint:
            major, minor = (int(x) for x in fields[2].split(":"))
            found = {"mount_id": int(fields[0]), "parent_mount_id": int(fields[1]),
                     "device": (major << 20) | minor, "root": fields[3],
                     "fs_type": fields[dash + 1], "source": fields[dash + 2]}
    return found


def in_private_mount_namespace(work, tmp_path):
    """Runs work() in a forked child that unshared its mount namespace; returns (pid, result)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            assert libc.unshare(CLONE_NEWNS) == 0, ctypes.get_errno()
            assert libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) == 0, ctypes.get_errno()
            result = work(tmp_path)
            os.write(write_end, json.dumps(result).encode())
        except BaseException as error:  # noqa: BLE001 - reported through the pipe
            os.write(write_end, json.dumps({"error": repr(error)}).encode())
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)
    data = b""
    while chunk := os.read(read_end, 65536):
        data += chunk
    os.close(read_end)
    _, status = os.waitpid(pid, 0)
    result = json.loads(data)
    assert "error" not in result, result
    assert os.waitstatus_to_exitcode(status) == 0
    return pid, result


def mount_work(tmp_path):
    base = tmp_path / "mnt"
    base.mkdir(exist_ok=True)
    result = {"base": str(base)}
    assert libc.mount(b"csm-test-tmpfs", str(base).encode(), b"tmpfs", 0, b"size=1m") == 0, ctypes.get_errno()
    result["tmpfs"] = mountinfo_line(open("/proc/self/mountinfo").read(), str(base))
    (base / "src").mkdir()
    (base / "dst").mkdir()
    os.chdir(base)
    assert libc.mount(b"src", b"dst", None, MS_BIND, None) == 0, ctypes.get_errno()
    result["bind"] = mountinfo_line(open("/proc/self/mountinfo").read(), str(base / "dst"))
    # A refused / failed mount still yields its event.
    result["failed_rc"] = libc.mount(b"none", str(base / "missing").encode(), b"tmpfs", 0, None)
    result["failed_errno"] = ctypes.get_errno()
    assert libc.umount2(b"dst", 0) == 0, ctypes.get_errno()
    assert libc.umount2(str(base).encode(), MNT_DETACH) == 0, ctypes.get_errno()
    result["umount_missing_rc"] = libc.umount2(str(base / "nothing-here").encode(), 0)
    return result


@pytest.fixture(scope="module")
def mounts(agent, tmp_path_factory):
    return in_private_mount_namespace(mount_work, tmp_path_factory.mktemp("mount"))


def test_mount_tmpfs_in_private_namespace(agent, mounts):
    pid, truth = mounts
    tmpfs = truth["tmpfs"]
    event = agent.find(lambda e: by("mount", pid)(e) and e["mount"]["mountpoint.path"] == truth["base"])[0]
    assert event["evt"]["outcome"] == "Success"
    assert event["mount"]["mount_id"] == tmpfs["mount_id"]
    assert event["mount"]["parent_mount_id"] == tmpfs["parent_mount_id"]
    assert event["mount"]["device"] == tmpfs["device"]
    assert event["mount"]["fs_type"] == "tmpfs"
    assert event["mount"]["source.path"] == "csm-test-tmpfs"
    assert "mountpoint.path_error" not in event["mount"]
    assert event["process"]["pid"] == pid


def test_bind_mount_relative_paths_and_source_mount(agent, mounts):
    pid, truth = mounts
    dst = truth["base"] + "/dst"
    event = agent.find(lambda e: by("mount", pid)(e) and e["mount"]["mountpoint.path"] == dst)[0]
    assert event["evt"]["outcome"] == "Success"
    assert event["mount"]["mount_id"] == truth["bind"]["mount_id"]
    assert event["mount"]["parent_mount_id"] == truth["tmpfs"]["mount_id"]
    assert event["mount"]["device"] == truth["tmpfs"]["device"]
    assert event["mount"]["source.path"] == truth["base"] + "/src"
    # The bind source lives on the tmpfs mount: found in the mount table.
    assert event["mount"]["bind_src_mount_id"] == truth["tmpfs"]["mount_id"]


def test_failed_mount_still_reported(agent, mounts):
    pid, truth = mounts
    assert truth["failed_rc"] == -1
    missing = truth["base"] + "/missing"
    event = agent.find(lambda e: by("mount", pid)(e) and e["mount"]["mountpoint.path"] == missing)[0]
    assert event["evt"]["outcome"] == "Error"
    assert event["mount"]["mount_id"] == 0
    assert event["mount"]["fs_type"] == "tmpfs"


def test_umount_resolves_mount_id_from_mount_table(agent, mounts):
    pid, truth = mounts
    dst = agent.find(lambda e: by("umount", pid)(e) and e["file"].get("path") == truth["base"] + "/dst")[0]
    assert dst["evt"]["outcome"] == "Success"
    assert dst["file"]["new_mount_id"] == truth["bind"]["mount_id"]
    base = agent.find(lambda e: by("umount", pid)(e) and e["file"].get("path") == truth["base"])[0]
    assert base["file"]["new_mount_id"] == truth["tmpfs"]["mount_id"]
    failed = agent.find(lambda e: by("umount", pid)(e) and e["file"].get("path", "").endswith("/nothing-here"))[0]
    assert truth["umount_missing_rc"] == -1
    assert failed["evt"]["outcome"] == "Error"


def test_move_mount_new_mount_api(agent, tmp_path):
    """fsopen / fsconfig / fsmount / move_mount: the attached mount is reported by move_mount."""
    nr = {"x86_64": (430, 431, 432, 429), "aarch64": (430, 431, 432, 429)}.get(platform.machine())
    if nr is None:
        pytest.skip("syscall numbers unknown for this architecture")
    fsopen, fsconfig, fsmount, move_mount = nr

    def work(path):
        target = path / "newapi"
        target.mkdir(exist_ok=True)
        fs = libc.syscall(fsopen, b"tmpfs", 0)
        assert fs >= 0, ctypes.get_errno()
        assert libc.syscall(fsconfig, fs, 6, None, None, 0) == 0, ctypes.get_errno()  # FSCONFIG_CMD_CREATE
        mfd = libc.syscall(fsmount, fs, 0, 0)
        assert mfd >= 0, ctypes.get_errno()
        assert libc.syscall(move_mount, mfd, b"", -100, str(target).encode(), 4) == 0, ctypes.get_errno()
        return {"target": str(target), "info": mountinfo_line(open("/proc/self/mountinfo").read(), str(target))}

    pid, truth = in_private_mount_namespace(work, tmp_path)
    event = agent.find(lambda e: by("mount", pid)(e) and e["mount"]["mountpoint.path"] == truth["target"])[0]
    assert event["evt"]["outcome"] == "Success"
    assert event["mount"]["mount_id"] == truth["info"]["mount_id"]
    assert event["mount"]["parent_mount_id"] == truth["info"]["parent_mount_id"]
    assert event["mount"]["device"] == truth["info"]["device"]
    assert event["mount"]["fs_type"] == "tmpfs"


# ---- bind ----


def test_bind_ipv4(agent):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", port))
    event = agent.find(lambda e: by("bind")(e) and e["bind"]["addr"]["port"] == port)[0]
    assert event["bind"]["addr"] == {"family": "AF_INET", "ip": "127.0.0.1", "port": port}
    assert event["evt"]["outcome"] == "Success"


def test_bind_ipv6(agent):
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
        sock.bind(("::1", 0))
        port = sock.getsockname()[1]
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
        sock.bind(("::1", port))
    event = agent.find(lambda e: by("bind")(e) and e["bind"]["addr"]["family"] == "AF_INET6"
                       and e["bind"]["addr"]["port"] == port)[0]
    assert event["bind"]["addr"]["ip"] == "::1"


def test_bind_refused_port_in_use_still_reported(agent):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as first:
        first.bind(("127.0.0.1", port))  # the event reports the port asked for, as passed
        first.listen()
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as second, pytest.raises(OSError):
            second.bind(("127.0.0.1", port))
    events = agent.find(lambda e: by("bind")(e) and e["bind"]["addr"]["port"] == port, count=2)
    assert {e["evt"]["outcome"] for e in events} == {"Success", "Error"}


def test_bind_unix_path_and_abstract(agent, tmp_path):
    path = tmp_path / "csm.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(str(path))
    event = agent.find(lambda e: by("bind")(e) and e.get("file", {}).get("path") == str(path))[0]
    assert event["bind"]["addr"]["family"] == "AF_UNIX"
    assert event["file"]["name"] == "csm.sock"
    name = f"csm-abstract-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
    agent.find(lambda e: by("bind")(e) and e.get("file", {}).get("path") == "@" + name)


def test_bind_hostile_address_length(agent):
    """An addrlen far larger than any sockaddr, and an unreadable address: events, no crash."""
    fd = os.open("/dev/null", os.O_RDONLY)  # not a socket: ENOTSOCK
    try:
        buffer = ctypes.create_string_buffer(b"\x02\x00\x1f\x90\x7f\x00\x00\x01" + b"\0" * 4088, 4096)
        assert libc.bind(fd, buffer, 4096) == -1
        assert libc.bind(fd, ctypes.c_void_p(8), 16) == -1
    finally:
        os.close(fd)
    events = agent.find(lambda e: by("bind")(e) and e["evt"]["outcome"] == "Error"
                        and e["bind"]["addr"]["port"] in (8080, 0), count=2)
    assert any(e["bind"]["addr"] == {"family": "AF_INET", "ip": "127.0.0.1", "port": 8080} for e in events)


# ---- load_module, unload_module ----


def module_image(name, extra=b"license=GPL\0"):
    """A minimal ELF64 relocatable object with a .modinfo section naming the module."""
    modinfo = extra + b"name=" + name.encode() + b"\0"
    shstrtab = b"\0.modinfo\0.shstrtab\0"
    modinfo_offset = 64
    strtab_offset = modinfo_offset + len(modinfo)
    sh_offset = (strtab_offset + len(shstrtab) + 7) & ~7
    header = b"\x7fELF" + bytes([2, 1, 1, 0]) + b"\0" * 8 + struct.pack(
        "<HHIQQQIHHHHHH", 1, 62, 1, 0, 0, sh_offset, 0, 64, 0, 0, 64, 3, 2)

    def section(name_offset, kind, offset, size):
        return struct.pack("<IIQQQQIIQQ", name_offset, kind, 0, 0, offset, size, 0, 0, 1, 0)

    image = header + modinfo + shstrtab
    image += b"\0" * (sh_offset - len(image))
    return image + section(0, 0, 0, 0) + section(1, 1, modinfo_offset, len(modinfo)) + \
        section(10, 3, strtab_offset, len(shstrtab))


needs_module_syscalls = pytest.mark.skipif(SYSCALLS is None, reason="module syscall numbers unknown here")


@needs_module_syscalls
def test_load_module_from_memory(agent):
    image = module_image("csm_mem_module")
    buffer = ctypes.create_string_buffer(image, len(image))
    rc = libc.syscall(SYSCALLS["init_module"], buffer, len(image), b"answer=42 mode=fast")
    errno = ctypes.get_errno()
    event = agent.find(lambda e: by("load_module")(e) and e["module"]["name"] == "csm_mem_module")[0]
    assert event["module"]["loaded_from_memory"] is True
    assert event["module"]["argv"] == ["answer=42", "mode=fast"]
    assert event["module"]["args_truncated"] is False
    assert "file" not in event
    assert event["evt"]["outcome"] == ("Success" if rc == 0 else ("Refused" if errno in (1, 13) else "Error"))


@needs_module_syscalls
def test_load_module_from_file(agent, tmp_path):
    path = tmp_path / "csm_on_disk.ko"
    path.write_bytes(module_image("csm_file_module"))
    fd = os.open(path, os.O_RDONLY)
    try:
        libc.syscall(SYSCALLS["finit_module"], fd, b"debug=1", 0)
    finally:
        os.close(fd)
    event = agent.find(lambda e: by("load_module")(e) and e.get("file", {}).get("path") == str(path))[0]
    assert event["module"]["name"] == "csm_file_module"  # from .modinfo, not the file name
    assert event["module"]["loaded_from_memory"] is False
    assert event["module"]["argv"] == ["debug=1"]
    assert event["file"]["inode"] == os.stat(path).st_ino


@needs_module_syscalls
def test_load_module_file_without_modinfo_uses_base_name(agent, tmp_path):
    path = tmp_path / "plain_name.ko"
    path.write_bytes(b"not an ELF image")
    fd = os.open(path, os.O_RDONLY)
    long_args = b"x" * 5000
    try:
        libc.syscall(SYSCALLS["finit_module"], fd, long_args, 0)
    finally:
        os.close(fd)
    event = agent.find(lambda e: by("load_module")(e) and e.get("file", {}).get("path") == str(path))[0]
    assert event["module"]["name"] == "plain_name"
    assert event["module"]["args_truncated"] is True
    assert event["evt"]["outcome"] != "Success"


@needs_module_syscalls
def test_load_module_hostile_image(agent):
    """Section headers pointing far outside a short image: an event, no name, no crash."""
    image = bytearray(module_image("csm_hostile"))
    struct.pack_into("<Q", image, 40, 1 << 60)  # e_shoff
    buffer = ctypes.create_string_buffer(bytes(image), len(image))
    libc.syscall(SYSCALLS["init_module"], buffer, len(image), b"hostile=1")
    event = agent.find(lambda e: by("load_module")(e) and e["module"]["argv"] == ["hostile=1"])[0]
    assert event["module"]["name"] == ""
    assert event["module"]["loaded_from_memory"] is True


@needs_module_syscalls
def test_unload_module(agent):
    rc = libc.syscall(SYSCALLS["delete_module"], b"csm_gone_module", os.O_NONBLOCK)
    event = agent.find(lambda e: by("unload_module")(e) and e["module"]["name"] == "csm_gone_module")[0]
    if rc != 0:
        assert event["evt"]["outcome"] in ("Error", "Refused")
    if ctypes.get_errno() == ENOSYS:
        assert event["evt"]["outcome"] == "Error"
