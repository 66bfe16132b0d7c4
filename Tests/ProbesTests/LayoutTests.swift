import AgentCore
import CLibBPF
import Foundation
import XCTest

/// The ring-buffer records as Swift imports them from bpf/include/events.h must match, byte for byte,
/// the layout clang gave them in the BPF object (read back from the object's BTF): the alignchecker
/// idea from Tetragon. A mismatch means the decoder would read fields at wrong offsets.
final class LayoutTests: XCTestCase {
    static let objectPath = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent(".build/bpf/csm.bpf.o").path

    /// (struct, Swift size, [(member, Swift offset)]) for every record of the spine.
    static let layouts: [(String, Int, [(String, Int?)])] = [
        ("csm_event_header", MemoryLayout<csm_event_header>.size, [
            ("type", MemoryLayout<csm_event_header>.offset(of: \.type)),
            ("size", MemoryLayout<csm_event_header>.offset(of: \.size)),
            ("timestamp_ns", MemoryLayout<csm_event_header>.offset(of: \.timestamp_ns)),
            ("pid", MemoryLayout<csm_event_header>.offset(of: \.pid)),
            ("tid", MemoryLayout<csm_event_header>.offset(of: \.tid)),
            ("cgroup_id", MemoryLayout<csm_event_header>.offset(of: \.cgroup_id)),
            ("comm", MemoryLayout<csm_event_header>.offset(of: \.comm)),
        ]),
        ("csm_credentials", MemoryLayout<csm_credentials>.size, [
            ("uid", MemoryLayout<csm_credentials>.offset(of: \.uid)),
            ("auid", MemoryLayout<csm_credentials>.offset(of: \.auid)),
            ("cap_effective", MemoryLayout<csm_credentials>.offset(of: \.cap_effective)),
            ("cap_permitted", MemoryLayout<csm_credentials>.offset(of: \.cap_permitted)),
        ]),
        ("csm_file", MemoryLayout<csm_file>.size, [
            ("inode", MemoryLayout<csm_file>.offset(of: \.inode)),
            ("ctime_ns", MemoryLayout<csm_file>.offset(of: \.ctime_ns)),
            ("mtime_ns", MemoryLayout<csm_file>.offset(of: \.mtime_ns)),
            ("mount_id", MemoryLayout<csm_file>.offset(of: \.mount_id)),
            ("dev", MemoryLayout<csm_file>.offset(of: \.dev)),
            ("mode", MemoryLayout<csm_file>.offset(of: \.mode)),
            ("uid", MemoryLayout<csm_file>.offset(of: \.uid)),
            ("gid", MemoryLayout<csm_file>.offset(of: \.gid)),
            ("path_error", MemoryLayout<csm_file>.offset(of: \.path_error)),
            ("path_len", MemoryLayout<csm_file>.offset(of: \.path_len)),
            ("fstype", MemoryLayout<csm_file>.offset(of: \.fstype)),
        ]),
        ("csm_exec_event", MemoryLayout<csm_exec_event>.size, [
            ("file", MemoryLayout<csm_exec_event>.offset(of: \.file)),
            ("creds", MemoryLayout<csm_exec_event>.offset(of: \.creds)),
            ("fork_time_ns", MemoryLayout<csm_exec_event>.offset(of: \.fork_time_ns)),
            ("ppid", MemoryLayout<csm_exec_event>.offset(of: \.ppid)),
            ("flags", MemoryLayout<csm_exec_event>.offset(of: \.flags)),
            ("args_len", MemoryLayout<csm_exec_event>.offset(of: \.args_len)),
            ("envs_len", MemoryLayout<csm_exec_event>.offset(of: \.envs_len)),
            ("tty", MemoryLayout<csm_exec_event>.offset(of: \.tty)),
        ]),
        ("csm_fork_event", MemoryLayout<csm_fork_event>.size, [
            ("creds", MemoryLayout<csm_fork_event>.offset(of: \.creds)),
            ("child_pid", MemoryLayout<csm_fork_event>.offset(of: \.child_pid)),
            ("child_tid", MemoryLayout<csm_fork_event>.offset(of: \.child_tid)),
            ("child_start_ns", MemoryLayout<csm_fork_event>.offset(of: \.child_start_ns)),
        ]),
        ("csm_exit_event", MemoryLayout<csm_exit_event>.size, [
            ("cause", MemoryLayout<csm_exit_event>.offset(of: \.cause)),
            ("code", MemoryLayout<csm_exit_event>.offset(of: \.code)),
        ]),
        ("csm_open_event", MemoryLayout<csm_open_event>.size, [
            ("file", MemoryLayout<csm_open_event>.offset(of: \.file)),
            ("retval", MemoryLayout<csm_open_event>.offset(of: \.retval)),
            ("flags", MemoryLayout<csm_open_event>.offset(of: \.flags)),
            ("mode", MemoryLayout<csm_open_event>.offset(of: \.mode)),
            ("dirfd", MemoryLayout<csm_open_event>.offset(of: \.dirfd)),
            ("syscall", MemoryLayout<csm_open_event>.offset(of: \.syscall)),
            ("user_path_len", MemoryLayout<csm_open_event>.offset(of: \.user_path_len)),
        ]),
    ]

