import AgentCore
import CEmbeddedBPF
import CLibBPF
import Glibc
import SystemPackage

/// Errors that stop the agent before it runs, each with a one-line explanation for the user.
public enum ProbeLoadError: Error, CustomStringConvertible {
    case notRoot
    case noBTF
    case noEmbeddedObject
    case objectUnreadable(path: String, Errno)
    case verifierRefused(Errno, logTail: [String])
    /// The kernel said EPERM or EACCES without a verifier log: the process may not use BPF.
    case permissionDenied(Errno, missingCapabilities: [String])
    case nothingAttached([String])
    case libbpf(step: String, Errno)

    public var description: String {
        switch self {
        case .notRoot:
            return "csm-agent must run as root (it loads BPF programs: CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN)"
        case .noBTF:
            return "kernel BTF not found at /sys/kernel/btf/vmlinux: CO-RE programs need a kernel built with CONFIG_DEBUG_INFO_BTF=y"
        case .noEmbeddedObject:
            return "this binary has no embedded BPF object (build with `make build`) and no --bpf-object was given"
        case let .objectUnreadable(path, errno):
            return "cannot open BPF object \(path): \(errno)"
        case let .verifierRefused(errno, tail):
            return "the kernel refused a BPF program (\(errno)); verifier log tail:\n" + tail.joined(separator: "\n")
        case let .permissionDenied(errno, missing):
            let which = missing.isEmpty ? "" : " (missing from this process's effective set: \(missing.joined(separator: ", ")))"
            return "permission denied (\(errno)) loading the BPF object: loading BPF needs CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN, "
                + "or root with full capabilities\(which); a root run inside a container or under setpriv/capsh may lack them"
        case let .nothingAttached(reasons):
            return "no probe could be attached: " + reasons.joined(separator: "; ")
        case let .libbpf(step, errno):
            return "\(step) failed: \(errno)"
        }
    }
}

/// Where the BPF object comes from.
public enum BPFObjectSource {
    case embedded
    case file(String)
}

/// Settings applied to the object before load.
public struct ProbeSettings {
    /// Ring buffer size in bytes (a power of two, multiple of the page size).
    public var ringBufferBytes: UInt32 = 16 * 1024 * 1024
    /// Bytes waiting in the ring buffer past which the kernel side wakes the reader.
    public var wakeupThresholdBytes: UInt64 = 1024 * 1024
    /// The agent's own pid: its own activity is not traced.
    public var agentPid: UInt32 = UInt32(getpid())

    public init() {}
}

/// A loaded and attached probe set: the ring buffer to drain, lost counters, and what is missing.
public final class LoadedProbes {
    public let object: BPFObject
    public let events: BPFMap
    public let lostEvents: BPFMap
    /// Attached links; detached when this is released.
    let links: [BPFLink]
    /// Programs that are not running, with the reason (hook missing, attach failed).
    public let unavailablePrograms: [(program: String, reason: String)]
    /// Event types none of whose programs run.
    public let unavailableEventTypes: [EventType]
    public let attachedPrograms: [String]

    init(object: BPFObject, events: BPFMap, lostEvents: BPFMap, links: [BPFLink],
         attached: [String], unavailable: [(String, String)], unavailableTypes: [EventType]) {
        self.object = object
        self.events = events
        self.lostEvents = lostEvents
        self.links = links
        self.attachedPrograms = attached
        self.unavailablePrograms = unavailable
        self.unavailableEventTypes = unavailableTypes
    }

    /// Starts detaching every program, in the background (see `LinkDetacher`): once it has
    /// finished no event is produced, so what is left in the ring buffer is bounded by its size.
    /// The maps stay.
    public func startDetaching() -> LinkDetacher {
        LinkDetacher(links)
    }

    /// Records the kernel could not write, per event type, summed over CPUs.
    public func lostCounts() -> [EventType: UInt64] {
        var result: [EventType: UInt64] = [:]
        for type in EventType.allCases {
            let perCPU = (try? lostEvents.perCPUValues(key: type.rawValue)) ?? []
            let total = perCPU.reduce(0, &+)
            if total > 0 { result[type] = total }
        }
        return result
    }
}

