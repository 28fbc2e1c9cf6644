import Config
import Foundation
import PlateKeeperTesting
import Testing

/// The man pages and the example configuration against the code: every subcommand and option
/// the command tree has (`--experimental-dump-help`), every key the configuration loader knows.
@Suite("Documentation")
struct DocumentationTests {
    static func read(_ relative: String) throws -> String {
        try String(contentsOfFile: (TestPaths.repository as NSString).appendingPathComponent(relative), encoding: .utf8)
    }

    struct Command {
        var path: [String]
        var options: [String]
    }

    /// Every command of the tree with its displayed long options (no --help, --version).
    static func commands() throws -> [Command] {
        let result = try runCommand(TestPaths.executable, ["--experimental-dump-help"])
        let root = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        var commands: [Command] = []
        func walk(_ command: [String: Any], _ path: [String]) {
            let name = command["commandName"] as? String ?? ""
            let here = path + [name]
            guard name != "help" else { return }
            let options = (command["arguments"] as? [[String: Any]] ?? []).compactMap { argument -> String? in
                guard argument["shouldDisplay"] as? Bool != false, argument["kind"] as? String != "positional" else { return nil }
                let long = (argument["names"] as? [[String: Any]] ?? []).first { $0["kind"] as? String == "long" }?["name"] as? String
                return long.flatMap { ["help", "version"].contains($0) ? nil : "--" + $0 }
            }
            commands.append(Command(path: Array(here.dropFirst()), options: options))
            for sub in command["subcommands"] as? [[String: Any]] ?? [] { walk(sub, here) }
        }
        walk(try #require(root["command"] as? [String: Any]), [])
        return commands
    }

    /// roff writes `-` as `\-`; undo it so the text can be searched for option names.
    static func plain(_ roff: String) -> String { roff.replacingOccurrences(of: "\\-", with: "-") }

    @Test("platekeeper(8) names every subcommand and every option, and has EXIT STATUS and ENVIRONMENT")
    func manPageCoversCommands() throws {
        let page = Self.plain(try Self.read("docs/man/man8/platekeeper.8"))
        let commands = try Self.commands()
        #expect(commands.count >= 15)
        for command in commands where !command.path.isEmpty {
            let name = command.path.joined(separator: " ")
            #expect(page.contains("platekeeper \(name)"), "platekeeper(8) lacks `platekeeper \(name)`")
            // A command with subcommands of its own is a group: its subcommands have the sections.
            let isGroup = commands.contains { $0.path.count > command.path.count && Array($0.path.prefix(command.path.count)) == command.path }
            if isGroup { continue }
            guard let start = page.range(of: "\n.SS platekeeper \(name)\n") else {
                Issue.record("platekeeper(8) has no section `.SS platekeeper \(name)`")
                continue
            }
            // The command's own section: from its heading to the next .SS or .SH.
            let rest = page[start.upperBound...]
            let end = [rest.range(of: "\n.SS "), rest.range(of: "\n.SH ")].compactMap { $0?.lowerBound }.min() ?? rest.endIndex
            let body = rest[..<end]
            for option in command.options {
                #expect(body.contains(option), "platekeeper(8), platekeeper \(name): \(option) is not described")
            }
        }
        for heading in [".SH EXIT STATUS", ".SH ENVIRONMENT", ".SH FILES"] {
            #expect(page.contains(heading), "platekeeper(8) lacks \(heading)")
        }
        for variable in ["JOURNAL_STREAM", "NOTIFY_SOCKET", "WATCHDOG_USEC", "CREDENTIALS_DIRECTORY", "PLATEKEEPER_GLYPH_MODEL", "PLATEKEEPER_PLATE_DETECTOR", "TESSDATA_PREFIX", "OMP_THREAD_LIMIT"] {
            #expect(page.contains(variable), "platekeeper(8), ENVIRONMENT: \(variable)")
        }
    }

    @Test("platekeeper.toml(5) and docs/platekeeper.toml describe every key the loader knows, in its section, and no other")
    func configReferenceCoversKeys() throws {
        let page = Self.plain(try Self.read("docs/man/man5/platekeeper.toml.5"))
        let example = try Self.read("docs/platekeeper.toml")
        let sections = page.components(separatedBy: "\n.SH ")
        for (section, keys) in ConfigLoader.knownKeys {
            let heading = section == "cameras" ? "[[cameras]]" : "[\(section)]"
            let body = try #require(sections.first { $0.hasPrefix(heading) }, "platekeeper.toml(5) has no .SH \(heading)")
            // A key is described where a .B/.BR line names it (as the first word or a later one).
            let described = Set(body.split(separator: "\n").filter { $0.hasPrefix(".B ") || $0.hasPrefix(".BR ") }.flatMap { line in
                line.split(separator: " ").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\",")) }
            })
            for key in keys {
                #expect(described.contains(key), "platekeeper.toml(5), \(heading): \(key) is not described")
                let inExample = example.range(of: "(^|\\n)#? ?\(key) = ", options: .regularExpression) != nil
                    || example.contains("[\(section).\(key)]")
                #expect(inExample, "docs/platekeeper.toml: \(key) (\(heading)) is not shown")
            }
            // Every .BR line's first word is a key of this section: nothing stale.
            for line in body.split(separator: "\n") where line.hasPrefix(".BR ") {
                let first = line.dropFirst(4).split(separator: " ").first.map(String.init) ?? ""
                #expect(keys.contains(first) || first.hasPrefix("["), "platekeeper.toml(5), \(heading): \(first) is not a key the loader knows")
            }
        }
    }

    @Test("replay --help names every format replay reads")
    func replayHelpFormats() throws {
        let help = try runCommand(TestPaths.executable, ["replay", "--help"]).stdout
        for format in ["JPEG", "PNG", "PGM", "GREY", "YUYV", "MJPG", "manifest.json"] {
            #expect(help.contains(format), "replay --help: \(format)")
        }
    }
}

/// What an operator sees on stderr when something is missing.
@Suite("Operator messages")
struct OperatorMessageTests {
    @Test("a file that is not a camera: one line of ours, nothing from libv4l2 or its plugins")
    func notACamera() throws {
        let result = try runCommand(TestPaths.executable, ["cameras", "/dev/null"])
        #expect(result.status == 1)
        #expect(result.stderr == "platekeeper: /dev/null: Inappropriate ioctl for device (v4l2_open, errno 25)\n", "\(result.stderr)")
    }

    /// TestFrames installed system-wide would be found from anywhere: then this cannot be tried here.
    static let testFramesInstalled = ["/usr/share/platekeeper/TestFrames/pass-day", "/usr/local/share/platekeeper/TestFrames/pass-day"]
        .contains { FileManager.default.fileExists(atPath: $0) }

    @Test("a bench command with no TestFrames anywhere says what to pass",
          .disabled(if: testFramesInstalled, "TestFrames are installed under /usr/share or /usr/local/share on this machine"))
    func noTestFrames() throws {
        // The binary copied where no TestFrames is near it, run from an empty folder.
        let dir = try TemporaryDirectory("pkbin")
        let copy = dir.file("platekeeper")
        try FileManager.default.copyItem(atPath: TestPaths.executable, toPath: copy)
        let result = try runCommand(copy, ["bench", "daemon"], workingDirectory: dir.path)
        #expect(result.status == 64)
        #expect(result.stderr.contains("no TestFrames/pass-day found") && result.stderr.contains("pass a recording folder"), "\(result.stderr)")
    }
}
