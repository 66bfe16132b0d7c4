import AgentCore
import ArgumentParser
import Foundation
import Glibc

/// `csm-agent self-test`: starts an agent (this binary, the embedded default policy and a
/// temporary self-test policy), performs harmless actions that its rules detect, and reports which
/// fired, as Datadog's `runtime self-test` does. Exit 0 only when every one did.
struct SelfTestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "self-test",
        abstract: "Start the pipeline, trigger harmless detections and report which fired (exit 0 when all did).",
        discussion: """
            The actions: a file created and removed below a temporary directory that a self-test rule \
            watches, a command executed with a marker argument, and /etc/shadow opened for reading \
            (the default policy's csm_shadow_file_read). Needs what `run` needs (root, BPF).
            """)

    @Option(name: .customLong("bpf-object"), help: "Load this BPF object instead of the embedded one.")
    var bpfObject: String?

    @Option(name: .customLong("timeout"), help: "Seconds to wait for the agent to start, and then for the detections.")
    var timeoutSeconds: Int = 60

    @Option(name: .customLong("keep-output"), help: "Keep the agent's events (events.jsonl) and log (agent.log) in this directory.")
    var keepOutput: String?

    func validate() throws {
        guard (1...3600).contains(timeoutSeconds) else { throw ValidationError("invalid --timeout \(timeoutSeconds): between 1 and 3600") }
    }

    /// An action that could not be performed (the detection is then not waited for).
    struct ActionError: Error, CustomStringConvertible {
        var description: String
    }

    /// One action and the rule that must report it.
    struct Check {
        var name: String
        var ruleID: String
        var perform: () throws -> Void
    }

    func run() throws {
        var template = Array("/tmp/csm-agent-self-test.XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else {
            fputs("csm-agent: self-test: cannot create a temporary directory: \(String(cString: strerror(errno)))\n", stderr)
            throw ExitCode.failure
        }
        let directory = String(cString: made)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let nonce = String(UInt64.random(in: 1...UInt64.max), radix: 16)
        let created = directory + "/created-\(nonce)"
        let marker = "csm-agent-self-test-\(nonce)"
        let candidates: [String] = ["/usr/bin/true", "/bin/true"]
        let truePath = candidates.first { access($0, X_OK) == 0 } ?? "/bin/true"
        let realTrue = URL(fileURLWithPath: truePath).resolvingSymlinksInPath().path
        let policy = """
            version: 1.0.0
            rules:
              - id: self_test_file_create
                description: csm-agent self-test, a file created below its temporary directory
                expression: 'open.file.path == "\(created)" && open.flags & O_CREAT > 0'
              - id: self_test_exec
                description: csm-agent self-test, a command executed with its marker argument
                expression: 'exec.file.path == "\(realTrue)" && process.args =~ "*\(marker)*"'

            """
        let policyPath = directory + "/self-test.policy"
        try policy.write(toFile: policyPath, atomically: true, encoding: .utf8)

        let checks = [
            Check(name: "file created and removed below \(directory)", ruleID: "self_test_file_create") {
                let fd = open(created, O_CREAT | O_WRONLY | O_CLOEXEC, 0o600)
                guard fd >= 0 else { throw ActionError(description: "cannot create \(created): \(String(cString: strerror(errno)))") }
                close(fd)
                unlink(created)
            },
            Check(name: "\(realTrue) \(marker) executed", ruleID: "self_test_exec") {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: realTrue)
                process.arguments = [marker]
                try process.run()
                process.waitUntilExit()
            },
            Check(name: "/etc/shadow opened for reading (default policy)", ruleID: "csm_shadow_file_read") {
                let fd = open("/etc/shadow", O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { throw ActionError(description: "cannot open /etc/shadow: \(String(cString: strerror(errno)))") }
                close(fd)
            },
        ]

        let outputDirectory = keepOutput ?? directory
        let eventsPath = outputDirectory + "/events.jsonl"
        let logPath = outputDirectory + "/agent.log"
        FileManager.default.createFile(atPath: eventsPath, contents: nil)
        FileManager.default.createFile(atPath: logPath, contents: nil)
        let agent = Process()
        agent.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        agent.arguments = ["run", "--policy", PolicySources.embeddedName, "--policy", policyPath, "--log-format", "text"]
            + (bpfObject.map { ["--bpf-object", $0] } ?? [])
        agent.standardOutput = FileHandle(forWritingAtPath: eventsPath)
        agent.standardError = FileHandle(forWritingAtPath: logPath)
        do {
            try agent.run()
        } catch {
            fputs("csm-agent: self-test: cannot start the agent: \(error)\n", stderr)
            throw ExitCode.failure
        }
        defer {
            if agent.isRunning {
                kill(agent.processIdentifier, SIGTERM)
                agent.waitUntilExit()
            }
        }
        func log() -> String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
        let startDeadline = Date().addingTimeInterval(Double(timeoutSeconds))
        while !log().contains(" msg=ready") {
            if !agent.isRunning || Date() > startDeadline {
                let tail = log().split(separator: "\n").suffix(3).joined(separator: "; ")
                fputs("csm-agent: self-test: the agent did not start: \(tail)\n", stderr)
                throw ExitCode.failure
            }
            usleep(100_000)
        }
        print("self-test: agent started (pid \(agent.processIdentifier))")
        var actionErrors: [String: String] = [:]
        for check in checks {
            do { try check.perform() } catch { actionErrors[check.ruleID] = "\(error)" }
        }
        var fired: Set<String> = []
        let wanted = Set(checks.map(\.ruleID)).subtracting(actionErrors.keys)
        let deadline = Date().addingTimeInterval(Double(min(timeoutSeconds, 15)))
        while !wanted.isSubset(of: fired) && Date() < deadline && agent.isRunning {
            usleep(100_000)
            fired = SelfTestCommand.ruleIDs(in: eventsPath)
        }
        fired = SelfTestCommand.ruleIDs(in: eventsPath)
        var failures = 0
        for check in checks {
            if let error = actionErrors[check.ruleID] {
                print("FAILED  \(check.name): the action failed: \(error)")
                failures += 1
            } else if fired.contains(check.ruleID) {
                print("ok      \(check.name): \(check.ruleID) fired")
            } else {
                print("FAILED  \(check.name): \(check.ruleID) did not fire")
                failures += 1
            }
        }
        print("self-test: \(checks.count - failures) of \(checks.count) detections fired")
        if failures > 0 { throw ExitCode.failure }
    }

    /// The `agent.rule_id` of every complete line of the agent's output.
    static func ruleIDs(in path: String) -> Set<String> {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        var ids: Set<String> = []
        for line in data.split(separator: UInt8(ascii: "\n")) {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                  let agent = object["agent"] as? [String: Any], let id = agent["rule_id"] as? String else { continue }
            ids.insert(id)
        }
        return ids
    }
}
