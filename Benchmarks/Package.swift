// swift-tools-version: 6.1
// Benchmarks, kept out of the service's default build. Run: bash scripts/bench-codec.sh
import PackageDescription

let package = Package(
    name: "UltraCoreHoldingsBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "UltraCoreHoldings", path: "..")],
    targets: [
        .executableTarget(
            name: "codec-benchmark",
            dependencies: [.product(name: "HoldingsProto", package: "UltraCoreHoldings")]),
    ],
    swiftLanguageModes: [.v6]
)
