// swift-tools-version:6.0
// Benchmark of the SECL rule engine. A separate package so the root Package.swift stays free of
// benchmark targets; it builds the root package's AgentCore sources through the symlink
// Sources/AgentCore -> ../../../Sources/AgentCore (the root package exports no library product).
import PackageDescription

let package = Package(
    name: "rules-bench",
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        .target(name: "AgentCore", dependencies: [.product(name: "Yams", package: "Yams")],
                swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]),
        .executableTarget(name: "RulesBench", dependencies: ["AgentCore"]),
    ],
    swiftLanguageModes: [.v5]
)
