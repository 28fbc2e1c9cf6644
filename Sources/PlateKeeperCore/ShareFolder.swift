import Foundation

/// Where the data installed with PlateKeeper (the glyph model, TestFrames) is looked for, in
/// order: `share/platekeeper` beside the binary's folder (any prefix), `/usr/local/share/platekeeper`
/// (`systemd/install`), `/usr/share/platekeeper` (the Debian package), then, for a development
/// build, the source tree: `source` in each of the six folders above the binary (`.build/…`).
public enum ShareFolder {
    public static func candidates(_ name: String, source: String, executable: String = CommandLine.arguments.first ?? "") -> [String] {
        let exe = URL(fileURLWithPath: executable).resolvingSymlinksInPath().deletingLastPathComponent()
        var paths = [
            exe.appendingPathComponent("../share/platekeeper/\(name)").standardized.path,
            "/usr/local/share/platekeeper/\(name)",
            "/usr/share/platekeeper/\(name)",
        ]
        var dir = exe
        for _ in 0..<6 {
            paths.append(dir.appendingPathComponent(source).path)
            dir = dir.deletingLastPathComponent()
        }
        return paths
    }

    /// The first of `paths` that exists, if any.
    public static func firstExisting(_ paths: [String]) -> String? {
        paths.first { FileManager.default.fileExists(atPath: $0) }
    }
}
