import XCTest
@testable import AgentCore

/// The marks of an exec's per-event approver fields are kept per combination of their values
/// (`EventValueMarkCache`): a kept result must only ever serve the very same values.
final class EventValueMarkCacheTests: XCTestCase {
    /// One rule per kind of approver entry, on the fields an exec reads per event.
    private static let policy = """
    rules:
      - id: comm_exact
        expression: exec.comm == "ab"
      - id: argv0_exact
        expression: exec.argv0 == "bc"
      - id: path_prefix
        expression: exec.file.path =~ "/opt/*/bin/*"
      - id: args_literal
        expression: exec.args in [~"*stratum+tcp*", ~"*.ssh/*"]
      - id: flags
        expression: exec.args_flags in ["force"] && exec.file.name == "rm"
      - id: options
        expression: exec.args_options in [~"output=*"]
      - id: not_tty
        expression: exec.tty_name != "" && exec.comm in ["sh"]
      - id: argv0_regex
        expression: exec.argv0 =~ r"^py[0-9]+$"
      - id: joined_args
        expression: exec.args == "--force x"

    """

    /// The rule set, its exec value cache never standing aside unless `bypass` (these tests meet
    /// more distinct values than a host would).
    private func ruleSet(hashMask: UInt64 = ~0, bypass: Bool = false) throws -> RuleSet {
        let set = try T.ruleSet(Self.policy)
        XCTAssertEqual(set.rules.count, 9)
        let cache = try XCTUnwrap(set.approverIndex(for: .exec)?.valueCache, "exec rules keep per-event values")
        cache.hashMask = hashMask
        if !bypass { cache.bypassLength = 0 }
        return set
    }

    private func exec(_ path: String, comm: String, argv0: String, args: [String], tty: String = "") -> Event {
        let p = ProcessEntry(pid: 7, comm: comm, tty: tty, executable: FileInfo(path: path), argv0: argv0, args: StringList(args))
        return Event(type: .exec, pid: 7, process: p, payload: .exec(ExecPayload(
            file: p.executable!, credentials: p.credentials, ppid: 1, argv0: argv0, args: p.args, envs: [])))
    }

    /// Events whose values share bytes with kept ones, more combinations than the cache holds, and
    /// keys too long to keep, revisited: every result equals evaluation without approvers, and the
    /// expected ids; with every hash equal, too.
    func testKeptMarksServeOnlyTheSameValues() throws {
        for hashMask: UInt64 in [~0, 0] {
            let set = try ruleSet(hashMask: hashMask)
            let context = EvalContext()
            var cases: [(Event, [String])] = [
                // The same bytes split differently between two fields (`ab`+`c` against `a`+`bc`).
                (exec("/bin/x", comm: "ab", argv0: "c", args: []), ["comm_exact"]),
                (exec("/bin/x", comm: "a", argv0: "bc", args: []), ["argv0_exact"]),
                // The same joined arguments, split differently into arguments (flags differ): the
                // key holds the arguments, which determine the joined string, flags and options.
                (exec("/bin/rm", comm: "rm", argv0: "rm", args: ["--force", "x"]), ["flags", "joined_args"]),
                (exec("/bin/rm", comm: "rm", argv0: "rm", args: ["--force x"]), ["joined_args"]),
                (exec("/opt/tool/bin/run", comm: "run", argv0: "run", args: ["--output=/tmp/x", "host:22/.ssh/id"]),
                 ["path_prefix", "args_literal", "options"]),
                (exec("/opt/tool/bin/run", comm: "run", argv0: "run", args: ["--output=/tmp/x", "host:22/.ssh-id"]),
                 ["path_prefix", "options"]),
                (exec("/bin/sh", comm: "sh", argv0: "sh", args: [], tty: "pts0"), ["not_tty"]),
                (exec("/bin/sh", comm: "sh", argv0: "sh", args: []), []),
                (exec("/usr/bin/python3", comm: "python3", argv0: "py3", args: ["-c", "pass"]), ["argv0_regex"]),
                (exec("/usr/bin/python3", comm: "python3", argv0: "py3x", args: ["-c", "pass"]), []),
                (exec("", comm: "", argv0: "", args: []), []),
                // Keys longer than the cache keeps: looked up directly.
                (exec("/bin/x", comm: "x", argv0: "x", args: [String(repeating: "a", count: EventValueMarkCache.maxKeyBytes), "stratum+tcp://pool"]),
                 ["args_literal"]),
                (exec("/opt/a/bin/" + String(repeating: "b", count: EventValueMarkCache.maxKeyBytes), comm: "b", argv0: "b", args: []),
                 ["path_prefix"]),
            ]
            // More combinations than slots, alternating matches, so that kept slots are replaced.
            for i in 0..<(2 * EventValueMarkCache.slotCount * EventValueMarkCache.ways / 3) {
                let (args, expected): ([String], [String]) = i % 3 == 0 ? (["stratum+tcp://\(i)"], ["args_literal"])
                    : i % 3 == 1 ? (["--force", "\(i)"], ["flags"]) : (["\(i)"], [])
                cases.append((exec("/bin/rm", comm: "rm", argv0: "rm", args: args), expected))
            }
            // Three passes, forwards and backwards, so that combinations come back after others
            // replaced them.
            for pass in 0..<3 {
                for (event, expected) in pass == 1 ? cases.reversed() : cases {
                    let what = "pass \(pass), mask \(hashMask): \((event.process!.executablePath ?? "").prefix(40)) \(Array(event.process!.args).map { $0.prefix(40) })"
                    XCTAssertEqual(set.matches(event, context: context), expected, what)
                    XCTAssertEqual(set.matches(event, context: context), set.matchesUnfiltered(event), what)
                }
            }
        }
    }

