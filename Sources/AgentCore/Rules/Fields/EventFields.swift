/// Fields specific to each event type the agent emits.
extension FieldRegistry {
    func addEvents() {
        for type in EventType.allCases {
            add("\(type.name).retval", .int, type, "Return value of the \(type.name) syscall", accessor: Read.int { $0.event.retval })
        }
        addExecExit()
        addOpen()
        addMounts()
        addNetworkAndSignals()
        addMemory()
        addBPFAndModules()
        addModelled()
    }

    private func addExecExit() {
        addProcess(prefix: "exec", source: "process", eventType: .exec, iterates: false, scope: .process, description: "executed process", .eventProcess)
        addProcess(prefix: "exit", source: "process", eventType: .exit, iterates: false, scope: .process, description: "exiting process", .eventProcess)
        add("exit.cause", .int, .exit, "Cause of the exit: EXITED, SIGNALED or COREDUMPED", accessor: Read.int { ctx in
            guard case .exit(let p) = ctx.event.payload else { return nil }
            switch p.cause {
            case .exited: return 0
            case .coredumped: return 1
            case .signaled: return 2
            }
        })
        add("exit.code", .int, .exit, "Exit status, or the signal number", accessor: Read.int { ctx in
            guard case .exit(let p) = ctx.event.payload else { return nil }
            return Int64(p.code)
        })
        add("fork.pid", .int, .fork, "Child pid of a fork", accessor: Read.int { ctx in
            guard case .fork(let p) = ctx.event.payload else { return nil }
            return Int64(p.childPid)
        })
    }

    private func addOpen() {
        addFile(prefix: "open.file", eventType: .open, what: "opened file", source: .event)
        add("open.flags", .int, .open, "Flags of the open call (O_CREAT, O_RDWR, ...)", accessor: Read.int { Int64($0.openFlags) })
        add("open.file.destination.mode", .int, .open, "Mode requested for a created file", accessor: Read.int { Int64($0.openMode) })
        add("open.syscall.path", .string, .open, "Path argument as passed to the syscall", accessor: Read.string { $0.openUserPath })
        add("open.syscall.flags", .int, .open, "Flags argument of the syscall", accessor: Read.int { Int64($0.openFlags) })
        add("open.syscall.mode", .int, .open, "Mode argument of the syscall", accessor: Read.int { Int64($0.openMode) })
    }

    private func addMounts() {
        let mount: (EvalContext) -> MountPayload? = { ctx in
            if case .mount(let p) = ctx.event.payload { return p }
            return nil
        }
        add("mount.fs_type", .string, .mount, "Filesystem type of the mount", accessor: Read.string { mount($0)?.fsType })
        add("mount.mountpoint.path", .string, .mount, "Path of the mount point", isPath: true, accessor: Read.string { mount($0)?.mountpointPath })
        add("mount.source.path", .string, .mount, "Source path of a bind mount", isPath: true, accessor: Read.string { mount($0)?.sourcePath })
        add("mount.mount_id", .int, .mount, "Id of the new mount", accessor: Read.int { mount($0).map { Int64($0.mountID) } })
        add("mount.parent_mount_id", .int, .mount, "Id of the parent mount", accessor: Read.int { mount($0).map { Int64($0.parentMountID) } })
        add("mount.bind_src_mount_id", .int, .mount, "Id of the bind source mount", accessor: Read.int { mount($0).map { Int64($0.bindSourceMountID) } })
        add("mount.device", .int, .mount, "Device of the mount", accessor: Read.int { mount($0).map { Int64($0.device) } })
        add("mount.syscall", .string, .mount, "Syscall that made the mount (mount, fsmount, move_mount)", accessor: Read.string { mount($0)?.syscallName })
        let umount: (EvalContext) -> UmountPayload? = { ctx in
            if case .umount(let p) = ctx.event.payload { return p }
            return nil
        }
        add("umount.mount_id", .int, .umount, "Id of the unmounted mount", accessor: Read.int { umount($0).map { Int64($0.mountID) } })
        add("umount.mountpoint.path", .string, .umount, "Path of the unmounted mount point", isPath: true, accessor: Read.string { umount($0)?.mountpointPath })
        add("umount.flags", .int, .umount, "umount2 flags", accessor: Read.int { umount($0).map { Int64($0.flags) } })
    }

