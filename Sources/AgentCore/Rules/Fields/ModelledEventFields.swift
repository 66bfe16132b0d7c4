/// Fields of the event types that are modelled but that no probe produces yet (see
/// `ModelledPayloads.swift`): Datadog's names, read from the payloads.
extension FieldRegistry {
    func addModelled() {
        addFileChanges()
        addCredentialChanges()
        addConnections()
        addDNSAndIMDS()
    }

    private func addFileChanges() {
        let change: (EvalContext) -> FileChangePayload? = { ctx in
            if case .fileChange(let p) = ctx.event.payload { return p }
            return nil
        }
        let what: [EventType: String] = [
            .chmod: "file whose mode changes", .chown: "file whose owner changes", .link: "file linked to",
            .rename: "renamed file", .unlink: "removed file", .utimes: "file whose times change", .mkdir: "created directory",
            .rmdir: "removed directory", .setxattr: "file whose attribute is set", .removexattr: "file whose attribute is removed",
            .chdir: "new working directory",
        ]
        for type in EventType.allCases where type.isFileChange {
            addFile(prefix: "\(type.name).file", eventType: type, what: what[type] ?? "file", source: .event)
            add("\(type.name).syscall.path", .string, type, "Path argument as passed to the syscall", accessor: Read.string { change($0)?.syscallPath })
        }
        for type in [EventType.link, .rename] {
            addFile(prefix: "\(type.name).file.destination", eventType: type, what: "new path", source: .destination)
        }
        for type in [EventType.chmod, .mkdir] {
            add("\(type.name).file.destination.mode", .int, type, "Mode asked for", accessor: Read.int { change($0).map { Int64($0.destinationMode) } })
            add("\(type.name).file.destination.rights", .int, type, "Permission bits asked for", accessor: Read.int { ctx in
                change(ctx).map { Int64($0.destinationMode & 0o7777) }
            })
        }
        add("chown.file.destination.uid", .int, .chown, "Owner asked for (-1: unchanged)", accessor: Read.int { change($0)?.destinationUID })
        add("chown.file.destination.gid", .int, .chown, "Group asked for (-1: unchanged)", accessor: Read.int { change($0)?.destinationGID })
        add("chown.file.destination.user", .string, .chown, "Name of the owner asked for", accessor: Read.string { change($0)?.destinationUser })
        add("chown.file.destination.group", .string, .chown, "Name of the group asked for", accessor: Read.string { change($0)?.destinationGroup })
        for type in [EventType.setxattr, .removexattr] {
            add("\(type.name).file.destination.name", .string, type, "Name of the extended attribute", accessor: Read.string { change($0)?.attributeName })
            add("\(type.name).file.destination.namespace", .string, type, "Namespace of the extended attribute (security, user, ...)",
                accessor: Read.string { change($0)?.attributeNamespace })
        }
    }

    private func addCredentialChanges() {
        let change: (EvalContext) -> CredentialChangePayload? = { ctx in
            if case .credentials(let p) = ctx.event.payload { return p }
            return nil
        }
        func i(_ type: EventType, _ n: String, _ d: String, _ get: @escaping (CredentialChangePayload) -> Int64) {
            add("\(type.name).\(n)", .int, type, d, accessor: Read.int { change($0).map(get) })
        }
        func s(_ type: EventType, _ n: String, _ d: String, _ get: @escaping (CredentialChangePayload) -> String?) {
            add("\(type.name).\(n)", .string, type, d, accessor: Read.string { change($0).flatMap(get) })
        }
        i(.setuid, "uid", "New real uid") { Int64($0.uid) }
        i(.setuid, "euid", "New effective uid") { Int64($0.euid) }
        i(.setuid, "fsuid", "New filesystem uid") { Int64($0.fsuid) }
        s(.setuid, "user", "New real user name") { $0.user }
        s(.setuid, "euser", "New effective user name") { $0.euser }
        s(.setuid, "fsuser", "New filesystem user name") { $0.fsuser }
        i(.setgid, "gid", "New real gid") { Int64($0.gid) }
        i(.setgid, "egid", "New effective gid") { Int64($0.egid) }
        i(.setgid, "fsgid", "New filesystem gid") { Int64($0.fsgid) }
        s(.setgid, "group", "New real group name") { $0.group }
        s(.setgid, "egroup", "New effective group name") { $0.egroup }
        s(.setgid, "fsgroup", "New filesystem group name") { $0.fsgroup }
        i(.capset, "cap_effective", "New effective capability set") { Int64(bitPattern: $0.capEffective) }
        i(.capset, "cap_permitted", "New permitted capability set") { Int64(bitPattern: $0.capPermitted) }
    }

    private func addConnections() {
        let connection: (EvalContext) -> ConnectionPayload? = { ctx in
            if case .connection(let p) = ctx.event.payload { return p }
            return nil
        }
        for (type, peer) in [(EventType.connect, "remote"), (.accept, "peer")] {
            addAddress(type, what: peer, family: { connection($0)?.family }, ip: { connection($0)?.ip }, port: { connection($0)?.port },
                       protocol_: { connection($0)?.protocol_ })
            add("\(type.name).addr.hostname", .string, type, "Name the \(peer) address was resolved from, when known",
                accessor: Read.string { connection($0)?.hostname })
        }
    }

    private func addDNSAndIMDS() {
        let dns: (EvalContext) -> DNSPayload? = { ctx in
            if case .dns(let p) = ctx.event.payload { return p }
            return nil
        }
        add("dns.id", .int, .dns, "Id of the DNS request", accessor: Read.int { dns($0).map { Int64($0.id) } })
        add("dns.question.name", .string, .dns, "Queried domain name", accessor: Read.string { dns($0)?.name })
        add("dns.question.type", .int, .dns, "Question type (A, AAAA, TXT, SRV, ...)", accessor: Read.int { dns($0).map { Int64($0.type) } })
        add("dns.question.class", .int, .dns, "Question class (1: IN)", accessor: Read.int { dns($0).map { Int64($0.qclass) } })
        add("dns.question.size", .int, .dns, "Size of the request in bytes", accessor: Read.int { dns($0).map { Int64($0.size) } })
        add("dns.question.count", .int, .dns, "Number of questions in the request", accessor: Read.int { dns($0).map { Int64($0.count) } })
        let imds: (EvalContext) -> IMDSPayload? = { ctx in
            if case .imds(let p) = ctx.event.payload { return p }
            return nil
        }
        add("imds.type", .string, .imds, "request or response", accessor: Read.string { imds($0)?.type })
        add("imds.cloud_provider", .string, .imds, "Cloud provider of the metadata service (aws, gcp, ...)", accessor: Read.string { imds($0)?.cloudProvider })
        add("imds.url", .string, .imds, "URL of the request", accessor: Read.string { imds($0)?.url })
        add("imds.host", .string, .imds, "Host header of the request", accessor: Read.string { imds($0)?.host })
        add("imds.user_agent", .string, .imds, "User agent of the request", accessor: Read.string { imds($0)?.userAgent })
        add("imds.server", .string, .imds, "Server header of the response", accessor: Read.string { imds($0)?.server })
        add("imds.aws.is_imds_v2", .bool, .imds, "True when the AWS request carried an IMDSv2 token", accessor: Read.bool { imds($0)?.isIMDSv2 })
        add("imds.aws.security_credentials.type", .string, .imds, "Type of the AWS security credentials in the response",
            accessor: Read.string { imds($0)?.securityCredentialsType })
    }
}
