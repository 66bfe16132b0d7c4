import Foundation
import XCTest
@testable import AgentCore

/// ByteRegex against RE2 / Go `regexp` semantics: syntax, anchors, UTF-8, the default policy's
/// regexes, pathological patterns, rejected syntax, and a differential run against
/// NSRegularExpression on patterns where ICU and RE2 agree.
final class ByteRegexTests: XCTestCase {
    private func run(_ r: ByteRegex, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBufferPointer { r.matches($0) }
    }

    /// Asserts `pattern` matches every string of `yes` and none of `no`.
    private func check(_ pattern: String, yes: [String] = [], no: [String] = [],
                       icu: Bool = false, file: StaticString = #filePath, line: UInt = #line) {
        let r: ByteRegex
        do { r = try ByteRegex(pattern) } catch {
            return XCTFail("r\"\(pattern)\" failed to compile: \(error)", file: file, line: line)
        }
        for s in yes { XCTAssertTrue(run(r, Array(s.utf8)), "r\"\(pattern)\" should match \"\(s)\"", file: file, line: line) }
        for s in no { XCTAssertFalse(run(r, Array(s.utf8)), "r\"\(pattern)\" should not match \"\(s)\"", file: file, line: line) }
        // ICU agrees with RE2 on these ASCII inputs: a second opinion on the expectations.
        if icu, let re = try? NSRegularExpression(pattern: pattern) {
            for s in yes + no {
                XCTAssertEqual(re.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil, yes.contains(s),
                               "ICU disagrees on r\"\(pattern)\" with \"\(s)\"", file: file, line: line)
            }
        }
    }

