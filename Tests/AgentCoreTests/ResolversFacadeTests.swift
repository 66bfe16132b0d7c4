import XCTest
import Foundation
import Glibc
@testable import AgentCore

/// Fixed cgroup answers so the facade's once-per-entry completion can be checked.
private final class FakeCgroups: CgroupResolving {
    var paths: [UInt64: String] = [:]
    var pathLookups = 0

    func path(forID id: UInt64) -> String? {
        pathLookups += 1
        return paths[id]
    }

    func id(forPath path: String) -> UInt64? { paths.first { $0.value == path }?.key }
    func containerID(forPath path: String) -> String? { ContainerID.extract(fromCgroupPath: path) }
}

final class ResolversFacadeTests: XCTestCase {
    private let containerID = String(repeating: "ab", count: 32)
    private var directory: String!
    private var source: FakeProcessSource!
    private var cgroups: FakeCgroups!
    private var resolvers: Resolvers!

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "csm-facade-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n"
            .write(toFile: directory + "/passwd", atomically: true, encoding: .utf8)
        try "root:x:0:\nstaff:x:1000:\n".write(toFile: directory + "/group", atomically: true, encoding: .utf8)

        source = FakeProcessSource()
        source.add(pid: 1, ppid: 0, comm: "init", exe: "/sbin/init")
        cgroups = FakeCgroups()
        cgroups.paths[99] = "/system.slice/docker-\(containerID).scope"
        let clock = BootClock(offsetNs: 0)
        resolvers = Resolvers(
            clock: clock, processes: ProcessTree(source: source, clock: clock),
            users: PasswdGroupResolver(passwdPath: directory + "/passwd", groupPath: directory + "/group"),
            cgroups: cgroups)
        XCTAssertEqual(resolvers.snapshot(), 1)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func testExecEntryGetsNamesCgroupAndContainerOnce() throws {
        var exec = Events.exec(pid: 10, ppid: 1, path: "/usr/bin/id", uid: 1000, cgroupID: 99)
        resolvers.resolve(&exec)
        let entry = try XCTUnwrap(exec.process)
        XCTAssertEqual(entry.credentials.user, "alice")
        XCTAssertEqual(entry.credentials.euser, "alice")
        XCTAssertEqual(entry.credentials.fsuser, "alice")
        XCTAssertEqual(entry.credentials.group, "root")
        XCTAssertEqual(entry.executable?.user, "alice")
        XCTAssertEqual(entry.executable?.group, "staff")
        XCTAssertEqual(entry.cgroupPath, "/system.slice/docker-\(containerID).scope")
        XCTAssertEqual(entry.containerID, containerID)
        guard case .exec(let payload) = exec.payload else { return XCTFail() }
        XCTAssertEqual(payload.file.user, "alice")

        let lookups = cgroups.pathLookups
        for _ in 0..<3 {
            var open = Events.open(pid: 10, uid: 0)
            resolvers.resolve(&open)
            XCTAssertTrue(open.process === entry)
            guard case .open(let file) = open.payload else { return XCTFail() }
            XCTAssertEqual(file.file.user, "root")
            XCTAssertEqual(file.file.group, "root")
        }
        XCTAssertEqual(cgroups.pathLookups, lookups, "no cgroup work per event for known processes")

        var fork = Events.fork(parent: 10, child: 11, uid: 0)
        resolvers.resolve(&fork)
        XCTAssertEqual(fork.process?.containerID, containerID)
        XCTAssertEqual(fork.process?.credentials.user, "root", "fork credentials are named again")
        XCTAssertEqual(cgroups.pathLookups, lookups, "fork copies the parent's cgroup")
    }

    func testPayloadFileNames() {
        var mapped = Event(type: .mmap, bootTimeNs: 1, pid: 1, tid: 1, comm: "init",
                           payload: .mmap(MMapPayload(address: 0, offset: 0, length: 4096, protection: 5, flags: 2,
                                                      file: FileInfo(path: "/lib/libc.so.6", uid: 1000, gid: 0))))
        resolvers.resolve(&mapped)
        guard case .mmap(let mmap) = mapped.payload else { return XCTFail() }
        XCTAssertEqual(mmap.file?.user, "alice")
        XCTAssertEqual(mmap.file?.group, "root")
        XCTAssertEqual(mmap.length, 4096, "the rest of the payload is kept")

        var anonymous = Event(type: .mmap, pid: 1, tid: 1, comm: "init",
                              payload: .mmap(MMapPayload(address: 0, offset: 0, length: 1, protection: 0, flags: 0)))
        resolvers.resolve(&anonymous)
        guard case .mmap(let anon) = anonymous.payload else { return XCTFail() }
        XCTAssertNil(anon.file)

        var module = Event(type: .loadModule, pid: 1, tid: 1, comm: "init",
                           payload: .loadModule(LoadModulePayload(name: "x", loadedFromMemory: false,
                                                                  file: FileInfo(path: "/x.ko", uid: 4242, gid: 4242))))
        resolvers.resolve(&module)
        guard case .loadModule(let load) = module.payload else { return XCTFail() }
        XCTAssertEqual(load.name, "x")
        XCTAssertNil(load.file?.user, "unknown ids stay nil")
    }

    func testStatsAndPrune() {
        var open = Events.open(pid: 555)
        resolvers.resolve(&open)
        XCTAssertEqual(open.processResolutionError, ProcessTree.processNotFound)
        var stats = resolvers.stats
        XCTAssertEqual(stats.snapshotSize, 1)
        XCTAssertEqual(stats.liveProcesses, 2)
        XCTAssertEqual(stats.lazyLookups, 1)
        XCTAssertEqual(stats.lookupFailures, 1)
        XCTAssertEqual(stats.userDatabaseLoads, 1)
        XCTAssertEqual(resolvers.prune(), 1)
        stats = resolvers.stats
        XCTAssertEqual(stats.liveProcesses, 1)
        XCTAssertEqual(stats.prunedProcesses, 1)
    }

    func testLiveSystemFacade() throws {
        let live = Resolvers()
        XCTAssertGreaterThan(live.snapshot(), 2)
        let me = try XCTUnwrap(live.processes.entry(forPid: UInt32(getpid())))
        XCTAssertEqual(me.credentials.user, "root")
        XCTAssertNotNil(me.cgroupPath)
        XCTAssertNotEqual(me.cgroupID, 0, "cgroup id from the cgroup path")
        XCTAssertEqual(live.prune(), 0)
    }
}
