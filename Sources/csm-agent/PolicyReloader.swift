import AgentCore
import Foundation

/// Loads policies off the drain thread (parsing and compiling a large policy takes long enough to
/// fill the ring buffer) and hands the result back for the event loop to swap in between records.
final class PolicyReloader {
    private let sources: PolicySources
    private let options: PolicyLoader.Options
    private let lock = NSLock()
    private var running = false
    private var pendingAgain = false
    private var finished: PolicySources.Loaded?

    init(sources: PolicySources, options: PolicyLoader.Options) {
        self.sources = sources
        self.options = options
    }

    /// Starts a load unless one is running (then one more follows it, so the newest files win).
    func request() {
        lock.lock()
        defer { lock.unlock() }
        if running { pendingAgain = true; return }
        running = true
        start()
    }

    private func start() {
        let thread = Thread { [self] in
            let loaded = sources.load(options: options)
            lock.lock()
            finished = loaded
            if pendingAgain {
                pendingAgain = false
                lock.unlock()
                start()
                return
            }
            running = false
            lock.unlock()
        }
        thread.name = "policy-reload"
        thread.start()
    }

    /// The result of the last finished load, once.
    func take() -> PolicySources.Loaded? {
        lock.lock()
        defer { lock.unlock() }
        let result = finished
        finished = nil
        return result
    }
}
