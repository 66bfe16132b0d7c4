import AgentCore
import CLibBPF
@testable import Probes
import XCTest

/// mount, umount, bind, load_module, unload_module records built byte by byte as the kernel side
/// lays them out; hostile lengths must give a DecodeError or a flagged event, never a trap.
final class MountBindModuleDecoderTests: XCTestCase {
    let decoder = RecordDecoder(clock: BootClock(offsetNs: 0))

    private func header(_ type: csm_event_type) -> csm_event_header {
        RecordFixture.header(type, pid: 7, tid: 7)
    }

    // MARK: layouts (what clang lays out in bpf/include/events.h)

    func testRecordSizesAndOffsets() {
        XCTAssertEqual(MemoryLayout<csm_mount_event>.size, 128)
        XCTAssertEqual(MemoryLayout<csm_mount_event>.offset(of: \.retval), 48)
        XCTAssertEqual(MemoryLayout<csm_mount_event>.offset(of: \.mount_id), 64)
        XCTAssertEqual(MemoryLayout<csm_mount_event>.offset(of: \.mountpoint_len), 96)
        XCTAssertEqual(MemoryLayout<csm_mount_event>.offset(of: \.fs_type), 112)
        XCTAssertEqual(MemoryLayout<csm_umount_event>.size, 80)
        XCTAssertEqual(MemoryLayout<csm_umount_event>.offset(of: \.user_target_len), 72)
        XCTAssertEqual(MemoryLayout<csm_bind_event>.size, 208)
        XCTAssertEqual(MemoryLayout<csm_bind_event>.offset(of: \.sockaddr), 80)
        XCTAssertEqual(MemoryLayout<csm_load_module_event>.size, 224)
        XCTAssertEqual(MemoryLayout<csm_load_module_event>.offset(of: \.file), 48)
        XCTAssertEqual(MemoryLayout<csm_load_module_event>.offset(of: \.retval), 120)
        XCTAssertEqual(MemoryLayout<csm_load_module_event>.offset(of: \.kernel_name), 160)
        XCTAssertEqual(MemoryLayout<csm_unload_module_event>.size, 128)
        XCTAssertEqual(MemoryLayout<csm_unload_module_event>.offset(of: \.name), 64)
    }

    // MARK: bind

    private func bindRecord(_ sockaddr: [UInt8], retval: Int64 = 0) -> [UInt8] {
        var fixed = csm_bind_event()
        fixed.hdr = header(CSM_EVENT_BIND)
        fixed.retval = retval
        fixed.addrlen = Int32(sockaddr.count)
        fixed.sockaddr_len = UInt32(min(sockaddr.count, 128))
        withUnsafeMutableBytes(of: &fixed.sockaddr) { $0.copyBytes(from: sockaddr.prefix(128)) }
        return RecordFixture.record(fixed)
    }

    private func bindPayload(_ bytes: [UInt8]) throws -> BindPayload {
        guard case let .bind(payload) = try decoder.decode(bytes: bytes).payload else { throw DecodeError.unknownType(0) }
        return payload
    }

    func testBindIPv4() throws {
        let payload = try bindPayload(bindRecord([2, 0, 0x1f, 0x90, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]))
        XCTAssertEqual(payload.family, 2)
        XCTAssertEqual(payload.ip, "10.0.0.1")
        XCTAssertEqual(payload.port, 8080)
    }

    func testBindIPv6() throws {
        var address: [UInt8] = [10, 0, 0x01, 0xbb, 0, 0, 0, 0]
        address += [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1]
        address += [0, 0, 0, 0]
        let payload = try bindPayload(bindRecord(address))
        XCTAssertEqual(payload.ip, "2001:db8::1")
        XCTAssertEqual(payload.port, 443)
    }

    func testBindUnixPathAndAbstract() throws {
        XCTAssertEqual(try bindPayload(bindRecord([1, 0] + Array("/run/x.sock".utf8) + [0])).unixPath, "/run/x.sock")
        XCTAssertEqual(try bindPayload(bindRecord([1, 0, 0] + Array("abs".utf8))).unixPath, "@abs")
    }

    func testBindShortOrUnreadableAddress() throws {
        XCTAssertEqual(try bindPayload(bindRecord([])).family, 0)
        let short = try bindPayload(bindRecord([2, 0, 0x1f]))
        XCTAssertEqual(short.family, 2)
        XCTAssertEqual(short.ip, "")
        XCTAssertEqual(try bindPayload(bindRecord([10, 0, 0, 80, 0, 0])).ip, "")
    }

