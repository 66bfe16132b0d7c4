import Glibc

/// SIGTERM / SIGINT ask the event loop to drain and stop; the handler only sets a flag.
enum StopSignal {
    nonisolated(unsafe) static var requested: sig_atomic_t = 0

    static func install() {
        // Lets the write to a closed stdout fail with EPIPE (reported) instead of killing us.
        signal(SIGPIPE, SIG_IGN)
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in StopSignal.requested = 1 }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0 // no SA_RESTART: epoll_wait returns EINTR at once
        sigaction(SIGTERM, &action, nil)
        sigaction(SIGINT, &action, nil)
    }
}
