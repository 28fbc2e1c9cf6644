/// Line numbers of keys and tables in a parsed config, by dotted path, for error messages.
///
/// Arrays of tables get indices (`cameras[1].id`). Taken from the parsed tree, which records the
/// line of every key, so it agrees with the parser whatever the file's layout or line endings.
struct SourceMap {
    private var lines: [String: Int] = [:]

    init(_ root: TOMLTable) {
        record(root, prefix: "")
    }

    private mutating func record(_ table: TOMLTable, prefix: String) {
        for key in table.keys {
            guard let node = table[key] else { continue }
            let path = prefix.isEmpty ? key : "\(prefix).\(key)"
            lines[path] = node.line
            switch node.value {
            case let .table(t):
                lines[path] = t.line  // the header's line, also when a header defines it after a subtable
                record(t, prefix: path)
            case let .array(items, _):
                for (i, item) in items.enumerated() {
                    lines["\(path)[\(i)]"] = item.line
                    if case let .table(t) = item.value { record(t, prefix: "\(path)[\(i)]") }
                }
            default:
                break
            }
        }
    }

    /// The line of `path`, or of the closest enclosing table that appears in the text.
    func line(of path: String) -> Int? {
        var p = path
        while true {
            if let n = lines[p] { return n }
            if let dot = p.lastIndex(of: ".") {
                p = String(p[..<dot])
            } else if let bracket = p.lastIndex(of: "[") {
                p = String(p[..<bracket])
            } else {
                return nil
            }
        }
    }
}
