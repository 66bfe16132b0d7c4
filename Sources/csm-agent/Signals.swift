import Glibc

/// The signals the agent handles; every handler only sets a flag that the event loop reads.
///
/// SIGTERM / SIGINT: drain and stop. SIGHUP: reload the policies and reopen the outputs. SIGUSR1:
/// write a stats line and reopen the outputs.
/// SIGUSR2: logged and otherwise ignored. None of them may kill the agent by its default action.
enum AgentSignals {
    nonisolated(unsafe) static var stopRequested: sig_atomic_t = 0
    nonisolated(unsafe) static var reloadRequested: sig_atomic_t = 0
    nonisolated(unsafe) static var statsRequested: sig_atomic_t = 0
    nonisolated(unsafe) static var ignoredReceived: sig_atomic_t = 0

    static func install() {
        // Lets the write to a closed stdout fail with EPIPE (reported) instead of killing us.
        signal(SIGPIPE, SIG_IGN)
        func handle(_ signo: Int32, _ handler: @convention(c) (Int32) -> Void) {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = handler
            sigemptyset(&action.sa_mask)
            action.sa_flags = 0 // no SA_RESTART: epoll_wait returns EINTR at once
            sigaction(signo, &action, nil)
        }
        handle(SIGTERM) { _ in AgentSignals.stopRequested = 1 }
        handle(SIGINT) { _ in AgentSignals.stopRequested = 1 }
        handle(SIGHUP) { _ in AgentSignals.reloadRequested = 1 }
        handle(SIGUSR1) { _ in AgentSignals.statsRequested = 1 }
        handle(SIGUSR2) { _ in AgentSignals.ignoredReceived = 1 }
    }

    /// Reads and clears a flag.
    static func take(_ flag: UnsafeMutablePointer<sig_atomic_t>) -> Bool {
        if flag.pointee == 0 { return false }
        flag.pointee = 0
        return true
    }
}
