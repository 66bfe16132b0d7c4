/// Fills user and group names into credentials and files from a `UserGroupResolving`.
public final class NameEnricher {
    public let names: UserGroupResolving

    public init(names: UserGroupResolving) {
        self.names = names
    }

    /// user/group, euser/egroup, fsuser/fsgroup from the numeric ids.
    public func enrich(_ credentials: inout Credentials) {
        credentials.user = names.userName(credentials.uid)
        credentials.group = names.groupName(credentials.gid)
        // Real and effective ids are usually equal: one lookup serves all three.
        credentials.euser = credentials.euid == credentials.uid ? credentials.user : names.userName(credentials.euid)
        credentials.egroup = credentials.egid == credentials.gid ? credentials.group : names.groupName(credentials.egid)
        credentials.fsuser = credentials.fsuid == credentials.euid ? credentials.euser : names.userName(credentials.fsuid)
        credentials.fsgroup = credentials.fsgid == credentials.egid ? credentials.egroup : names.groupName(credentials.fsgid)
    }

    /// The owner names of a file.
    public func enrich(_ file: inout FileInfo) {
        file.user = names.userName(file.uid)
        file.group = names.groupName(file.gid)
        describeMount?(&file)
    }

    /// Fills a file's mount point and source from the mount table; set by `Resolvers`, so that every
    /// file this enricher visits (payload files, executables of new entries) gets it once.
    public var describeMount: ((inout FileInfo) -> Void)?

    private static let placeholder = EventPayload.exit(ExitPayload(cause: .exited, code: 0))

    /// Names on an entry's credentials and executable; done once, when the entry is created.
    public func enrich(_ entry: ProcessEntry) {
        enrich(&entry.credentials)
        if entry.executable != nil { enrich(&entry.executable!) }
    }

    /// Owner names of the files an event's payload carries (open, exec, mmap, splice, load_module).
    public func enrichPayloadFiles(_ event: inout Event) {
        switch event.payload {
        case .open(var open):
            // Park a trivial payload while editing so `open` is uniquely referenced and the write-back
            // is a move, not a retain/release of every string in it.
            event.payload = Self.placeholder
            enrich(&open.file)
            event.payload = .open(open)
        case .exec(var exec):
            event.payload = Self.placeholder
            // The new image's executable was named when its entry was created.
            if let executable = event.process?.executable, executable.uid == exec.file.uid,
               executable.gid == exec.file.gid {
                exec.file.user = executable.user
                exec.file.group = executable.group
            } else {
                enrich(&exec.file)
            }
            event.payload = .exec(exec)
        case .mmap(var mmap) where mmap.file != nil:
            event.payload = Self.placeholder
            enrich(&mmap.file!)
            event.payload = .mmap(mmap)
        case .splice(var splice) where splice.file != nil:
            event.payload = Self.placeholder
            enrich(&splice.file!)
            event.payload = .splice(splice)
        case .loadModule(var module) where module.file != nil:
            event.payload = Self.placeholder
            enrich(&module.file!)
            event.payload = .loadModule(module)
        default:
            break
        }
    }
}
