import XCTest
import Foundation
import Glibc
@testable import AgentCore

final class CgroupResolverTests: XCTestCase {
    private let id64 = String(repeating: "0123456789abcdef", count: 4)

    func testContainerIDExtraction() {
        let id = id64
        let samples: [(String, String?)] = [
            ("/system.slice/docker-\(id).scope", id),
            ("/docker/\(id)", id),
            ("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podab_cd.slice/cri-containerd-\(id).scope", id),
            ("/kubepods/besteffort/pod0b4b8ac4-5d8e-4a8c-9a0e-1e3e3e3e3e3e/\(id)", id),
            ("/machine.slice/libpod-\(id).scope", id),
            ("/machine.slice/libpod-\(id).scope/container", id),
            ("/kubepods.slice/crio-\(id).scope", id),
            ("/kubepods.slice/crio-conmon-\(id).scope", nil),
            ("/system.slice/docker-\(id).scope/init.scope", id),
            ("/user.slice/user-1000.slice/session-3.scope", nil),
            ("/", nil),
            ("", nil),
            ("/docker/\(id.dropLast())", nil),
            ("/docker/\(id.dropLast())z", nil),
        ]
        for (path, expected) in samples {
            XCTAssertEqual(ContainerID.extract(fromCgroupPath: path), expected, path)
        }
    }

    func testRootDiscoveryFromMountinfo() throws {
        let path = NSTemporaryDirectory() + "csm-mountinfo-\(getpid())"
        defer { unlink(path) }
        let text = """
            31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
            32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
            41 31 0:38 / /sys/fs/cgroup/uni\\040fied rw,relatime shared:9 - cgroup2 cgroup2 rw

            """
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertEqual(CgroupFSResolver.discoverRoot(mountinfo: path), "/sys/fs/cgroup/uni fied")
        XCTAssertEqual(CgroupFSResolver.discoverRoot(mountinfo: "/nonexistent"), "/sys/fs/cgroup")
    }

    func testIDToPathForRootAndOwnCgroup() throws {
        let resolver = CgroupFSResolver()
        var rootStat = stat()
        XCTAssertEqual(stat(resolver.root, &rootStat), 0, "cgroup2 root \(resolver.root)")
        XCTAssertEqual(resolver.path(forID: UInt64(rootStat.st_ino)), "/")

        let own = try XCTUnwrap(SysFS.readFile("/proc/self/cgroup", limit: 16384))
        let ownPath = try XCTUnwrap(ProcFSReader.unifiedCgroupPath(own.bytes))
        var ownStat = stat()
        let directory = ownPath == "/" ? resolver.root : resolver.root + ownPath
        XCTAssertEqual(stat(directory, &ownStat), 0)
        XCTAssertEqual(resolver.path(forID: UInt64(ownStat.st_ino)), ownPath)
        XCTAssertEqual(resolver.id(forPath: ownPath), UInt64(ownStat.st_ino))
        XCTAssertEqual(resolver.path(forID: 0), nil)
    }

    func testNestedCgroupFoundByWalkAndMissesRateLimited() throws {
        // A private tree stands in for the cgroup filesystem: the walk only needs directories.
        let root = NSTemporaryDirectory() + "csm-cg-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        XCTAssertEqual(mkdir(root, 0o755), 0)
        XCTAssertEqual(mkdir(root + "/a", 0o755), 0)
        XCTAssertEqual(mkdir(root + "/a/docker-\(id64).scope", 0o755), 0)
        defer {
            rmdir(root + "/a/docker-\(id64).scope"); rmdir(root + "/a/b"); rmdir(root + "/a"); rmdir(root)
        }
        var now: UInt64 = 10_000_000_000
        let resolver = CgroupFSResolver(root: root, minRescanIntervalNs: 1_000_000_000, monotonicNs: { now })
        var st = stat()
        stat(root + "/a/docker-\(id64).scope", &st)
        XCTAssertEqual(resolver.path(forID: UInt64(st.st_ino)), "/a/docker-\(id64).scope")
        XCTAssertEqual(resolver.rescans, 1)
        XCTAssertEqual(resolver.containerID(forPath: "/a/docker-\(id64).scope"), id64)

        XCTAssertEqual(mkdir(root + "/a/b", 0o755), 0)
        stat(root + "/a/b", &st)
        XCTAssertNil(resolver.path(forID: UInt64(st.st_ino)), "rescans are rate-limited")
        XCTAssertEqual(resolver.rescans, 1)
        now += 2_000_000_000
        XCTAssertEqual(resolver.path(forID: UInt64(st.st_ino)), "/a/b")
        XCTAssertEqual(resolver.rescans, 2)
    }
}