    private func addNetworkAndSignals() {
        let bind: (EvalContext) -> BindPayload? = { ctx in
            if case .bind(let p) = ctx.event.payload { return p }
            return nil
        }
        addAddress(.bind, what: "bound", family: { bind($0)?.family }, ip: { bind($0)?.ip }, port: { bind($0)?.port },
                   protocol_: { bind($0)?.protocol_ })
        add("bind.addr.path", .string, .bind, "Unix socket path", accessor: Read.string { bind($0)?.unixPath })

        let ptrace: (EvalContext) -> PtracePayload? = { ctx in
            if case .ptrace(let p) = ctx.event.payload { return p }
            return nil
        }
        add("ptrace.request", .int, .ptrace, "ptrace request (PTRACE_ATTACH, ...)", accessor: Read.int { ptrace($0).map { Int64($0.request) } })
        add("ptrace.address", .int, .ptrace, "Address argument", accessor: Read.int { ptrace($0).map { Int64(bitPattern: $0.address) } })
        addProcess(prefix: "ptrace.tracee", source: "ptrace.tracee", eventType: .ptrace, iterates: false, description: "tracee",
                   .payload { unretained(ptrace($0)?.tracee) })

        let signal: (EvalContext) -> SignalPayload? = { ctx in
            if case .signal(let p) = ctx.event.payload { return p }
            return nil
        }
        add("signal.type", .int, .signal, "Signal number (SIGKILL, ...)", accessor: Read.int { signal($0).map { Int64($0.type) } })
        add("signal.pid", .int, .signal, "Target pid as passed", accessor: Read.int { signal($0).map { Int64($0.pid) } })
        addProcess(prefix: "signal.target", source: "signal.target", eventType: .signal, iterates: false, description: "signal target",
                   .payload { unretained(signal($0)?.target) })
    }

    private func addMemory() {
        let mmap: (EvalContext) -> MMapPayload? = { ctx in
            if case .mmap(let p) = ctx.event.payload { return p }
            return nil
        }
        addFile(prefix: "mmap.file", eventType: .mmap, what: "mapped file", source: .event)
        add("mmap.protection", .int, .mmap, "Protection (PROT_READ, PROT_EXEC, ...)", accessor: Read.int { mmap($0).map { Int64($0.protection) } })
        add("mmap.flags", .int, .mmap, "mmap flags (MAP_SHARED, MAP_ANONYMOUS, ...)", accessor: Read.int { mmap($0).map { Int64($0.flags) } })
        add("mmap.length", .int, .mmap, "Length of the mapping", accessor: Read.int { mmap($0).map { Int64(bitPattern: $0.length) } })
        add("mmap.offset", .int, .mmap, "Offset in the file", accessor: Read.int { mmap($0).map { Int64(bitPattern: $0.offset) } })
        let mprotect: (EvalContext) -> MProtectPayload? = { ctx in
            if case .mprotect(let p) = ctx.event.payload { return p }
            return nil
        }
        add("mprotect.req_protection", .int, .mprotect, "Requested protection", accessor: Read.int { mprotect($0).map { Int64($0.reqProtection) } })
        add("mprotect.vm_protection", .int, .mprotect, "Protection before the call", accessor: Read.int { mprotect($0).map { Int64($0.vmProtection) } })
        add("mprotect.vm_start", .int, .mprotect, "Start of the region", accessor: Read.int { mprotect($0).map { Int64(bitPattern: $0.vmStart) } })
        add("mprotect.vm_end", .int, .mprotect, "End of the region", accessor: Read.int { mprotect($0).map { Int64(bitPattern: $0.vmEnd) } })
        let splice: (EvalContext) -> SplicePayload? = { ctx in
            if case .splice(let p) = ctx.event.payload { return p }
            return nil
        }
        addFile(prefix: "splice.file", eventType: .splice, what: "spliced file", source: .event)
        add("splice.pipe_entry_flag", .int, .splice, "Pipe buffer flags on entry", accessor: Read.int { splice($0).map { Int64($0.pipeEntryFlag) } })
        add("splice.pipe_exit_flag", .int, .splice, "Pipe buffer flags on exit", accessor: Read.int { splice($0).map { Int64($0.pipeExitFlag) } })
    }

