/// Container ids from cgroup paths, as container runtimes name their cgroups.
public enum ContainerID {
    /// The container id (64 hex characters) in a cgroup path, or nil outside containers.
    ///
    /// Recognised: `docker-<id>.scope`, `/docker/<id>`, `cri-containerd-<id>.scope`,
    /// `crio-<id>.scope`, `libpod-<id>.scope`, `/kubepods/.../<id>` and any bare 64-hex component.
    /// Components are read from the innermost out, so nested cgroups (`.../docker-<id>.scope/init.scope`)
    /// resolve to the container that holds them. `crio-conmon-<id>` (the monitor, outside the
    /// container) does not match.
    public static func extract(fromCgroupPath path: String) -> String? {
        var utf8 = Substring(path).utf8[...]
        while !utf8.isEmpty {
            let component: Substring.UTF8View.SubSequence
            if let slash = utf8.lastIndex(of: UInt8(ascii: "/")) {
                component = utf8[utf8.index(after: slash)...]
                utf8 = utf8[..<slash]
            } else {
                component = utf8
                utf8 = utf8[utf8.endIndex...]
            }
            if let id = id(inComponent: component) { return id }
        }
        return nil
    }

    private static let prefixes: [[UInt8]] = [
        "docker-", "cri-containerd-", "crio-", "libpod-", "containerd-", "cri-o-",
    ].map { Array($0.utf8) }
    private static let scopeSuffix = Array(".scope".utf8)

    private static func id(inComponent component: Substring.UTF8View.SubSequence) -> String? {
        // Cheap length check first: every accepted form is 64 hex plus at most a prefix and ".scope".
        guard component.count >= 64 else { return nil }
        var body = component
        if body.count > 64, endsWith(body, scopeSuffix) {
            body = body.dropLast(scopeSuffix.count)
        }
        if body.count > 64 {
            guard let prefix = prefixes.first(where: { body.starts(with: $0) }) else { return nil }
            body = body.dropFirst(prefix.count)
        }
        guard body.count == 64, body.allSatisfy(isHex) else { return nil }
        return String(Substring(body))
    }

    private static func endsWith(_ bytes: Substring.UTF8View.SubSequence, _ suffix: [UInt8]) -> Bool {
        bytes.count >= suffix.count && bytes.suffix(suffix.count).elementsEqual(suffix)
    }

    @inline(__always)
    private static func isHex(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x66) || (byte >= 0x41 && byte <= 0x46)
    }
}
