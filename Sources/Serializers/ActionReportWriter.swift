import AgentCore

/// The reports of the rule actions the agent performed: `agent.rule_actions` items, in the shape of
/// Datadog's action reports (its `KillActionReport` and `HashActionReport` JSON), and the
/// `hashes` / `hash_state` members of a hashed file.
///
/// The schema leaves rule_actions items free-form; members this agent adds beyond Datadog's are
/// `reason`, `pid`, `signalled_pids`, `failures` and `skipped` (kill) and `reason` (hash). Times that
/// are unknown are left out, never written as 0.
extension JSONWriter {
    /// One `agent.rule_actions` item for a kill:
    /// `{"type":"kill","signal":"SIGKILL","scope":"process","status":"performed","created_at":...,
    /// "detected_at":...,"killed_at":...,"pid":42,"signalled_pids":[42]}`.
    ///
    /// `status` takes Datadog's values (`performed`, `partially_performed`, `rule_disarmed` with
    /// `disarmer_type`, `error`) and `refused` for a kill a safeguard forbade (Datadog logs those
    /// and reports nothing); `reason` says why for `refused` and `error`.
    public mutating func killActionReport(_ outcome: KillOutcome) {
        beginObject()
        key("type")
        string("kill" as StaticString)
        key("signal")
        string(outcome.signalName)
        key("scope")
        switch outcome.scope {
        case .process: string("process" as StaticString)
        case .container: string("container" as StaticString)
        }
        key("status")
        switch outcome.status {
        case .performed:
            string("performed" as StaticString)
        case .partiallyPerformed:
            string("partially_performed" as StaticString)
        case .disarmed(let kind):
            string("rule_disarmed" as StaticString)
            key("disarmer_type")
            switch kind {
            case .container: string("container" as StaticString)
            case .executable: string("executable" as StaticString)
            }
        case .refused(let reason):
            string("refused" as StaticString)
            key("reason")
            string(reason)
        case .failed(let error):
            string("error" as StaticString)
            key("reason")
            string(error)
        }
        if outcome.createdAtNs != 0 {
            key("created_at")
            rfc3339(nanoseconds: outcome.createdAtNs)
        }
        if outcome.detectedAtNs != 0 {
            key("detected_at")
            rfc3339(nanoseconds: outcome.detectedAtNs)
        }
        if outcome.killedAtNs != 0 {
            key("killed_at")
            rfc3339(nanoseconds: outcome.killedAtNs)
        }
        key("pid")
        int(outcome.targetPid)
        if !outcome.signalledPids.isEmpty {
            key("signalled_pids")
            beginArray()
            for pid in outcome.signalledPids { int(pid) }
            endArray()
        }
        if !outcome.failures.isEmpty {
            key("failures")
            beginArray()
            for failure in outcome.failures {
                beginObject()
                key("pid")
                int(failure.pid)
                key("error")
                string(failure.error)
                endObject()
            }
            endArray()
        }
        if !outcome.skipped.isEmpty {
            key("skipped")
            beginArray()
            for skip in outcome.skipped {
                beginObject()
                key("pid")
                int(skip.pid)
                key("reason")
                string(skip.reason)
                endObject()
            }
            endArray()
        }
        endObject()
    }

    /// One `agent.rule_actions` item for a hash: `{"type":"hash","path":"/tmp/x","state":"Done"}`
    /// (Datadog's members but `trigger`: this agent hashes when the rule matches, not at a later
    /// trigger), plus `reason` when the hasher gave one.
    public mutating func hashActionReport(_ result: HashResult) {
        beginObject()
        key("type")
        string("hash" as StaticString)
        if !result.path.isEmpty {
            key("path")
            string(result.path)
        }
        key("state")
        string(result.state.rawValue)
        if let detail = result.detail {
            key("reason")
            string(detail)
        }
        endObject()
    }

    /// `"hashes":["sha1:…","sha256:…"],"hash_state":"Done"` inside the current (file) object;
    /// `hashes` only when there are some.
    public mutating func fileHashMembers(_ result: HashResult) {
        if !result.hashes.isEmpty {
            key("hashes")
            beginArray()
            for hash in result.hashes { string(hash) }
            endArray()
        }
        key("hash_state")
        string(result.state.rawValue)
    }
}
