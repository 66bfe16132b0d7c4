import Foundation
import XCTest
@testable import AgentCore

/// The marks of environment-name fields are kept per environment list (`EnvironmentMarkCache`): a
/// kept result must only ever serve the very same list.
final class EnvironmentMarkCacheTests: XCTestCase {
    private func ruleSet() throws -> RuleSet {
        let set = try T.ruleSet(T.environmentRules + """
          - id: process_env
            expression: exec.file.name == "sh" && process.envs in ["LD_AUDIT"]
        """)
        XCTAssertEqual(set.rules.count, 4)
        return set
    }

    private func exec(_ envs: StringList) -> Event { T.exec(envs: envs) }

    /// Lists that share a shape or all their bytes with a kept one, and more lists than the cache
    /// holds, revisited: every result equals evaluation without approvers, and the expected ids.
    func testKeptMarksServeOnlyTheSameList() throws {
        let set = try ruleSet()
        let context = EvalContext()
        var cases: [(StringList, [String])] = [
            (["HOME=/root", "_=/usr/bin/date", "PATH=/bin"], []),
            // The same shape (byte count and element ends), one value differing.
            (["HOME=/root", "_=/usr/bin/find", "PATH=/bin"], []),
            // The same shape again, one name differing.
            (["HOME=/root", "_=/usr/bin/date", "PYTH=/bin"], ["prefix_env"]),
            // Names differing before the last 8 bytes of their element, which the hash reads:
            // equal hashes, told apart by the comparison.
            (["HOME=/root", "LD_PRELOAD=/opt/lib/x.so"], ["exact_env"]),
            (["HOME=/root", "LD_PRELOAE=/opt/lib/x.so"], []),
            // The same bytes split differently: `LD_PRELOADX` and `` versus `LD_PRELOAD` and `X`.
            (["LD_PRELOADX", "=1"], []),
            (["LD_PRELOAD", "X=1"], ["exact_env"]),
            (["LD_AUDIT=/x.so"], ["process_env"]),
            ([], []),
            (["", "", ""], []),
        ]
        // Lists too large to keep (bytes, then elements) are still looked up.
        cases.append((StringList(["BIG=" + String(repeating: "x", count: EnvironmentMarkCache.maxBytes), "GLIBC_TUNABLES=1"]),
                      ["literal_env"]))
        cases.append((StringList((0...EnvironmentMarkCache.maxElements).map { "V\($0)=1" } + ["LD_PRELOAD=/x"]), ["exact_env"]))
        // More distinct lists than slots, alternating matches, so that kept slots are replaced.
        for i in 0..<(3 * EnvironmentMarkCache.slotCount) {
            let name = i % 3 == 0 ? "LD_PRELOAD" : i % 3 == 1 ? "XGLIBC_TUNABLES" : "LD_PRELOAE"
            let expected = i % 3 == 0 ? ["exact_env"] : i % 3 == 1 ? ["literal_env"] : []
            cases.append((["HOME=/root", "_=/usr/bin/cmd\(i)", "\(name)=1"], expected))
        }
        // The two lists differing before their last 8 bytes do share a hash.
        let sameTail: [StringList] = [["HOME=/root", "LD_PRELOAD=/opt/lib/x.so"], ["HOME=/root", "LD_PRELOAE=/opt/lib/x.so"]]
        let tailHashes = sameTail.map { $0.withStorage { EnvironmentMarkCache.hash($0, $1) } }
        XCTAssertEqual(tailHashes[0], tailHashes[1])
        // Three passes, forwards and backwards, so that lists come back after others replaced them.
        for pass in 0..<3 {
            for (envs, expected) in pass == 1 ? cases.reversed() : cases {
                let event = exec(envs)
                XCTAssertEqual(set.matches(event, context: context), expected, "pass \(pass): \(Array(envs.prefix(4)))")
                XCTAssertEqual(set.matches(event, context: context), set.matchesUnfiltered(event), "pass \(pass): \(Array(envs.prefix(4)))")
            }
        }
    }

    /// A list seen before is not looked up again; a list differing in any byte or element end is,
    /// even when every list has the same hash; more lists than ways replace the least recently used.
    func testFillsOncePerDistinctList() {
        for hashMask: UInt64 in [~0, 0] { fillsOncePerDistinctList(hashMask: hashMask) }
    }

    private func fillsOncePerDistinctList(hashMask: UInt64) {
        var current: StringList = []
        var fills = 0
        let cache = EnvironmentMarkCache(list: { _ in current }, words: 2, hashMask: hashMask)
        let context = EvalContext()
        func lookup(_ list: StringList) -> UInt64 {
            current = list
            var bits: [UInt64] = [0, 0]
            bits.withUnsafeMutableBufferPointer { b in
                cache.mark(context, b.baseAddress!) { kept in
                    fills += 1
                    // Bit 0 for lists holding the element `A`, as a field read would decide.
                    if list.contains("A") { kept[0] |= 1 }
                }
            }
            return bits[0]
        }
        XCTAssertEqual(lookup(["A", "B=1"]), 1)
        XCTAssertEqual(lookup(["A", "B=1"]), 1)
        XCTAssertEqual(fills, 1)
        XCTAssertEqual(lookup(["AB", "=1"]), 0, "same bytes, other element ends")
        XCTAssertEqual(lookup(["A", "B=2"]), 1, "same shape, other byte")
        XCTAssertEqual(fills, 3)
        XCTAssertEqual(lookup(["A", "B=1"]), 1)
        XCTAssertEqual(lookup(["AB", "=1"]), 0)
        XCTAssertEqual(fills, 3, "hash mask \(hashMask)")
        // Up to `ways` lists that collide stay kept together; one more replaces the least recently
        // used (["A", "B=2"]), which must then be looked up again.
        XCTAssertEqual(lookup(["C=1"]), 0)
        XCTAssertEqual(fills, 4)
        XCTAssertEqual(lookup(["A", "B=1"]), 1)
        XCTAssertEqual(lookup(["AB", "=1"]), 0)
        XCTAssertEqual(lookup(["C=1"]), 0)
        XCTAssertEqual(fills, 4)
        if hashMask == 0 {
            XCTAssertEqual(lookup(["D=1"]), 0)
            XCTAssertEqual(fills, 5)
            XCTAssertEqual(lookup(["A", "B=2"]), 1)
            XCTAssertEqual(fills, 6, "the least recently used list was replaced")
        }
    }
}
