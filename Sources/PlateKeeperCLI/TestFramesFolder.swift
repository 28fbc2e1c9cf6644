import ArgumentParser
import Foundation
import PlateKeeperCore

/// Where the bench commands find TestFrames when no path is given: the current folder (a source
/// checkout), then where installed data is looked for (`ShareFolder`: beside the binary,
/// `/usr/local/share`, `/usr/share`, a development build's source tree). Nothing found is a usage
/// error that says what to pass.
enum TestFramesFolder {
    static func candidates() -> [String] {
        [FileManager.default.currentDirectoryPath + "/TestFrames"] + ShareFolder.candidates("TestFrames", source: "TestFrames")
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
