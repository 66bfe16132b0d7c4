@testable import AgentCore
import Foundation
import XCTest

/// The kernel text encoding (`String(kernelBytes:)`): verbatim UTF-8 unless escaping is needed,
/// and always decodable back to the kernel's bytes.
final class KernelStringTests: XCTestCase {
    private func encode(_ bytes: [UInt8]) -> String { String(kernelBytes: bytes) }
    private func decode(_ text: String) -> [UInt8] { [UInt8](decodingKernelString: text) }

    func testValidUTF8IsVerbatim() {
        for text in ["", "/usr/bin/ls", "émoji 🧨 漢字", "sed s/\\./x/", "a\\b\\", "\\x", "\\x5", "\\xg0", "\\X41", "x\\\\"] {
            XCTAssertEqual(encode(Array(text.utf8)), text)
            XCTAssertEqual(decode(text), Array(text.utf8))
        }
    }

    func testInvalidBytesAreEscaped() {
        XCTAssertEqual(encode([0x78, 0xFF]), "x\\xff")
        XCTAssertEqual(encode([0x2F, 0x74, 0x6D, 0x70, 0x2F, 0xFF, 0xFE, 0x0A, 0xC3]), "/tmp/\\xff\\xfe\n\\xc3")
        XCTAssertEqual(encode([0xED, 0xA0, 0x80]), "\\xed\\xa0\\x80")  // an encoded surrogate
        XCTAssertEqual(encode([0xC3, 0xA9, 0xFF]), "é\\xff")
    }

    func testLiteralHexEscapeInValidTextIsEscaped() {
        // The four characters `\xff` are not the byte 0xff.
        XCTAssertEqual(encode(Array("x\\xff".utf8)), "x\\x5cxff")
        XCTAssertEqual(encode(Array("x\\xFF".utf8)), "x\\x5cxFF")
        XCTAssertEqual(encode(Array("a\\b \\x41".utf8)), "a\\x5cb \\x5cx41")
        XCTAssertNotEqual(encode(Array("x\\xff".utf8)), encode([0x78, 0xFF]))
        XCTAssertEqual(decode("x\\x5cxff"), Array("x\\xff".utf8))
        XCTAssertEqual(decode("x\\xff"), [0x78, 0xFF])
    }

    func testLiteralBackslashWithInvalidBytesIsEscaped() {
        XCTAssertEqual(encode([0x61, 0x5C, 0x62, 0xFF]), "a\\x5cb\\xff")
        XCTAssertEqual(decode("a\\x5cb\\xff"), [0x61, 0x5C, 0x62, 0xFF])
        XCTAssertEqual(encode([0xFF, 0x5C]), "\\xff\\x5c")
    }

    func testTruncatedSequences() {
        XCTAssertEqual(encode([0xE2, 0x80]), "\\xe2\\x80")
        XCTAssertEqual(encode([0x61, 0xF0, 0x9F, 0xA7]), "a\\xf0\\x9f\\xa7")
        XCTAssertEqual(encode([0xE2, 0x80, 0xA8, 0xE2, 0x80]), "\u{2028}\\xe2\\x80")
        XCTAssertEqual(decode("a\\xf0\\x9f\\xa7"), [0x61, 0xF0, 0x9F, 0xA7])
        // A pattern cut at the end of the text is no pattern.
        XCTAssertEqual(decode("\\xff\\x5"), [0xFF, 0x5C, 0x78, 0x35])
    }

    func testIncompleteHexEscapeIsNotAnEscape() {
        XCTAssertEqual(encode(Array("\\x5".utf8)), "\\x5")
        XCTAssertEqual(encode(Array("\\x5 z".utf8)), "\\x5 z")
        XCTAssertEqual(decode("\\x5"), Array("\\x5".utf8))
        XCTAssertEqual(encode([0x5C, 0x78, 0x35, 0xFF]), "\\x5cx5\\xff")
    }

    func testUppercaseHexDecodes() {
        XCTAssertEqual(decode("\\xFF\\x5C"), [0xFF, 0x5C])
    }

    func testCanonicalText() {
        // A name cut from an escaped path, a directory joined to a relative path.
        XCTAssertEqual(FileInfo.baseName(of: "/d\\xff/a\\x5cb"), "a\\b")
        XCTAssertEqual(FileInfo.baseName(of: "/d\\xff/x\\x5cxff"), "x\\x5cxff")
        XCTAssertEqual(FileInfo.baseName(of: "/d/x\\xff"), "x\\xff")
        XCTAssertEqual(String(canonicalKernelText: "/d\\xff/../a\\x5cb"), "/d\\xff/../a\\x5cb")
        XCTAssertEqual(String(canonicalKernelText: "/a\\x5cb"), "/a\\b")
        XCTAssertEqual(String(canonicalKernelText: "/a\\b"), "/a\\b")
    }

    func testRandomByteStringsRoundTripAndAreDistinct() {
        var generator = SplitMix64(seed: 0x5EED)
        // Bytes drawn mostly from the ones that matter: backslash, `x`, hex digits, UTF-8 lead and
        // continuation bytes, invalid bytes.
        let alphabet: [UInt8] = [0x5C, 0x5C, 0x78, 0x78, 0x30, 0x35, 0x63, 0x66, 0x46, 0x41, 0x61, 0x2F,
                                 0xC3, 0xA9, 0xE2, 0x80, 0xA8, 0xF0, 0x9F, 0xFF, 0xED, 0xA0]
        var seen: [String: [UInt8]] = [:]
        for _ in 0..<50_000 {
            let count = Int(generator.next() % 12)
            let bytes: [UInt8] = (0..<count).map { _ in
                generator.next() % 4 == 0 ? UInt8(truncatingIfNeeded: generator.next()) : alphabet[Int(generator.next() % UInt64(alphabet.count))]
            }
            let text = encode(bytes)
            XCTAssertEqual(decode(text), bytes, "\(bytes) -> \(text)")
            XCTAssertNotNil(String(validating: Array(text.utf8), as: UTF8.self))
            if let other = seen[text], other != bytes { XCTFail("\(bytes) and \(other) both give \(text)") }
            seen[text] = bytes
            // Canonical text is a fixed point.
            XCTAssertEqual(String(canonicalKernelText: text), text)
        }
        XCTAssertGreaterThan(seen.count, 10_000)
    }

    func testNonContiguousInput() {
        let bytes: [UInt8] = [0x78, 0x5C, 0x78, 0x66, 0x66, 0xFF]
        XCTAssertEqual(String(kernelBytes: bytes.lazy.map { $0 }), encode(bytes))
    }

    /// Prints the cost of the common case (an ASCII path); never asserts on timings.
    func testDecodingTiming() {
        let paths: [[UInt8]] = [
            Array("/usr/lib/x86_64-linux-gnu/libc.so.6".utf8),
            Array("/proc/self/fd".utf8),
            Array("/home/user/projects/csm-agent/.build/release/csm-agent".utf8),
            Array("/tmp/x".utf8),
        ]
        let iterations = 500_000
        var total = 0
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            for i in 0..<iterations {
                paths[i & 3].withUnsafeBytes { total &+= String(kernelBytes: $0).utf8.count }
            }
        }
        let ns = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
        print(String(format: "String(kernelBytes:) on ASCII paths: %.1f ns/string (%d bytes)", ns / Double(iterations), total))
    }
}

/// A small deterministic generator (tests must not fail by chance).
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