    func testLiteralsAndEscapes() {
        check("abc", yes: ["abc", "xxabcxx"], no: ["ab", "acb", "ABC", ""])
        check(#"a\.b"#, yes: ["a.b"], no: ["axb"])
        check(#"\[\]\\\ \(\)\*\+\?\{\}\|\^\$\/\-"#, yes: [#"[]\ ()*+?{}|^$/-"#], no: ["[]"])
        check(##"\#\%\&\~\!\@\,\<\>\=\:\;\"\'\`"##, yes: [##"#%&~!@,<>=:;"'`"##])
        check(#"\t\n\r\f\v\a"#, yes: ["\t\n\r\u{0C}\u{0B}\u{07}"], no: ["tnrfva"])
        check(#"\x41\x{42}\x{000043}"#, yes: ["ABC"], no: ["abc"])
        check(#"\101\0\012"#, yes: ["A\u{0}\n"])
        check(#"\Qa.b*\E+"#, yes: ["a.b*", "a.b**"], no: ["axbb", "a.b"])
        check(#"\Qa.b"#, yes: ["a.b"], no: ["axb"])
        check("a{,2}b{x}c{", yes: ["a{,2}b{x}c{"], no: ["aab"])
        check("]}", yes: ["]}"])
    }

    func testDotAndPerlClasses() {
        check("a.c", yes: ["abc", "a c", "a.c"], no: ["ac", "a\nc"])
        check("(?s)a.c", yes: ["a\nc"])
        check(#"\d+"#, yes: ["x1"], no: ["abc", ""])
        check(#"^\D+$"#, yes: ["abc", "é"], no: ["a1"])
        check(#"^\w+$"#, yes: ["a_Z9"], no: ["a-b", "é"])
        check(#"^\W$"#, yes: ["-", "é", "\n"], no: ["a"])
        check(#"^\s$"#, yes: [" ", "\t", "\n", "\r", "\u{0C}"], no: ["\u{0B}", "a"])  // RE2's \s has no \v
        check(#"^\S$"#, yes: ["a", "é"], no: [" "])
    }

    func testClasses() {
        check("^[abc]+$", yes: ["abcba"], no: ["abd", ""])
        check("^[^a-z0-9_]$", yes: ["A", "-", "\n", "é", "😀"], no: ["a", "5", "_"])
        check("^[]a]+$", yes: ["]a]"], no: ["b"])
        check("^[^]a]$", yes: ["b"], no: ["]", "a"])
        check("^[a-]$", yes: ["a", "-"], no: ["b"])
        check("^[-a]$", yes: ["a", "-"], no: ["b"])
        check("^[a-c-e]$", yes: ["a", "b", "-", "e"], no: ["d"])
        check(#"^[\]\\\-\^\n\x41]$"#, yes: ["]", "\\", "-", "^", "\n", "A"], no: ["a"])
        check(#"^[\d\s]$"#, yes: ["1", " "], no: ["a"])
        check(#"^[^\d\s]$"#, yes: ["a", "é"], no: ["1", " "])
        check(#"^[\D]$"#, yes: ["a", "é"], no: ["1"])
        check(#"^[^\D]$"#, yes: ["1"], no: ["a", "é"])
        check("^[[:alpha:]]+$", yes: ["abcXYZ"], no: ["ab1"])
        check("^[[:digit:][:upper:]]+$", yes: ["A1"], no: ["a"])
        check("^[[:^alpha:]]$", yes: ["1", "é"], no: ["a"])
        check("^[[:xdigit:]]+$", yes: ["09afAF"], no: ["g"])
        check("^[[:punct:]]+$", yes: ["!/:@[`{~"], no: ["a"])
        check("^[[:space:]]+$", yes: [" \t\n\u{0B}\u{0C}\r"], no: ["a"])
        check("^[[:word:]]+$", yes: ["a_1"], no: ["-"])
        check("^[[]$", yes: ["["])
        check("^[[:a]$", yes: ["[", ":", "a"])
    }

    func testGroupsAndAlternation() {
        check("a(b|c)d", yes: ["abd", "acd"], no: ["ad", "abcd"])
        check("^a(?:b|)c$", yes: ["abc", "ac"], no: ["abbc"])
        check("^(|a)$", yes: ["", "a"], no: ["aa"])
        check("^()$", yes: [""], no: ["a"])
        check("cat|dog", yes: ["hotdog", "cat"], no: ["cow"])
        check("^cat|dog$", yes: ["cats", "hotdog"], no: ["hotcat", "dogs"])
        check("|x", yes: ["", "abc"])
        check("^(?P<first>a+)(?<second>b)$", yes: ["aab"], no: ["b"])
        check("^((a|b)(c|d))+$", yes: ["acbdad"], no: ["ab"])
    }

    func testQuantifiers() {
        check("^ab*c$", yes: ["ac", "abbbc"], no: ["abd"])
        check("^ab+c$", yes: ["abc", "abbc"], no: ["ac"])
        check("^ab?c$", yes: ["ac", "abc"], no: ["abbc"])
        check("^ab*?c$", yes: ["ac", "abbc"])
        check("^ab+?c$", yes: ["abc"], no: ["ac"])
        check("^ab??c$", yes: ["ac", "abc"], no: ["abbc"])
        check("^a{3}$", yes: ["aaa"], no: ["aa", "aaaa"])
        check("^a{2,}$", yes: ["aa", "aaaaaa"], no: ["a"])
        check("^a{2,3}$", yes: ["aa", "aaa"], no: ["a", "aaaa"])
        check("^a{0}b$", yes: ["b"], no: ["ab"])
        check("^a{0,1}b$", yes: ["b", "ab"], no: ["aab"])
        check("^(ab){2}$", yes: ["abab"], no: ["ab", "ababab"])
        check("^a{2,3}?$", yes: ["aa"])
        check("^x{1000}$", yes: [String(repeating: "x", count: 1000)], no: [String(repeating: "x", count: 999)])
        check("^(a*)*$", yes: ["", "aaa"], no: ["b"])
        check("^(a?)+$", yes: ["", "a"])
        check("^é+$", yes: ["ééé"], no: ["e"])  // the quantifier takes the whole rune
    }

    func testAnchorsAndWordBoundaries() {
        check("^abc$", yes: ["abc"], no: ["abcd", "xabc", "abc\n"])  // RE2's $ is not before a final \n
        check(#"\Aabc\z"#, yes: ["abc"], no: ["abc\n"])
        check("b$", yes: ["ab"], no: ["ab\n", "ba"])
        check("^b", yes: ["ba"], no: ["a\nb"])
        check("(?m)^b$", yes: ["a\nb\nc", "b"], no: ["ab\nc"])
        check("(?m)a$", yes: ["a\n", "xa"], no: ["ab"])
        check(#"\bfoo\b"#, yes: ["foo", "a foo.", "(foo)"], no: ["foobar", "xfoo", "_foo"])
        check(#"\Bfoo\B"#, yes: ["xfoox"], no: ["foo", "xfoo", "foox"])
        check(#"^\b$"#, no: [""])
        check(#"^\B$"#, yes: [""])
        check(#"\b"#, yes: ["a"], no: ["", " ", "é"])  // ASCII word characters only, as in RE2
        check(#"x\b"#, yes: ["x", "xé"], no: ["xy"])
        check("^", yes: ["", "abc"])
        check("$", yes: ["", "abc"])
        check("a^b", no: ["ab", "a^b"])
        check("a$b", no: ["ab"])
    }

    func testFlags() {
        check("(?i)abc", yes: ["ABC", "aBc"], no: ["abd"])
        check("a(?i)bc", yes: ["aBC"], no: ["ABC"])
        check("(a(?i)b)c", yes: ["aBc"], no: ["aBC"])  // flags end with the group
        check("a(?i:b)c", yes: ["aBc"], no: ["aBC"])
        check("(?i)a(?-i)b", yes: ["Ab"], no: ["AB"])
        check("(?i)a(?-i:b)c", yes: ["AbC"], no: ["ABC"])
        check("x(?i)y|z", yes: ["xY", "Z"], no: ["XY"])  // to the end of the group, across |
        check("(?i)[a-c]+", yes: ["AbC"], no: ["D"])
        check("(?i)^[^a]$", yes: ["b"], no: ["a", "A"])
        check("(?i)^[[:^lower:]]$", yes: ["1"], no: ["a", "A"])
        check("(?is)a.b", yes: ["A\nB"])
        check("(?sm)^a.b$", yes: ["x\na\nb"])
        check("(?U)^a+$", yes: ["aa"])
        check("(?)a", yes: ["a"])
        check("(?i)é", yes: ["é"], no: ["É"])  // ASCII-only folding (RE2 folds this too)
    }

    func testUTF8() {
        check("héllo", yes: ["oh héllo"], no: ["hello"])
        check("^.$", yes: ["é", "😀", "a"], no: ["ab", ""])
        check("^..$", yes: ["éa", "😀😀"], no: ["é", "😀"])
        check("^.{3}$", yes: ["a€😀"], no: ["€€"])
        check("a.c", yes: ["aéc", "a😀c"])
        check("^[^x]{2}$", yes: ["éé"], no: ["é"])
        check(#"\x{e9}"#, yes: ["é"], no: ["e"])
        check(#"\xe9"#, yes: ["é"])
        check(#"a\x{D800}"#, no: ["a", "a\u{FFFD}"])  // valid syntax, but no input rune is a surrogate
        // Invalid UTF-8: each bad byte is one rune, as in Go.
        let r1 = try! ByteRegex("^.$"), r2 = try! ByteRegex("^..$"), r3 = try! ByteRegex("^...$")
        XCTAssertTrue(run(r1, [0xC3]))
        XCTAssertTrue(run(r1, [0xFF]))
        XCTAssertTrue(run(r1, [0xC3, 0xA9]))
        XCTAssertFalse(run(r2, [0xC3, 0xA9]))
        XCTAssertTrue(run(r2, [0xC3, 0x41]))
        XCTAssertTrue(run(r3, [0xE0, 0x80, 0x80]))  // overlong: three bad bytes
        XCTAssertFalse(run(r1, [0xE0, 0x80, 0x80]))
        XCTAssertTrue(run(r3, [0xED, 0xA0, 0x80]))  // surrogate: three bad bytes
        XCTAssertTrue(run(r3, [0xF0, 0x9F, 0x98]))  // truncated: three bad bytes
        XCTAssertTrue(run(try! ByteRegex("RECOVER.*txt"), Array("RECOVER".utf8) + [0xFF, 0xC3] + Array("txt".utf8)))
        // A search starts at rune boundaries only: "©" is C2 A9, which must not match inside "é" (C3 A9).
        XCTAssertTrue(run(r2, [0x41, 0xA9]))
        XCTAssertFalse(run(try! ByteRegex(#"\x{A9}"#), Array("é".utf8)))
        XCTAssertFalse(run(try! ByteRegex(#"^\W{2}"#), Array("é".utf8)))
        // A bad lead byte is a rune of its own, and the search goes on at the next byte.
        XCTAssertTrue(run(try! ByteRegex("é"), [0xE0, 0xC3, 0xA9]))
        XCTAssertTrue(run(try! ByteRegex("^.é$"), [0xC3, 0xC3, 0xA9]))
        XCTAssertFalse(run(try! ByteRegex("^.$"), [0xC3, 0xC3, 0xA9]))
    }

    func testEmpty() {
        check("", yes: ["", "abc"])
        check("()", yes: [""])
        check("a*", yes: ["", "b"])
        check("a", no: [""])
        check("^$", yes: [""], no: ["a"])
    }

    /// The regexes of Datadog's default policy.
    func testDefaultPolicyRegexes() {
        check(#"^\[.*\]$"#, yes: ["[kworker/0:1]", "[]"], no: ["[kworker", "x[a]", "[a]x", "[a\n]"], icu: true)
        check(#"((25[0-5]|(2[0-4]|1\d|[1-9])\d)\.?\b){4}"#,
              yes: ["nc 192.168.10.20 4444", "255.255.255.255", "10.20.30.40", "curl http://172.16.254.10/x"],
              no: ["1.2.3.4", "192.168.1", "hello", "256.256.256.256"], icu: true)
        check(#"libpam\.so"#, yes: ["/lib/x86_64-linux-gnu/libpam.so.0"], no: ["libpamXso", "libpam"], icu: true)
        check(#"\.lock$"#, yes: ["/var/run/x.lock"], no: ["/var/run/x.lock.bak", "lock"], icu: true)
        check(#"RECOVER.*\.txt"#, yes: ["RECOVER_FILES.txt", "/home/RECOVER.txt"], no: ["recover.txt", "RECOVER.doc"], icu: true)
        check(#"OUTPUT.*((25[0-5]|(2[0-4]|1\d|[1-9]|)\d)\.?\b){4}.*ACCEPT"#,
              yes: ["-A OUTPUT -d 1.2.3.4 -j ACCEPT", "OUTPUT 10.0.0.1/8 ACCEPT"],
              no: ["-A OUTPUT -d 1.2.3 -j ACCEPT", "-A INPUT -d 1.2.3.4 -j ACCEPT", "OUTPUT 1.2.3.4 DROP"], icu: true)
        check("(TCP4-LISTEN:|SOCKS)", yes: ["socat TCP4-LISTEN:4444", "SOCKS5"], no: ["tcp4-listen:", "SOCK"], icu: true)
        check(#"(?i)(restore|recover|instruction|help|how_to|how\ to|ransom).*(your_|recover|crypt|lock|ransom|instruction|files)"#,
              yes: ["HOW TO RECOVER.txt", "README_restore_files", "Help-Decrypt.html", "how_to_unlock"],
              no: ["readme.md", "how-to", "recover", "files_help"], icu: true)
        check(#"(127\.)|(10\.)|(172\.1[6-9]\.)|(172\.2[0-9]\.)|(^172\.3[0-1]\.)|(192\.168\.)|(169\.254\.)"#,
              yes: ["127.0.0.1", "10.1.2.3", "172.16.0.1", "172.25.1.1", "172.31.0.1", "192.168.1.1", "169.254.169.254"],
              no: ["8.8.8.8", "172.32.0.1", "172.15.0.1", "1.172.30.0", "192.169.0.1"], icu: true)
    }

    /// The regexes actually in the policy file all compile (when the corpus is present).
    func testDefaultPolicyRegexesCompile() throws {
        try XCTSkipUnless(FileManager.default.fileExists(atPath: T.corpus), "corpus not available")
        let text = try String(contentsOfFile: T.corpus, encoding: .utf8)
        let re = try NSRegularExpression(pattern: #"(?<=[\[ ,])r"([^"]*)""#)
        let found = re.matches(in: text, range: NSRange(text.startIndex..., in: text)).map {
            String(text[Range($0.range(at: 1), in: text)!])
        }
        XCTAssertGreaterThanOrEqual(found.count, 9)
        for p in found { XCTAssertNoThrow(try ByteRegex(p), p) }
    }

    func testPathologicalPatternsAreLinear() throws {
        let input = [UInt8](repeating: UInt8(ascii: "a"), count: 5000)
        for p in ["(a*)*b", "(a|a)*b", "(a+)+b", "(a|aa)*c", "(.*)*x", "a{0,1000}a{1000}b"] {
            XCTAssertFalse(run(try ByteRegex(p), input), p)
        }
        XCTAssertTrue(run(try ByteRegex("(a*)*$"), input))
    }

    func testReuse() throws {
        let r = try ByteRegex(#"x\d+y"#)
        for k in 0..<100 {
            XCTAssertEqual(run(r, Array((k % 2 == 0 ? "ax12y" : "ax12z").utf8)), k % 2 == 0)
        }
    }

    func testRejectedSyntax() {
        let bad = [
            #"(a)\1"#, #"\8"#, "(?P=name)", "(?P>name)",  // backreferences, recursion
            "a(?=b)", "a(?!b)", "(?<=a)b", "(?<!a)b", "(?>a)", "(?#comment)", // lookaround and others
            "(a", "a)", ")", "(?:a", "((a)",  // unbalanced
            "*a", "+", "?", "a**", "a*+", "a+*", "a{2}*", "a??+", "|*", "(*)", "(?i)*", "{2}",  // dangling or stacked
            "[z-a]", "[a", "[]", "[^]", "[[:foo:]]", #"[\b]"#, #"[\Q]\E]"#,  // bad classes
            "a{1001}", "a{2,1}", "a{0,1001}", "(a{1000}){1000}",  // counts
            #"\"#, #"a\"#, #"\C"#, #"\Z"#, #"\G"#, #"\K"#, #"\e"#, #"\xZ1"#, #"\x{110000}"#, #"\x{}"#,
            #"\pL"#, #"\p{Greek}"#, #"\PL"#, #"[\pL]"#,  // Unicode classes
            "[é]", "[^é]", #"[\x{e9}]"#,  // non-ASCII in classes
            "(?x)a", "(?-)a", "(?i-)a", "(?i", "(?P<>a)", "(?P<na-me>a)", "(?<name", "(?'n'a)",
            String(repeating: "(", count: 1100) + String(repeating: ")", count: 1100),
            String(repeating: "(", count: 201) + "a" + String(repeating: ")", count: 201),
        ]
        for p in bad {
            XCTAssertThrowsError(try ByteRegex(p), "r\"\(p)\" should be rejected") { error in
                XCTAssertTrue(error is SECLError)
            }
        }
        // 200 levels are the most a pattern may nest (three stack frames a level, on any thread).
        XCTAssertNoThrow(try ByteRegex(String(repeating: "(", count: 200) + "a" + String(repeating: ")", count: 200)))
    }

    /// Random patterns over a tiny alphabet, compared with ICU (NSRegularExpression): for these
    /// constructs, on inputs without newlines, both engines give the same yes/no answer.
    func testDifferentialAgainstNSRegularExpression() throws {
        var rng = SplitMix(state: 0x5EC1)
        let inputAlphabet = ["a", "b", "c", "A", "é", "😀", "-"]
        var compared = 0, matched = 0
        for _ in 0..<500 {
            var pattern = gen(&rng, depth: 0).pattern
            if pattern.isEmpty { continue }  // NSRegularExpression rejects the empty pattern
            if rng.int(5) == 0 { pattern = "(?i)" + pattern }
            let ours = try ByteRegex(pattern)
            let icu = try NSRegularExpression(pattern: pattern)
            for _ in 0..<25 {
                let s = (0..<rng.int(9)).map { _ in inputAlphabet[rng.int(inputAlphabet.count)] }.joined()
                let expected = icu.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil
                XCTAssertEqual(run(ours, Array(s.utf8)), expected, "r\"\(pattern)\" on \"\(s)\"")
                compared += 1
                if expected { matched += 1 }
            }
        }
        // Both answers occur often enough for the comparison to mean something.
        XCTAssertGreaterThan(matched, compared / 5)
        XCTAssertLessThan(matched, compared * 4 / 5)
    }

    /// A random pattern, and whether it can match the empty string.
    private func gen(_ rng: inout SplitMix, depth: Int) -> (pattern: String, nullable: Bool) {
        var branches: [String] = [], nullable = false
        for _ in 0..<(rng.int(5) == 0 ? 2 + rng.int(2) : 1) {
            var branch = "", branchNullable = true
            for _ in 0..<(1 + rng.int(3)) {
                let atoms = ["a", "b", "c", ".", "[ab]", "[^a]", "[a-c]", "é", "^", "$", "", "(", "(?:"]
                let atom = atoms[rng.int(depth < 3 ? atoms.count : atoms.count - 2)]
                switch atom {
                case "^", "$", "":
                    branch += atom  // anchors are not repeated
                case "(", "(?:":
                    // ICU mishandles loops over groups that can match empty ((?:a?)*?x|c misses "c"
                    // in "Ac"), so those get no quantifier but `?`.
                    let inner = gen(&rng, depth: depth + 1)
                    let q = inner.nullable ? (rng.int(2) == 0 ? "" : "?") : quantifier(&rng)
                    branch += atom + inner.pattern + ")" + q
                    branchNullable = branchNullable && (inner.nullable || q.hasPrefix("?") || q.hasPrefix("*") || q.hasPrefix("{0"))
                default:
                    let q = quantifier(&rng)
                    branch += atom + q
                    branchNullable = branchNullable && (q.hasPrefix("?") || q.hasPrefix("*") || q.hasPrefix("{0"))
                }
            }
            branches.append(branch)
            nullable = nullable || branchNullable
        }
        return (branches.joined(separator: "|"), nullable)
    }

    private func quantifier(_ rng: inout SplitMix) -> String {
        ["", "", "", "?", "*", "+", "{1,2}", "{2}", "{0,1}", "{2,}", "*?", "+?", "??"][rng.int(13)]
    }
}
