// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "csm-agent",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "csm-agent", targets: ["csm-agent"]),
        // For the fuzzers in fuzz/ (a package of their own, built with libFuzzer).
        .library(name: "AgentCoreForFuzzing", targets: ["AgentCore"]),
        .library(name: "ProbesForFuzzing", targets: ["Probes"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // libbpf and the shared record layout (bpf/include/events.h), imported through a module map.
        .systemLibrary(name: "CLibBPF", pkgConfig: "libbpf"),
        // The compiled BPF object, embedded with #embed when `make bpf` has produced it.
        .target(name: "CEmbeddedBPF"),
        // policy/default.policy, embedded with #embed: the rules the agent runs when given none.
        .target(name: "CEmbeddedPolicy"),
        // Event model, resolvers and the SECL rule engine. No libbpf here.
        .target(
            name: "AgentCore",
            // Crypto: the hash action's digests (sha1, sha256, md5).
            dependencies: [.product(name: "Yams", package: "Yams"), .product(name: "Crypto", package: "swift-crypto")],
            // Release builds skip the run-time exclusivity checks on class properties: the rule engine
            // and the serializer read ProcessEntry fields in their inner loops, and the checks cost
            // 40% of rule evaluation (bench/rules). Debug builds, which the unit tests use, keep them.
            swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]
        ),
        // JSON output. Never imports CLibBPF.
        .target(name: "Serializers", dependencies: ["AgentCore"]),
        // Loading, attaching, draining and decoding.
        .target(
            name: "Probes",
            dependencies: [
                "CLibBPF", "CEmbeddedBPF", "AgentCore",
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        .executableTarget(
            name: "csm-agent",
            dependencies: [
                "Probes", "AgentCore", "Serializers", "CEmbeddedPolicy",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .testTarget(name: "AgentCoreTests", dependencies: ["AgentCore"]),
        // Validates JSON lines against the schema copy (for the test targets only).
        .target(name: "SchemaValidation", path: "Tests/SchemaValidation"),
        .testTarget(name: "RulesTests", dependencies: ["AgentCore", "Serializers", "SchemaValidation"]),
        .testTarget(name: "SerializersTests", dependencies: ["Serializers", "AgentCore", "SchemaValidation"]),
        .testTarget(name: "ProbesTests", dependencies: ["Probes", "CLibBPF", "CEmbeddedBPF", "AgentCore"]),
    ],
    swiftLanguageModes: [.v5]
)
