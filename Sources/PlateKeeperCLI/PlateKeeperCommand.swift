public import ArgumentParser
import PlateKeeperCore

/// The `platekeeper` command line: the root command and its subcommands.
public struct PlateKeeperCommand: AsyncParsableCommand {
    public static let version = PlateKeeperVersion.current

    public static let configuration = CommandConfiguration(
        commandName: "platekeeper",
        abstract: "Edge daemon for licence plate reader units: capture, read, journal and upload plates.",
        version: version,
        subcommands: [RunCommand.self, StatusCommand.self, CamerasCommand.self, RecordCommand.self, ReplayCommand.self, ConfigCommand.self, JournalCommand.self, AuditCommand.self, HotlistCommand.self, BenchCommand.self, GlyphSamplesCommand.self, LineSamplesCommand.self]
    )

    public init() {}

    /// Parses `CommandLine.arguments` and runs the chosen subcommand (async ones included).
    public static func entry() async {
        let main: () async -> Void = { await Self.main() }
        await main()
    }
}