    func testBindHostileCopiedLengthIsClamped() throws {
        var fixed = csm_bind_event()
        fixed.hdr = header(CSM_EVENT_BIND)
        fixed.sockaddr_len = 100_000
        fixed.sockaddr.0 = 2
        XCTAssertEqual(try bindPayload(RecordFixture.record(fixed)).family, 2)
    }

    // MARK: mount, umount

    func testNewMount() throws {
        var fixed = csm_mount_event()
        fixed.hdr = header(CSM_EVENT_MOUNT)
        fixed.mbm_flags = UInt32(CSM_MNT_NEW_MOUNT.rawValue)
        fixed.mount_id = 67
        fixed.parent_mount_id = 45
        fixed.device = 40
        fixed.mnt_ns = 4_026_532_000
        RecordFixture.setCharArray(&fixed.fs_type, "tmpfs")
        let mountpoint = Array("/mnt/x".utf8), devname = Array("csmtmp".utf8)
        let target = Array("x".utf8), source = Array("csmtmp".utf8), fstype = Array("tmpfs".utf8)
        fixed.mountpoint_len = UInt16(mountpoint.count)
        fixed.devname_len = UInt16(devname.count)
        fixed.user_target_len = UInt16(target.count)
        fixed.user_source_len = UInt16(source.count)
        fixed.user_fstype_len = UInt16(fstype.count)
        let event = try decoder.decode(bytes: RecordFixture.record(fixed, data: mountpoint + devname + target + source + fstype))
        guard case let .mount(mount) = event.payload else { return XCTFail("not a mount") }
        XCTAssertEqual(mount.mountID, 67)
        XCTAssertEqual(mount.parentMountID, 45)
        XCTAssertEqual(mount.device, 40)
        XCTAssertEqual(mount.fsType, "tmpfs")
        XCTAssertEqual(mount.mountpointPath, "/mnt/x")
        XCTAssertEqual(mount.sourcePath, "csmtmp")
        XCTAssertEqual(mount.mountNamespace, 4_026_532_000)
        XCTAssertNil(mount.mountpointPathError)
    }

    func testFailedRelativeBindMountUsesCwd() throws {
        var fixed = csm_mount_event()
        fixed.hdr = header(CSM_EVENT_MOUNT)
        fixed.retval = -2
        fixed.mount_flags = 4096
        fixed.mbm_flags = UInt32(CSM_MNT_HAS_CWD.rawValue)
        let target = Array("../dst".utf8), source = Array("src/".utf8), cwd = Array("/srv/a".utf8)
        fixed.user_target_len = UInt16(target.count)
        fixed.user_source_len = UInt16(source.count)
        fixed.cwd_len = UInt16(cwd.count)
        let event = try decoder.decode(bytes: RecordFixture.record(fixed, data: target + source + cwd))
        guard case let .mount(mount) = event.payload else { return XCTFail("not a mount") }
        XCTAssertEqual(event.outcome, .error)
        XCTAssertEqual(mount.mountID, 0)
        XCTAssertEqual(mount.mountpointPath, "/srv/dst")
        XCTAssertEqual(mount.sourcePath, "/srv/a/src")
    }

    func testMountLengthsBeyondRecordAreRejected() {
        var fixed = csm_mount_event()
        fixed.hdr = header(CSM_EVENT_MOUNT)
        fixed.mountpoint_len = 10
        fixed.cwd_len = 65535
        XCTAssertThrowsError(try decoder.decode(bytes: RecordFixture.record(fixed, data: Array(repeating: 0x41, count: 10))))
    }

    func testUmount() throws {
        var fixed = csm_umount_event()
        fixed.hdr = header(CSM_EVENT_UMOUNT)
        fixed.flags = 2
        fixed.mbm_flags = UInt32(CSM_MNT_HAS_CWD.rawValue | CSM_MNT_USER_TRUNCATED.rawValue)
        let target = Array("dst".utf8), cwd = Array("/tmp".utf8)
        fixed.user_target_len = UInt16(target.count)
        fixed.cwd_len = UInt16(cwd.count)
        guard case let .umount(umount) = try decoder.decode(bytes: RecordFixture.record(fixed, data: target + cwd)).payload else {
            return XCTFail("not a umount")
        }
        XCTAssertEqual(umount.mountpointPath, "/tmp/dst")
        XCTAssertEqual(umount.flags, 2)
        XCTAssertNotNil(umount.mountpointPathError)
    }

    // MARK: modules

