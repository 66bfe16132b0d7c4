import AgentCore
import Foundation
import Serializers
import SchemaValidation
import XCTest

/// Strings from the kernel are attacker-controlled (file names, argv, env, comm): every one of them
/// must come out as a single valid JSON line that round-trips exactly.
final class HostileStringTests: XCTestCase {
    static let hostile: [String] = [
        "",
        "line1\nline2\r\n",
        "quote\" backslash\\ slash/",
        "tab\tbell\u{07}nul\u{0}esc\u{1B}del\u{7F}formfeed\u{0C}backspace\u{08}",
        "sep\u{2028}para\u{2029}end",
        "\u{E2}\u{80}",  // the scalars U+00E2 U+0080, not a U+2028 prefix
        "émoji 🧨 漢字 \u{FEFF}",
        String(kernelBytes: [0x2F, 0x74, 0x6D, 0x70, 0x2F, 0xFF, 0xFE, 0x0A, 0xC3]),
        String(kernelBytes: [0xE2, 0x80, 0xA8, 0xE2, 0x80]),
        String(kernelBytes: [0xED, 0xA0, 0x80]),  // an encoded surrogate: invalid UTF-8
        String(kernelBytes: Array("x\\xff".utf8)),  // the four characters `\xff`: `x\x5cxff`
        String(kernelBytes: [0x61, 0x5C, 0x22, 0xFF]),  // a backslash beside an invalid byte
        String(repeating: "A\"\\\n", count: 50_000),
        String((0..<0x20).map { Character(Unicode.Scalar($0)) }),
    ]

    func testHostileStringsRoundTrip() throws {
        let serializer = EventSerializer()
        var output: [UInt8] = []
        for value in Self.hostile {
            var event = Fixtures.open(success: true)
            event.comm = value
            let process = Fixtures.execProcess()
            process.comm = value
            process.argv0 = value
            process.args = [value, value]
            process.envs = ["X=" + value]
            process.tty = value
            process.executable?.path = value
            process.executable?.name = value
            process.parent?.comm = value
            process.containerID = value
            process.cgroupPath = value
            process.credentials.user = value
            event.process = process
            if case .open(var open) = event.payload {
                open.userPath = value
                open.file.path = value
                open.file.pathResolutionError = value
                event.payload = .open(open)
            }
            let context = AgentContext(ruleID: value, version: value, title: value)
            var line: [UInt8] = []
            serializer.serialize(event, context: context, into: &line)
            XCTAssertEqual(line.last, 0x0A)
            XCTAssertEqual(line.filter { $0 == 0x0A }.count, 1, "raw newline inside the JSON")
            XCTAssertFalse(line.contains(0x0D))
            XCTAssertFalse(String(decoding: line, as: UTF8.self).unicodeScalars.contains { $0 == "\u{2028}" || $0 == "\u{2029}" })

            let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
            let json = try XCTUnwrap(object["process"] as? [String: Any])
            XCTAssertEqual(json["comm"] as? String, value)
            XCTAssertEqual(json["args"] as? [String], [value, value])
            XCTAssertEqual(object["title"] as? String, value)
            XCTAssertEqual((object["file"] as? [String: Any])?["path"] as? String, value)

            // The JSON event reader gives back the model's values: invalid UTF-8 is the text `\xNN`
            // in the model and in the JSON alike.
            let read = try EventJSONReader.event(fromLine: String(decoding: line, as: UTF8.self))
            let p = try XCTUnwrap(read.process)
            XCTAssertEqual([p.comm, p.argv0, p.tty, p.executable?.path, p.executable?.name, p.parent?.comm, p.credentials.user],
                           Array(repeating: value, count: 7))
            // An empty container id or cgroup path is not written (the fields read "" for both).
            XCTAssertEqual([p.containerID, p.cgroupPath], Array(repeating: value.isEmpty ? nil : value, count: 2))
            XCTAssertEqual(Array(p.args), [value, value])
            guard case .open(let open) = read.payload else { return XCTFail("payload \(read.payload)") }
            XCTAssertEqual([open.userPath, open.file.path, open.file.pathResolutionError], [value, value, value])
            output += line
        }
        SchemaValidation.assertValid(output)
    }

    func testInvalidUTF8IsEscapedText() throws {
        let value = String(kernelBytes: [0x61, 0xFF, 0x62])
        var writer = JSONWriter()
        writer.string(value)
        XCTAssertEqual(String(decoding: writer.bytes, as: UTF8.self), #""a\\xffb""#)
    }

    /// The byte 0xff and the four characters `\xff` are two JSON strings, each decoding to its bytes.
    func testInvalidByteAndItsLookAlikeAreDistinctStrings() throws {
        let raw: [UInt8] = [0x78, 0xFF]
        let literal = Array("x\\xff".utf8)
        var written: [String] = []
        for bytes in [raw, literal] {
            var writer = JSONWriter()
            writer.string(String(kernelBytes: bytes))
            written.append(String(decoding: writer.bytes, as: UTF8.self))
            let parsed = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(writer.bytes), options: .fragmentsAllowed) as? String)
            XCTAssertEqual([UInt8](decodingKernelString: parsed), bytes)
        }
        XCTAssertEqual(written, [#""x\\xff""#, #""x\\x5cxff""#])
    }
}
