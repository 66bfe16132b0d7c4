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
        }
    }

    /// `evt.category`, as Datadog's backend names categories.
    public var category: String {
        switch self {
        case .exec, .fork, .exit, .ptrace, .signal: return "Process Activity"
        case .open, .mount, .umount, .splice: return "File Activity"
        case .bind: return "Network Activity"
        case .mmap, .mprotect, .bpf, .loadModule, .unloadModule: return "Kernel Activity"
        }
    }

    /// Looks an event type up by its SECL name (`load_module`, ...).
    public init?(name: String) {
        guard let match = EventType.allCases.first(where: { $0.name == name }) else { return nil }
        self = match
    }
}
