import AgentCore

/// Any bytes as a policy file: parsed with the input limits, then loaded and compiled. Errors are
/// the expected outcome; a crash, a hang or unbounded memory is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPolicy(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let file = try? PolicyParser.parse(text: text, path: "fuzz.policy") else { return 0 }
    let result = PolicyLoader().load(files: [file])
    _ = result.ruleSet.rules.count
    return 0
}

/// SwiftPM links an executable target's entry point as `FuzzPolicy_main`; it hands over to libFuzzer's driver.
@_cdecl("FuzzPolicy_main")
func fuzzerEntry(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments, fuzzPolicy)
}

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> Int32) -> Int32
