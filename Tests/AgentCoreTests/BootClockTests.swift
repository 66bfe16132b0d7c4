import XCTest
@testable import AgentCore

final class BootClockTests: XCTestCase {
    func testBootToWallWithinASecondOfNow() {
        let clock = BootClock()
        let wall = clock.wallNs(fromBootNs: BootClock.nowBootNs())
        let now = BootClock.nowWallNs()
        XCTAssertLessThan(wall > now ? wall - now : now - wall, 1_000_000_000)
        XCTAssertEqual(clock.wallNs(fromBootNs: 0), 0, "unknown stays unknown")
    }

    func testRefreshKeepsOffsetStable() {
        let clock = BootClock()
        let before = clock.offsetNs
        clock.refresh()
        XCTAssertLessThan(abs(clock.offsetNs - before), 10_000_000)
    }

    func testStartTicksToBootNs() {
        let hz = BootClock.ticksPerSecond
        XCTAssertEqual(BootClock.bootNs(fromStartTicks: hz * 3), 3_000_000_000)
        XCTAssertEqual(BootClock.bootNs(fromStartTicks: hz / 2 + hz), 1_500_000_000)
        XCTAssertEqual(BootClock.bootNs(fromStartTicks: 0), 0)
    }

    func testFixedOffset() {
        XCTAssertEqual(BootClock(offsetNs: 100).wallNs(fromBootNs: 50), 150)
        XCTAssertEqual(BootClock(offsetNs: -100).wallNs(fromBootNs: 50), 0, "never negative")
    }
}
