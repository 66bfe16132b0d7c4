/// SECL constants with their Linux values (integers unless noted), as Datadog's model defines them.
public enum SECLConstants {
    /// Integer constants by name.
    public static let integers: [String: Int64] = {
        var c: [String: Int64] = [:]
        // open(2), capability, BPF, ptrace, signal, mmap/mprotect and pipe-buffer names share the
        // tables the serializer writes them with (AgentCore/Names), so rules and output agree.
        for (index, name) in openAccessModeNames.prefix(3).enumerated() { c["\(name)"] = Int64(index) }
        for (value, name) in openFlagTable { c["\(name)"] = Int64(value) }
        c["O_RSYNC"] = c["O_SYNC"]
        // File mode bits.
        let modes: [(String, Int64)] = [
            ("S_IFMT", 0o170000), ("S_IFSOCK", 0o140000), ("S_IFLNK", 0o120000), ("S_IFREG", 0o100000),
            ("S_IFBLK", 0o60000), ("S_IFDIR", 0o40000), ("S_IFCHR", 0o20000), ("S_IFIFO", 0o10000),
            ("S_ISUID", 0o4000), ("S_ISGID", 0o2000), ("S_ISVTX", 0o1000), ("S_IRWXU", 0o700),
            ("S_IRUSR", 0o400), ("S_IWUSR", 0o200), ("S_IXUSR", 0o100), ("S_IRWXG", 0o70), ("S_IRGRP", 0o40),
            ("S_IWGRP", 0o20), ("S_IXGRP", 0o10), ("S_IRWXO", 0o7), ("S_IROTH", 0o4), ("S_IWOTH", 0o2),
            ("S_IXOTH", 0o1),
        ]
        // Capabilities are bit masks in Datadog's model (cap_effective & CAP_SYS_ADMIN > 0).
        for (bit, name) in capabilityNameTable.enumerated() { c["\(name)"] = Int64(1) << Int64(bit) }
        for (value, name) in bpfCommandNames.enumerated() { c["\(name)"] = Int64(value) }
        for (value, name) in bpfProgramTypeNames.enumerated() { c["\(name)"] = Int64(value) }
        for (value, name) in bpfMapTypeNames.enumerated() { c["\(name)"] = Int64(value) }
        // BPF helpers: the ids Datadog's rules refer to.
        let helpers: [(String, Int64)] = [
            ("BPF_MAP_LOOKUP_ELEM", 1), ("BPF_PROBE_READ", 4), ("BPF_KTIME_GET_NS", 5), ("BPF_TRACE_PRINTK", 6),
            ("BPF_SKB_STORE_BYTES", 9), ("BPF_PROBE_WRITE_USER", 36), ("BPF_OVERRIDE_RETURN", 58),
            ("BPF_SEND_SIGNAL", 109), ("BPF_PROBE_READ_USER", 112), ("BPF_PROBE_READ_KERNEL", 113),
            ("BPF_PROBE_READ_USER_STR", 114), ("BPF_PROBE_READ_KERNEL_STR", 115), ("BPF_SEND_SIGNAL_THREAD", 117),
        ]
        for (name, value) in helpers where c[name] == nil { c[name] = value }
        for (value, name) in ptraceRequestTable { c["\(name)"] = Int64(value) }
        for (number, name) in signalNameTable.enumerated() where number > 0 { c["\(name)"] = Int64(number) }
        for (value, name) in protectionTable { c["\(name)"] = Int64(value) }
        for (value, name) in mmapFlagTable { c["\(name)"] = Int64(value) }
        for (value, name) in mmapTypeNames.enumerated() where value > 0 { c["\(name)"] = Int64(value) }
        for (value, name) in pipeBufFlagTable { c["\(name)"] = Int64(value) }
        c["SIGIOT"] = 6
        c["SIGPOLL"] = 29
        let misc: [(String, Int64)] = [
            ("AF_UNSPEC", 0), ("AF_UNIX", 1), ("AF_LOCAL", 1), ("AF_INET", 2), ("AF_INET6", 10), ("AF_NETLINK", 16),
            ("AF_PACKET", 17), ("PROT_NONE", 0), ("MAP_ANON", 0x20),
            ("VM_READ", 1), ("VM_WRITE", 2), ("VM_EXEC", 4), ("VM_SHARED", 8),
            ("PR_SET_NAME", 15), ("PR_GET_NAME", 16), ("SOL_SOCKET", 1), ("SO_ATTACH_FILTER", 26),
            ("AUDIT_AUID_UNSET", 4_294_967_295),
            // exit.cause
            ("EXITED", 0), ("COREDUMPED", 1), ("SIGNALED", 2),
            // errno for *.retval
            ("EPERM", -1), ("ENOENT", -2), ("EACCES", -13), ("EEXIST", -17),
            ("IPPROTO_IP", 0), ("IPPROTO_ICMP", 1), ("IPPROTO_TCP", 6), ("IPPROTO_UDP", 17), ("IPPROTO_ICMPV6", 58),
            ("MNT_FORCE", 1), ("MNT_DETACH", 2), ("MNT_EXPIRE", 4), ("UMOUNT_NOFOLLOW", 8),
        ]
        for (name, value) in modes + misc { c[name] = value }
        for (value, name) in dnsTypeTable { c[name] = Int64(value) }
        return c
    }()

    /// String constants (none in Datadog's Linux model besides these).
    public static let strings: [String: String] = [:]

    /// Name of the set flags of an open(2) flags value, as the agent's JSON writes them (`O_RDONLY` ...).
    public static let openFlagNames: [(String, UInt32)] =
        [("O_WRONLY", 1), ("O_RDWR", 2)] + openFlagTable.map { ("\($0.name)", $0.value) }
}
