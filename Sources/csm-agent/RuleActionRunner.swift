import AgentCore
import Serializers

/// Runs the `kill` and `hash` actions of matching rules and holds the lines that wait for a hash.
///
/// Kills run on the drain thread at once (a signal is a system call; the safeguards read a few
/// /proc files). Hashes run on the hasher's worker thread: a match whose file must be hashed is
/// kept, with its event, until the hash is done (`FileHasher` bounds that by size and time), then
/// written by the drain thread like any other line. A cache hit is written at once.
final class RuleActionRunner {
    let killer: ProcessKiller
    let hasher: FileHasher
    private let processes: ProcessResolver

    /// A rule line waiting for one or more hashes.
    final class PendingLine {
        let event: Event
        var context: AgentContext
        /// The `rule_actions` items written so far (kills, hashes already known).
        var reports: [[UInt8]]
        var waiting: Set<HashTicket>
        /// The ticket whose result goes into the event's own file object.
        let ownFileTicket: HashTicket?

        init(event: Event, context: AgentContext, reports: [[UInt8]], waiting: Set<HashTicket>, ownFileTicket: HashTicket?) {
            self.event = event
            self.context = context
            self.reports = reports
            self.waiting = waiting
            self.ownFileTicket = ownFileTicket
        }
    }

    private var pending: [HashTicket: PendingLine] = [:]
    /// Lines in the order they matched, written as their hashes complete.
    private(set) var waitingLines = 0

    init(processes: ProcessResolver, killer: ProcessKiller = ProcessKiller(), hasher: FileHasher = FileHasher()) {
        self.processes = processes
        self.killer = killer
        self.hasher = hasher
    }

    /// Runs the kill actions of `rule` whose filter holds for the event the context points at; the
    /// `rule_actions` items of their outcomes are appended to `reports`.
    func runKills(_ rule: CompiledRule, reportedID: String, event: UnsafePointer<Event>, context: EvalContext, reports: inout [[UInt8]]) {
        for action in rule.actions {
            guard case .kill(let kill) = action.kind else { continue }
            if let filter = action.filter, !filter(context) { continue }
            guard let target = event.pointee.process else {
                reports.append(RuleActionRunner.item { $0.killRefusedReport(kill, reason: "the event's process is unknown") })
                continue
            }
            let processes = self.processes
            let outcome = killer.kill(rule: reportedID, action: kill, target: target, eventTimeNs: event.pointee.timeNs) {
                target.containerID.map { processes.entries(inContainer: $0) } ?? []
            }
            Log.info("rule \(reportedID): kill \(outcome.signalName) \(kill.scope.rawValue) of pid \(target.pid): \(outcome.status)"
                     + (outcome.signalledPids.isEmpty ? "" : ", signalled \(outcome.signalledPids.count)"))
            reports.append(RuleActionRunner.item { $0.killActionReport(outcome) })
        }
    }

    /// The hash actions of a match that is written. Returns true when the line was written (no hash
    /// to wait for); false when it waits in `pending` for `completeHashes`.
    func runHashes(_ rule: CompiledRule, event: UnsafePointer<Event>, context evalContext: EvalContext, lineContext: AgentContext,
                   reports: [[UInt8]], write: (Event, AgentContext) -> Void) {
        var reports = reports
        var lineContext = lineContext
        var waiting: Set<HashTicket> = []
        var ownFileTicket: HashTicket?
        for action in rule.actions {
            guard case .hash(let hash) = action.kind else { continue }
            if let filter = action.filter, !filter(evalContext) { continue }
            let own = RuleActionRunner.isOwnFile(hash.field, of: event.pointee.type)
            guard let file = RuleActionRunner.file(hash.field, of: event.pointee) else {
                let result = HashResult(path: "", state: .eventTypeNotConfigured, hashes: [],
                                        detail: "no '\(hash.field)' on \(event.pointee.type.name) events", fromCache: false)
                reports.append(RuleActionRunner.item { $0.hashActionReport(result) })
                if own, lineContext.fileMembers == nil { lineContext.fileMembers = RuleActionRunner.members(result) }
                continue
            }
            let process = event.pointee.process
            let request = HashRequest(file: file, pid: process?.pid ?? event.pointee.pid,
                                      inContainer: !(process?.containerID ?? "").isEmpty, action: hash)
            let submission = hasher.submit(request)
            if let result = submission.immediate {
                reports.append(RuleActionRunner.item { $0.hashActionReport(result) })
                if own, lineContext.fileMembers == nil { lineContext.fileMembers = RuleActionRunner.members(result) }
            } else {
                waiting.insert(submission.ticket)
                if own, ownFileTicket == nil, lineContext.fileMembers == nil { ownFileTicket = submission.ticket }
            }
        }
        if waiting.isEmpty {
            lineContext.ruleActions = RuleActionRunner.array(reports)
            write(event.pointee, lineContext)
            return
        }
        let line = PendingLine(event: event.pointee, context: lineContext, reports: reports, waiting: waiting, ownFileTicket: ownFileTicket)
        for ticket in waiting { pending[ticket] = line }
        waitingLines += 1
    }

