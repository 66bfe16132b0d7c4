import XCTest
import CEmbeddedBPF

final class EmbeddedObjectTests: XCTestCase {
    func testBPFObjectIsEmbedded() {
        XCTAssertGreaterThan(csm_embedded_bpf_object_size(), 0, "run `make bpf` before building")
    }
}
