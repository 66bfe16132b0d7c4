import XCTest
@testable import AgentCore

final class OperatorTests: XCTestCase {
    func testStringOperators() throws {
        let e = T.exec("/usr/bin/curl", args: ["-s", "http://x"])
        XCTAssertTrue(try T.eval(#"exec.file.path == "/usr/bin/curl""#, e))
        XCTAssertFalse(try T.eval(#"exec.file.path != "/usr/bin/curl""#, e))
        XCTAssertTrue(try T.eval(#"exec.file.name in ["wget", "curl"]"#, e))
        XCTAssertFalse(try T.eval(#"exec.file.name not in ["wget", "curl"]"#, e))
        XCTAssertTrue(try T.eval(#"exec.file.path =~ "/usr/bin/*""#, e))
        XCTAssertFalse(try T.eval(#"exec.file.path !~ "/usr/*/curl""#, e))
        XCTAssertTrue(try T.eval(#"exec.file.path == ~"/usr/**""#, e))
        XCTAssertTrue(try T.eval(#"exec.file.path in [~"/opt/*", "/usr/bin/curl"]"#, e))
        XCTAssertTrue(try T.eval(#"process.args == "-s http://x""#, e))
        XCTAssertTrue(try T.eval(#"process.argv in ["http://x"]"#, e))
        XCTAssertTrue(try T.eval(#"exec.args_flags in ["s"]"#, e))
        XCTAssertTrue(try T.eval(#"process.argv allin [~"*"]"#, e))
        XCTAssertFalse(try T.eval(#"process.argv allin ["-s"]"#, e))
        XCTAssertTrue(try T.eval(#""PATH" in process.envs"#, e))
        XCTAssertTrue(try T.eval(#"event.service == "web" and evt.type == "exec""#, e))
    }

    /// Datadog's `args_options` and the joined `args`, assembled from the arguments once per
    /// evaluation: `--name=value`, `-o value`, flags followed by flags, lone dashes, names that do not
    /// start with a letter or digit; then more arguments than the first buffer holds.
    func testDerivedArgumentFields() throws {
        let args = ["--name=value", "-o", "out", "-x", "-y", "--long", "v", "-", "--", "-9=1", "--=x", "-n", "-m"]
        let e = T.exec("/usr/bin/tool", args: args)
        for option in ["name=value", "o=out", "long=v", "9=1"] {
            XCTAssertTrue(try T.eval(#"exec.args_options in ["\#(option)"]"#, e), option)
        }
        for notOption in ["x=-y", "y=--long", "n=-m", "=x", "out", "m", "", "v"] {
            XCTAssertFalse(try T.eval(#"exec.args_options in ["\#(notOption)"]"#, e), notOption)
        }
        XCTAssertTrue(try T.eval(#"exec.args == "\#(args.joined(separator: " "))""#, e))
        XCTAssertTrue(try T.eval(#"exec.args_options in ["o=out"] && exec.args =~ "*--long v*" && process.args_options in ["long=v"]"#, e))
        let many = (0..<200).flatMap { ["-k\($0)", "value-number-\($0)"] }
        let big = T.exec("/usr/bin/tool", args: many)
        XCTAssertTrue(try T.eval(#"exec.args_options in ["k199=value-number-199"] && exec.args =~ "*-k150 value-number-150 *""#, big))
        XCTAssertTrue(try T.eval(#"exec.args == "\#(many.joined(separator: " "))""#, big))
    }

    func testIntegerAndBitwiseOperators() throws {
        let e = T.open("/etc/shadow", flags: 0o1 | 0o100)
        XCTAssertTrue(try T.eval("open.flags & O_CREAT > 0", e))
        XCTAssertTrue(try T.eval("open.flags & (O_WRONLY|O_RDWR) > 0", e))
        XCTAssertFalse(try T.eval("open.flags & O_TRUNC > 0", e))
        XCTAssertTrue(try T.eval("open.flags ^ O_WRONLY == O_CREAT", e))
        XCTAssertTrue(try T.eval("process.uid >= 1000 && process.uid <= 1000 && process.uid < 1001 && process.uid > 999", e))
        XCTAssertTrue(try T.eval("process.uid in [0, 1000]", e))
        XCTAssertTrue(try T.eval("process.uid not in [0, 1]", e))
        XCTAssertTrue(try T.eval("process.uid + 1 == 1001 && process.uid - 1000 == 0", e))
        XCTAssertTrue(try T.eval("1000 == process.uid", e))
        XCTAssertTrue(try T.eval("999 < process.uid", e))
        XCTAssertTrue(try T.eval("open.file.path.length == 11", e))
    }

    func testBooleansAndLogic() throws {
        let e = T.open("/tmp/x")
        XCTAssertTrue(try T.eval(#"!(open.file.path == "/etc") && not (open.file.name == "y")"#, e))
        XCTAssertTrue(try T.eval(#"open.file.path == "/etc" || open.file.name == "x""#, e))
        XCTAssertTrue(try T.eval(#"open.file.path == "/etc" or open.file.name == "x" and true"#, e))
        XCTAssertTrue(try T.eval("open.file.in_upper_layer == false", e))
        XCTAssertTrue(try T.eval("!open.file.in_upper_layer", e))
    }

    func testDurations() throws {
        var p = T.process()
        p.executable?.modificationTimeNs = 1_000_000_000_000 - 10_000_000_000  // 10 s before the event
        let e = T.exec(parent: nil)
        e.process?.executable?.modificationTimeNs = 1_000_000_000_000 - 10_000_000_000
        XCTAssertTrue(try T.eval("process.file.modification_time < 30s", e))
        XCTAssertFalse(try T.eval("process.file.modification_time < 5s", e))
        XCTAssertTrue(try T.eval("process.file.modification_time > 1s", e))
        XCTAssertTrue(try T.eval("container.created_at > 5m", e))
        _ = p
    }

    func testConstantsAndIPs() throws {
        XCTAssertEqual(SECLConstants.integers["O_CREAT"], 0o100)
        XCTAssertEqual(SECLConstants.integers["SIGKILL"], 9)
        XCTAssertEqual(SECLConstants.integers["PTRACE_ATTACH"], 16)
        XCTAssertEqual(SECLConstants.integers["CAP_SYS_ADMIN"], 1 << 21)
        XCTAssertEqual(SECLConstants.integers["BPF_PROG_LOAD"], 5)
        XCTAssertEqual(SECLConstants.integers["AF_INET6"], 10)
        let bind = Event(type: .bind, payload: .bind(BindPayload(family: 2, ip: "10.1.2.3", port: 80)))
        XCTAssertTrue(try T.eval("bind.addr.ip in 10.0.0.0/8 && bind.addr.family == AF_INET", bind))
        XCTAssertFalse(try T.eval("bind.addr.ip == 192.168.0.0/16", bind))
        XCTAssertFalse(try T.eval("bind.addr.is_public", bind))
        let v6 = Event(type: .bind, payload: .bind(BindPayload(family: 10, ip: "fe80::1", port: 80)))
        XCTAssertTrue(try T.eval("bind.addr.ip in [fe80::/10, 10.0.0.0/8]", v6))
    }

    func testTypeErrorsHavePositions() {
        for (expr, column) in [(#"exec.file.path == 1"#, 16), (#"open.flags == "x""#, 12), (#"exec.file.path > "a""#, 16)] {
            XCTAssertThrowsError(try T.compile(expr), expr) { error in
                guard let e = error as? SECLError else { return XCTFail("\(error)") }
                XCTAssertEqual(e.position?.column, column, "\(expr): \(e)")
            }
        }
        XCTAssertThrowsError(try T.compile("exec.file.path == ")) { XCTAssertTrue($0 is SECLError) }
        XCTAssertThrowsError(try T.compile("unknownthing == 1")) { XCTAssertTrue($0 is SECLError) }
        XCTAssertThrowsError(try T.compile(#"selinux.enforce.status == "x""#)) { XCTAssertTrue($0 is UnsupportedError) }
        XCTAssertEqual(try T.compile(#"chmod.file.path == "x""#).eventType, .chmod, "modelled, no probe")
        XCTAssertThrowsError(try T.compile(#"open.file.path == "x" && exec.file.path == "y""#)) { XCTAssertTrue($0 is SECLError) }
    }

    func testBucketsByEventType() throws {
        XCTAssertEqual(try T.compile(#"open.file.path == "x""#).eventType, .open)
        XCTAssertEqual(try T.compile(#"load_module.name == "x""#).eventType, .loadModule)
        XCTAssertNil(try T.compile(#"process.comm == "x""#).eventType)
    }

    /// Declared variables read the store at evaluation time; with nothing set they give their
    /// defaults. Undeclared ones keep the default of what they are compared with.
    func testVariables() throws {
        let sets: [[String: Any]] = [["name": "correlation_key", "scope": "process", "value": "x"],
                                     ["name": "cats", "scope": "cgroup", "value": "aws", "append": true],
                                     ["name": "count", "scope": "cgroup", "value": 1]]
        let e = T.exec()
        func ev(_ s: String) throws -> Bool { try T.compile(s, sets: sets).predicate(EvalContext(event: e)) }
        XCTAssertTrue(try ev(#"exec.file.name == "ls" && ${process.correlation_key} in ["", ~"cgroup_*"]"#))
        XCTAssertTrue(try ev(#"exec.file.name == "ls" && "aws" not in ${cgroup.cats}"#))
        XCTAssertFalse(try ev(#"exec.file.name == "ls" && ${cgroup.count} >= 3"#))
        XCTAssertTrue(try ev(#"exec.file.name == "ls" && ${process.pid} == 100"#))
        XCTAssertTrue(try ev(#"exec.file.name == "ls" && process.args not in ${unknown.var}"#))
    }

    /// `in` an empty list is constant, on either side of `&&`/`||`, and a rule folded to false gets
    /// an approver that no event passes; a variable that `set` actions write is not constant: its
    /// comparisons are evaluated, and never serve as approvers.
    func testEmptyListsFold() throws {
        let e = T.exec()
        func compiled(_ s: String, _ sets: [[String: Any]] = []) throws -> ExpressionCompiler.Compiled { try T.compile(s, sets: sets) }
        func ev(_ s: String) throws -> Bool { try compiled(s).predicate(EvalContext(event: e)) }
        let never = #"exec.file.name == "ls" && process.ancestors.pid in ${cgroup.pids}"#
        XCTAssertFalse(try ev(never))
        XCTAssertTrue(try ev(#"exec.file.name == "ls" && process.ancestors.pid not in ${cgroup.pids}"#))
        XCTAssertTrue(try ev(#"process.pid in ${cgroup.pids} || exec.file.name == "ls""#))
        XCTAssertTrue(try ev(#"exec.file.name == "ls" || process.pid in ${cgroup.pids}"#))
        XCTAssertFalse(try ev(#"process.pid in ${cgroup.pids} && exec.file.name == "ls""#))
        // Types are still checked before folding.
        XCTAssertThrowsError(try compiled(#"exec.file.name == 3 && process.pid in ${cgroup.pids}"#))
        let approver = try XCTUnwrap(try compiled(never).approver)
        XCTAssertEqual(approver.groups.count, 1)
        XCTAssertTrue(approver.groups[0].isEmpty)
        XCTAssertEqual(try compiled(never).eventType, .exec)

        let declared: [[String: Any]] = [["name": "pids", "scope": "cgroup", "field": "process.pid", "append": true]]
        let runtime = try compiled(never, declared)
        XCTAssertFalse(runtime.predicate(EvalContext(event: e)), "nothing set yet")
        let groups = try XCTUnwrap(runtime.approver).groups
        XCTAssertFalse(groups.contains { $0.isEmpty }, "not folded")
        XCTAssertFalse(groups.joined().contains { $0.predicate != nil }, "a predicate reading a variable is no approver term")
        XCTAssertNil(try compiled(#"process.pid in ${cgroup.pids}"#, declared).approver)
        XCTAssertNil(try compiled(#"process.file.name == "${cgroup.pids}x""#, [["name": "pids", "scope": "cgroup", "value": "a"]]).approver,
                     "an interpolated string is no literal")
    }
}
