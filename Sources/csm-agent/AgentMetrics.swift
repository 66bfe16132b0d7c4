import AgentCore
import Foundation
import Glibc
import Prometheus

/// A metrics setting that cannot be used (a bad address, a port in use): one line.
struct MetricsError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// `--metrics-listen HOST:PORT`: an IPv4 address, or an IPv6 one in brackets (`[::1]:9477`).
struct MetricsAddress: Equatable {
    enum Family { case v4, v6 }
    var family: Family
    var host: String
    var port: UInt16

    /// Parses `text`; a non-loopback address is refused unless `allowRemote`: the metrics name the
    /// host's rules and processes, which is no business of the network by default.
    static func parse(_ text: String, allowRemote: Bool) throws -> MetricsAddress {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]), port > 0 else {
            throw MetricsError(message: "invalid --metrics-listen '\(text)': expected HOST:PORT, e.g. 127.0.0.1:9477 or [::1]:9477")
        }
        var host = String(text[..<colon])
        let family: Family
        if host.hasPrefix("["), host.hasSuffix("]") {
            host = String(host.dropFirst().dropLast())
            var address = in6_addr()
            guard inet_pton(AF_INET6, host, &address) == 1 else {
                throw MetricsError(message: "invalid --metrics-listen '\(text)': '\(host)' is not an IPv6 address")
            }
            family = .v6
        } else {
            if host == "localhost" { host = "127.0.0.1" }
            var address = in_addr()
            guard inet_pton(AF_INET, host, &address) == 1 else {
                throw MetricsError(message: "invalid --metrics-listen '\(text)': '\(host)' is not an IPv4 address (IPv6 goes in brackets)")
            }
            family = .v4
        }
        let result = MetricsAddress(family: family, host: host, port: port)
        if !allowRemote && !result.isLoopback {
            throw MetricsError(message: "--metrics-listen \(text) is not a loopback address: add --metrics-allow-remote to serve metrics to the network")
        }
        return result
    }

    var isLoopback: Bool {
        switch family {
        case .v4: return host.hasPrefix("127.")
        case .v6: return host == "::1"
        }
    }

    var description: String { family == .v6 ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// The agent's Prometheus metrics (swift-prometheus' registry writes the text format), filled from
/// the counters the event loop keeps, so that they agree with the stats line: the loop publishes
/// them every second (`publish`), and a scrape or the textfile writer reads the registry from its
/// own thread (the registry and its metrics are thread-safe).
final class AgentMetrics: @unchecked Sendable {
    let registry = PrometheusCollectorRegistry()
    /// Counters by name and labels with the total they were last given (the loop thread only).
    private var counters: [String: (counter: Counter, total: UInt64)] = [:]
    private var gauges: [String: Gauge] = [:]
    private var policyGauges: [Gauge] = []

    /// A counter set to the running total `total` (the registry's counters only go up: they get
    /// the difference since the last publish).
    func count(_ name: String, _ help: String, labels: [(String, String)] = [], total: UInt64) {
        let key = AgentMetrics.key(name, labels)
        if let entry = counters[key] {
            if total > entry.total { entry.counter.increment(by: Int64(clamping: total - entry.total)) }
            counters[key]?.total = Swift.max(total, entry.total)
            return
        }
        let counter = registry.makeCounter(descriptor: AgentMetrics.descriptor(name, help), labels: labels)
        counter.increment(by: Int64(clamping: total))
        counters[key] = (counter, total)
    }

    func set(_ name: String, _ help: String, labels: [(String, String)] = [], value: Double) {
        let key = AgentMetrics.key(name, labels)
        if let gauge = gauges[key] { gauge.set(value); return }
        let gauge = registry.makeGauge(descriptor: AgentMetrics.descriptor(name, help), labels: labels)
        gauge.set(value)
        gauges[key] = gauge
    }

    /// The whole name in `metricName` (no namespace or unit parts to join).
    private static func descriptor(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }

    private static func key(_ name: String, _ labels: [(String, String)]) -> String {
        ([name] + labels.map { "\($0.0)=\($0.1)" }).joined(separator: "\u{0}")
    }

    /// What does not change while the agent runs: the probes attached and missing, the event types.
    func publishProbes(attached: Int, unavailablePrograms: [String], unavailableTypes: Set<EventType>) {
        set("csm_agent_probes_attached", "BPF programs attached", value: Double(attached))
        for program in unavailablePrograms {
            set("csm_agent_probe_unavailable", "A BPF program this kernel could not attach (1)", labels: [("program", program)], value: 1)
        }
        for type in EventType.allCases {
            let available = type.hasProbe && !unavailableTypes.contains(type)
            set("csm_agent_event_type_available", "1 when a probe produces this event type on this host, 0 when rules on it never match live events",
                labels: [("type", type.name)], value: available ? 1 : 0)
        }
    }

    /// The policies running now, with their rules per status (replaced as a whole at a reload).
    func publishPolicies(_ loaded: PolicySources.Loaded) {
        for gauge in policyGauges { registry.unregisterGauge(gauge) }
        policyGauges = []
        for file in loaded.files {
            var counts: [RuleStatus: Int] = [:]
            for report in loaded.result.reports where report.file == file.path { counts[report.status, default: 0] += 1 }
            for status in [RuleStatus.loaded, .disabled, .filtered, .unsupported, .error] {
                let gauge = registry.makeGauge(descriptor: AgentMetrics.descriptor("csm_agent_policy_rules", "Rules of each running policy file, by status"),
                                               labels: [("policy", file.name), ("status", status.rawValue)])
                gauge.set(Double(counts[status] ?? 0))
                policyGauges.append(gauge)
            }
        }
    }

    /// The loop's counters, as the stats line writes them.
    func publish(stats: PipelineStats, lost: [EventType: UInt64], resolvers: ResolverStats,
                 current: [(id: String, matches: UInt64, heldBack: UInt64)], extra: [String], ringFillBytes: UInt64?, ringCapacity: UInt64) {
        count("csm_agent_events_received_total", "Records read from the ring buffer", total: stats.received)
        count("csm_agent_events_written_total", "Lines written (rule matches and, with --all-events, events)", total: stats.written)
        count("csm_agent_decode_errors_total", "Records that could not be decoded", total: stats.decodeErrors)
        for type in EventType.allCases where stats.perType[Int(type.rawValue)] > 0 {
            count("csm_agent_events_total", "Records read, by event type", labels: [("type", type.name)], total: stats.perType[Int(type.rawValue)])
        }
        for (type, value) in lost {
            count("csm_agent_events_lost_total", "Events the kernel side could not write (ring buffer full), by event type",
                  labels: [("type", type.name)], total: value)
        }
        var rules = stats
        rules.addRuleCounts(current)
        for (id, counts) in rules.ruleCounts {
            count("csm_agent_rule_matches_total", "Rule matches, written or held back", labels: [("rule", id)], total: counts.matches)
            count("csm_agent_rule_held_back_total", "Rule matches held back by the rule's rate limit", labels: [("rule", id)], total: counts.heldBack)
        }
        set("csm_agent_process_cache_entries", "Processes in the process cache", value: Double(resolvers.liveProcesses))
        count("csm_agent_process_lookup_failures_total", "Events whose process neither the cache nor /proc knew", total: UInt64(resolvers.lookupFailures))
        for word in extra {
            guard let equals = word.firstIndex(of: "="), let value = UInt64(word[word.index(after: equals)...]) else { continue }
            let name = String(word[..<equals])
            count("csm_agent_\(name)_total", "The stats line's \(name)", total: value)
        }
        if let fill = ringFillBytes {
            set("csm_agent_ring_buffer_fill_bytes", "Bytes in the ring buffer not yet read", value: Double(fill))
        }
        set("csm_agent_ring_buffer_size_bytes", "The ring buffer's size", value: Double(ringCapacity))
        if let rss = AgentMetrics.residentBytes() {
            set("csm_agent_resident_memory_bytes", "The agent's resident set size", value: Double(rss))
        }
    }

    /// VmRSS from /proc/self/statm (pages × page size).
    static func residentBytes() -> UInt64? {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .ascii) else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = UInt64(fields[1]) else { return nil }
        return pages * UInt64(sysconf(Int32(_SC_PAGESIZE)))
    }
}

