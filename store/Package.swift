// swift-tools-version:6.0
import PackageDescription

/// The central store: receives read events from PlateKeeper units (docs/upload-api.md) and keeps
/// them in PostgreSQL. A package of its own so that its server dependencies (SwiftNIO, Hummingbird,
/// postgres-nio) stay out of the unit's build and binary; it shares the unit's `WireFormat` module,
/// the one spelling of the contract.
let package = Package(
    name: "PlateKeeperStore",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "platekeeper-store", targets: ["platekeeper-store"]),
    ],
    dependencies: [
        .package(name: "PlateKeeper", path: ".."),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // The store's HTTP routes, authentication, ingest and queries, on PostgreSQL.
        .target(
            name: "StoreCore",
            dependencies: [
                .product(name: "WireFormat", package: "PlateKeeper"),
                .product(name: "PlateKeeperCore", package: "PlateKeeper"),
                .product(name: "Audit", package: "PlateKeeper"),
                .product(name: "Cryptography", package: "PlateKeeper"),
                .product(name: "PublicRelease", package: "PlateKeeper"),
                .product(name: "Journal", package: "PlateKeeper"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
        ),
        .executableTarget(
            name: "platekeeper-store",
            dependencies: [
                "StoreCore", .product(name: "Audit", package: "PlateKeeper"), .product(name: "PublicRelease", package: "PlateKeeper"),
                .product(name: "PlateKeeperCore", package: "PlateKeeper"), .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
        ),
        // A private PostgreSQL server for tests and benchmarks.
        .target(
            name: "StoreTesting",
            dependencies: [
                .product(name: "PlateKeeperTesting", package: "PlateKeeper"), .product(name: "PlateKeeperCore", package: "PlateKeeper"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
        ),
        // `swift run -c release --package-path store store-bench`: throughput, a fleet, a backlog.
        .executableTarget(
            name: "store-bench",
            dependencies: [
                "StoreCore", "StoreTesting",
                .product(name: "Upload", package: "PlateKeeper"),
                .product(name: "Journal", package: "PlateKeeper"),
                .product(name: "WireFormat", package: "PlateKeeper"),
                .product(name: "PlateKeeperCore", package: "PlateKeeper"),
                .product(name: "PlateKeeperTesting", package: "PlateKeeper"),
            ],
            swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
        ),
        // Against a private PostgreSQL (initdb in a temporary folder) and the real unit uploader.
        .testTarget(
            name: "StoreTests",
            dependencies: [
                "StoreCore", "StoreTesting", .product(name: "Cryptography", package: "PlateKeeper"),
                .product(name: "Upload", package: "PlateKeeper"),
                .product(name: "Journal", package: "PlateKeeper"),
                .product(name: "WireFormat", package: "PlateKeeper"),
                .product(name: "PlateKeeperTesting", package: "PlateKeeper"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            // The test PKI generator, run by TLSTests from its path.
            exclude: ["Resources"],
            swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