    /// Keys around the size limit, whatever the field after the long value (empty ones included):
    /// every one is either kept or looked up directly, with the same results.
    func testKeysAroundTheSizeLimit() throws {
        let set = try ruleSet()
        let context = EvalContext()
        let limit = EventValueMarkCache.maxKeyBytes
        for length in (limit - 120)...(limit + 8) {
            for (path, argv0) in [("/bin/rm", ""), ("", "rm"), ("/opt/a/bin/" + String(repeating: "p", count: length / 2), "")] {
                let args = ["--force", String(repeating: "a", count: max(length - path.count - 40, 0)), "stratum+tcp://x"]
                let event = exec(path, comm: "", argv0: argv0, args: args)
                XCTAssertEqual(set.matches(event, context: context), set.matchesUnfiltered(event), "length \(length), path \(path.count)")
            }
        }
    }

    /// A combination seen before is not looked up again; one differing in any value is, even when
    /// every key has the same hash; more keys than ways replace the least recently used.
    func testFillsOncePerDistinctCombination() throws {
        for hashMask: UInt64 in [~0, 0] {
            let set = try ruleSet(hashMask: hashMask)
            let cache = try XCTUnwrap(set.approverIndex(for: .exec)?.valueCache)
            let context = EvalContext()
            func fills(_ event: Event) -> Int {
                _ = set.matches(event, context: context)
                return cache.fills
            }
            let a = exec("/bin/rm", comm: "rm", argv0: "rm", args: ["--force", "x"])
            let b = exec("/bin/rm", comm: "rm", argv0: "rm", args: ["--force", "y"])
            XCTAssertEqual(fills(a), 1)
            XCTAssertEqual(fills(a), 1, "the same values again")
            XCTAssertEqual(fills(b), 2, "one argument differs")
            XCTAssertEqual(fills(a), 2)
            XCTAssertEqual(fills(b), 2)
            XCTAssertEqual(cache.lookups, 5)
            if hashMask == 0 {
                // Every key lands in the same set of `ways` slots: two more fill them, one more
                // replaces the least recently used (a), which must then be looked up again.
                for i in 0..<(EventValueMarkCache.ways - 1) {
                    _ = fills(exec("/bin/rm", comm: "rm", argv0: "rm", args: ["\(i)"]))
                }
                XCTAssertEqual(cache.fills, 2 + EventValueMarkCache.ways - 1)
                XCTAssertEqual(fills(b), cache.fills, "b is still kept")
                XCTAssertEqual(fills(a), 2 + EventValueMarkCache.ways, "a was the least recently used")
            }
        }
    }

    /// After a window of lookups with too few hits the cache stands aside for `bypassLength`
    /// events, whose values are looked up directly (same results), then looks up keys again.
    func testStandsAsideWhenFewValuesRepeat() throws {
        let set = try ruleSet(bypass: true)
        let cache = try XCTUnwrap(set.approverIndex(for: .exec)?.valueCache)
        cache.bypassLength = 100
        let context = EvalContext()
        func event(_ i: Int) -> (Event, [String]) {
            i % 2 == 0 ? (exec("/bin/rm", comm: "rm", argv0: "rm", args: ["--force", "\(i)"]), ["flags"])
                : (exec("/bin/x", comm: "x", argv0: "x", args: ["stratum+tcp://\(i)"]), ["args_literal"])
        }
        // A window of distinct values: every lookup misses.
        for i in 0..<EventValueMarkCache.window {
            let (e, expected) = event(i)
            XCTAssertEqual(set.matches(e, context: context), expected)
        }
        XCTAssertEqual(cache.lookups, EventValueMarkCache.window)
        XCTAssertEqual(cache.fills, EventValueMarkCache.window)
        // Standing aside for 100 evaluations (two per event here): same results, no lookups.
        for i in 0..<50 {
            let (e, expected) = event(i)
            XCTAssertEqual(set.matches(e, context: context), expected)
            XCTAssertEqual(set.matches(e, context: context), set.matchesUnfiltered(e))
        }
        XCTAssertEqual(cache.lookups, EventValueMarkCache.window)
        XCTAssertEqual(cache.bypassed, 100)
        // Then looking up again: a new combination is kept, and a hit the next time.
        let e = exec("/bin/rm", comm: "rm", argv0: "rm", args: ["--force", "new"])
        XCTAssertEqual(set.matches(e, context: context), ["flags"])
        XCTAssertEqual(set.matches(e, context: context), ["flags"])
        XCTAssertEqual(cache.lookups, EventValueMarkCache.window + 2)
        XCTAssertEqual(cache.fills, EventValueMarkCache.window + 1)
    }
}
