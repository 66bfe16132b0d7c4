import XCTest
@testable import AgentCore

/// Seeded random inputs: mangled expressions and YAML must give errors, never crashes.
final class FuzzTests: XCTestCase {
    static let pieces = ["open.file.path", "exec.args_flags", "process.ancestors[A].comm", "process.ancestors.file.name", "==", "!=", "=~", "!~",
                         " in ", " not in ", " allin ", "&&", "||", "!", "not ", "(", ")", "[", "]", ",", "\"", "~\"", "r\"", "${", "}", "*", "**",
                         "/", "0x", "9999999999999999999999", "-", "+", "&", "|", "^", "30s", "5m", "10.0.0.0/8", "::1", "O_CREAT", "SHELLS",
                         "true", "false", ".length", "\\", "\n", "é", "\u{0}", "<", ">=", "1", "\"a\"", "~\"/etc/*\"", "r\"(\""]

    func mutate(_ s: String, _ rng: inout SplitMix) -> String {
        var chars = Array(s)
        for _ in 0..<(1 + rng.int(4)) {
            switch rng.int(4) {
            case 0 where !chars.isEmpty: chars.remove(at: rng.int(chars.count))
            case 1: chars.insert(contentsOf: Array(FuzzTests.pieces[rng.int(FuzzTests.pieces.count)]), at: rng.int(chars.count + 1))
            case 2 where chars.count > 2:
                let a = rng.int(chars.count)
                let b = rng.int(chars.count)
                chars.swapAt(a, b)
            default: chars = Array(String(chars.prefix(rng.int(chars.count + 1))))
            }
        }
        return String(chars)
    }

    func testMangledExpressions() throws {
        let loaded = PolicyLoader().load(paths: [T.corpus])
        _ = loaded
        let policy = try PolicyParser.parse(path: T.corpus)
        var macros: [String: String] = [:]
        for m in policy.macros { macros[m.id] = m.expression ?? "" }
        let seeds = policy.rules.compactMap(\.expression)
        var rng = SplitMix(state: 0xC5A_1234)
        let compiler = ExpressionCompiler(registry: T.registry, macros: macros)
        let events = [T.exec(), T.open("/etc/passwd", flags: 0o101), T.exec("/bin/sh", args: ["-c", "x"], parent: nil)]
        var outcomes = [0, 0, 0]
        for i in 0..<3_000 {
            let source = mutate(seeds[i % seeds.count], &rng)
            do {
                let c = try compiler.compile(source)
                for e in events { _ = c.predicate(EvalContext(event: e)) }
                outcomes[0] += 1
            } catch is SECLError {
                outcomes[1] += 1
            } catch is UnsupportedError {
                outcomes[2] += 1
            }
        }
        for _ in 0..<2_000 {
            var s = ""
            for _ in 0..<(1 + rng.int(12)) { s += FuzzTests.pieces[rng.int(FuzzTests.pieces.count)] + (rng.int(2) == 0 ? " " : "") }
            _ = try? compiler.compile(s)
        }
        XCTAssertGreaterThan(outcomes[1], 100)
    }

    func testMangledYAML() throws {
        let text = try String(contentsOfFile: T.corpus, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var rng = SplitMix(state: 42)
        let loader = PolicyLoader()
        var errors = 0
        for i in 0..<400 {
            // A window of the corpus, mangled.
            let start = rng.int(max(1, lines.count - 80))
            var doc = (["version: 1", "rules:"] + lines[start..<min(lines.count, start + 60)]).joined(separator: "\n")
            doc = mutate(doc, &rng)
            if i % 5 == 0 { doc = String(doc.shuffled(using: &rng).prefix(200)) }
            do {
                let file = try PolicyParser.parse(text: doc, path: "fuzz\(i).policy")
                _ = loader.load(files: [file])
            } catch {
                errors += 1
            }
        }
        XCTAssertGreaterThan(errors, 0)
    }
}