    /// A minimal ELF64 image with a .modinfo section (as the integration test builds one).
    static func moduleImage(modinfo: [UInt8]) -> [UInt8] {
        let names: [UInt8] = Array("\0.modinfo\0.shstrtab\0".utf8)
        let modinfoOffset = 64, stringsOffset = 64 + modinfo.count
        let sectionsOffset = (stringsOffset + names.count + 7) & ~7
        var image = [UInt8](repeating: 0, count: 64)
        image.replaceSubrange(0..<6, with: [0x7f, 0x45, 0x4c, 0x46, 2, 1])
        func put<T: FixedWidthInteger>(_ value: T, at offset: Int, in bytes: inout [UInt8]) {
            withUnsafeBytes(of: value.littleEndian) { bytes.replaceSubrange(offset..<offset + MemoryLayout<T>.size, with: $0) }
        }
        put(UInt64(sectionsOffset), at: 40, in: &image)
        put(UInt16(64), at: 58, in: &image)
        put(UInt16(3), at: 60, in: &image)
        put(UInt16(2), at: 62, in: &image)
        image += modinfo + names
        image += [UInt8](repeating: 0, count: sectionsOffset - image.count)
        func section(_ name: UInt32, _ offset: Int, _ size: Int) -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: 64)
            put(name, at: 0, in: &bytes)
            put(UInt64(offset), at: 24, in: &bytes)
            put(UInt64(size), at: 32, in: &bytes)
            return bytes
        }
        return image + section(0, 0, 0) + section(1, modinfoOffset, modinfo.count) + section(10, stringsOffset, names.count)
    }

    func testInitModuleNameFromModinfoAndArgs() throws {
        var fixed = csm_load_module_event()
        fixed.hdr = header(CSM_EVENT_LOAD_MODULE)
        fixed.retval = -38
        fixed.syscall = UInt32(CSM_SYS_INIT_MODULE.rawValue)
        fixed.mbm_flags = UInt32(CSM_MOD_MODINFO.rawValue | CSM_MOD_ARGS_TRUNCATED.rawValue)
        let args = Array("a=1  b=2".utf8), modinfo = Array("license=GPL\0name=csm_x\0".utf8)
        fixed.args_len = UInt16(args.count)
        fixed.modinfo_len = UInt16(modinfo.count)
        let event = try decoder.decode(bytes: RecordFixture.record(fixed, data: args + modinfo))
        guard case let .loadModule(module) = event.payload else { return XCTFail("not load_module") }
        XCTAssertEqual(module.name, "csm_x")
        XCTAssertTrue(module.loadedFromMemory)
        XCTAssertEqual(module.argv, ["a=1", "b=2"])
        XCTAssertTrue(module.argsTruncated)
        XCTAssertNil(module.file)
    }

    func testKernelNameWins() throws {
        var fixed = csm_load_module_event()
        fixed.hdr = header(CSM_EVENT_LOAD_MODULE)
        fixed.mbm_flags = UInt32(CSM_MOD_KERNEL_NAME.rawValue | CSM_MOD_MODINFO.rawValue)
        RecordFixture.setCharArray(&fixed.kernel_name, "real_name")
        let modinfo = Array("name=other\0".utf8)
        fixed.modinfo_len = UInt16(modinfo.count)
        guard case let .loadModule(module) = try decoder.decode(bytes: RecordFixture.record(fixed, data: modinfo)).payload else { return XCTFail() }
        XCTAssertEqual(module.name, "real_name")
    }

    func testFinitModuleNameFromFileThenBaseName() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("csm-mod-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let withInfo = directory.appendingPathComponent("on_disk.ko").path
        let without = directory.appendingPathComponent("plain.ko.zst").path
        FileManager.default.createFile(atPath: withInfo, contents: Data(Self.moduleImage(modinfo: Array("name=from_info\0".utf8))))
        FileManager.default.createFile(atPath: without, contents: Data("junk".utf8))

        for (path, expected) in [(withInfo, "from_info"), (without, "plain"), ("/nonexistent/gone.ko", "gone")] {
            var fixed = csm_load_module_event()
            fixed.hdr = header(CSM_EVENT_LOAD_MODULE)
            fixed.syscall = UInt32(CSM_SYS_FINIT_MODULE.rawValue)
            fixed.mbm_flags = UInt32(CSM_MOD_HAS_FILE.rawValue)
            fixed.file.path_len = UInt16(path.utf8.count)
            guard case let .loadModule(module) = try decoder.decode(bytes: RecordFixture.record(fixed, data: Array(path.utf8))).payload else {
                return XCTFail()
            }
            XCTAssertEqual(module.name, expected, path)
            XCTAssertFalse(module.loadedFromMemory)
            XCTAssertEqual(module.file?.path, path)
        }
    }

    func testHostileElfNeverTraps() {
        var image = Self.moduleImage(modinfo: Array("name=x\0".utf8))
        XCTAssertEqual(ModuleInfo.elfModinfoName(size: UInt64(image.count), read: { Self.slice(image, $0, $1) }), "x")
        // Section header table far away, huge section counts, names past the string table.
        for (offset, value) in [(40, UInt64.max), (40, UInt64(image.count - 10))] {
            var bad = image
            withUnsafeBytes(of: value.littleEndian) { bad.replaceSubrange(offset..<offset + 8, with: $0) }
            XCTAssertNil(ModuleInfo.elfModinfoName(size: UInt64(bad.count), read: { Self.slice(bad, $0, $1) }))
        }
        image[60] = 0xff
        image[61] = 0xff
        XCTAssertNil(ModuleInfo.elfModinfoName(size: UInt64(image.count), read: { Self.slice(image, $0, $1) }))
    }

    static func slice(_ bytes: [UInt8], _ offset: UInt64, _ count: Int) -> [UInt8]? {
        guard count >= 0, offset <= UInt64(bytes.count), UInt64(count) <= UInt64(bytes.count) - offset else { return nil }
        return Array(bytes[Int(offset)..<Int(offset) + count])
    }

    func testUnloadModule() throws {
        var fixed = csm_unload_module_event()
        fixed.hdr = header(CSM_EVENT_UNLOAD_MODULE)
        fixed.retval = -1
        RecordFixture.setCharArray(&fixed.name, "csm_gone")
        let event = try decoder.decode(bytes: RecordFixture.record(fixed))
        guard case let .unloadModule(module) = event.payload else { return XCTFail() }
        XCTAssertEqual(module.name, "csm_gone")
        XCTAssertEqual(event.outcome, .refused)
    }

    // MARK: mount table

    func testMountinfoParsingAndResolution() throws {
        let line = "67 45 0:40 / /tmp/with\\040space rw,relatime shared:1 - tmpfs csm\\040tmp rw,size=1024k"
        let parsed = try XCTUnwrap(MountResolver.parseMountinfoLine(Substring(line)))
        XCTAssertEqual(parsed.id, 67)
        XCTAssertEqual(parsed.parentID, 45)
        XCTAssertEqual(parsed.device, 40)
        XCTAssertEqual(parsed.mountpoint, "/tmp/with space")
        XCTAssertEqual(parsed.source, "csm tmp")
        XCTAssertNil(MountResolver.parseMountinfoLine("garbage"))

        let table = MountResolver(procRoot: "/nonexistent")
        table.add(.init(id: 1, parentID: 1, device: 1, fsType: "ext4", mountpoint: "/", source: "/dev/sda", namespace: 9))
        table.add(.init(id: 5, parentID: 1, device: 40, fsType: "tmpfs", mountpoint: "/tmp/m", source: "t", namespace: 9))
        var bind = Event(type: .mount, payload: .mount(MountPayload(
            mountID: 6, parentMountID: 5, mountpointPath: "/tmp/m/dst", sourcePath: "/tmp/m/src")))
        if case var .mount(payload) = bind.payload {
            payload.flags = 4096
            payload.mountNamespace = 9
            bind.payload = .mount(payload)
        }
        table.resolve(&bind)
        guard case let .mount(resolved) = bind.payload else { return XCTFail() }
        XCTAssertEqual(resolved.bindSourceMountID, 5)
        XCTAssertEqual(table.mount(at: "/tmp/m/dst", namespace: 9)?.id, 6)

        var umount = Event(type: .umount, payload: .umount(UmountPayload(mountpointPath: "/tmp/m/dst")))
        if case var .umount(payload) = umount.payload {
            payload.mountNamespace = 9
            umount.payload = .umount(payload)
        }
        table.resolve(&umount)
        guard case let .umount(gone) = umount.payload else { return XCTFail() }
        XCTAssertEqual(gone.mountID, 6)
        XCTAssertNil(table.mount(id: 6))
        XCTAssertEqual(table.mount(containing: "/tmp/m/dst/x", namespace: 9)?.id, 5)
        XCTAssertEqual(table.mount(containing: "/elsewhere", namespace: 9)?.id, 1)
    }
}
