import AgentCore

nonisolated(unsafe) let context = EvalContext()

/// Any bytes as one line of `policy evaluate` input: the JSON event reader must answer with an
/// event or an error, and an event it accepts must be safe to evaluate.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEventJSON(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let line = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let event = try? EventJSONReader.event(fromLine: line) else { return 0 }
    _ = FuzzRules.ruleSet.matches(event, context: context)
    return 0
}

/// A few rules over many fields, so that accepted events are read the way rules read them.
enum FuzzRules {
    nonisolated(unsafe) static let ruleSet: RuleSet = {
        let text = """
        rules:
          - id: exec_rule
            expression: exec.file.path =~ "/tmp/*" && process.ancestors.file.name == "sh" && exec.args_flags == "c"
          - id: open_rule
            expression: open.file.path == "/etc/shadow" && process.uid != 0 && open.flags & O_CREAT > 0
          - id: signal_rule
            expression: signal.type > 31 || signal.target.file.name == "csm-agent"
          - id: mmap_rule
            expression: mmap.protection & PROT_EXEC > 0 && mmap.file.path == ""
          - id: any_rule
            expression: process.envs in ["LD_PRELOAD"] && container.id != ""
        """
        let file = try! PolicyParser.parse(text: text, path: "fuzz.policy")
        return PolicyLoader().load(files: [file]).ruleSet
    }()
}

/// SwiftPM links an executable target's entry point as `FuzzEventJSON_main`; it hands over to libFuzzer's driver.
@_cdecl("FuzzEventJSON_main")
func fuzzerEntry(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments, fuzzEventJSON)
}

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> Int32) -> Int32
