import AgentCore

/// Which BPF program feeds which event type, and whether the event type can live without it.
public enum ProbeCatalog {
    /// Event type of a program, from its name (`csm_<hook>` in bpf/probes/*.bpf.c).
    public static func eventType(ofProgram name: String) -> EventType? {
        switch name {
        case "csm_sched_process_exec": return .exec
        case "csm_sched_process_fork": return .fork
        case "csm_sched_process_exit": return .exit
        case let name where name.hasPrefix("csm_sys_enter_open") || name.hasPrefix("csm_sys_exit_open")
            || name == "csm_sys_enter_creat" || name == "csm_sys_exit_creat":
            return .open
        default: return nil
        }
    }
}
