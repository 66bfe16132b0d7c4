/// Payloads of the event types that the rule engine and the JSON tools model but that no probe
/// produces yet: the file, credential and network types of the backend schema (`chmod`, `setuid`,
/// `connect`, `dns`, ...). Rules on them load and evaluate on recorded or hand-written events
/// (`csm-agent policy evaluate`); the agent says at start-up that it cannot see them (see
/// `EventType.hasProbe`).

/// A change to a file (`chmod`, `chown`, `link`, `rename`, `unlink`, `utimes`, `mkdir`, `rmdir`,
/// `setxattr`, `removexattr`, `chdir`): the file acted on and what the call asked for.
public struct FileChangePayload {
    /// The file acted on (for `link` and `rename`, the source).
    public var file: FileInfo
    /// `link` and `rename`: the new path.
    public var destination: FileInfo?
    /// `chmod`, `mkdir`: the mode asked for.
    public var destinationMode: UInt32
    /// `chown`: the owner and group asked for (-1, as passed, keeps the current one).
    public var destinationUID: Int64
    public var destinationGID: Int64
    public var destinationUser: String?
    public var destinationGroup: String?
    /// `setxattr`, `removexattr`: the attribute (`security.capability`: namespace `security`).
    public var attributeName: String
    public var attributeNamespace: String
    /// The path argument exactly as passed (`chdir.syscall.path`, ...).
    public var syscallPath: String = ""

    public init(file: FileInfo, destination: FileInfo? = nil, destinationMode: UInt32 = 0, destinationUID: Int64 = -1,
                destinationGID: Int64 = -1, destinationUser: String? = nil, destinationGroup: String? = nil,
                attributeName: String = "", attributeNamespace: String = "") {
        self.file = file
        self.destination = destination
        self.destinationMode = destinationMode
        self.destinationUID = destinationUID
        self.destinationGID = destinationGID
        self.destinationUser = destinationUser
        self.destinationGroup = destinationGroup
        self.attributeName = attributeName
        self.attributeNamespace = attributeNamespace
    }
}

/// `setuid`, `setgid`, `capset`: the credentials the call asked for (the process's current ones
/// are in its context).
public struct CredentialChangePayload {
    public var uid: UInt32
    public var euid: UInt32
    public var fsuid: UInt32
    public var gid: UInt32
    public var egid: UInt32
    public var fsgid: UInt32
    public var user: String?
    public var euser: String?
    public var fsuser: String?
    public var group: String?
    public var egroup: String?
    public var fsgroup: String?
    public var capEffective: UInt64
    public var capPermitted: UInt64

    public init(uid: UInt32 = 0, euid: UInt32 = 0, fsuid: UInt32 = 0, gid: UInt32 = 0, egid: UInt32 = 0, fsgid: UInt32 = 0,
                capEffective: UInt64 = 0, capPermitted: UInt64 = 0) {
        self.uid = uid
        self.euid = euid
        self.fsuid = fsuid
        self.gid = gid
        self.egid = egid
        self.fsgid = fsgid
        self.capEffective = capEffective
        self.capPermitted = capPermitted
    }
}

/// `connect`, `accept`: the remote address.
public struct ConnectionPayload {
    /// AF_INET, AF_INET6, AF_UNIX, ... (numeric).
    public var family: UInt16
    /// Textual IP (v4 or v6); empty for AF_UNIX.
    public var ip: String
    public var port: UInt16
    /// The name the address was resolved from, when known (`connect.addr.hostname`).
    public var hostname: String
    /// IPPROTO_TCP, IPPROTO_UDP, ...
    public var protocol_: UInt16

    public init(family: UInt16, ip: String = "", port: UInt16 = 0, hostname: String = "", protocol_: UInt16 = 0) {
        self.family = family
        self.ip = ip
        self.port = port
        self.hostname = hostname
        self.protocol_ = protocol_
    }
}

/// `dns`: one question of a DNS request.
public struct DNSPayload {
    public var id: UInt16
    public var name: String
    /// A = 1, AAAA = 28, TXT = 16, SRV = 33, ...
    public var type: UInt16
    /// IN = 1, ...
    public var qclass: UInt16
    /// Size of the request in bytes and number of questions in it.
    public var size: UInt16
    public var count: UInt16

    public init(id: UInt16 = 0, name: String, type: UInt16, qclass: UInt16 = 1, size: UInt16 = 0, count: UInt16 = 1) {
        self.id = id
        self.name = name
        self.type = type
        self.qclass = qclass
        self.size = size
        self.count = count
    }
}

/// `imds`: a request to or response from a cloud instance metadata service.
public struct IMDSPayload {
    /// `request` or `response`.
    public var type: String
    /// `aws`, `gcp`, `azure`, `ibm`, `oracle`.
    public var cloudProvider: String
    public var url: String
    public var host: String
    public var userAgent: String
    public var server: String
    /// AWS: whether the request carried an IMDSv2 session token.
    public var isIMDSv2: Bool
    /// AWS: the `Type` of the security credentials in a response (`AWS-HMAC`).
    public var securityCredentialsType: String

    public init(type: String = "request", cloudProvider: String = "aws", url: String = "", host: String = "", userAgent: String = "",
                server: String = "", isIMDSv2: Bool = false, securityCredentialsType: String = "") {
        self.type = type
        self.cloudProvider = cloudProvider
        self.url = url
        self.host = host
        self.userAgent = userAgent
        self.server = server
        self.isIMDSv2 = isIMDSv2
        self.securityCredentialsType = securityCredentialsType
    }
}