    func testRecordLayoutsMatchTheBPFObject() throws {
        guard let btf = btf__parse(LayoutTests.objectPath, nil) else {
            return XCTFail("cannot read BTF of \(LayoutTests.objectPath): run `make bpf` first")
        }
        defer { btf__free(btf) }
        for (name, swiftSize, members) in LayoutTests.layouts {
            let id = btf__find_by_name_kind(btf, name, 4 /* BTF_KIND_STRUCT */)
            guard id > 0, let type = btf__type_by_id(btf, UInt32(id)) else {
                XCTFail("\(name) is not in the BPF object's BTF"); continue
            }
            XCTAssertEqual(Int(type.pointee.size), swiftSize, "sizeof(\(name))")
            var bpfOffsets: [String: Int] = [:]
            let vlen = Int(btf_vlen(type))
            let list = btf_members(type)!
            for index in 0..<vlen {
                let memberName = String(cString: btf__name_by_offset(btf, list[index].name_off))
                bpfOffsets[memberName] = Int(btf_member_bit_offset(type, UInt32(index))) / 8
            }
            for (member, swiftOffset) in members {
                XCTAssertEqual(bpfOffsets[member], swiftOffset, "offsetof(\(name), \(member))")
            }
        }
    }

    /// Event type numbers are shared by the C enum and the Swift enum; they never drift apart.
    func testEventTypeNumbersMatchTheHeader() {
        let header: [(EventType, csm_event_type)] = [
            (.exec, CSM_EVENT_EXEC), (.fork, CSM_EVENT_FORK), (.exit, CSM_EVENT_EXIT), (.open, CSM_EVENT_OPEN),
            (.mount, CSM_EVENT_MOUNT), (.umount, CSM_EVENT_UMOUNT), (.bind, CSM_EVENT_BIND),
            (.ptrace, CSM_EVENT_PTRACE), (.mmap, CSM_EVENT_MMAP), (.mprotect, CSM_EVENT_MPROTECT),
            (.signal, CSM_EVENT_SIGNAL), (.splice, CSM_EVENT_SPLICE), (.bpf, CSM_EVENT_BPF),
            (.loadModule, CSM_EVENT_LOAD_MODULE), (.unloadModule, CSM_EVENT_UNLOAD_MODULE),
            (.chmod, CSM_EVENT_CHMOD), (.chown, CSM_EVENT_CHOWN), (.link, CSM_EVENT_LINK), (.rename, CSM_EVENT_RENAME),
            (.unlink, CSM_EVENT_UNLINK), (.utimes, CSM_EVENT_UTIMES), (.mkdir, CSM_EVENT_MKDIR), (.rmdir, CSM_EVENT_RMDIR),
            (.setxattr, CSM_EVENT_SETXATTR), (.removexattr, CSM_EVENT_REMOVEXATTR), (.chdir, CSM_EVENT_CHDIR),
            (.setuid, CSM_EVENT_SETUID), (.setgid, CSM_EVENT_SETGID), (.capset, CSM_EVENT_CAPSET),
            (.connect, CSM_EVENT_CONNECT), (.accept, CSM_EVENT_ACCEPT), (.dns, CSM_EVENT_DNS), (.imds, CSM_EVENT_IMDS),
        ]
        XCTAssertEqual(header.count, EventType.allCases.count)
        for (swift, c) in header {
            XCTAssertEqual(swift.rawValue, c.rawValue, "\(swift)")
        }
        XCTAssertGreaterThan(CSM_EVENT_TYPE_MAX.rawValue, EventType.allCases.map(\.rawValue).max()!)
    }
}
