import Foundation

/// Evaluates rule `filters` (`os == "linux"`, `kernel.version.major >= 5`) against the host.
public struct HostFacts: Sendable {
    public var os: String
    public var kernelMajor: Int64
    public var kernelMinor: Int64
    public var kernelPatch: Int64
    public var arch: String

    public init(os: String = "linux", kernelRelease: String? = nil, arch: String = HostFacts.machineArch) {
        self.os = os
        let release = kernelRelease ?? HostFacts.readKernelRelease()
        let numbers = release.split(whereSeparator: { !$0.isNumber }).prefix(3).map { Int64($0.prefix(9)) ?? 0 }
        kernelMajor = numbers.count > 0 ? numbers[0] : 0
        kernelMinor = numbers.count > 1 ? numbers[1] : 0
        kernelPatch = numbers.count > 2 ? numbers[2] : 0
        self.arch = arch
    }

    static func readKernelRelease() -> String {
        (try? String(contentsOfFile: "/proc/sys/kernel/osrelease", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "0.0.0"
    }

    public static var machineArch: String {
        #if arch(x86_64)
        return "x64"
        #elseif arch(arm64)
        return "arm64"
        #else
        return "unknown"
        #endif
    }

    enum Value: Equatable {
        case string(String)
        case int(Int64)
        case bool(Bool)
        case list([Value])
    }

    func value(of name: String) -> Value? {
        switch name {
        case "os": return .string(os)
        case "arch": return .string(arch)
        case "kernel.version.major": return .int(kernelMajor)
        case "kernel.version.minor": return .int(kernelMinor)
        case "kernel.version.patch": return .int(kernelPatch)
        default: return nil
        }
    }

    /// True when the filter holds on this host. Throws on a malformed filter.
    public func evaluate(filter: String) throws -> Bool {
        let v = try eval(try Parser.parse(filter))
        guard case .bool(let b) = v else { throw SECLError("filter '\(filter)' is not a boolean expression") }
        return b
    }

    private func eval(_ e: Expr) throws -> Value {
        switch e {
        case .string(let s, _): return .string(s)
        case .integer(let i, _): return .int(i)
        case .bool(let b, _): return .bool(b)
        case .identifier(let n, let p):
            if let v = value(of: n) { return v }
            if let c = SECLConstants.integers[n] { return .int(c) }
            throw SECLError("unknown filter field '\(n)'", at: p)
        case .array(let items, _): return .list(try items.map(eval))
        case .not(let x, let p):
            guard case .bool(let b) = try eval(x) else { throw SECLError("'!' needs a boolean", at: p) }
            return .bool(!b)
        case .and(let a, let b, let p), .or(let a, let b, let p):
            guard case .bool(let x) = try eval(a) else { throw SECLError("expected a boolean", at: p) }
            if case .and = e, !x { return .bool(false) }
            if case .or = e, x { return .bool(true) }
            guard case .bool(let y) = try eval(b) else { throw SECLError("expected a boolean", at: p) }
            return .bool(y)
        case .compare(let op, let a, let b, let p):
            let l = try eval(a)
            let r = try eval(b)
            switch (op, l, r) {
            case ("==", _, _): return .bool(l == r)
            case ("!=", _, _): return .bool(l != r)
            case ("in", _, .list(let items)): return .bool(items.contains(l))
            case ("not in", _, .list(let items)): return .bool(!items.contains(l))
            case (_, .int(let x), .int(let y)):
                switch op {
                case "<": return .bool(x < y)
                case "<=": return .bool(x <= y)
                case ">": return .bool(x > y)
                case ">=": return .bool(x >= y)
                default: break
                }
            default: break
            }
            throw SECLError("operator '\(op)' is not supported in filters for these values", at: p)
        default:
            throw SECLError("unsupported construct in filter", at: e.position)
        }
    }
}
