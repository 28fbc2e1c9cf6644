import ArgumentParser
import Foundation

/// Where the bench commands find TestFrames when no path is given: the current folder (a source
/// checkout), then the install's share folder (`../share/platekeeper` beside the binary,
/// `/usr/share/platekeeper`, `/usr/local/share/platekeeper`), then a development build's source
/// tree above `.build`. Nothing found is a usage error that says what to pass.
enum TestFramesFolder {
    static func candidates(executable: String = CommandLine.arguments.first ?? "") -> [String] {
        let exe = URL(fileURLWithPath: executable).resolvingSymlinksInPath().deletingLastPathComponent()
        var paths = [
            FileManager.default.currentDirectoryPath + "/TestFrames",
            exe.appendingPathComponent("../share/platekeeper/TestFrames").standardized.path,
            "/usr/share/platekeeper/TestFrames",
            "/usr/local/share/platekeeper/TestFrames",
        ]
        var dir = exe
        for _ in 0..<6 {
            paths.append(dir.appendingPathComponent("TestFrames").path)
            dir = dir.deletingLastPathComponent()
        }
        return paths
    }

    /// The first TestFrames folder found, with `sub` (e.g. `pass-day`) appended.
    static func find(_ sub: String = "") throws -> String {
        let all = candidates()
        for folder in all {
            var isDirectory: ObjCBool = false
            let path = sub.isEmpty ? folder : (folder as NSString).appendingPathComponent(sub)
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue { return path }
        }
        throw ValidationError(
            "no TestFrames\(sub.isEmpty ? "" : "/" + sub) found (looked in \(all.prefix(4).joined(separator: ", ")) and above the binary); pass a recording folder")
    }
}
