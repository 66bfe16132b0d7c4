#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Converts kernel CLOCK_BOOTTIME timestamps (BPF `bpf_ktime_get_boot_ns`, task start times) into
/// wall-clock nanoseconds since the Unix epoch.
///
/// The offset REALTIME − BOOTTIME moves when the wall clock is stepped (NTP, settimeofday), so the
/// agent calls `refresh()` periodically; conversions between refreshes are a single addition.
public final class BootClock {
    /// CLOCK_REALTIME − CLOCK_BOOTTIME, in nanoseconds, as of the last `refresh()`.
    public private(set) var offsetNs: Int64 = 0

    /// `sysconf(_SC_CLK_TCK)`: the unit of /proc/<pid>/stat starttime.
    public static let ticksPerSecond: UInt64 = {
        let ticks = sysconf(Int32(_SC_CLK_TCK))
        return ticks > 0 ? UInt64(ticks) : 100
    }()

    public init() {
        refresh()
    }

    /// Creates a clock with a fixed offset (tests, replays).
    public init(offsetNs: Int64) {
        self.offsetNs = offsetNs
    }

    /// Re-measures the offset. Boot time is read on both sides of the wall-clock read and averaged so
    /// a preemption between the two reads costs at most half its length.
    public func refresh() {
        let bootBefore = SysFS.clockNs(CLOCK_BOOTTIME)
        let real = SysFS.clockNs(CLOCK_REALTIME)
        let bootAfter = SysFS.clockNs(CLOCK_BOOTTIME)
        let boot = bootBefore / 2 + bootAfter / 2
        offsetNs = Int64(bitPattern: real &- boot)
    }

    /// Wall-clock ns since the epoch for a CLOCK_BOOTTIME ns value; 0 stays 0 (unknown).
    @inline(__always)
    public func wallNs(fromBootNs bootNs: UInt64) -> UInt64 {
        if bootNs == 0 { return 0 }
        let wall = Int64(bitPattern: bootNs) &+ offsetNs
        return wall > 0 ? UInt64(wall) : 0
    }

    /// CLOCK_BOOTTIME ns for a /proc/<pid>/stat starttime (clock ticks since boot).
    public static func bootNs(fromStartTicks ticks: UInt64) -> UInt64 {
        let (seconds, remainder) = ticks.quotientAndRemainder(dividingBy: ticksPerSecond)
        return seconds &* 1_000_000_000 &+ remainder &* 1_000_000_000 / ticksPerSecond
    }

    /// Current CLOCK_BOOTTIME ns.
    public static func nowBootNs() -> UInt64 {
        SysFS.clockNs(CLOCK_BOOTTIME)
    }

    /// Current wall-clock ns since the epoch.
    public static func nowWallNs() -> UInt64 {
        SysFS.clockNs(CLOCK_REALTIME)
    }
}
