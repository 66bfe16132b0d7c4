import AgentCore
import Foundation

/// Loads policies off the drain thread (parsing and compiling a large policy takes long enough to
/// fill the ring buffer) and hands the result back for the event loop to swap in between records.
final class PolicyReloader {
    /// What to load, and the rate-limit defaults the loaded rules get.
    struct Request {
        var sources: PolicySources
        var options: PolicyLoader.Options
        var rateLimit: RuleRateLimiter.Defaults
    }

    private let lock = NSLock()
    private var running = false
    private var pending: Request?
    private var finished: (PolicySources.Loaded, Request)?

    /// Starts a load unless one is running (then the newest request follows it, so the newest files win).
    func request(_ request: Request) {
        lock.lock()
        defer { lock.unlock() }
        if running { pending = request; return }
        running = true
        start(request)
    }

    private func start(_ request: Request) {
        let thread = Thread { [self] in
            let loaded = request.sources.load(options: request.options)
            lock.lock()
            finished = (loaded, request)
            if let next = pending {
                pending = nil
                lock.unlock()
                start(next)
                return
            }
            running = false
            lock.unlock()
        }
        thread.name = "policy-reload"
        thread.start()
    }

    /// The result of the last finished load, once.
    func take() -> (PolicySources.Loaded, Request)? {
        lock.lock()
        defer { lock.unlock() }
        let result = finished
        finished = nil
        return result
    }
}
