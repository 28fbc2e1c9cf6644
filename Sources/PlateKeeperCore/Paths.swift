/// Path arithmetic on strings, for paths that come from outside (arguments, config).
///
/// Foundation's `NSString.deletingLastPathComponent` traps on a one-character path such as `a`
/// (swift-corelibs-foundation, Swift 6.3), so the folder of a path is computed here instead.
public enum Paths {
    /// The folder holding `path`: "" for a bare name (the working directory), "/" for a file at
    /// the root; trailing slashes are ignored, as a shell would.
    public static func folder(of path: String) -> String {
        var p = Substring(path)
        while p.count > 1, p.last == "/" { p = p.dropLast() }
        guard let slash = p.lastIndex(of: "/") else { return "" }
        var folder = p[..<slash]
        while folder.count > 1, folder.last == "/" { folder = folder.dropLast() }
        return folder.isEmpty ? "/" : String(folder)
    }

    /// The last component of `path` (the file's name), trailing slashes ignored.
    public static func lastComponent(of path: String) -> String {
        var p = Substring(path)
        while p.count > 1, p.last == "/" { p = p.dropLast() }
        return String(p.split(separator: "/", omittingEmptySubsequences: false).last ?? p)
    }
}
