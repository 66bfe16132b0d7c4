/// The kinds of event the agent emits. Raw values equal `enum csm_event_type` in bpf/include/events.h
/// (a ProbesTests test checks that); they are never reused.
public enum EventType: UInt32, CaseIterable, Sendable {
    case exec = 1
    case fork = 2
    case exit = 3
    case open = 4
    case mount = 5
    case umount = 6
    case bind = 7
    case ptrace = 8
    case mmap = 9
    case mprotect = 10
    case signal = 11
    case splice = 12
    case bpf = 13
    case loadModule = 14
    case unloadModule = 15
    // Modelled for the rule engine and the JSON tools; no probe produces them yet (`hasProbe`).
    // Their numbers are reserved in events.h all the same.
    case chmod = 16
    case chown = 17
    case link = 18
    case rename = 19
    case unlink = 20
    case utimes = 21
    case mkdir = 22
    case rmdir = 23
    case setxattr = 24
    case removexattr = 25
    case chdir = 26
    case setuid = 27
    case setgid = 28
    case capset = 29
    case connect = 30
    case accept = 31
    case dns = 32
    case imds = 33

    /// `evt.name` / SECL event type name.
    public var name: String {
        switch self {
        case .exec: return "exec"
        case .fork: return "fork"
        case .exit: return "exit"
        case .open: return "open"
        case .mount: return "mount"
        case .umount: return "umount"
        case .bind: return "bind"
        case .ptrace: return "ptrace"
        case .mmap: return "mmap"
        case .mprotect: return "mprotect"
        case .signal: return "signal"
        case .splice: return "splice"
        case .bpf: return "bpf"
        case .loadModule: return "load_module"
        case .unloadModule: return "unload_module"
        case .chmod: return "chmod"
        case .chown: return "chown"
        case .link: return "link"
        case .rename: return "rename"
        case .unlink: return "unlink"
        case .utimes: return "utimes"
        case .mkdir: return "mkdir"
        case .rmdir: return "rmdir"
        case .setxattr: return "setxattr"
        case .removexattr: return "removexattr"
        case .chdir: return "chdir"
        case .setuid: return "setuid"
        case .setgid: return "setgid"
        case .capset: return "capset"
        case .connect: return "connect"
        case .accept: return "accept"
        case .dns: return "dns"
        case .imds: return "imds"
        }
    }

    /// Whether a probe of this agent produces the type. The others are modelled (fields, JSON) so
    /// that rules on them load and can be tested offline, but the agent does not see them.
    public var hasProbe: Bool { rawValue <= EventType.unloadModule.rawValue }

    /// The file-change types (`FileChangePayload`).
    public var isFileChange: Bool { rawValue >= EventType.chmod.rawValue && rawValue <= EventType.chdir.rawValue }

    /// `evt.category`, as Datadog's backend names categories.
    public var category: String {
        switch self {
        case .exec, .fork, .exit, .ptrace, .signal: return "Process Activity"
        case .open, .mount, .umount, .splice, .chmod, .chown, .link, .rename, .unlink, .utimes, .mkdir, .rmdir, .setxattr,
             .removexattr, .chdir: return "File Activity"
        case .setuid, .setgid, .capset: return "Process Activity"
        case .bind, .connect, .accept, .dns, .imds: return "Network Activity"
        case .mmap, .mprotect, .bpf, .loadModule, .unloadModule: return "Kernel Activity"
        }
    }

    /// Looks an event type up by its SECL name (`load_module`, ...).
    public init?(name: String) {
        guard let match = EventType.allCases.first(where: { $0.name == name }) else { return nil }
        self = match
    }
}
