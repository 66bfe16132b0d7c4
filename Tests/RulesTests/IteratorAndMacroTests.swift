import XCTest
@testable import AgentCore

final class IteratorAndMacroTests: XCTestCase {
    func testAncestorsAny() throws {
        let e = T.exec()
        XCTAssertTrue(try T.eval(#"process.ancestors.file.name == "git""#, e))
        XCTAssertTrue(try T.eval(#"process.ancestors.file.path == "/usr/lib/systemd/systemd""#, e))
        XCTAssertFalse(try T.eval(#"process.ancestors.file.name != "git""#, e), "!= means no ancestor matches")
        XCTAssertTrue(try T.eval(#"process.ancestors.file.name not in ["bash"]"#, e))
        XCTAssertEqual(try T.eval("process.ancestors.length == 3", e), true)
        XCTAssertTrue(try T.eval("process.ancestors.pid in [50]", e))
        XCTAssertTrue(try T.eval(#"process.parent.file.name == "sh""#, e))
    }

    func testBoundIterator() throws {
        let e = T.exec()
        // git has both clone and --recursive: one ancestor satisfies all conditions.
        XCTAssertTrue(try T.eval(#"process.ancestors[A].comm == "git" && process.ancestors[A].argv in ["clone"] && process.ancestors[A].args_flags in ["recursive"]"#, e))
        // Different ancestors satisfy each condition, so the bound form is false while the unbound one holds.
        XCTAssertFalse(try T.eval(#"process.ancestors[A].comm == "sh" && process.ancestors[A].argv in ["clone"]"#, e))
        XCTAssertTrue(try T.eval(#"process.ancestors.comm == "sh" && process.ancestors.argv in ["clone"]"#, e))
    }

    func testMacros() throws {
        let macros = ["SHELLS": #"["/bin/sh", "/bin/bash"]"#, "IS_SHELL": "exec.file.path in SHELLS", "FLAGS": "O_CREAT|O_TRUNC",
                      "LOOP": "LOOP"]
        let e = T.exec("/bin/sh")
        XCTAssertTrue(try T.eval("IS_SHELL", e, macros: macros))
        XCTAssertTrue(try T.eval(#"exec.file.path in [SHELLS, "/x"]"#, e, macros: macros))
        XCTAssertTrue(try T.eval("T_ANY == 0 || exec.file.path in SHELLS", e, macros: ["T_ANY": "0", "SHELLS": macros["SHELLS"]!]))
        XCTAssertTrue(try T.eval("open.flags & FLAGS > 0", T.open("/x", flags: 0o100), macros: macros))
        XCTAssertThrowsError(try T.compile("LOOP", macros: macros))
    }
}
