// swift-tools-version:6.0
// Coverage-guided fuzzing (libFuzzer) of the agent's parsers: policies, ring-buffer records and JSON
// events. Built with `make fuzz` into fuzz/.build; see fuzz/README.md.
import PackageDescription

let fuzzerFlags: [SwiftSetting] = [.unsafeFlags(["-parse-as-library", "-sanitize=fuzzer,address"])]
let fuzzerLink: [LinkerSetting] = [.unsafeFlags(["-sanitize=fuzzer,address"])]

let package = Package(
    name: "csm-agent-fuzz",
    dependencies: [.package(name: "csm-agent", path: "..")],
    targets: [
        .executableTarget(name: "FuzzPolicy", dependencies: [.product(name: "AgentCoreForFuzzing", package: "csm-agent")],
                          swiftSettings: fuzzerFlags, linkerSettings: fuzzerLink),
        .executableTarget(name: "FuzzRecords", dependencies: [.product(name: "ProbesForFuzzing", package: "csm-agent")],
                          swiftSettings: fuzzerFlags, linkerSettings: fuzzerLink),
        .executableTarget(name: "FuzzEventJSON", dependencies: [.product(name: "AgentCoreForFuzzing", package: "csm-agent")],
                          swiftSettings: fuzzerFlags, linkerSettings: fuzzerLink),
    ]
)
