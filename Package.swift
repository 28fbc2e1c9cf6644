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
        // For the fuzzing package in Fuzz/, which builds these entry points with libFuzzer.
        .library(name: "FuzzTargets", targets: ["FuzzTargets"]),
        // For the central store in store/, which speaks the same upload contract.
        .library(name: "WireFormat", targets: ["WireFormat"]),
        // For the store's tests and benchmarks, which drive the real uploader and journal.
        .library(name: "Upload", targets: ["Upload"]),
        .library(name: "Journal", targets: ["Journal"]),
        .library(name: "PlateKeeperTesting", targets: ["PlateKeeperTesting"]),
        .library(name: "PlateKeeperCore", targets: ["PlateKeeperCore"]),
        // For the store's audit trail of queries: the same hash-chained entries as the unit's.
        .library(name: "Audit", targets: ["Audit"]),
        // For the store's sealing of plate data under per-day keys: the unit's one cryptography.
        .library(name: "Cryptography", targets: ["Cryptography"]),
        // For the store's pseudonymised release and transparency report: the unit's own.
        .library(name: "PublicRelease", targets: ["PublicRelease"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // SHA-256 for the audit trail's hash chain (and, next, the authenticated cipher for
        // encryption at rest); the same range as the store's.
    ],
    targets: [
        // C libraries: one thin system-library target each (module map, pkg-config, apt provider).
        .systemLibrary(name: "CTesseract", pkgConfig: "tesseract", providers: [.apt(["libtesseract-dev"])]),
        .systemLibrary(name: "CLeptonica", pkgConfig: "lept", providers: [.apt(["libleptonica-dev"])]),
        .systemLibrary(name: "CTurboJPEG", pkgConfig: "libturbojpeg", providers: [.apt(["libturbojpeg0-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CV4L2", pkgConfig: "libv4l2", providers: [.apt(["libv4l-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CLibCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        // OpenCV's DNN module, which is C++: a small C shim (load an ONNX network, run it) over
        // Debian's libopencv-dnn-dev. No pkg-config file: opencv4.pc comes only with libopencv-dev,
        // which pulls every OpenCV module, so the header folder and the two libraries are named.
        .target(
            name: "COpenCVDNN",
            cxxSettings: [.unsafeFlags(["-I/usr/include/opencv4"])],
            linkerSettings: [.linkedLibrary("opencv_dnn"), .linkedLibrary("opencv_core")]
        ),
        // glibc calls missing from Swift's Glibc module (adjtimex for the clock state).
        .systemLibrary(name: "CLinux"),

        // Plain domain types, no C.
        .target(name: "PlateKeeperCore", swiftSettings: strict),
        // Image buffers and codecs: JPEG (libjpeg-turbo), PNG (libpng), PGM, PIX (Leptonica), raw V4L2 layouts.
        .target(name: "Imaging", dependencies: ["PlateKeeperCore", "CTurboJPEG", "CPNG", "CLeptonica"], swiftSettings: strict),
        // Frame sources: recorded frames and recordings (replay); V4L2 devices.
        .target(name: "Capture", dependencies: ["PlateKeeperCore", "Imaging", "CV4L2", "CLinux"], swiftSettings: strict),
        // Plate localisation (a learned detector through OpenCV DNN, and a character-row finder),
        // OCR (Tesseract, a glyph classifier) and plate-format rules.
        .target(name: "Recognition", dependencies: ["PlateKeeperCore", "Imaging", "CTesseract", "CLeptonica", "COpenCVDNN"], swiftSettings: strict),
        // The upload contract's one JSON spelling of read events, batches and replies (gzip bodies),
        // shared by `journal export`, the uploader and the store.
        .target(name: "WireFormat", dependencies: ["PlateKeeperCore", "CZlib"], swiftSettings: strict),
        // What the benchmarks measure and how: ground truth and accuracy scoring (`bench accuracy`),
        // simulated vehicle passes and per-vehicle scoring through the daemon's grouping (`bench vehicles`).
        .target(name: "Evaluation", dependencies: ["PlateKeeperCore", "Grouping"], swiftSettings: strict),
        // Turning the many reads of one vehicle into one read event (per-character voting).
        .target(name: "Grouping", dependencies: ["PlateKeeperCore"], swiftSettings: strict),
        // Where the unit was: its sources (gpsd, a serial NMEA receiver, a fixed position, a
        // recording), a short track of fixes, the position at a capture time (interpolated, carried
        // for a bounded time, or marked stale / missing).
        .target(name: "Position", dependencies: ["PlateKeeperCore", .product(name: "Logging", package: "swift-log")], swiftSettings: strict),
        // The read-event chain: grouping → enrichers (position; hotlist and retention class next) →
        // a sink that commits with retry. Protocols and an injected clock; no I/O of its own.
        .target(
            name: "EventChain",
            dependencies: ["Grouping", "PlateKeeperCore", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        // Hotlists: CSV files of wanted plates, loaded with line-numbered problems, matched with a
        // look-alike fold and a bounded edit distance (the event chain's hotlist enricher uses it).
        .target(name: "Hotlist", dependencies: ["PlateKeeperCore"], swiftSettings: strict),
        // AES-256-GCM, SHA-256, HMAC and random bytes from the system's OpenSSL (Cryptography.swift
        // says why not swift-crypto); keys wiped when freed.
        .target(name: "Cryptography", dependencies: ["CLibCrypto"], swiftSettings: strict),
        // The audit trail: an append-only, hash-chained log of every read-out of plate data, and
        // its verification (`platekeeper audit verify`).
        .target(name: "Audit", dependencies: ["PlateKeeperCore", "Cryptography"], swiftSettings: strict),
        // Public release: pseudonymised exports (keyed tokens under a throwaway key, coarse time
        // and place, k-suppression) and the transparency report (numbers only, JSON and a page).
        .target(
            name: "PublicRelease",
            dependencies: ["PlateKeeperCore", "Journal", "Audit", "Cryptography"],
            swiftSettings: strict
        ),
        // The durable on-disk journal of read events (SQLite through GRDB): quota, retention by class,
        // deletion log, export; personal fields sealed at rest (AES-GCM, Cryptography) when keyed.
        .target(
            name: "Journal",
            dependencies: [
                "PlateKeeperCore", "WireFormat", "Cryptography", .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strict
        ),
        // Sending the journal to the central store: batches, acknowledgement by id, backoff, dead
        // letters; HTTP through libcurl (CurlTransport.swift says why).
        .target(
            name: "Upload",
            dependencies: ["PlateKeeperCore", "WireFormat", "Journal", "CCurl", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        // platekeeper.toml: its own TOML parser (TOML.swift says why), typed, validated settings,
        // errors with line and key.
        .target(name: "Config", dependencies: ["PlateKeeperCore"], swiftSettings: strict),
        // `platekeeper run`: wires capture → recognition → grouping → journal → upload as services,
        // serves status, talks to systemd, writes Prometheus metrics (swift-metrics → swift-prometheus).
        .target(
            name: "Daemon",
            dependencies: [
                "PlateKeeperCore", "Imaging", "Capture", "Recognition", "Grouping", "EventChain", "Position", "Journal", "Upload", "Config",
                "Hotlist", "Cryptography",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strict
        ),
        // The subcommands; wires capture, recognition and evaluation.
        .target(
            name: "PlateKeeperCLI",
            dependencies: [
                "PlateKeeperCore", "Imaging", "Capture", "Recognition", "Evaluation", "Grouping", "Position", "Config", "Journal", "WireFormat",
                "Daemon", "Hotlist", "Audit", "PublicRelease",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(name: "platekeeper", dependencies: ["PlateKeeperCLI"], swiftSettings: strict),
        // The entry points libFuzzer drives (Fuzz/), one per input from outside; also run by tests.
        .target(name: "FuzzTargets", dependencies: ["PlateKeeperCore", "Imaging", "Capture", "Config", "Journal", "Position", "WireFormat"], swiftSettings: strict),
        // Test helpers: temporary folders, repository paths, running the executable, a real gpsd.
        .target(name: "PlateKeeperTesting", dependencies: ["PlateKeeperCore", "WireFormat", "Position", "CLinux"], swiftSettings: strict),

        .testTarget(name: "PlateKeeperCoreTests", dependencies: ["PlateKeeperCore"], swiftSettings: strict),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging", "PlateKeeperCore", "PlateKeeperTesting"], swiftSettings: strict),
        .testTarget(name: "CaptureTests", dependencies: ["Capture", "CV4L2", "Imaging", "PlateKeeperCore", "PlateKeeperTesting"], swiftSettings: strict),
        .testTarget(name: "RecognitionTests", dependencies: ["Recognition", "Imaging", "Capture", "PlateKeeperCore", "PlateKeeperTesting"], swiftSettings: strict),
        .testTarget(name: "EvaluationTests", dependencies: ["Evaluation", "Grouping", "PlateKeeperCore", "PlateKeeperTesting"], swiftSettings: strict),
        .testTarget(name: "WireFormatTests", dependencies: ["WireFormat", "PlateKeeperCore"], resources: [.copy("Golden")], swiftSettings: strict),
        .testTarget(
            name: "UploadTests",
            dependencies: ["Upload", "Journal", "WireFormat", "PlateKeeperCore", "PlateKeeperTesting", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .testTarget(name: "HotlistTests", dependencies: ["Hotlist", "PlateKeeperCore", "PlateKeeperTesting"], swiftSettings: strict),
        .testTarget(name: "PublicReleaseTests", dependencies: ["PublicRelease", "Journal", "Audit", "Cryptography", "PlateKeeperCore", "PlateKeeperTesting"], swiftSettings: strict),
        .testTarget(name: "CryptographyTests", dependencies: ["Cryptography", "PlateKeeperCore"], swiftSettings: strict),
        .testTarget(name: "AuditTests", dependencies: ["Audit", "PlateKeeperCore", "PlateKeeperTesting"], swiftSettings: strict),
        .testTarget(name: "GroupingTests", dependencies: ["Grouping", "PlateKeeperCore"], swiftSettings: strict),
        .testTarget(
            name: "PositionTests",
            dependencies: ["Position", "PlateKeeperCore", "PlateKeeperTesting", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "EventChainTests",
            dependencies: ["EventChain", "Grouping", "PlateKeeperCore", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "JournalTests",
            dependencies: ["Journal", "PlateKeeperCore", "PlateKeeperTesting", .product(name: "GRDB", package: "GRDB.swift")],
            // A journal file of every earlier schema version, as units in the field hold them.
            resources: [.copy("Fixtures")],
            swiftSettings: strict
        ),
        .testTarget(name: "ConfigTests", dependencies: ["Config", "PlateKeeperCore", "PlateKeeperTesting"], swiftSettings: strict),
        .testTarget(
            name: "DaemonTests",
            dependencies: [
                "platekeeper", "Daemon", "Capture", "Journal", "Config", "Grouping", "EventChain", "Position", "PlateKeeperCore", "PlateKeeperTesting",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // Real V4L2 ioctls against the kernel's vivid driver in a throwaway VM (../shared/v4l2vm).
        .testTarget(
            name: "V4L2VMTests",
            dependencies: ["platekeeper", "Capture", "Imaging", "Daemon", "PlateKeeperCore", "PlateKeeperTesting"],
            swiftSettings: strict
        ),
        .testTarget(name: "FuzzTargetsTests", dependencies: ["FuzzTargets", "PlateKeeperTesting"], swiftSettings: strict),
        .testTarget(name: "EndToEndTests", dependencies: ["platekeeper", "Config", "Imaging", "PlateKeeperCore", "PlateKeeperTesting"], swiftSettings: strict),
    ],
    swiftLanguageModes: [.v6]
)
