import Foundation

/// Reads the agent's own JSON output (one event per line) back into `Event` values, for offline rule
/// evaluation (`csm-agent policy evaluate`). Tolerant: missing keys take defaults; names written by the
/// serializer (`O_CREAT`, `PTRACE_ATTACH`, `CAP_SYS_ADMIN`, RFC 3339 dates) are mapped back to numbers.
public enum EventJSONReader {
    public struct ReadError: Error, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// Parses one line. Throws `ReadError` for invalid JSON or a line that is not an event.
    public static func event(fromLine line: String) throws -> Event {
        guard let data = line.data(using: .utf8), !data.isEmpty else { throw ReadError(message: "empty line") }
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) } catch {
            throw ReadError(message: "invalid JSON: \(error.localizedDescription)")
        }
        guard let root = object as? [String: Any] else { throw ReadError(message: "not a JSON object") }
        return try event(from: root)
    }

    public static func event(from root: [String: Any]) throws -> Event {
        guard let evt = root["evt"] as? [String: Any], let name = evt["name"] as? String else {
            throw ReadError(message: "not an event: missing evt.name")
        }
        guard let type = EventType(name: name) else { throw ReadError(message: "unknown event type '\(name)'") }
        let timeNs = (root["date"] as? String).flatMap(rfc3339) ?? 0
        let processJSON = root["process"] as? [String: Any]
        let process = processJSON.map { processContext($0) }
        if let process {
            if let container = root["container"] as? [String: Any], let id = container["id"] as? String { process.containerID = id }
            if let cgroup = root["cgroup"] as? [String: Any], let id = cgroup["id"] as? String {
                if let numeric = UInt64(id) { process.cgroupID = numeric } else { process.cgroupPath = id }
            }
        }
        var retval: Int64 = 0
        switch evt["outcome"] as? String {
        case "Refused"?: retval = -13
        case "Error"?: retval = -1
        default: break
        }
        let payload = try self.payload(type, root, process)
        var event = Event(
            type: type, timeNs: timeNs, pid: process?.pid ?? 0, tid: uint32(processJSON?["tid"]) ?? process?.pid ?? 0,
            cgroupID: process?.cgroupID ?? 0, comm: process?.comm ?? "", retval: retval, process: process, payload: payload)
        if case .fork(let fork) = payload { event.pid = fork.parentPid }
        return event
    }

    // MARK: - Payloads

    private static func payload(_ type: EventType, _ root: [String: Any], _ process: ProcessEntry?) throws -> EventPayload {
        let fileJSON = root["file"] as? [String: Any]
        switch type {
        case .exec:
            let p = process ?? ProcessEntry(pid: 0)
            return .exec(ExecPayload(
                file: p.executable ?? FileInfo(), credentials: p.credentials, ppid: p.ppid, argv0: p.argv0, args: p.args,
                envs: p.envs, tty: p.tty))
        case .fork:
            let p = process ?? ProcessEntry(pid: 0)
            return .fork(ForkPayload(childPid: p.pid, childTid: p.pid, parentPid: p.ppid, credentials: p.credentials))
        case .exit:
            let exit = root["exit"] as? [String: Any] ?? [:]
            let cause = ExitCause(rawValue: (exit["cause"] as? String ?? "EXITED").uppercased()) ?? .exited
            return .exit(ExitPayload(cause: cause, code: uint32(exit["code"]) ?? 0))
        case .open:
            let sys = ((root["syscall"] as? [String: Any])?["open"] as? [String: Any]) ?? [:]
            let file = fileJSON.map(self.file) ?? FileInfo()
            var flags = uint32(sys["flags"])
            if flags == nil, let names = fileJSON?["flags"] { flags = UInt32(truncatingIfNeeded: flagValue(names)) }
            return .open(OpenPayload(
                file: file, flags: flags ?? 0, mode: uint32(sys["mode"]) ?? 0, dirfd: Int32(truncatingIfNeeded: int(sys["dirfd"]) ?? -100),
                syscall: .openat, userPath: sys["path"] as? String ?? file.path))
        case .mount:
            let m = root["mount"] as? [String: Any] ?? [:]
            return .mount(MountPayload(
                mountID: uint32(m["mount_id"]) ?? 0, parentMountID: uint32(m["parent_mount_id"]) ?? 0,
                bindSourceMountID: uint32(m["bind_src_mount_id"]) ?? 0, device: uint32(m["device"]) ?? 0,
                fsType: m["fs_type"] as? String ?? "", mountpointPath: m["mountpoint.path"] as? String ?? "",
                mountpointPathError: m["mountpoint.path_error"] as? String, sourcePath: m["source.path"] as? String ?? "",
                sourcePathError: m["source.path_error"] as? String))
        case .umount:
            return .umount(UmountPayload(mountID: uint32(fileJSON?["new_mount_id"]) ?? 0, mountpointPath: fileJSON?["path"] as? String ?? ""))
        case .bind:
            let addr = (root["bind"] as? [String: Any])?["addr"] as? [String: Any] ?? [:]
            return .bind(BindPayload(
                family: UInt16(truncatingIfNeeded: flagValue(addr["family"] ?? 0)), ip: addr["ip"] as? String ?? "",
                port: UInt16(truncatingIfNeeded: int(addr["port"]) ?? 0), unixPath: fileJSON?["path"] as? String ?? ""))
        case .ptrace:
            let p = root["ptrace"] as? [String: Any] ?? [:]
            let tracee = (p["tracee"] as? [String: Any]).map { processContext($0) }
            return .ptrace(PtracePayload(
                request: UInt32(truncatingIfNeeded: flagValue(p["request"] ?? 0)), address: UInt64(bitPattern: flagValue(p["address"] ?? 0)),
                traceePid: tracee?.pid ?? 0, tracee: tracee))
        case .mmap:
            let m = root["mmap"] as? [String: Any] ?? [:]
            return .mmap(MMapPayload(
                address: UInt64(bitPattern: flagValue(m["address"] ?? 0)), offset: UInt64(bitPattern: flagValue(m["offset"] ?? 0)),
                length: UInt64(bitPattern: flagValue(m["length"] ?? 0)), protection: UInt32(truncatingIfNeeded: flagValue(m["protection"] ?? 0)),
                flags: UInt32(truncatingIfNeeded: flagValue(m["flags"] ?? 0)), file: fileJSON.map(self.file)))
        case .mprotect:
            let m = root["mprotect"] as? [String: Any] ?? [:]
            return .mprotect(MProtectPayload(
                vmStart: UInt64(bitPattern: flagValue(m["vm_start"] ?? 0)), vmEnd: UInt64(bitPattern: flagValue(m["vm_end"] ?? 0)),
                vmProtection: UInt32(truncatingIfNeeded: flagValue(m["vm_protection"] ?? 0)),
                reqProtection: UInt32(truncatingIfNeeded: flagValue(m["req_protection"] ?? 0))))
        case .signal:
            let s = root["signal"] as? [String: Any] ?? [:]
            return .signal(SignalPayload(
                type: UInt32(truncatingIfNeeded: flagValue(s["type"] ?? 0)), pid: Int32(truncatingIfNeeded: int(s["pid"]) ?? 0),
                target: (s["target"] as? [String: Any]).map { processContext($0) }))
        case .splice:
            let s = root["splice"] as? [String: Any] ?? [:]
            return .splice(SplicePayload(
                pipeEntryFlag: UInt32(truncatingIfNeeded: flagValue(s["pipe_entry_flag"] ?? 0)),
                pipeExitFlag: UInt32(truncatingIfNeeded: flagValue(s["pipe_exit_flag"] ?? 0)), file: fileJSON.map(self.file)))
        case .bpf:
            let b = root["bpf"] as? [String: Any] ?? [:]
            let map = b["map"] as? [String: Any]
            let prog = b["program"] as? [String: Any]
            let helpers = (prog?["helpers"] as? [Any] ?? []).map { UInt32(truncatingIfNeeded: helperValue($0)) }
            return .bpf(BPFPayload(
                cmd: UInt32(truncatingIfNeeded: flagValue(b["cmd"] ?? 0)), mapName: map?["name"] as? String,
                mapType: map?["map_type"].map { UInt32(truncatingIfNeeded: flagValue($0)) }, progName: prog?["name"] as? String,
                progType: prog?["program_type"].map { UInt32(truncatingIfNeeded: flagValue($0)) },
                attachType: prog?["attach_type"].map { UInt32(truncatingIfNeeded: flagValue($0)) }, progTag: prog?["tag"] as? String,
                helpers: helpers))
        case .loadModule:
            let m = root["module"] as? [String: Any] ?? [:]
            return .loadModule(LoadModulePayload(
                name: m["name"] as? String ?? "", loadedFromMemory: m["loaded_from_memory"] as? Bool ?? false,
                argv: StringList(m["argv"] as? [String] ?? []), argsTruncated: m["args_truncated"] as? Bool ?? false, file: fileJSON.map(self.file)))
        case .unloadModule:
            let m = root["module"] as? [String: Any] ?? [:]
            return .unloadModule(UnloadModulePayload(name: m["name"] as? String ?? ""))
        case .chmod, .chown, .link, .rename, .unlink, .utimes, .mkdir, .rmdir, .setxattr, .removexattr, .chdir:
            var change = fileChange(type, fileJSON ?? [:])
            let syscall = (root["syscall"] as? [String: Any])?[type.name] as? [String: Any]
            change.syscallPath = syscall?["path"] as? String ?? ""
            return .fileChange(change)
        case .setuid, .setgid, .capset:
            let credentials = (root["process"] as? [String: Any])?["credentials"] as? [String: Any]
            return .credentials(credentialChange(credentials?["destination"] as? [String: Any] ?? [:]))
        case .connect, .accept:
            return .connection(connection(type, root))
        case .dns:
            let d = root["dns"] as? [String: Any] ?? [:]
            let q = d["question"] as? [String: Any] ?? [:]
            return .dns(DNSPayload(
                id: UInt16(truncatingIfNeeded: int(d["id"]) ?? 0), name: q["name"] as? String ?? "",
                type: UInt16(truncatingIfNeeded: flagValue(q["type"] ?? 0)), qclass: (q["class"] as? String) == "IN" ? 1 : UInt16(truncatingIfNeeded: int(q["class"]) ?? 1),
                size: UInt16(truncatingIfNeeded: int(q["size"]) ?? 0), count: UInt16(truncatingIfNeeded: int(q["count"]) ?? 1)))
        case .imds:
            let m = root["imds"] as? [String: Any] ?? [:]
            let aws = m["aws"] as? [String: Any] ?? [:]
            return .imds(IMDSPayload(
                type: m["type"] as? String ?? "request", cloudProvider: m["cloud_provider"] as? String ?? "", url: m["url"] as? String ?? "",
                host: m["host"] as? String ?? "", userAgent: m["user_agent"] as? String ?? "", server: m["server"] as? String ?? "",
                isIMDSv2: aws["is_imds_v2"] as? Bool ?? false,
                securityCredentialsType: (aws["security_credentials"] as? [String: Any])?["type"] as? String ?? ""))
        }
    }

    /// A file change: the file, and in `file.destination` what the call asked for (the new path of
    /// a link or rename, a mode, an owner) or, for extended attributes, `file.attribute_*`.
    private static func fileChange(_ type: EventType, _ json: [String: Any]) -> FileChangePayload {
        var p = FileChangePayload(file: file(json))
        let destination = json["destination"] as? [String: Any] ?? [:]
        switch type {
        case .link, .rename: p.destination = file(destination)
        case .chmod, .mkdir: p.destinationMode = uint32(destination["mode"]) ?? 0
        case .chown:
            p.destinationUID = int(destination["uid"]) ?? -1
            p.destinationGID = int(destination["gid"]) ?? -1
            p.destinationUser = destination["user"] as? String
            p.destinationGroup = destination["group"] as? String
        case .setxattr, .removexattr:
            p.attributeName = json["attribute_name"] as? String ?? ""
            p.attributeNamespace = json["attribute_namespace"] as? String ?? ""
        default: break
        }
        return p
    }

    /// The credentials a setuid, setgid or capset asked for (`process.credentials.destination`).
    private static func credentialChange(_ json: [String: Any]) -> CredentialChangePayload {
        var p = CredentialChangePayload(
            uid: uint32(json["uid"]) ?? 0, euid: uint32(json["euid"]) ?? 0, fsuid: uint32(json["fsuid"]) ?? 0,
            gid: uint32(json["gid"]) ?? 0, egid: uint32(json["egid"]) ?? 0, fsgid: uint32(json["fsgid"]) ?? 0,
            capEffective: capabilities(json["cap_effective"]), capPermitted: capabilities(json["cap_permitted"]))
        p.user = json["user"] as? String
        p.euser = json["euser"] as? String
        p.fsuser = json["fsuser"] as? String
        p.group = json["group"] as? String
        p.egroup = json["egroup"] as? String
        p.fsgroup = json["fsgroup"] as? String
        return p
    }

    /// The remote address of a connect (`network.destination`) or accept (`network.source`); a
    /// hand-written `connect.addr` / `accept.addr` object (family, ip, port, hostname) is read too.
    private static func connection(_ type: EventType, _ root: [String: Any]) -> ConnectionPayload {
        let network = root["network"] as? [String: Any] ?? [:]
        let peer = network[type == .connect ? "destination" : "source"] as? [String: Any] ?? [:]
        let addr = (root[type.name] as? [String: Any])?["addr"] as? [String: Any] ?? [:]
        let ip = addr["ip"] as? String ?? peer["ip"] as? String ?? ""
        var family = addr["family"].map { UInt16(truncatingIfNeeded: flagValue($0)) } ?? 0
        if family == 0, !ip.isEmpty { family = ip.contains(":") ? 10 : 2 }
        let l4 = network["l4_protocol"] as? String
        let protocol_: UInt16 = l4 == "TCP" ? 6 : l4 == "UDP" ? 17 : UInt16(truncatingIfNeeded: int(network["l4_protocol"]) ?? 0)
        return ConnectionPayload(
            family: family, ip: ip, port: UInt16(truncatingIfNeeded: int(addr["port"]) ?? int(peer["port"]) ?? 0),
            hostname: addr["hostname"] as? String ?? "", protocol_: protocol_)
    }

    // MARK: - Processes and files

    /// A ProcessContext with its `parent` and `ancestors` (parent first) linked by `parent`.
    static func processContext(_ json: [String: Any]) -> ProcessEntry {
        let entry = processFields(json)
        var chain: [ProcessEntry] = (json["ancestors"] as? [Any] ?? []).compactMap { ($0 as? [String: Any]).map(processFields) }
        if chain.isEmpty, let parent = json["parent"] as? [String: Any] { chain = [processFields(parent)] }
        var child = entry
        for ancestor in chain.prefix(1_024) {
            child.parent = ancestor
            child = ancestor
        }
        return entry
    }

    static func processFields(_ json: [String: Any]) -> ProcessEntry {
        let credJSON = json["credentials"] as? [String: Any] ?? [:]
        var c = Credentials(
            uid: uint32(credJSON["uid"]) ?? uint32(json["uid"]) ?? 0, gid: uint32(credJSON["gid"]) ?? uint32(json["gid"]) ?? 0,
            euid: uint32(credJSON["euid"]) ?? 0, egid: uint32(credJSON["egid"]) ?? 0, fsuid: uint32(credJSON["fsuid"]) ?? 0,
            fsgid: uint32(credJSON["fsgid"]) ?? 0, auid: uint32(credJSON["auid"]) ?? Credentials.unsetAUID,
            capEffective: capabilities(credJSON["cap_effective"]), capPermitted: capabilities(credJSON["cap_permitted"]))
        c.user = credJSON["user"] as? String ?? json["user"] as? String
        c.group = credJSON["group"] as? String ?? json["group"] as? String
        c.euser = credJSON["euser"] as? String
        c.egroup = credJSON["egroup"] as? String
        c.fsuser = credJSON["fsuser"] as? String
        c.fsgroup = credJSON["fsgroup"] as? String
        return ProcessEntry(
            pid: uint32(json["pid"]) ?? 0, ppid: uint32(json["ppid"]) ?? 0, comm: json["comm"] as? String ?? "",
            tty: json["tty"] as? String ?? "", forkTimeNs: (json["fork_time"] as? String).flatMap(rfc3339) ?? 0,
            execTimeNs: (json["exec_time"] as? String).flatMap(rfc3339) ?? 0, exitTimeNs: (json["exit_time"] as? String).flatMap(rfc3339) ?? 0,
            executable: (json["executable"] as? [String: Any]).map(file), argv0: json["argv0"] as? String ?? "",
            args: StringList(json["args"] as? [String] ?? []), argsTruncated: json["args_truncated"] as? Bool ?? false,
            envs: StringList(json["envs"] as? [String] ?? []), envsTruncated: json["envs_truncated"] as? Bool ?? false, credentials: c,
            containerID: (json["container"] as? [String: Any])?["id"] as? String, isKworker: json["is_kworker"] as? Bool ?? false,
            isExecChild: json["is_exec_child"] as? Bool ?? false, source: json["source"] as? String ?? "event")
    }

    static func file(_ json: [String: Any]) -> FileInfo {
        let path = json["path"] as? String ?? ""
        return FileInfo(
            path: path, name: json["name"] as? String, pathResolutionError: json["path_resolution_error"] as? String,
            inode: UInt64(bitPattern: int(json["inode"]) ?? 0), mode: uint32(json["mode"]) ?? 0, mountID: uint32(json["mount_id"]) ?? 0,
            filesystem: json["filesystem"] as? String ?? "", uid: uint32(json["uid"]) ?? 0, gid: uint32(json["gid"]) ?? 0,
            user: json["user"] as? String, group: json["group"] as? String,
            changeTimeNs: (json["change_time"] as? String).flatMap(rfc3339) ?? 0,
            modificationTimeNs: (json["modification_time"] as? String).flatMap(rfc3339) ?? 0,
            inUpperLayer: json["in_upper_layer"] as? Bool ?? false)
    }

    // MARK: - Scalars

    static func int(_ v: Any?) -> Int64? {
        switch v {
        case let n as NSNumber:
            let d = n.doubleValue
            guard d.isFinite, d >= -9.2e18, d <= 9.2e18 else { return nil }
            return n.int64Value
        case let s as String: return Int64(s)
        default: return nil
        }
    }

    static func uint32(_ v: Any?) -> UInt32? { int(v).map { UInt32(truncatingIfNeeded: $0) } }

    /// A number, a name (`PTRACE_ATTACH`), a hex string or names joined by `|`.
    static func flagValue(_ v: Any) -> Int64 {
        if let list = v as? [Any] { return list.reduce(0) { $0 | flagValue($1) } }
        if let n = int(v) { return n }
        guard let s = v as? String else { return 0 }
        // Most values are one name (each capability of a list is its own string): one lookup.
        if let c = SECLConstants.integers[s] { return c }
        var result: Int64 = 0
        for part in s.split(separator: "|") {
            let name = trimmed(part)
            if let c = SECLConstants.integers[name] {
                result |= c
            } else if name.hasPrefix("0x"), let h = UInt64(name.dropFirst(2), radix: 16) {
                result |= Int64(bitPattern: h)
            } else if let d = Int64(name) {
                result |= d
            } else if name.hasPrefix("AF_"), let d = Int64(name.dropFirst(3)) {
                result |= d
            }
        }
        return result
    }

    /// `part` without leading and trailing spaces and tabs (Foundation's `trimmingCharacters` bridges
    /// through NSString: it was half the time of reading an event with two capability lists).
    private static func trimmed(_ part: Substring) -> String {
        var u = part.utf8[...]
        while let f = u.first, f == 32 || f == 9 { u = u.dropFirst() }
        while let l = u.last, l == 32 || l == 9 { u = u.dropLast() }
        return String(Substring(u))
    }

    static func helperValue(_ v: Any) -> Int64 {
        if let n = int(v) { return n }
        guard let s = v as? String else { return 0 }
        let upper = s.uppercased()
        if let c = SECLConstants.integers[upper] { return c }
        if upper.hasPrefix("BPF_FUNC_"), let c = SECLConstants.integers["BPF_" + upper.dropFirst(9)] { return c }
        return 0
    }

    /// Capability names (`CAP_SYS_ADMIN`) or a number, to a mask.
    static func capabilities(_ v: Any?) -> UInt64 {
        guard let v else { return 0 }
        return UInt64(bitPattern: flagValue(v))
    }

    /// `2024-05-01T12:00:00.123456789Z` (or with an offset) to nanoseconds since the epoch.
    static func rfc3339(_ s: String) -> UInt64? {
        let b = Array(s.utf8)
        guard b.count >= 19 else { return nil }
        func num(_ from: Int, _ len: Int) -> Int? {
            var v = 0
            for i in from..<(from + len) {
                guard i < b.count, b[i] >= 48, b[i] <= 57 else { return nil }
                v = v * 10 + Int(b[i] - 48)
            }
            return v
        }
        guard let y = num(0, 4), let mo = num(5, 2), let d = num(8, 2), let h = num(11, 2), let mi = num(14, 2), let se = num(17, 2),
              (1...12).contains(mo), (1...31).contains(d) else { return nil }
        var i = 19
        var fraction: Int64 = 0
        if i < b.count, b[i] == 46 {
            i += 1
            var digits = 0
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                if digits < 9 { fraction = fraction * 10 + Int64(b[i] - 48); digits += 1 }
                i += 1
            }
            while digits < 9 { fraction *= 10; digits += 1 }
        }
        var offset = 0
        if i < b.count, b[i] == 43 || b[i] == 45, let oh = num(i + 1, 2), let om = num(i + 4, 2) {
            offset = (oh * 3600 + om * 60) * (b[i] == 45 ? -1 : 1)
        }
        // Days from civil (Howard Hinnant's algorithm).
        let yy = mo <= 2 ? y - 1 : y
        let era = (yy >= 0 ? yy : yy - 399) / 400
        let yoe = yy - era * 400
        let doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        let seconds = Int64(days) * 86_400 + Int64(h * 3600 + mi * 60 + se) - Int64(offset)
        guard seconds >= 0 else { return nil }
        return UInt64(seconds) * 1_000_000_000 + UInt64(fraction)
    }
}