    /// Writes the lines whose hashes are all done.
    func completeHashes(write: (Event, AgentContext) -> Void) {
        guard !pending.isEmpty else { return }
        for (ticket, result) in hasher.takeCompleted() {
            guard let line = pending.removeValue(forKey: ticket) else { continue }
            line.reports.append(RuleActionRunner.item { $0.hashActionReport(result) })
            if ticket == line.ownFileTicket { line.context.fileMembers = RuleActionRunner.members(result) }
            line.waiting.remove(ticket)
            if line.waiting.isEmpty {
                line.context.ruleActions = RuleActionRunner.array(line.reports)
                write(line.event, line.context)
                waitingLines -= 1
            }
        }
    }

    /// At shutdown: waits (bounded) for the hashes under way, gives the rest a failed state, and
    /// writes every waiting line: a match is never lost because its hash was not done.
    func finish(timeoutNs: UInt64, write: (Event, AgentContext) -> Void) {
        guard !pending.isEmpty else { return }
        _ = hasher.waitForOutstanding(timeoutNs: timeoutNs)
        hasher.cancelPending()
        completeHashes(write: write)
    }

    // MARK: - Which file

    /// Whether `field` names the event's own file object (`file` in the line; for exec, the process's executable).
    static func isOwnFile(_ field: String, of type: EventType) -> Bool {
        if type == .exec { return field == "exec.file" || field == "process.file" }
        return field == "\(type.name).file"
    }

    /// The file `field` names on `event`, or nil when the event has none there.
    static func file(_ field: String, of event: Event) -> FileInfo? {
        switch field {
        case "exec.file", "process.file": return event.process?.executable
        case "process.parent.file": return event.process?.parent?.executable
        default:
            guard field == "\(event.type.name).file" else { return nil }
            return event.ownFile
        }
    }

    // MARK: - JSON fragments

    static func item(_ body: (inout JSONWriter) -> Void) -> [UInt8] {
        var writer = JSONWriter()
        body(&writer)
        return writer.bytes
    }

    static func members(_ result: HashResult) -> [UInt8] {
        var writer = JSONWriter()
        writer.fileHashMembers(result)
        return writer.bytes
    }

    static func array(_ items: [[UInt8]]) -> [UInt8]? {
        if items.isEmpty { return nil }
        var bytes: [UInt8] = [UInt8(ascii: "[")]
        for (i, item) in items.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes.append(contentsOf: item)
        }
        bytes.append(UInt8(ascii: "]"))
        return bytes
    }
}

extension JSONWriter {
    /// A kill the pipeline could not even try (the event's process is unknown).
    mutating func killRefusedReport(_ action: KillAction, reason: String) {
        beginObject()
        key("type")
        string("kill" as StaticString)
        key("signal")
        string(action.signalName)
        key("scope")
        string(action.scope.rawValue)
        key("status")
        string("refused" as StaticString)
        key("reason")
        string(reason)
        endObject()
    }
}
