import Foundation
import XCTest
@testable import AgentCore

/// The context evaluates events in place and caches derived values for one evaluation only.
final class EvalContextTests: XCTestCase {
    private func ruleSet(_ rules: [(String, String)]) throws -> RuleSet {
        let body = rules.map { "  - id: \($0.0)\n    expression: '\($0.1)'" }.joined(separator: "\n")
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("evalctx-\(getpid()).policy")
        try "rules:\n\(body)\n".write(to: url, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: url) }
        let loaded = PolicyLoader().load(paths: [url.path])
        XCTAssertEqual(loaded.ruleSet.rules.count, rules.count, "\(loaded.reports)")
        return loaded.ruleSet
    }

    /// Joined arguments and options are cached per evaluation and process: a reused context must not
    /// serve one event's values to the next, nor the process's values to its parent's fields.
    func testDerivedValuesDoNotLeakAcrossEventsOrProcesses() throws {
        let set = try ruleSet([
            ("args_ab", #"exec.args == "-a b" && process.args == "-a b""#),
            ("args_cd", #"exec.args == "-c d""#),
            ("parent_args", #"exec.file.name == "ls" && process.parent.args == "-c make""#),
            ("ancestor_args", #"exec.file.name == "ls" && process.ancestors.args == "clone --recursive https://x/y""#),
            ("options", #"exec.args_options in ["a=b"]"#),
        ])
        let context = EvalContext()
        let first = T.exec("/usr/bin/ls", args: ["-a", "b"])
        let second = T.exec("/usr/bin/ls", args: ["-c", "d"])
        XCTAssertEqual(set.matches(first, context: context), ["args_ab", "parent_args", "ancestor_args", "options"])
        XCTAssertEqual(set.matches(second, context: context), ["args_cd", "parent_args", "ancestor_args"])
        XCTAssertEqual(set.matches(first, context: context), ["args_ab", "parent_args", "ancestor_args", "options"])
        // Same process object, arguments changed between evaluations.
        let p = T.process("/usr/bin/ls", args: ["-a", "b"])
        let event = Event(type: .exec, pid: p.pid, process: p, payload: .exec(ExecPayload(
            file: p.executable!, credentials: p.credentials, ppid: p.ppid, argv0: p.argv0, args: p.args, envs: p.envs)))
        XCTAssertEqual(set.matches(event, context: context), ["args_ab", "parent_args", "ancestor_args", "options"])
        p.args = ["-c", "d"]
        XCTAssertEqual(set.matches(event, context: context), ["args_cd", "parent_args", "ancestor_args"])
    }

    /// `forEachMatch(at:)` evaluates the caller's event without copying; the by-value form agrees.
    func testInPlaceEvaluationMatchesByValue() throws {
        let set = try ruleSet([
            ("ssh", #"open.file.path =~ "/etc/ssh/*""#),
            ("created", #"open.flags & O_CREAT > 0 && open.file.name == "x""#),
        ])
        let context = EvalContext()
        var events = [T.open("/etc/ssh/sshd_config"), T.open("/tmp/x", flags: 0o100), T.open("/tmp/y", flags: 0o100)]
        for i in events.indices {
            var inPlace: [String] = []
            events.withUnsafeBufferPointer { buffer in
                set.forEachMatch(at: buffer.baseAddress! + i, context: context) { inPlace.append($0.id) }
            }
            XCTAssertEqual(inPlace, set.matches(events[i], context: context))
        }
        events.removeAll()
    }

    /// Patterns starting with a wildcard are indexed by their longest literal; the index must select
    /// every rule that matches, including literals at the start, the end and repeated in the value.
    func testLiteralIndexedPatterns() throws {
        let set = try ruleSet([
            ("miner", #"exec.args in [~"*stratum+tcp*", ~"*nicehash*"]"#),
            ("suffix", #"exec.file.path =~ "*/bin/nc""#),
            ("star_only", #"exec.args =~ "*" && exec.file.name == "ls""#),
        ])
        let cases: [([String], String, [String])] = [
            (["-o", "stratum+tcp://pool:3333"], "/usr/bin/ls", ["miner", "star_only"]),
            (["xstratum+tcpstratum+tcp"], "/usr/bin/ls", ["miner", "star_only"]),
            (["nicehash"], "/usr/bin/nc", ["miner", "suffix"]),
            (["stratum+tc"], "/opt/bin/nc", ["suffix"]),
            // On paths `*` stays inside one segment.
            (["stratum+tc"], "/usr/local/bin/nc", []),
            (["a"], "/usr/bin/ls", ["star_only"]),
        ]
        for (args, path, expected) in cases {
            let e = T.exec(path, args: args)
            XCTAssertEqual(set.matches(e), expected, "\(path) \(args)")
            XCTAssertEqual(set.matchesUnfiltered(e), expected, "\(path) \(args)")
        }
    }

    /// `LiteralIndex` tests only every (shortest literal - 1)-th position: it must still find every
    /// literal wherever it occurs, on random literals and values over a small alphabet.
    func testLiteralIndexFindsEveryOccurrence() {
        var rng = SplitMix(state: 7)
        let alphabet = Array("ab/-.".utf8)
        func word(_ n: Int) -> [UInt8] { (0..<n).map { _ in rng.pick(alphabet) } }
        for _ in 0..<300 {
            let literals = (0..<(1 + rng.int(6))).map { _ in word(2 + rng.int(6)) }
            let globs = literals.map { Glob("*" + String(decoding: $0, as: UTF8.self) + "*", isPath: false) }
            let index = LiteralIndex(globs.enumerated().map { ($1, Int32($0)) })
            for _ in 0..<40 {
                let value = word(rng.int(24))
                var found = Set<Int>()
                value.withUnsafeBufferPointer { v in index.walk(v) { found.insert($0) } }
                for (e, lit) in literals.enumerated() {
                    let occurs = value.count >= lit.count && (0...(value.count - lit.count)).contains { Array(value[$0..<($0 + lit.count)]) == lit }
                    XCTAssertEqual(found.contains(e), occurs, "literal \(lit) in \(value)")
                }
            }
        }
    }
}
