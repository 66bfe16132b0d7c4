// Signal names for Linux x86_64 (arch/x86/include/uapi/asm/signal.h); 32...64 are real-time signals.

public let signalNameTable: [StaticString] = [
    "SIG0", "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE", "SIGKILL",
    "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT", "SIGCHLD", "SIGCONT",
    "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF",
    "SIGWINCH", "SIGIO", "SIGPWR", "SIGSYS",
]

/// Name of a signal number: `SIGUSR1`; `SIGRTMIN`, `SIGRTMIN+1` ... `SIGRTMAX` for 32...64; `SIG0` for the
/// null signal kill(2) uses to probe a pid; `SIG<n>` beyond 64.
public func signalName(_ number: UInt32) -> String {
    if Int(number) < signalNameTable.count { return signalNameTable[Int(number)].description }
    switch number {
    case 32: return "SIGRTMIN"
    case 64: return "SIGRTMAX"
    case 33..<64: return "SIGRTMIN+" + String(number - 32)
    default: return "SIG" + String(number)
    }
}

private let signalNumbers = reverseTable(signalNameTable)

/// The signal number `signalName` writes as `name`: a name of the table (`SIGUSR1`, `SIG0`),
/// `SIGRTMIN`, `SIGRTMIN+n`, `SIGRTMAX` or `SIG<n>`; nil for any other text.
public func signalNumber(named name: Substring) -> UInt32? {
    if let number = signalNumbers[String(name)] { return number }
    if name == "SIGRTMIN" { return 32 }
    if name == "SIGRTMAX" { return 64 }
    if let n = decimalSuffix(name, after: "SIGRTMIN+"), n <= 32 { return 32 + n }
    return decimalSuffix(name, after: "SIG")
}
