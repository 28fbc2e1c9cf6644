import ArgumentParser
import Audit
import Config
import Foundation
import Hotlist

/// `platekeeper audit verify`: checks the audit trail's hash chain (read only).
struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Check the audit log of plate data read-outs (read only).", subcommands: [Verify.self])

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check every entry's hash and its link to the one before; name the first broken entry.",
            discussion: "Exit status 0 when the chain holds, 1 when it is broken or cannot be read. Entries cut off the end leave a valid shorter chain: compare the head printed here with the head the daemon and `journal export` log to the system journal.")

        @Option(name: .shortAndLong, help: "The configuration file to take the audit log's path from.")
        var config: String = PlateKeeperConfig.defaultPath

        @Option(help: "The audit log (default: [audit] log of the configuration).")
        var log: String?

        @Flag(help: "Also print every entry (JSON Lines).")
        var entries = false

        func run() throws {
            let path = log ?? (try? ConfigLoader.load(path: config).audit.log) ?? AuditSection().log
            do {
                let all = try AuditLog(path: path).verify()
                if entries {
                    for e in all { print(String(decoding: try JSONEncoder().encode(e), as: UTF8.self)) }
                }
                print("audit log \(path): \(all.count) entries, chain intact" + (all.last.map { ", head \($0.hash)" } ?? ""))
            } catch {
                Terminal.error("\(path): \(error)")
                throw ExitCode.failure
            }
        }
    }
}

/// `platekeeper hotlist check FILE…`: what the daemon would load from hotlist files.
struct HotlistCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hotlist", abstract: "Check hotlist files as the daemon loads them.", subcommands: [Check.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Load hotlist CSV files; print the entries per list and every skipped line.",
            discussion: "Exit status 0 when every line loads, 1 when a line was skipped or a file cannot be read.")

        @Argument(help: "Hotlist files (CSV: plate,list[,reason[,expires]]).")
        var files: [String]

        func run() throws {
            var failed = false
            for path in files {
                let (entries, problems) = HotlistFile.load(path: path)
                let lists = Hotlist(entries: entries).lists.map { "\($0.name) \($0.entries)" }.joined(separator: ", ")
                print("\(path): \(entries.count) entries" + (lists.isEmpty ? "" : " (\(lists))") + ", \(problems.count) line(s) skipped")
                for p in problems { print("  \(p)") }
                failed = failed || !problems.isEmpty
            }
            if failed { throw ExitCode.failure }
        }
    }
}
