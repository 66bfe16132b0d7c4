import Foundation
import XCTest
@testable import AgentCore

/// Builders shared by the rule tests.
enum T {
    static let registry = FieldRegistry()

    /// `sets`: the `set` mappings of actions, declaring the variables the expression may read.
    static func compile(_ expr: String, macros: [String: String] = [:], sets: [[String: Any]] = []) throws -> ExpressionCompiler.Compiled {
        let catalog = VariableCatalog(sets: sets.map { ("test", $0) }, registry: registry)
        return try ExpressionCompiler(registry: registry, macros: macros, catalog: catalog).compile(expr)
    }

    static func eval(_ expr: String, _ event: Event, macros: [String: String] = [:]) throws -> Bool {
        let c = try compile(expr, macros: macros)
        let ctx = EvalContext(event: event)
        return c.predicate(ctx)
    }

    static func chain() -> ProcessEntry {
        let initP = ProcessEntry(pid: 1, comm: "systemd", executable: FileInfo(path: "/usr/lib/systemd/systemd"))
        let git = ProcessEntry(pid: 50, ppid: 1, comm: "git", executable: FileInfo(path: "/usr/bin/git"), argv0: "git",
                               args: ["clone", "--recursive", "https://x/y"], parent: initP)
        let sh = ProcessEntry(pid: 60, ppid: 50, comm: "sh", executable: FileInfo(path: "/bin/sh"), argv0: "sh", args: ["-c", "make"], parent: git)
        return sh
    }

    static func process(_ path: String = "/usr/bin/ls", args: [String] = [], parent: ProcessEntry? = T.chain()) -> ProcessEntry {
        ProcessEntry(pid: 100, ppid: parent?.pid ?? 0, comm: FileInfo.baseName(of: path), executable: FileInfo(path: path, mode: 0o100755),
                     argv0: FileInfo.baseName(of: path), args: StringList(args), envs: ["PATH=/bin", "DD_SERVICE=web"],
                     credentials: Credentials(uid: 1000, gid: 1000, euid: 0), parent: parent)
    }

    static func exec(_ path: String = "/usr/bin/ls", args: [String] = [], parent: ProcessEntry? = T.chain()) -> Event {
        let p = process(path, args: args, parent: parent)
        return Event(type: .exec, timeNs: 1_000_000_000_000, pid: p.pid, process: p, payload: .exec(ExecPayload(
            file: p.executable!, credentials: p.credentials, ppid: p.ppid, argv0: p.argv0, args: p.args, envs: p.envs)))
    }

    static func open(_ path: String, flags: UInt32 = 0, process: ProcessEntry = T.process()) -> Event {
        Event(type: .open, timeNs: 1_000_000_000_000, pid: process.pid, process: process, payload: .open(OpenPayload(
            file: FileInfo(path: path), flags: flags, mode: 0o644, dirfd: -100, syscall: .openat, userPath: path)))
    }

    static func fixture(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").appendingPathComponent(name).path
    }

    /// Datadog's default policy in `shared/` beside the repository (as CI lays it out).
    static let corpus: String = {
        let beside = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()  // the repository
            .deletingLastPathComponent().appendingPathComponent("shared/corpus/datadog-default.policy").path
        return FileManager.default.fileExists(atPath: beside) ? beside : "/work/shared/corpus/datadog-default.policy"
    }()

    /// The rule set of a policy given as text.
    static func ruleSet(_ policy: String) throws -> RuleSet {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("test-\(getpid())-\(UInt64.random(in: 0...UInt64.max)).policy")
        try policy.write(to: url, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: url) }
        return PolicyLoader().load(paths: [url.path]).ruleSet
    }

    /// Rules on environment names, one per kind of approver entry (exact, literal, prefix).
    static let environmentRules = """
    rules:
      - id: exact_env
        expression: exec.envs in ["LD_PRELOAD"]
      - id: literal_env
        expression: exec.envs in [~"*GLIBC_TUNABLES*"]
      - id: prefix_env
        expression: exec.envs in [~"PY*"]

    """

    /// An exec of /bin/sh with the environment `envs`.
    static func exec(envs: StringList) -> Event {
        let p = ProcessEntry(pid: 9, comm: "sh", executable: FileInfo(path: "/bin/sh"), envs: envs)
        return Event(type: .exec, pid: 9, process: p, payload: .exec(ExecPayload(
            file: p.executable!, credentials: p.credentials, ppid: 1, argv0: "sh", args: [], envs: envs)))
    }
}

/// The seeded generator of the randomized tests (SplitMix64): same seed, same inputs.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// A number in 0..<n (0 when n <= 0).
    mutating func int(_ n: Int) -> Int { n <= 0 ? 0 : Int(next() % UInt64(n)) }
    mutating func pick<E>(_ a: [E]) -> E { a[int(a.count)] }
    mutating func chance(_ percent: Int) -> Bool { int(100) < percent }
}
