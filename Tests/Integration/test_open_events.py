"""open events: real paths from the kernel's struct file, failures made absolute, hostile names."""
import os

from conftest import decode_kernel_text

CSM_MAX_PATH_DEPTH = 96  # bpf/include/events.h


def opened(path, pid=None, access=None):
    """Open events of `path` by `pid` (the test process by default), with an access mode if given."""
    pid = pid or os.getpid()
    return lambda event: (
        event["evt"]["name"] == "open" and event["process"]["pid"] == pid
        and event["file"]["path"] == path
        and (access is None or event["file"]["flags"][0] == access))


def test_open_absolute_path(agent, tmp_path):
    target = tmp_path / "absolute.txt"
    target.write_text("x")
    fd = os.open(target, os.O_RDONLY)
    os.close(fd)
    event = agent.find(opened(str(target), access="O_RDONLY"))[0]
    assert event["file"]["inode"] == os.stat(target).st_ino
    assert event["file"]["name"] == "absolute.txt"
    assert event["file"]["flags"][0] == "O_RDONLY"
    assert event["file"]["uid"] == os.stat(target).st_uid
    # The mount table (seeded from /proc/*/mountinfo) names the mount the kernel reported.
    mounts = {int(line.split()[0]): line.split()[4] for line in open("/proc/self/mountinfo")}
    assert event["file"]["mount_path"] == mounts[event["file"]["mount_id"]]
    assert event["syscall"]["open"]["path"] == str(target)
    assert event["evt"]["outcome"] == "Success"
    assert event["process"]["tid"] > 0


def test_open_relative_path(agent, tmp_path):
    target = tmp_path / "relative.txt"
    target.write_text("x")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        fd = os.open("relative.txt", os.O_RDONLY)
        os.close(fd)
    finally:
        os.chdir(cwd)
    event = agent.find(opened(str(target), access="O_RDONLY"))[0]
    assert event["syscall"]["open"]["path"] == "relative.txt"
    assert event["file"]["inode"] == os.stat(target).st_ino


def test_open_through_symlink_reports_target(agent, tmp_path):
    target = tmp_path / "target.txt"
    target.write_text("x")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    fd = os.open(link, os.O_RDONLY)
    os.close(fd)
    event = agent.find(opened(str(target), access="O_RDONLY"))[0]
    assert event["syscall"]["open"]["path"] == str(link)
    assert event["file"]["inode"] == os.stat(target).st_ino


def test_open_with_create_flags(agent, tmp_path):
    target = tmp_path / "created.txt"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    os.close(fd)
    event = agent.find(opened(str(target)))[0]
    assert event["file"]["flags"][:3] == ["O_WRONLY", "O_CREAT", "O_TRUNC"]
    assert event["syscall"]["open"]["mode"] == 0o640
    assert event["file"]["mode"] & 0o777 == os.stat(target).st_mode & 0o777


def test_failed_open_is_reported_with_absolute_path(agent, tmp_path):
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        try:
            os.open("does-not-exist.txt", os.O_RDONLY)
        except FileNotFoundError:
            pass
    finally:
        os.chdir(cwd)
    event = agent.find(opened(str(tmp_path / "does-not-exist.txt")))[0]
    assert event["evt"]["outcome"] == "Error"
    assert event["syscall"]["open"]["path"] == "does-not-exist.txt"


def test_refused_open_outcome(agent, tmp_path):
    target = tmp_path / "secret.txt"
    target.write_text("x")
    os.chmod(target, 0)
    child = os.fork()
    if child == 0:
        try:
            os.setuid(65534)
            os.open(target, os.O_RDONLY)
        except PermissionError:
            os._exit(0)
        os._exit(1)
    _, status = os.waitpid(child, 0)
    assert os.WEXITSTATUS(status) == 0
    event = agent.find(opened(str(target), pid=child))[0]
    assert event["evt"]["outcome"] == "Refused"


def test_hostile_file_name(agent, tmp_path):
    name = b"new\nline \"quoted\" \\ \x01\xff\xfe.txt"
    target = os.path.join(os.fsencode(tmp_path), name)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT, 0o600)
    os.close(fd)
    # Invalid bytes make the text escaped: each is `\xNN`, and the literal backslash is `\x5c`.
    expected = str(tmp_path) + "/new\nline \"quoted\" \\x5c \x01\\xff\\xfe.txt"
    event = agent.find(opened(expected))[0]
    assert event["file"]["name"] == "new\nline \"quoted\" \\x5c \x01\\xff\\xfe.txt"
    assert event["file"]["inode"] == os.stat(target).st_ino
    assert decode_kernel_text(event["file"]["path"]) == target
    assert decode_kernel_text(event["file"]["name"]) == name


def test_non_utf8_name_and_its_escaped_look_alike_are_told_apart(agent, tmp_path):
    """`x` + the byte 0xff and the four characters `x\\xff`: two files, two paths, each decoding
    to its own bytes."""
    directory = os.fsencode(tmp_path)
    raw = os.path.join(directory, b"x\xff")
    literal = os.path.join(directory, b"x\\xff")
    for target in (raw, literal):
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT, 0o600))
    paths = {}
    for target in (raw, literal):
        os.close(os.open(target, os.O_RDONLY))
        inode = os.stat(target).st_ino
        event = agent.find(lambda e: (
            e["evt"]["name"] == "open" and e["process"]["pid"] == os.getpid()
            and e["file"].get("inode") == inode and e["file"]["flags"][0] == "O_RDONLY"))[0]
        paths[target] = event["file"]["path"]
        assert decode_kernel_text(event["file"]["path"]) == target
        assert decode_kernel_text(event["file"]["name"]) == os.path.basename(target)
        assert decode_kernel_text(event["syscall"]["open"]["path"]) == target
    assert paths[raw] != paths[literal]
    assert paths[raw] == str(tmp_path) + "/x\\xff"
    assert paths[literal] == str(tmp_path) + "/x\\x5cxff"


def test_path_deeper_than_walk_limit_is_flagged(agent, tmp_path):
    depth = CSM_MAX_PATH_DEPTH + 10
    directory = os.fsencode(tmp_path)
    fd_dir = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    # Built with openat/mkdirat so no single path argument exceeds PATH_MAX.
    for _ in range(depth):
        os.mkdir("d", dir_fd=fd_dir)
        next_fd = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd_dir)
        os.close(fd_dir)
        fd_dir = next_fd
    fd = os.open("deep.txt", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd_dir)
    inode = os.fstat(fd).st_ino
    os.close(fd)
    os.close(fd_dir)

    def deep(event):
        return (event["evt"]["name"] == "open" and event["process"]["pid"] == os.getpid()
                and event["file"]["name"] == "deep.txt")
    event = agent.find(deep)[0]
    assert "path_resolution_error" in event["file"]
    assert event["file"]["inode"] == inode
    assert event["file"]["path"].endswith("/d/d/deep.txt")
