// swift-tools-version:6.0
import PackageDescription

/// libFuzzer harness for PlateKeeper's inputs from outside. A package of its own so that the
/// fuzzer build (`-sanitize=fuzzer,address`, no `main`) never touches the unit's build: `Fuzz/run`
/// builds and runs it. The entry points themselves live in the main package (FuzzTargets), where
/// the tests run every corpus seed and regression input through them.
let package = Package(
    name: "PlateKeeperFuzz",
    dependencies: [.package(name: "PlateKeeper", path: "..")],
    targets: [
        .executableTarget(
            name: "PlateKeeperFuzz",
            dependencies: [.product(name: "FuzzTargets", package: "PlateKeeper")],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),
    ],
    swiftLanguageModes: [.v6]
)
