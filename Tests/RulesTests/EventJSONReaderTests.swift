import Foundation
import Serializers
import XCTest
@testable import AgentCore

/// The JSON event reader refuses what it cannot read faithfully, naming the key, and `EventReplay`
/// gives later events what the agent's process tree had.
final class EventJSONReaderTests: XCTestCase {
    private func error(_ line: String) -> String? {
        do {
            _ = try EventJSONReader.event(fromLine: line)
            return nil
        } catch {
            return "\(error)"
        }
    }

    private let open = #"{"evt":{"name":"open"},"process":{"pid":5,"comm":"vi","credentials":{"uid":0}},"file":{"path":"/etc/shadow"}}"#

    func testWronglyTypedValuesAreErrorsNamingTheKey() {
        XCTAssertNil(error(open))
        let cases: [(String, String)] = [
            (#"{"evt":{"name":"open"},"process":{"pid":"5","credentials":{}}}"#, "process.pid: expected an integer, got the string \"5\""),
            (#"{"evt":{"name":"open"},"process":{"pid":5,"credentials":{}},"file":{"path":3}}"#, "file.path: expected a string, got the number 3"),
            (#"{"evt":{"name":"open"},"process":{"pid":5,"credentials":{},"ancestors":[{"pid":1},{"pid":2,"credentials":{"uid":true}}]}}"#,
             "process.ancestors[1].credentials.uid: expected an integer, got a boolean"),
            (#"{"evt":{"name":"open"},"process":{"pid":5000000000,"credentials":{}}}"#, "process.pid: the number 5000000000 is not an integer in 0...4294967295"),
            (#"{"evt":{"name":"open"},"process":{"pid":5.5,"credentials":{}}}"#, "process.pid: the number 5.5 is not an integer"),
            (#"{"evt":{"name":"open"},"process":{"pid":5,"args":["a",1],"credentials":{}}}"#, "process.args[1]: expected a string, got the number 1"),
            (#"{"evt":{"name":"open"},"process":{"pid":5,"args_truncated":"no","credentials":{}}}"#, "process.args_truncated: expected true or false"),
            (#"{"evt":{"name":"open"},"process":{"pid":5,"fork_time":"yesterday","credentials":{}}}"#, "process.fork_time: the string \"yesterday\" is not an RFC 3339 time"),
            (#"{"evt":{"name":"open"},"process":{"pid":5,"credentials":{"cap_effective":["CAP_NOPE"]}}}"#,
             "process.credentials.cap_effective[0]: unknown capability \"CAP_NOPE\""),
            (#"{"evt":{"name":"open"},"process":{"pid":5,"credentials":"root"}}"#, "process.credentials: expected an object, got the string"),
            (#"{"evt":{"name":"signal"},"signal":{"type":"SIGFOO"}}"#, "signal.type: unknown signal \"SIGFOO\""),
            (#"{"evt":{"name":"signal"},"signal":{"type":[9]}}"#, "signal.type: expected a name or an integer, got an array"),
            (#"{"evt":{"name":"mmap"},"mmap":{"protection":"PROT_READ|PROT_BOGUS"}}"#, "mmap.protection: unknown protection"),
            (#"{"evt":{"name":"mmap"},"mmap":{"address":"7f00"}}"#, "mmap.address: unknown address \"7f00\""),
            (#"{"evt":{"name":"bpf"},"bpf":{"program":{"helpers":["bpf_nope"]}}}"#, "bpf.program.helpers[0]: unknown bpf helper"),
            (#"{"evt":{"name":"open"},"file":{"flags":["O_WRONLY","O_BOGUS"]}}"#, "file.flags[1]: unknown open flag \"O_BOGUS\""),
            (#"{"evt":{"name":"exit"},"exit":{"cause":"VANISHED"}}"#, "exit.cause: unknown cause \"VANISHED\""),
            (#"{"evt":{"name":"open","outcome":"Maybe"}}"#, "evt.outcome: unknown outcome \"Maybe\""),
            (#"{"evt":{"name":"teleport"}}"#, "evt.name: unknown event type \"teleport\""),
            (#"{"evt":{"name":"open"},"date":5}"#, "date: expected an RFC 3339 time, got the number 5"),
            (#"{"evt":{"name":"connect"},"network":{"l4_protocol":"QUIC"}}"#, "network.l4_protocol: unknown transport protocol \"QUIC\""),
            (#"{"evt":{"name":"open"},"process":{"pid":5,"comm":"\ud800","credentials":{}}}"#, "process.comm: invalid \\u escape"),
            (#"{"evt":{}}"#, "not an event: missing evt.name"),
            (#"[1]"#, "not a JSON object"),
            (#"{"evt":{"name":"open"}"#, "invalid JSON at column 23 (byte 22): expected ',' or '}', found the end of the line"),
            (#"{"evt":{"name":"open"}} x"#, "invalid JSON at column 25 (byte 24): expected the end of the line after the value, found 'x'"),
            (#"{"evt":{"name":"op\#u{01}en"}}"#, "invalid JSON at column 19 (byte 18): control character in a string"),
            (#"{"a":01}"#, "invalid JSON at column 6 (byte 5): invalid number"),
            (#"{"evt":{"name":"open"},"process":{"pid":5,}}"#, "invalid JSON at column 43 (byte 42): expected a key (a string), found '}'"),
            (#"{"evt":{"name":"open"},"process":{"pid" 5}}"#, "invalid JSON at column 41 (byte 40): expected ':', found '5'"),
            (#"{"evt":{"name":"open"},"x":[1 2]}"#, "invalid JSON at column 31 (byte 30): expected ',' or ']', found '2'"),
            (#"{"evt":{"name":"open"},"x":tru}"#, "invalid JSON at column 28 (byte 27): expected a value (an object, array, string, number, true, false or null), found 't'"),
            (#"{"é":{"name":"open"},"x":?}"#, "invalid JSON at column 26 (byte 26): expected a value"),
            (String(repeating: "[", count: 300) + String(repeating: "]", count: 300), "nested deeper than 256 levels"),
            ("", "empty line"),
        ]
        for (line, expected) in cases {
            let message = error(line)
            XCTAssertTrue(message?.contains(expected) ?? false, "\(line.prefix(120)): got \(message ?? "no error"), want \(expected)")
        }
        // `null` is no value, as a missing key; unknown keys are ignored.
        XCTAssertNil(error(#"{"evt":{"name":"open"},"process":{"pid":5,"tty":null,"credentials":{}},"extra":{"x":[1,2]}}"#))
    }

    /// `policy evaluate` keeps its `{"error": ...}` shape, now naming the key.
    func testEvaluatorReportsTheKey() throws {
        let policy = FileManager.default.temporaryDirectory.appendingPathComponent("reader-\(getpid()).policy").path
        try "rules:\n  - id: r\n    expression: open.file.path == \"/etc/shadow\"\n".write(toFile: policy, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: policy) }
        let evaluator = PolicyTools.Evaluator(paths: [policy])
        XCTAssertEqual(evaluator.evaluate(line: open), #"{"matched": ["r"]}"#)
        let bad = open.replacingOccurrences(of: #""pid":5"#, with: #""pid":"5""#)
        XCTAssertEqual(evaluator.evaluate(line: bad), #"{"error": "process.pid: expected an integer, got the string \"5\""}"#)
    }

    /// Constants written as names read back as their numbers, so comparisons with numbers agree with
    /// the live engine (`signal.type > 31` on a real-time signal).
    func testConstantsComparedAsNumbers() throws {
        let set = try T.ruleSet("""
        rules:
          - id: rt_signal
            expression: signal.type > 31
          - id: attach_type
            expression: bpf.prog.attach_type == 2
          - id: helper
            expression: bpf.prog.helpers in [14]
          - id: exec_prot
            expression: mmap.protection & PROT_EXEC > 0 && mmap.flags & MAP_ANONYMOUS > 0
          - id: af_unix
            expression: connect.addr.family == AF_UNIX
        """)
        let lines = [
            #"{"evt":{"name":"signal"},"signal":{"type":"SIGRTMAX","pid":1}}"#,
            #"{"evt":{"name":"signal"},"signal":{"type":"SIGRTMIN+3","pid":1}}"#,
            #"{"evt":{"name":"bpf"},"bpf":{"cmd":"BPF_PROG_LOAD","program":{"attach_type":"BPF_CGROUP_INET_SOCK_CREATE","helpers":["bpf_get_current_pid_tgid"]}}}"#,
            #"{"evt":{"name":"mmap"},"mmap":{"protection":"PROT_READ|PROT_EXEC","flags":"MAP_PRIVATE|MAP_ANONYMOUS"}}"#,
            #"{"evt":{"name":"connect"},"network":{"l3_protocol":"AF_UNIX","l4_protocol":"0","destination":{"ip":"","port":0}}}"#,
        ]
        let expected = [["rt_signal"], ["rt_signal"], ["attach_type", "helper"], ["exec_prot"], ["af_unix"]]
        for (line, want) in zip(lines, expected) {
            XCTAssertEqual(set.matches(try EventJSONReader.event(fromLine: line)), want, line)
        }
    }

    /// What the serializer writes for a process it could not resolve reads back as no process.
    func testUnresolvedProcessReadsBackAsNone() throws {
        var event = T.open("/etc/hosts")
        event.process = nil
        event.pid = 77
        event.tid = 78
        event.comm = "ghost"
        let line = EventSerializer().line(event, context: AgentContext(version: "t", arch: "x86_64"))
        let read = try EventJSONReader.event(fromLine: line)
        XCTAssertNil(read.process)
        XCTAssertEqual([read.pid, read.tid], [77, 78])
        XCTAssertEqual(read.comm, "ghost")
        XCTAssertTrue(try T.eval(#"process.comm == """#, read))
        // A hand-written process with more than pid, uid and gid is a process.
        let written = try EventJSONReader.event(fromLine: #"{"evt":{"name":"open"},"process":{"pid":5,"uid":0,"gid":0,"ppid":1}}"#)
        XCTAssertEqual(written.process?.pid, 5)
    }

    /// A recording replayed through `EventReplay` gives a process's later events its environment
    /// (written on its exec only), gives a forked child its parent's, and keeps each image current.
    func testReplayCarriesEnvironmentAndUpdates() throws {
        let serializer = EventSerializer()
        let context = AgentContext(version: "t", arch: "x86_64")
        let parent = ProcessEntry(pid: 10, comm: "bash", forkTimeNs: 1_000, execTimeNs: 2_000, executable: FileInfo(path: "/bin/bash"),
                                  envs: ["LD_AUDIT=/tmp/x.so", "DD_SERVICE=web"], envsTruncated: true)
        let exec = Event(type: .exec, timeNs: 2_000, pid: 10, process: parent, payload: .exec(ExecPayload(
            file: parent.executable!, credentials: parent.credentials, ppid: 0, argv0: "bash", args: [], envs: parent.envs)))
        let mmap = Event(type: .mmap, timeNs: 3_000, pid: 10, process: parent, payload: .mmap(MMapPayload(
            address: 0, offset: 0, length: 4096, protection: 5, flags: 2, file: FileInfo(path: "/tmp/x.so"))))
        let child = ProcessEntry(pid: 11, ppid: 10, comm: "bash", forkTimeNs: 4_000, execTimeNs: 2_000, executable: parent.executable,
                                 envs: parent.envs, envsTruncated: true, parent: parent)
        let fork = Event(type: .fork, timeNs: 4_000, pid: 10, process: child, payload: .fork(ForkPayload(
            childPid: 11, childTid: 11, parentPid: 10, credentials: Credentials())))
        let childOpen = Event(type: .open, timeNs: 5_000, pid: 11, process: child, payload: .open(OpenPayload(
            file: FileInfo(path: "/etc/passwd"), flags: 0, mode: 0, dirfd: -100, syscall: .openat, userPath: "/etc/passwd")))
        let lines = [exec, mmap, fork, childOpen].map { serializer.line($0, context: context) }
        let replay = EventReplay()
        let read = try lines.map { try replay.event(fromLine: $0) }
        let set = try T.ruleSet("""
        rules:
          - id: ld_audit
            expression: process.envs in ["LD_AUDIT"] && mmap.protection & PROT_EXEC > 0
          - id: service
            expression: open.file.path == "/etc/passwd" && event.service == "web" && process.envs_truncated == true
        """)
        XCTAssertEqual(set.matches(mmap), ["ld_audit"])
        XCTAssertEqual(set.matches(read[1]), ["ld_audit"], "the exec line's environment, on a later event of the process")
        XCTAssertEqual(set.matches(try EventJSONReader.event(fromLine: lines[1])), [], "a line alone does not carry it")
        XCTAssertEqual(set.matches(childOpen), ["service"])
        XCTAssertEqual(set.matches(read[3]), ["service"], "a forked child has its parent's environment")
        XCTAssertTrue(read[3].process?.parent === read[0].process)
        XCTAssertEqual(replay.processCount, 2)

        // An unchanged line keeps the entry's revision; a changed value is taken.
        let revision = try XCTUnwrap(read[1].process?.revision)
        _ = try replay.event(fromLine: lines[1])
        XCTAssertEqual(read[1].process?.revision, revision)
        parent.exitTimeNs = 6_000
        let exit = Event(type: .exit, timeNs: 6_000, pid: 10, process: parent, payload: .exit(ExitPayload(cause: .exited, code: 0)))
        let exited = try replay.event(fromLine: serializer.line(exit, context: context))
        XCTAssertTrue(exited.process === read[0].process)
        XCTAssertEqual(exited.process?.exitTimeNs, 6_000)
        XCTAssertEqual(exited.process?.envs, parent.envs, "kept: the exit line carries no environment")
    }

    /// Mutated lines never crash the reader, and the tokenizer accepts exactly the texts Foundation's
    /// parser accepts.
    func testMutatedLinesAgreeWithFoundation() throws {
        var rng = SplitMix(state: 42)
        let base = Array(open.utf8) + Array(#"{"a":[1,-2.5e3,true,false,null,"x\n\u00e9"],"b":{}}"#.utf8)
        let alphabet = Array(#"{}[]":,\/-+.eE0123456789abtfnu "#.utf8)
        var agreed = 0
        for _ in 0..<4_000 {
            var bytes = rng.chance(50) ? Array(open.utf8) : base
            for _ in 0..<(1 + rng.int(3)) {
                let at = rng.int(bytes.count)
                switch rng.int(3) {
                case 0: bytes.insert(rng.pick(alphabet), at: at)
                case 1: bytes.remove(at: at)
                default: bytes[at] = rng.pick(alphabet)
                }
            }
            let line = String(decoding: bytes, as: UTF8.self)
            _ = try? EventJSONReader.event(fromLine: line)
            let ours = bytes.withUnsafeBufferPointer { (try? JSONDocument(parsing: $0)) != nil }
            let foundation = (try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])) != nil
            // Foundation also refuses lone surrogate escapes, which the tokenizer leaves to the reader.
            if ours != foundation, line.contains("\\u") { continue }
            XCTAssertEqual(ours, foundation, line)
            agreed += 1
        }
        XCTAssertGreaterThan(agreed, 3_000)
    }
}