/// Serves `GET /metrics` in Prometheus' text format on one listening socket, one connection at a
/// time, from its own thread. The HTTP side is this small on purpose (a request line, a response
/// with Content-Length, the connection closed): a scraper is the only client.
final class MetricsServer: @unchecked Sendable {
    /// A request's head larger than this is answered 431 and closed.
    static let maxRequestBytes = 8192
    /// How long a client may take to send its request.
    static let receiveTimeoutSeconds = 2

    private let socket: Int32
    private let registry: PrometheusCollectorRegistry
    let address: MetricsAddress

    /// Binds and listens now, so that a port in use is an error at start-up.
    init(address: MetricsAddress, registry: PrometheusCollectorRegistry) throws {
        self.address = address
        self.registry = registry
        let domain = address.family == .v6 ? AF_INET6 : AF_INET
        socket = Glibc.socket(domain, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socket >= 0 else { throw MetricsError(message: "metrics: cannot create a socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound: Int32
        switch address.family {
        case .v4:
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = address.port.bigEndian
            inet_pton(AF_INET, address.host, &sin.sin_addr)
            bound = withUnsafePointer(to: &sin) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        case .v6:
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_port = address.port.bigEndian
            inet_pton(AF_INET6, address.host, &sin6.sin6_addr)
            bound = withUnsafePointer(to: &sin6) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
        }
        guard bound == 0, listen(socket, 16) == 0 else {
            let reason = String(cString: strerror(errno))
            close(socket)
            throw MetricsError(message: "metrics: cannot listen on \(address.description): \(reason)")
        }
    }

    func start() {
        let thread = Thread { [self] in self.serve() }
        thread.name = "metrics"
        thread.start()
    }

    private func serve() {
        while true {
            let client = accept(socket, nil, nil)
            if client < 0 {
                if errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE {
                    if errno == EMFILE || errno == ENFILE { usleep(100_000) }
                    continue
                }
                Log.error("metrics: accept failed, no more scrapes: \(String(cString: strerror(errno)))")
                return
            }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            answer(client)
            close(client)
        }
    }

    private func answer(_ client: Int32) {
        var timeout = timeval(tv_sec: MetricsServer.receiveTimeoutSeconds, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var request: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 2048)
        while !containsHeadEnd(request) {
            let count = buffer.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
            if count <= 0 { return }
            request += buffer[0..<count]
            if request.count > MetricsServer.maxRequestBytes {
                respond(client, status: "431 Request Header Fields Too Large", body: Array("request too large\n".utf8))
                return
            }
        }
        let firstLine = request.split(separator: UInt8(ascii: "\r"), maxSplits: 1).first.map { String(decoding: $0, as: UTF8.self) } ?? ""
        let words = firstLine.split(separator: " ")
        guard words.count >= 2 else {
            respond(client, status: "400 Bad Request", body: Array("bad request\n".utf8))
            return
        }
        let path = words[1].split(separator: "?", maxSplits: 1).first.map(String.init) ?? ""
        switch (words[0], path) {
        case ("GET", "/metrics"), ("HEAD", "/metrics"):
            respond(client, status: "200 OK", contentType: "text/plain; version=0.0.4; charset=utf-8",
                    body: registry.emitToBuffer(), includeBody: words[0] == "GET")
        case (_, "/metrics"):
            respond(client, status: "405 Method Not Allowed", body: Array("GET /metrics\n".utf8))
        default:
            respond(client, status: "404 Not Found", body: Array("metrics are at /metrics\n".utf8))
        }
    }

    private func containsHeadEnd(_ bytes: [UInt8]) -> Bool {
        guard bytes.count >= 4 else { return false }
        for index in 0...(bytes.count - 4) where bytes[index] == 13 && bytes[index + 1] == 10 && bytes[index + 2] == 13 && bytes[index + 3] == 10 {
            return true
        }
        return false
    }

    private func respond(_ client: Int32, status: String, contentType: String = "text/plain; charset=utf-8", body: [UInt8], includeBody: Bool = true) {
        let head = "HTTP/1.1 \(status)\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        var response = Array(head.utf8)
        if includeBody { response += body }
        var offset = 0
        while offset < response.count {
            let sent = response[offset...].withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent <= 0 { return }
            offset += sent
        }
    }
}

/// node_exporter's textfile collector format: the registry written to `PATH` every
/// `intervalSeconds` (through a temporary file renamed over it, so that the collector never reads
/// half a file), from its own thread. A failed write is logged once until a write succeeds again.
final class MetricsTextfileWriter: @unchecked Sendable {
    static let intervalSeconds: UInt32 = 10
    let path: String
    private let registry: PrometheusCollectorRegistry

    init(path: String, registry: PrometheusCollectorRegistry) {
        self.path = path
        self.registry = registry
    }

    func start() {
        let thread = Thread { [self] in
            var failing = false
            while true {
                sleep(MetricsTextfileWriter.intervalSeconds)
                let error = self.writeOnce()
                if let error, !failing { Log.warning("metrics: cannot write \(self.path): \(error) (retrying every \(MetricsTextfileWriter.intervalSeconds) s)") }
                if error == nil, failing { Log.info("metrics: \(self.path) written again") }
                failing = error != nil
            }
        }
        thread.name = "metrics-textfile"
        thread.start()
    }

    /// Writes the file now; the reason when it could not.
    @discardableResult
    func writeOnce() -> String? {
        let temporary = path + ".tmp"
        let bytes = registry.emitToBuffer()
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return String(cString: strerror(errno)) }
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                let reason = String(cString: strerror(errno))
                close(fd)
                unlink(temporary)
                return reason
            }
            offset += written
        }
        close(fd)
        guard rename(temporary, path) == 0 else { return String(cString: strerror(errno)) }
        return nil
    }
}
