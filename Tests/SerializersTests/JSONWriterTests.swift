import Foundation
import Serializers
import XCTest

final class JSONWriterTests: XCTestCase {
    private func written(_ body: (inout JSONWriter) -> Void) -> String {
        var writer = JSONWriter()
        body(&writer)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    func testEscapes() {
        XCTAssertEqual(written { $0.string("a\"b\\c\n\t\r\u{8}\u{C}\u{1}\u{1F}") }, #""a\"b\\c\n\t\r\b\f\u0001\u001f""#)
        XCTAssertEqual(written { $0.string("x\u{2028}y\u{2029}z") }, #""x\u2028y\u2029z""#)
        XCTAssertEqual(written { $0.string("é€😀\u{7F}") }, "\"é€😀\u{7F}\"")
        XCTAssertEqual(written { $0.string("") }, #""""#)
    }

    func testIntegers() {
        XCTAssertEqual(written { $0.int(0) }, "0")
        XCTAssertEqual(written { $0.int(Int64.min) }, "-9223372036854775808")
        XCTAssertEqual(written { $0.int(UInt64.max) }, "18446744073709551615")
        XCTAssertEqual(written { $0.int(Int32(-100)) }, "-100")
        XCTAssertEqual(written { $0.hexString(0) }, #""0x0""#)
        XCTAssertEqual(written { $0.hexString(0x7ffd_1234_5678) }, #""0x7ffd12345678""#)
        XCTAssertEqual(written { $0.hexString(UInt64.max) }, #""0xffffffffffffffff""#)
    }

    func testStructure() {
        let text = written { w in
            w.beginObject()
            w.key("a")
            w.beginArray()
            w.int(1)
            w.bool(true)
            w.beginObject()
            w.endObject()
            w.beginArray()
            w.endArray()
            w.string("s")
            w.endArray()
            w.key("b")
            w.bool(false)
            w.endObject()
        }
        XCTAssertEqual(text, #"{"a":[1,true,{},[],"s"],"b":false}"#)
    }

    func testRFC3339AgainstFoundation() {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        var generator = SystemRandomNumberGenerator()
        var samples: [UInt64] = [0, 951_782_400_000_000_000, 4_102_444_800_000_000_000, UInt64.max, 1_795_547_198_123_456_789]
        for _ in 0..<2000 { samples.append(UInt64.random(in: 0...UInt64.max, using: &generator)) }
        for ns in samples {
            let text = written { $0.rfc3339(nanoseconds: ns) }
            let seconds = ns / 1_000_000_000
            let expected = formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
            // Foundation writes `…:SSZ`; ours adds `.nnnnnnnnn` before the Z.
            let fraction = String(ns % 1_000_000_000)
            let padded = String(repeating: "0", count: 9 - fraction.count) + fraction
            XCTAssertEqual(text, "\"" + expected.dropLast() + "." + padded + "Z\"", "ns=\(ns)")
        }
        XCTAssertEqual(written { $0.rfc3339(nanoseconds: 0) }, #""1970-01-01T00:00:00.000000000Z""#)
    }
}
