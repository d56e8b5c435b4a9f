// swift-tools-version:6.0
// SparseFleet: a multi-device federated edge-training simulator.
// Layout follows ../shared/design.md: pure Engine, Wire and Privacy, a thin Transport over libzmq,
// and three thin executables (coordinator, node, fleet).
import PackageDescription

/// Release builds target a CPU with AVX2/FMA on x86-64 so SIMD code compiles to real vector
/// FMAs instead of libm calls (see BENCHMARKS.md). Set SPARSEFLEET_PORTABLE=1 to build for
/// baseline x86-64, or SPARSEFLEET_TARGET_CPU=<name> to choose another CPU.
let targetCPU: String? = {
    let env = Context.environment
    if env["SPARSEFLEET_PORTABLE"] == "1" { return nil }
    if let cpu = env["SPARSEFLEET_TARGET_CPU"], !cpu.isEmpty { return cpu }
    #if arch(x86_64)
    return "haswell"
    #else
    return nil
    #endif
}()

let fastMath: [SwiftSetting] = targetCPU.map {
    [.unsafeFlags(["-target-cpu", $0], .when(configuration: .release))]
} ?? []

let commonSettings: [SwiftSetting] = [.swiftLanguageMode(.v5)]

/// The engine's integer kernels are plain Swift loops: debug builds (the test suite) optimise the
/// Engine target too, so that tests run the int8 device at a speed close to release.
let optimisedInDebug: [SwiftSetting] = [.unsafeFlags(["-O"], .when(configuration: .debug))]

let package = Package(
    name: "SparseFleet",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "Engine", targets: ["Engine"]),
        .library(name: "Wire", targets: ["Wire"]),
        .library(name: "Transport", targets: ["Transport"]),
        .library(name: "Privacy", targets: ["Privacy"]),
        .library(name: "SecureAggregation", targets: ["SecureAggregation"]),
        .executable(name: "coordinator", targets: ["Coordinator"]),
        .executable(name: "node", targets: ["Node"]),
        .executable(name: "fleet", targets: ["Fleet"]),
        .executable(name: "engine-bench", targets: ["EngineBench"]),
        .executable(name: "secagg-bench", targets: ["SecAggBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"4.0.0"),
    ],
    targets: [
        // System libraries (Debian: libzmq3-dev, libopenblas-dev, zlib1g-dev).
        .systemLibrary(name: "CZmq", pkgConfig: nil, providers: [.apt(["libzmq3-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),

        // The engine's AVX-512 kernels (the int8 GEMM on VNNI, requantisation, depthwise, the QAS
        // update, small-column fp32 GEMMs), chosen at run time (`Kernels`); optimised in debug builds
        // too, like Engine. No floating-point contraction: the QAS kernel must round as Swift does.
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O2", "-ffp-contract=off"])]),
        .target(name: "Engine", dependencies: ["COpenBLAS", "CZlib", "CKernels"],
                swiftSettings: commonSettings + fastMath + optimisedInDebug),
        .target(name: "Wire", dependencies: [
            .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        ], swiftSettings: commonSettings + fastMath),
        .target(name: "Transport", dependencies: ["CZmq"], swiftSettings: commonSettings),
        // Pure: the privacy accountant, clipping, seeded Gaussian noise and membership-inference
        // scoring (later secure aggregation); no sockets. Engine only for its seeded generator.
        .target(name: "Privacy", dependencies: ["Engine"], swiftSettings: commonSettings),
        // Pure: secure aggregation of sparse deltas (SecAgg+: X25519 + HKDF key agreement, ChaCha20
        // mask streams, Shamir sharing over GF(2^61 - 1), ring quantisation); no sockets.
        .target(name: "SecureAggregation", dependencies: [
            .product(name: "Crypto", package: "swift-crypto"),
        ], swiftSettings: commonSettings),
        .target(name: "Federation", dependencies: [
            "Engine", "Wire", "Transport", "Privacy", "SecureAggregation",
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: commonSettings),

        .executableTarget(name: "Coordinator", dependencies: [
            "Engine", "Wire", "Transport", "Federation",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: commonSettings),
        .executableTarget(name: "Node", dependencies: [
            "Engine", "Wire", "Transport", "Federation",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: commonSettings),
        // The library behind `fleet`: topologies, the launcher, summaries, reports and machine checks.
        .target(name: "FleetKit", dependencies: [
            "Engine", "Wire", "Transport", "Federation",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Yams", package: "Yams"),
        ], swiftSettings: commonSettings),
        .executableTarget(name: "Fleet", dependencies: [
            "FleetKit", "Engine", "Wire", "Transport", "Federation",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: commonSettings),

        .executableTarget(name: "EngineBench", dependencies: ["Engine", "CKernels"], swiftSettings: commonSettings + fastMath),
        .executableTarget(name: "SecAggBench", dependencies: ["Federation", "Engine", "Wire"], swiftSettings: commonSettings),

        // Privacy only for the membership-inference leak tests (attack metrics on a trained tiny net).
        .testTarget(name: "EngineTests", dependencies: ["Engine", "Privacy"], exclude: ["Fixtures"], swiftSettings: commonSettings),
        .testTarget(name: "WireTests", dependencies: ["Wire"], swiftSettings: commonSettings),
        .testTarget(name: "TransportTests", dependencies: ["Transport", "Wire"], swiftSettings: commonSettings),
        .testTarget(name: "FederationTests", dependencies: [
            "Federation", "Engine", "Wire", "Transport", "Privacy", "SecureAggregation", .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: commonSettings),
        .testTarget(name: "EndToEndTests", dependencies: ["Engine"], swiftSettings: commonSettings),
        .testTarget(name: "SecureAggregationTests", dependencies: ["SecureAggregation"], swiftSettings: commonSettings),
        .testTarget(name: "PrivacyTests", dependencies: ["Privacy"], exclude: ["Fixtures"], swiftSettings: commonSettings),
        .testTarget(name: "FleetTests", dependencies: ["FleetKit", "Federation", "Engine"], exclude: ["Fixtures"], swiftSettings: commonSettings),
    ]
)
