/// Names a controlling terminal from /proc/<pid>/stat `tty_nr` the way the kernel's `tty->name` reads
/// (what the BPF side reports): `pts3`, `tty1`, `ttyS0`, ...
enum TTYNames {
    /// Terminal name for a `tty_nr` value; "" for no terminal. Unknown majors are named through
    /// /sys/dev/char/<major>:<minor>/uevent (DEVNAME), the kernel's own name for the device.
    static func name(ttyNr: Int64) -> String {
        if ttyNr <= 0 { return "" }
        let value = UInt64(ttyNr)
        let major = (value >> 8) & 0xFFF
        let minor = (value & 0xFF) | ((value >> 12) & 0xFFF00)
        switch major {
        case 136...143:
            // Unix98 pty slaves: 8 majors of 256 minors each.
            return "pts\((major - 136) * 256 + minor)"
        case 4:
            return minor < 64 ? "tty\(minor)" : "ttyS\(minor - 64)"
        case 5:
            switch minor {
            case 0: return "tty"
            case 1: return "console"
            case 2: return "ptmx"
            default: break
            }
        default:
            break
        }
        return sysfsName(major: major, minor: minor) ?? "tty\(major):\(minor)"
    }

    private static func sysfsName(major: UInt64, minor: UInt64) -> String? {
        guard let (bytes, _) = SysFS.readFile("/sys/dev/char/\(major):\(minor)/uevent", limit: 4096) else {
            return nil
        }
        for line in bytes.split(separator: UInt8(ascii: "\n")) {
            let prefix = Array("DEVNAME=".utf8)
            if line.starts(with: prefix) {
                let name = String(kernelBytes: line.dropFirst(prefix.count))
                // DEVNAME may carry a directory (`pts/0`); tty->name never does.
                return name.split(separator: "/").joined()
            }
        }
        return nil
    }
}