    private func addBPFAndModules() {
        let bpf: (EvalContext) -> BPFPayload? = { ctx in
            if case .bpf(let p) = ctx.event.payload { return p }
            return nil
        }
        add("bpf.cmd", .int, .bpf, "bpf(2) command (BPF_PROG_LOAD, ...)", accessor: Read.int { bpf($0).map { Int64($0.cmd) } })
        add("bpf.map.name", .string, .bpf, "Name of the map", accessor: Read.string { bpf($0)?.mapName })
        add("bpf.map.type", .int, .bpf, "Type of the map", accessor: Read.int { bpf($0)?.mapType.map { Int64($0) } })
        add("bpf.prog.name", .string, .bpf, "Name of the program", accessor: Read.string { bpf($0)?.progName })
        add("bpf.prog.type", .int, .bpf, "Type of the program", accessor: Read.int { bpf($0)?.progType.map { Int64($0) } })
        add("bpf.prog.attach_type", .int, .bpf, "Attach type of the program", accessor: Read.int { bpf($0)?.attachType.map { Int64($0) } })
        add("bpf.prog.tag", .string, .bpf, "Tag (hash) of the program", accessor: Read.string { bpf($0)?.progTag })
        add("bpf.prog.helpers", .int, .bpf, "Helpers the program calls", isArray: true, accessor: .int { ctx, body in
            guard let helpers = bpf(ctx)?.helpers else { return false }
            for h in helpers where body(Int64(h)) { return true }
            return false
        })
        let load: (EvalContext) -> LoadModulePayload? = { ctx in
            if case .loadModule(let p) = ctx.event.payload { return p }
            return nil
        }
        add("load_module.name", .string, .loadModule, "Name of the loaded module", accessor: Read.string { load($0)?.name })
        add("load_module.loaded_from_memory", .bool, .loadModule, "True when loaded from memory (init_module)", accessor: Read.bool { load($0)?.loadedFromMemory })
        add("load_module.args", .string, .loadModule, "Module parameters as one string", accessor: Read.joined { load($0)?.argv })
        add("load_module.argv", .string, .loadModule, "Module parameters", isArray: true, accessor: Read.strings { load($0)?.argv })
        add("load_module.args_truncated", .bool, .loadModule, "True when the parameters were truncated", accessor: Read.bool { load($0)?.argsTruncated })
        addFile(prefix: "load_module.file", eventType: .loadModule, what: "module file", source: .event)
        add("unload_module.name", .string, .unloadModule, "Name of the unloaded module", accessor: Read.string { ctx in
            if case .unloadModule(let p) = ctx.event.payload { return p.name }
            return nil
        })
    }
}

extension FieldRegistry {
    /// `<type>.addr.family`, `.ip`, `.port`, `.is_public` and `<type>.protocol` of a socket address
    /// (`what`: the bound, remote or peer address).
    func addAddress(_ type: EventType, what: String, family: @escaping (EvalContext) -> UInt16?, ip: @escaping (EvalContext) -> String?,
                    port: @escaping (EvalContext) -> UInt16?, protocol_: @escaping (EvalContext) -> UInt16?) {
        let t = type.name
        add("\(t).addr.family", .int, type, "Address family (AF_INET, AF_INET6, AF_UNIX)", accessor: Read.int { family($0).map { Int64($0) } })
        add("\(t).addr.ip", .ip, type, "IP address (\(what))", accessor: Read.string(ip))
        add("\(t).addr.port", .int, type, "Port (\(what))", accessor: Read.int { port($0).map { Int64($0) } })
        add("\(t).addr.is_public", .bool, type, "True when the \(what) address is public", accessor: Read.bool { ctx in
            guard let ip = ip(ctx), let net = IPNetwork(parsing: ip) else { return false }
            return IPNetwork.isPublic(net)
        })
        add("\(t).protocol", .int, type, "Socket protocol (IPPROTO_TCP, ...)", accessor: Read.int { protocol_($0).map { Int64($0) } })
    }
}

extension IPNetwork {
    /// Not loopback, private, link-local, multicast or unspecified.
    static func isPublic(_ ip: IPNetwork) -> Bool {
        let privateNets = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16",
                           "0.0.0.0/8", "100.64.0.0/10", "224.0.0.0/4", "::1/128", "::/128", "fc00::/7", "fe80::/10", "ff00::/8"]
        for n in privateNets {
            if let net = IPNetwork(parsing: n), net.contains(ip) { return false }
        }
        return true
    }
}
