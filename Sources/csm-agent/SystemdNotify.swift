import Glibc

/// sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET, when systemd set it.
enum SystemdNotify {
    /// How often the loop must send `WATCHDOG=1`: half of `$WATCHDOG_USEC` (sd_watchdog_enabled(3)),
    /// when systemd set it for this process (`$WATCHDOG_PID` absent or ours); nil otherwise.
    static func watchdogIntervalNs() -> UInt64? {
        guard let usecText = getenv("WATCHDOG_USEC").map({ String(cString: $0) }), let usec = UInt64(usecText), usec > 0 else { return nil }
        if let pidText = getenv("WATCHDOG_PID").map({ String(cString: $0) }), let pid = Int32(pidText), pid != getpid() { return nil }
        return usec * 1_000 / 2
    }

    static func send(_ state: String) {
        guard let socketPath = getenv("NOTIFY_SOCKET").map({ String(cString: $0) }), !socketPath.isEmpty else { return }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var pathBytes = Array(socketPath.utf8)
        if pathBytes.first == UInt8(ascii: "@") { pathBytes[0] = 0 } // abstract namespace
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard pathBytes.count < capacity else { return }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + pathBytes.count)
        let message = Array(state.utf8)
        _ = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sockaddrPointer in
                message.withUnsafeBytes { raw in
                    sendto(fd, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL), sockaddrPointer, length)
                }
            }
        }
    }
}