/// Opens, configures, feature-probes, loads and attaches the BPF object.
public enum ProbeLoader {
    /// What a failed `bpf_object__load` means. The verifier refuses a program with EACCES (or
    /// EINVAL, E2BIG...) and writes its log, which libbpf passes on between its BEGIN/END PROG LOAD
    /// LOG markers; a process without CAP_BPF gets EPERM from the first bpf(2) call (BTF or map
    /// creation), with no log. EPERM or EACCES without a verifier log, or with capabilities
    /// missing, is a permission problem, not a verifier refusal.
    static func loadError(_ error: Errno, logTail: [String], verifierLog: Bool = LibBPFLog.shared.holdsVerifierLog,
                          effectiveCapabilities: UInt64? = effectiveCapabilities()) -> ProbeLoadError {
        guard error == .notPermitted || error == .permissionDenied else { return .verifierRefused(error, logTail: logTail) }
        let needed = [39, 38, 21]  // CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN
        var missing: [String] = []
        if let caps = effectiveCapabilities {
            missing = needed.filter { caps & (1 << UInt64($0)) == 0 }.map { capabilityName($0) }
        }
        if verifierLog && missing.isEmpty { return .verifierRefused(error, logTail: logTail) }
        return .permissionDenied(error, missingCapabilities: missing)
    }

    /// `CapEff` of /proc/self/status; nil when it cannot be read.
    static func effectiveCapabilities() -> UInt64? {
        guard let file = fopen("/proc/self/status", "r") else { return nil }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 512)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(cString: line)
            guard text.hasPrefix("CapEff:") else { continue }
            return UInt64(text.dropFirst(7).drop(while: { $0 == " " || $0 == "\t" }).prefix { $0.isHexDigit }, radix: 16)
        }
        return nil
    }

    public static func load(source: BPFObjectSource, settings: ProbeSettings) throws -> LoadedProbes {
        guard geteuid() == 0 else { throw ProbeLoadError.notRoot }
        let features = KernelFeatures()
        guard features.hasBTF, access("/sys/kernel/btf/vmlinux", R_OK) == 0 else { throw ProbeLoadError.noBTF }
        LibBPF.captureLogs()

        let object: BPFObject
        switch source {
        case .embedded:
            guard csm_embedded_bpf_object_size() > 0 else { throw ProbeLoadError.noEmbeddedObject }
            let bytes = Array(UnsafeBufferPointer(start: csm_embedded_bpf_object_data(), count: csm_embedded_bpf_object_size()))
            do { object = try BPFObject(bytes: bytes, name: "csm") } catch let error as Errno {
                throw ProbeLoadError.libbpf(step: "opening the embedded BPF object", error)
            }
        case let .file(path):
            do { object = try BPFObject(path: path) } catch let error as Errno {
                throw ProbeLoadError.objectUnreadable(path: path, error)
            }
        }

        do {
            try object.map(named: "events").setMaxEntries(settings.ringBufferBytes)
            try object.setReadOnlyGlobal("agent_tgid", to: settings.agentPid)
            try object.setReadOnlyGlobal("wakeup_threshold_bytes", to: settings.wakeupThresholdBytes)
        } catch let error as Errno {
            throw ProbeLoadError.libbpf(
                step: "configuring the BPF object (it needs the maps events and lost_events and the globals agent_tgid and wakeup_threshold_bytes)",
                error)
        }

        var unavailable: [(String, String)] = []
        var wanted: [BPFProgram] = []
        for program in object.programs {
            if let reason = features.missingHook(forSection: program.section) {
                try? program.setAutoload(false)
                unavailable.append((program.name, reason))
            } else {
                wanted.append(program)
            }
        }

        LibBPFLog.shared.clear()
        do { try object.load() } catch let error as Errno {
            throw loadError(error, logTail: LibBPFLog.shared.tail(25))
        }

        var links: [BPFLink] = []
        var attached: [String] = []
        for program in wanted {
            do {
                links.append(try program.attach())
                attached.append(program.name)
            } catch let error as Errno {
                unavailable.append((program.name, "attach failed: \(error)"))
            }
        }
        guard !links.isEmpty else { throw ProbeLoadError.nothingAttached(unavailable.map { "\($0.0): \($0.1)" }) }

        let running = Set(attached.flatMap(ProbeCatalog.eventTypes(ofProgram:)))
        let known = Set(object.programs.flatMap { ProbeCatalog.eventTypes(ofProgram: $0.name) })
        let missingTypes = EventType.allCases.filter { known.contains($0) && !running.contains($0) }

        do {
            return LoadedProbes(
                object: object, events: try object.map(named: "events"),
                lostEvents: try object.map(named: "lost_events"), links: links, attached: attached,
                unavailable: unavailable, unavailableTypes: missingTypes
            )
        } catch let error as Errno {
            throw ProbeLoadError.libbpf(step: "finding the BPF maps", error)
        }
    }
}
