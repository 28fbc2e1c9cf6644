// swift-tools-version:6.0
import PackageDescription

/// PlateKeeper: an edge daemon for licence plate reader units.
///
/// Dependencies point one way: capture → recognition → journal → upload, each stage
/// depending only on `PlateKeeperCore` (plain domain types) and its own C bindings.
/// The CLI wires the stages together.
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "PlateKeeper",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "platekeeper", targets: ["platekeeper"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // C libraries: one thin system-library target each (module map, pkg-config, apt provider).
        .systemLibrary(name: "CTesseract", pkgConfig: "tesseract", providers: [.apt(["libtesseract-dev"])]),
        .systemLibrary(name: "CLeptonica", pkgConfig: "lept", providers: [.apt(["libleptonica-dev"])]),
        .systemLibrary(name: "CTurboJPEG", pkgConfig: "libturbojpeg", providers: [.apt(["libturbojpeg0-dev"])]),
        .systemLibrary(name: "CV4L2", pkgConfig: "libv4l2", providers: [.apt(["libv4l-dev"])]),

        // Plain domain types, no C.
        .target(name: "PlateKeeperCore", swiftSettings: strict),
        // Image buffers and codecs: JPEG (libjpeg-turbo), PNG and PIX (Leptonica), raw V4L2 layouts.
        .target(name: "Imaging", dependencies: ["PlateKeeperCore", "CTurboJPEG", "CLeptonica"], swiftSettings: strict),
        // Frame sources: recorded frames and recordings (replay); V4L2 devices.
        .target(name: "Capture", dependencies: ["PlateKeeperCore", "Imaging", "CV4L2"], swiftSettings: strict),
        // Plate localisation, OCR (Tesseract) and plate-format rules.
        .target(name: "Recognition", dependencies: ["PlateKeeperCore", "Imaging", "CTesseract", "CLeptonica"], swiftSettings: strict),
        // Ground truth and accuracy scoring for `platekeeper bench accuracy`.
        .target(name: "Evaluation", dependencies: ["PlateKeeperCore"], swiftSettings: strict),
        // The subcommands; wires capture, recognition and evaluation.
        .target(
            name: "PlateKeeperCLI",
            dependencies: [
                "PlateKeeperCore", "Imaging", "Capture", "Recognition", "Evaluation",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(name: "platekeeper", dependencies: ["PlateKeeperCLI"], swiftSettings: strict),
        // Test helpers: temporary folders, repository paths, running the executable.
        .target(name: "PlateKeeperTesting", swiftSettings: strict),

        .testTarget(name: "PlateKeeperCoreTests", dependencies: ["PlateKeeperCore"], swiftSettings: strict),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging", "PlateKeeperCore", "PlateKeeperTesting"], swiftSettings: strict),
        .testTarget(name: "CaptureTests", dependencies: ["Capture", "Imaging", "PlateKeeperCore", "PlateKeeperTesting"], swiftSettings: strict),
        .testTarget(name: "RecognitionTests", dependencies: ["Recognition", "Imaging", "Capture", "PlateKeeperCore", "PlateKeeperTesting"], swiftSettings: strict),
        .testTarget(name: "EvaluationTests", dependencies: ["Evaluation", "PlateKeeperCore", "PlateKeeperTesting"], swiftSettings: strict),
        .testTarget(name: "EndToEndTests", dependencies: ["platekeeper", "Imaging", "PlateKeeperCore", "PlateKeeperTesting"], swiftSettings: strict),
    ],
    swiftLanguageModes: [.v6]
)
