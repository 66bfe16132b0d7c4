import Foundation
import XCTest

/// Runs `Tests/tools/validate_events.py` (python3 on PATH, with `jsonschema`) over JSON lines and
/// fails the calling test when the script reports an invalid line or cannot run. Every line a
/// test produces goes through here (a library of the test targets: `SerializersTests`,
/// `RulesTests`).
public enum SchemaValidation {
    static let scriptURL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // SchemaValidation
        .deletingLastPathComponent()  // Tests
        .appendingPathComponent("tools/validate_events.py")

    /// Validates newline-separated JSON lines (the exact serializer output).
    public static func assertValid(_ output: [UInt8], file: StaticString = #filePath, line: UInt = #line) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", scriptURL.path]
        let input = Pipe()
        let outputPipe = Pipe()
        process.standardInput = input
        process.standardOutput = outputPipe
        process.standardError = outputPipe
        // A script that dies early must fail the test, not kill the test process with SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        do {
            try process.run()
        } catch {
            XCTFail("cannot run \(scriptURL.path): \(error)", file: file, line: line)
            return
        }
        // Feed stdin from another thread so a large report cannot deadlock the two pipes.
        let writer = input.fileHandleForWriting
        let payload = Data(output)
        let fed = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            try? writer.write(contentsOf: payload)
            try? writer.close()
            fed.signal()
        }
        let report = outputPipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        fed.wait()
        let text = String(decoding: report, as: UTF8.self)
        if process.terminationStatus != 0 {
            XCTFail("schema validation failed (exit \(process.terminationStatus)):\n\(text)", file: file, line: line)
        }
    }

    public static func assertValid(lines: [String], file: StaticString = #filePath, line: UInt = #line) {
        var bytes: [UInt8] = []
        for text in lines {
            bytes.append(contentsOf: text.utf8)
            if text.last != "\n" { bytes.append(UInt8(ascii: "\n")) }
        }
        assertValid(bytes, file: file, line: line)
    }
}
