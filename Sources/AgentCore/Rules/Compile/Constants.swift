/// SECL constants with their Linux values (integers unless noted), as Datadog's model defines them.
public enum SECLConstants {
    /// Integer constants by name.
    public static let integers: [String: Int64] = {
        var c: [String: Int64] = [:]
        // open(2) flags (x86_64/arm64 generic values).
        let open: [(String, Int64)] = [
            ("O_RDONLY", 0), ("O_WRONLY", 1), ("O_RDWR", 2), ("O_CREAT", 0o100), ("O_EXCL", 0o200),
            ("O_NOCTTY", 0o400), ("O_TRUNC", 0o1000), ("O_APPEND", 0o2000), ("O_NONBLOCK", 0o4000),
            ("O_DSYNC", 0o10000), ("O_SYNC", 0o4010000), ("O_RSYNC", 0o4010000), ("FASYNC", 0o20000),
            ("O_DIRECT", 0o40000), ("O_LARGEFILE", 0o100000), ("O_DIRECTORY", 0o200000),
            ("O_NOFOLLOW", 0o400000), ("O_NOATIME", 0o1000000), ("O_CLOEXEC", 0o2000000),
            ("O_PATH", 0o10000000), ("O_TMPFILE", 0o20200000),
        ]
        // File mode bits.
        let modes: [(String, Int64)] = [
            ("S_IFMT", 0o170000), ("S_IFSOCK", 0o140000), ("S_IFLNK", 0o120000), ("S_IFREG", 0o100000),
            ("S_IFBLK", 0o60000), ("S_IFDIR", 0o40000), ("S_IFCHR", 0o20000), ("S_IFIFO", 0o10000),
            ("S_ISUID", 0o4000), ("S_ISGID", 0o2000), ("S_ISVTX", 0o1000), ("S_IRWXU", 0o700),
            ("S_IRUSR", 0o400), ("S_IWUSR", 0o200), ("S_IXUSR", 0o100), ("S_IRWXG", 0o70), ("S_IRGRP", 0o40),
            ("S_IWGRP", 0o20), ("S_IXGRP", 0o10), ("S_IRWXO", 0o7), ("S_IROTH", 0o4), ("S_IWOTH", 0o2),
            ("S_IXOTH", 0o1),
        ]
        let caps = [
            "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
            "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
            "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
            "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
            "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
            "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN",
            "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
            "CAP_CHECKPOINT_RESTORE",
        ]
        // Capabilities are bit masks in Datadog's model (cap_effective & CAP_SYS_ADMIN > 0).
        for (i, name) in caps.enumerated() { c[name] = Int64(1) << Int64(i) }
        let bpfCmds = [
            "BPF_MAP_CREATE", "BPF_MAP_LOOKUP_ELEM", "BPF_MAP_UPDATE_ELEM", "BPF_MAP_DELETE_ELEM",
            "BPF_MAP_GET_NEXT_KEY", "BPF_PROG_LOAD", "BPF_OBJ_PIN", "BPF_OBJ_GET", "BPF_PROG_ATTACH",
            "BPF_PROG_DETACH", "BPF_PROG_TEST_RUN", "BPF_PROG_GET_NEXT_ID", "BPF_MAP_GET_NEXT_ID",
            "BPF_PROG_GET_FD_BY_ID", "BPF_MAP_GET_FD_BY_ID", "BPF_OBJ_GET_INFO_BY_FD", "BPF_PROG_QUERY",
            "BPF_RAW_TRACEPOINT_OPEN", "BPF_BTF_LOAD", "BPF_BTF_GET_FD_BY_ID", "BPF_TASK_FD_QUERY",
            "BPF_MAP_LOOKUP_AND_DELETE_ELEM", "BPF_MAP_FREEZE", "BPF_BTF_GET_NEXT_ID", "BPF_MAP_LOOKUP_BATCH",
            "BPF_MAP_LOOKUP_AND_DELETE_BATCH", "BPF_MAP_UPDATE_BATCH", "BPF_MAP_DELETE_BATCH", "BPF_LINK_CREATE",
            "BPF_LINK_UPDATE", "BPF_LINK_GET_FD_BY_ID", "BPF_LINK_GET_NEXT_ID", "BPF_ENABLE_STATS",
            "BPF_ITER_CREATE", "BPF_LINK_DETACH", "BPF_PROG_BIND_MAP",
        ]
        for (i, name) in bpfCmds.enumerated() { c[name] = Int64(i) }
        let progTypes = [
            "BPF_PROG_TYPE_UNSPEC", "BPF_PROG_TYPE_SOCKET_FILTER", "BPF_PROG_TYPE_KPROBE", "BPF_PROG_TYPE_SCHED_CLS",
            "BPF_PROG_TYPE_SCHED_ACT", "BPF_PROG_TYPE_TRACEPOINT", "BPF_PROG_TYPE_XDP", "BPF_PROG_TYPE_PERF_EVENT",
            "BPF_PROG_TYPE_CGROUP_SKB", "BPF_PROG_TYPE_CGROUP_SOCK", "BPF_PROG_TYPE_LWT_IN", "BPF_PROG_TYPE_LWT_OUT",
            "BPF_PROG_TYPE_LWT_XMIT", "BPF_PROG_TYPE_SOCK_OPS", "BPF_PROG_TYPE_SK_SKB", "BPF_PROG_TYPE_CGROUP_DEVICE",
            "BPF_PROG_TYPE_SK_MSG", "BPF_PROG_TYPE_RAW_TRACEPOINT", "BPF_PROG_TYPE_CGROUP_SOCK_ADDR",
            "BPF_PROG_TYPE_LWT_SEG6LOCAL", "BPF_PROG_TYPE_LIRC_MODE2", "BPF_PROG_TYPE_SK_REUSEPORT",
            "BPF_PROG_TYPE_FLOW_DISSECTOR", "BPF_PROG_TYPE_CGROUP_SYSCTL", "BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE",
            "BPF_PROG_TYPE_CGROUP_SOCKOPT", "BPF_PROG_TYPE_TRACING", "BPF_PROG_TYPE_STRUCT_OPS", "BPF_PROG_TYPE_EXT",
            "BPF_PROG_TYPE_LSM", "BPF_PROG_TYPE_SK_LOOKUP",
        ]
        for (i, name) in progTypes.enumerated() { c[name] = Int64(i) }
        let mapTypes = [
            "BPF_MAP_TYPE_UNSPEC", "BPF_MAP_TYPE_HASH", "BPF_MAP_TYPE_ARRAY", "BPF_MAP_TYPE_PROG_ARRAY",
            "BPF_MAP_TYPE_PERF_EVENT_ARRAY", "BPF_MAP_TYPE_PERCPU_HASH", "BPF_MAP_TYPE_PERCPU_ARRAY",
            "BPF_MAP_TYPE_STACK_TRACE", "BPF_MAP_TYPE_CGROUP_ARRAY", "BPF_MAP_TYPE_LRU_HASH",
            "BPF_MAP_TYPE_LRU_PERCPU_HASH", "BPF_MAP_TYPE_LPM_TRIE", "BPF_MAP_TYPE_ARRAY_OF_MAPS",
            "BPF_MAP_TYPE_HASH_OF_MAPS", "BPF_MAP_TYPE_DEVMAP", "BPF_MAP_TYPE_SOCKMAP", "BPF_MAP_TYPE_CPUMAP",
            "BPF_MAP_TYPE_XSKMAP", "BPF_MAP_TYPE_SOCKHASH", "BPF_MAP_TYPE_CGROUP_STORAGE",
            "BPF_MAP_TYPE_REUSEPORT_SOCKARRAY", "BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE", "BPF_MAP_TYPE_QUEUE",
            "BPF_MAP_TYPE_STACK", "BPF_MAP_TYPE_SK_STORAGE", "BPF_MAP_TYPE_DEVMAP_HASH", "BPF_MAP_TYPE_STRUCT_OPS",
            "BPF_MAP_TYPE_RINGBUF", "BPF_MAP_TYPE_INODE_STORAGE", "BPF_MAP_TYPE_TASK_STORAGE",
        ]
        for (i, name) in mapTypes.enumerated() { c[name] = Int64(i) }
        // BPF helpers: the ids Datadog's rules refer to.
        let helpers: [(String, Int64)] = [
            ("BPF_MAP_LOOKUP_ELEM", 1), ("BPF_PROBE_READ", 4), ("BPF_KTIME_GET_NS", 5), ("BPF_TRACE_PRINTK", 6),
            ("BPF_SKB_STORE_BYTES", 9), ("BPF_PROBE_WRITE_USER", 36), ("BPF_OVERRIDE_RETURN", 58),
            ("BPF_SEND_SIGNAL", 109), ("BPF_PROBE_READ_USER", 112), ("BPF_PROBE_READ_KERNEL", 113),
            ("BPF_PROBE_READ_USER_STR", 114), ("BPF_PROBE_READ_KERNEL_STR", 115), ("BPF_SEND_SIGNAL_THREAD", 117),
        ]
        for (name, value) in helpers where c[name] == nil { c[name] = value }
        let ptrace: [(String, Int64)] = [
            ("PTRACE_TRACEME", 0), ("PTRACE_PEEKTEXT", 1), ("PTRACE_PEEKDATA", 2), ("PTRACE_PEEKUSR", 3),
            ("PTRACE_POKETEXT", 4), ("PTRACE_POKEDATA", 5), ("PTRACE_POKEUSR", 6), ("PTRACE_CONT", 7),
            ("PTRACE_KILL", 8), ("PTRACE_SINGLESTEP", 9), ("PTRACE_GETREGS", 12), ("PTRACE_SETREGS", 13),
            ("PTRACE_GETFPREGS", 14), ("PTRACE_SETFPREGS", 15), ("PTRACE_ATTACH", 16), ("PTRACE_DETACH", 17),
            ("PTRACE_SYSCALL", 24), ("PTRACE_SETOPTIONS", 0x4200), ("PTRACE_GETEVENTMSG", 0x4201),
            ("PTRACE_GETSIGINFO", 0x4202), ("PTRACE_SETSIGINFO", 0x4203), ("PTRACE_GETREGSET", 0x4204),
            ("PTRACE_SETREGSET", 0x4205), ("PTRACE_SEIZE", 0x4206), ("PTRACE_INTERRUPT", 0x4207),
            ("PTRACE_LISTEN", 0x4208),
        ]
        let signals = [
            "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE", "SIGKILL", "SIGUSR1",
            "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT", "SIGCHLD", "SIGCONT", "SIGSTOP",
            "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH",
            "SIGIO", "SIGPWR", "SIGSYS",
        ]
        for (i, name) in signals.enumerated() { c[name] = Int64(i + 1) }
        c["SIGIOT"] = 6
        c["SIGPOLL"] = 29
        let misc: [(String, Int64)] = [
            ("AF_UNSPEC", 0), ("AF_UNIX", 1), ("AF_LOCAL", 1), ("AF_INET", 2), ("AF_INET6", 10), ("AF_NETLINK", 16),
            ("AF_PACKET", 17), ("PROT_NONE", 0), ("PROT_READ", 1), ("PROT_WRITE", 2), ("PROT_EXEC", 4),
            ("PROT_GROWSDOWN", 0x0100_0000), ("PROT_GROWSUP", 0x0200_0000), ("MAP_SHARED", 1), ("MAP_PRIVATE", 2),
            ("MAP_FIXED", 0x10), ("MAP_ANONYMOUS", 0x20), ("MAP_ANON", 0x20), ("MAP_GROWSDOWN", 0x100),
            ("MAP_DENYWRITE", 0x800), ("MAP_EXECUTABLE", 0x1000), ("MAP_LOCKED", 0x2000), ("MAP_NORESERVE", 0x4000),
            ("MAP_POPULATE", 0x8000), ("MAP_NONBLOCK", 0x10000), ("MAP_STACK", 0x20000), ("MAP_HUGETLB", 0x40000),
            ("VM_READ", 1), ("VM_WRITE", 2), ("VM_EXEC", 4), ("VM_SHARED", 8),
            ("PIPE_BUF_FLAG_LRU", 0x1), ("PIPE_BUF_FLAG_ATOMIC", 0x2), ("PIPE_BUF_FLAG_GIFT", 0x4),
            ("PIPE_BUF_FLAG_PACKET", 0x8), ("PIPE_BUF_FLAG_CAN_MERGE", 0x10), ("PIPE_BUF_FLAG_WHOLE", 0x20),
            ("PR_SET_NAME", 15), ("PR_GET_NAME", 16), ("SOL_SOCKET", 1), ("SO_ATTACH_FILTER", 26),
            ("AUDIT_AUID_UNSET", 4_294_967_295),
            // exit.cause
            ("EXITED", 0), ("COREDUMPED", 1), ("SIGNALED", 2),
            // DNS question types.
            ("A", 1), ("NS", 2), ("CNAME", 5), ("SOA", 6), ("PTR", 12), ("MX", 15), ("TXT", 16), ("AAAA", 28),
            ("SRV", 33), ("ANY", 255),
            // errno for *.retval
            ("EPERM", -1), ("ENOENT", -2), ("EACCES", -13), ("EEXIST", -17),
            ("IPPROTO_IP", 0), ("IPPROTO_ICMP", 1), ("IPPROTO_TCP", 6), ("IPPROTO_UDP", 17), ("IPPROTO_ICMPV6", 58),
            ("MNT_FORCE", 1), ("MNT_DETACH", 2), ("MNT_EXPIRE", 4), ("UMOUNT_NOFOLLOW", 8),
        ]
        for (name, value) in open + modes + ptrace + misc { c[name] = value }
        return c
    }()

    /// String constants (none in Datadog's Linux model besides these).
    public static let strings: [String: String] = [:]

    /// Name of the set flags of an open(2) flags value, as the agent's JSON writes them (`O_RDONLY` ...).
    public static let openFlagNames: [(String, UInt32)] = [
        ("O_WRONLY", 1), ("O_RDWR", 2), ("O_CREAT", 0o100), ("O_EXCL", 0o200), ("O_NOCTTY", 0o400),
        ("O_TRUNC", 0o1000), ("O_APPEND", 0o2000), ("O_NONBLOCK", 0o4000), ("O_DSYNC", 0o10000),
        ("O_SYNC", 0o4010000), ("FASYNC", 0o20000), ("O_DIRECT", 0o40000), ("O_LARGEFILE", 0o100000),
        ("O_DIRECTORY", 0o200000), ("O_NOFOLLOW", 0o400000), ("O_NOATIME", 0o1000000), ("O_CLOEXEC", 0o2000000),
        ("O_PATH", 0o10000000), ("O_TMPFILE", 0o20200000),
    ]
}
