import CLibBPF
import Glibc

/// Answers "does this kernel offer the hook this program needs?" before load, so that a missing
/// tracepoint switches one program off instead of failing the whole object.
public final class KernelFeatures {
    private let vmlinux: OpaquePointer?
    private let tracefsRoots: [String]

    public init(tracefsRoots: [String] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]) {
        vmlinux = btf__load_vmlinux_btf()
        var found = tracefsRoots.filter { access($0 + "/events", F_OK) == 0 }
        if found.isEmpty, KernelFeatures.mountTracefs(at: tracefsRoots[0]) {
            found = [tracefsRoots[0]]
        }
        self.tracefsRoots = found
    }

    /// Syscall tracepoints are attached through tracefs ids: mount it when the host has not (as on
    /// a minimal system or in a fresh VM). Returns true when it is mounted afterwards.
    public private(set) static var mountedTracefs = false
    static func mountTracefs(at path: String) -> Bool {
        guard access(path, F_OK) == 0 else { return false }
        if mount("nodev", path, "tracefs", 0, nil) == 0 {
            mountedTracefs = true
            return access(path + "/events", F_OK) == 0
        }
        return false
    }

    deinit { if let vmlinux { btf__free(vmlinux) } }

    /// True when the kernel has BTF (CO-RE needs it).
    public var hasBTF: Bool { vmlinux != nil }

    /// nil when the section's hook exists (or cannot be checked), else why it does not.
    public func missingHook(forSection section: String) -> String? {
        if section.hasPrefix("tp_btf/") {
            let name = String(section.dropFirst("tp_btf/".count))
            guard let vmlinux else { return "kernel BTF unavailable" }
            // BTF_KIND_TYPEDEF: every raw tracepoint has a `btf_trace_<name>` typedef.
            return btf__find_by_name_kind(vmlinux, "btf_trace_" + name, 8) < 0
                ? "no BTF tracepoint \(name) in this kernel" : nil
        }
        if section.hasPrefix("tracepoint/") {
            let name = String(section.dropFirst("tracepoint/".count))
            guard !tracefsRoots.isEmpty else { return nil }
            return tracefsRoots.contains(where: { access($0 + "/events/" + name, F_OK) == 0 })
                ? nil : "no tracepoint \(name) in this kernel"
        }
        return nil
    }
}
