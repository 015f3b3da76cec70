// swift-tools-version: 6.1
import PackageDescription

// Targets split by concern (STYLE.md): protocol-free vocabulary, crypto, each protocol, the
// simulator shell, checkers, scenario loading, the run harness that ties them, and the CLI.
/// Release builds of the simulation stack: cross-module optimisation lets the codec, PRNG and
/// digests inline into protocol code. Preconditions stay on (no -Ounchecked). Dynamic exclusivity
/// enforcement (a runtime check of Swift's law of exclusivity on class properties and globals) is off in
/// release builds only: it cost ~14% of the simulator's instructions. Debug builds, which the test
/// suite runs, keep it, so an exclusivity violation is still caught there. `-disable-type-layout` makes
/// the compiler emit the copies and destroys of large structs and enums (an optional PRE-PREPARE, a
/// decoded message) field by field instead of calling their generic value witnesses through type
/// metadata, which cost ~100 instructions a destroy: −2.5 % instructions per event (issue 19).
let fast: [SwiftSetting] = [.unsafeFlags(["-cross-module-optimization", "-enforce-exclusivity=unchecked",
                                          "-Xfrontend", "-disable-type-layout"],
                                         .when(configuration: .release))]

let package = Package(
    name: "bftsim",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "bftsim", targets: ["bftsim"]),
        .library(name: "BFTCore", targets: ["BFTCore"]),
        .library(name: "PBFT", targets: ["PBFT"]),
        .library(name: "HotStuff", targets: ["HotStuff"]),
        .library(name: "Simulation", targets: ["Simulation"]),
        .library(name: "Checkers", targets: ["Checkers"]),
        .library(name: "Runner", targets: ["Runner"]),
        .library(name: "Reporting", targets: ["Reporting"]),
        .library(name: "Fuzzing", targets: ["Fuzzing"]),
        .library(name: "Performance", targets: ["Performance"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        // Operating live replicas (issue 20): structured logs, metrics, Prometheus exposition.
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // libsodium through pkg-config; Debian/Ubuntu: apt-get install libsodium-dev.
        .systemLibrary(
            name: "CSodium",
            pkgConfig: "libsodium",
            providers: [.apt(["libsodium-dev"]), .brew(["libsodium"])]
        ),
        // Vocabulary shared by every protocol: identities, the replica boundary (inputs, actions,
        // observations), canonical byte codec, PRNG, digests, client requests/replies, the KV store.
        .target(name: "BFTCore", dependencies: ["CSodium"], swiftSettings: fast),
        // The deterministic test shell (EmbeddedCluster): any protocol's machines behind StateMachine,
        // messages and timers moved only when a test says so, batches through Runtime.interpret. No IO.
        .target(name: "ReplicaTesting", dependencies: ["BFTCore"]),
        // Signature schemes (Ed25519, keyed BLAKE2b "fast"), key derivation, verification cache.
        .target(name: "BFTCrypto", dependencies: ["BFTCore", "CSodium"], swiftSettings: fast),
        // PBFT (Castro & Liskov, OSDI'99 / TOCS'02), signature variant. Sans-IO.
        .target(name: "PBFT", dependencies: ["BFTCore"], swiftSettings: fast),
        // HotStuff (Yin et al., PODC'19), chained and two-chain (Jolteon/DiemBFT v4) variants. Sans-IO.
        .target(name: "HotStuff", dependencies: ["BFTCore"], swiftSettings: fast),
        // Scenario model and YAML/JSON loading with file:line:column errors.
        .target(name: "ScenarioFormat", dependencies: ["BFTCore", .product(name: "Yams", package: "Yams")]),
        // Discrete-event simulator shell: virtual time, network model, timeline, trace.
        .target(name: "Simulation", dependencies: [
            "BFTCore", "ScenarioFormat", "CSodium",
            .product(name: "DequeModule", package: "swift-collections"),
        ], swiftSettings: fast),
        // Safety and liveness checkers over observations (never simulator internals).
        .target(name: "Checkers", dependencies: ["BFTCore", .product(name: "Histogram", package: "hdrhistogram-swift")], swiftSettings: fast),
        // Builds a run from a scenario: protocol factory, crypto, simulator, checkers, outputs.
        .target(name: "Runner", dependencies: [
            "BFTCore", "BFTCrypto", "PBFT", "HotStuff", "ScenarioFormat", "Simulation", "Checkers", "RunRecords",
            .product(name: "Histogram", package: "hdrhistogram-swift"),
        ], swiftSettings: fast),
        // The run and campaign records (summary.json, campaign.json) their writers and readers share.
        .target(name: "RunRecords", dependencies: ["ScenarioFormat"]),
        // Run reports (HTML with inline SVG, Markdown, JSON) from a run directory's summary and trace.
        .target(name: "Reporting", dependencies: ["BFTCore", "ScenarioFormat", "RunRecords", "PerformanceModel", .product(name: "Histogram", package: "hdrhistogram-swift")]),
        // Performance models over sweep points (issue 15): USL fit, mean-value analysis, sweep records.
        .target(name: "PerformanceModel", dependencies: ["BFTCore"]),
        // `bftsim sweep` and `calibrate`: grids of costed simulated runs, live clusters for the same points.
        .target(name: "Performance", dependencies: [
            "BFTCore", "ScenarioFormat", "Runner", "Simulation", "Reporting", "PerformanceModel",
        ]),
        // Fault-schedule fuzzing: swarm, guided and Twins generators, campaigns, shrinking, sharding.
        .target(name: "Fuzzing", dependencies: [
            "BFTCore", "ScenarioFormat", "Runner", "Checkers", "Simulation", "PBFT", "HotStuff", "RunRecords",
        ], swiftSettings: fast),
        // Live mode: the same replicas over TCP (SwiftNIO channel handlers), keys, cluster files,
        // a process launcher, a load generator and live faults.
        .target(name: "Live", dependencies: [
            "BFTCore", "BFTCrypto", "PBFT", "HotStuff", "Runner", "RunRecords", "ScenarioFormat", "Checkers", "CSodium",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "Histogram", package: "hdrhistogram-swift"),
            .product(name: "HeapModule", package: "swift-collections"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], swiftSettings: fast),
        // Bounded exhaustive exploration of the real replicas (issue 17): sleep sets, state caching,
        // the ordinary checkers at every state, violations written as replayable scheduled scenarios.
        .target(name: "Explore", dependencies: [
            "BFTCore", "BFTCrypto", "ScenarioFormat", "Runner", "Checkers", "Simulation",
        ], swiftSettings: fast),
        .executableTarget(name: "bftsim", dependencies: [
            "Runner", "ScenarioFormat", "BFTCore", "Simulation", "Reporting", "Fuzzing", "Live", "RunRecords", "Explore", "Performance", "PerformanceModel",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "BFTCoreTests", dependencies: ["BFTCore", "BFTCrypto"]),
        .testTarget(name: "BFTCryptoTests", dependencies: ["BFTCrypto", "BFTCore"]),
        .testTarget(name: "PBFTTests", dependencies: ["PBFT", "BFTCore", "BFTCrypto", "ReplicaTesting"], resources: [.copy("Golden")]),
        .testTarget(name: "HotStuffTests", dependencies: ["HotStuff", "BFTCore", "BFTCrypto", "ReplicaTesting"]),
        .testTarget(name: "ScenarioFormatTests", dependencies: ["ScenarioFormat", "BFTCore"]),
        .testTarget(name: "SimulationTests", dependencies: ["Simulation", "BFTCore", "BFTCrypto", "ScenarioFormat"]),
        .testTarget(name: "CheckersTests", dependencies: ["Checkers", "BFTCore"]),
        .testTarget(name: "ReportingTests", dependencies: ["Reporting", "RunRecords", "Runner", "PBFT", "BFTCore", "ScenarioFormat", "Simulation"]),
        .testTarget(name: "FuzzingTests", dependencies: ["Fuzzing", "Runner", "ScenarioFormat", "BFTCore", "Checkers"], exclude: ["Findings"]),
        .testTarget(name: "LiveTests", dependencies: ["Live", "BFTCore", "BFTCrypto", "Runner", "PBFT", "ScenarioFormat", "ReplicaTesting",
                                                 .product(name: "NIOPosix", package: "swift-nio"),
                                                 .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "ExploreTests", dependencies: ["Explore", "Fuzzing", "Runner", "ScenarioFormat", "BFTCore", "Checkers"]),
        .testTarget(name: "PerformanceTests", dependencies: ["Performance", "PerformanceModel", "ScenarioFormat", "Runner", "BFTCore"]),
        .testTarget(name: "RunnerTests", dependencies: ["Runner", "PBFT", "HotStuff", "BFTCore", "BFTCrypto", "ScenarioFormat", "Simulation", "Checkers"]),
    ],
    swiftLanguageModes: [.v6]
)
