import Config
import EventChain
import Foundation
import Hotlist
import Logging
import PlateKeeperCore
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// The daemon's hotlists: the files `[hotlist] files` names, loaded into one `Hotlist`, reloaded
/// as a whole when any file changes (its size, time or inode: an editor's save or a `mv` of a new
/// download), and on SIGHUP with the rest of the config. A file that cannot be read leaves the
/// others loaded and shows as a problem in status; a malformed line is logged with its number and
/// skipped. Also counts hits for status.
final class HotlistBook: Sendable {
    struct FileState: Sendable {
        var path: String
        var signature: [Int64]?
        var entries: Int
        var problems: [HotlistProblem]
        /// Whether the file could be read at all (a problem without a line number means it could not).
        var loaded: Bool { signature != nil && !problems.contains { $0.line == nil } }
    }

    struct State: Sendable {
        var hotlist: Hotlist
        var files: [FileState] = []
        var loadedAt: Date?
        var hits = 0
        var lastHit: StatusDocument.LastHit?
        var notKept = 0
    }

    let section: HotlistSection
    private let state: Locked<State>
    private let logger: Logger

    init(section: HotlistSection, logger: Logger) {
        self.section = section
        self.logger = logger
        state = Locked(State(hotlist: Hotlist(entries: [], maxEditDistance: section.maxEditDistance)))
        if !section.files.isEmpty { reload() }
    }

    var hotlist: Hotlist { state.withLock { $0.hotlist } }

    /// Reloads every file if any of them changed since the last load; returns whether it did.
    @discardableResult
    func reloadIfChanged() -> Bool {
        let known = state.withLock { $0.files.map(\.signature) }
        guard known != section.files.map(Self.signature) else { return false }
        reload()
        return true
    }

    private func reload() {
        var entries: [HotlistEntry] = []
        var files: [FileState] = []
        for path in section.files {
            let signature = Self.signature(path)
            let (loaded, problems) = HotlistFile.load(path: path)
            entries += loaded
            files.append(FileState(path: path, signature: signature, entries: loaded.count, problems: problems))
            for problem in problems.prefix(20) {
                logger.warning("hotlist line skipped", metadata: ["hotlist.problem": "\(problem)"])
            }
            if problems.count > 20 {
                logger.warning("hotlist: more lines skipped", metadata: ["hotlist.file": "\(path)", "skipped": "\(problems.count - 20)"])
            }
        }
        let hotlist = Hotlist(entries: entries, maxEditDistance: section.maxEditDistance)
        state.withLock {
            $0.hotlist = hotlist
            $0.files = files
            $0.loadedAt = Date()
        }
        logger.notice("hotlists loaded", metadata: [
            "hotlist.entries": "\(entries.count)", "hotlist.lists": "\(hotlist.lists.map { "\($0.name)=\($0.entries)" }.joined(separator: ","))",
            "hotlist.files": "\(files.count)", "hotlist.skipped_lines": "\(files.reduce(0) { $0 + $1.problems.count })",
        ])
    }

    func hit(_ event: ReadEvent, _ hit: HotlistHit) {
        state.withLock {
            $0.hits += 1
            $0.lastHit = .init(list: hit.list, camera: event.camera.rawValue, at: event.lastSeen.iso8601, read: event.id.uuidString.lowercased())
        }
    }

    func notKept() { state.withLock { $0.notKept += 1 } }

    func status() -> StatusDocument.HotlistPart {
        state.withLock { s in
            StatusDocument.HotlistPart(
                only: section.only, maxEditDistance: section.maxEditDistance,
                lists: s.hotlist.lists.map { .init(name: $0.name, entries: $0.entries) },
                files: s.files.map { f in
                    .init(path: f.path, loaded: f.loaded,
                          entries: f.entries, skippedLines: f.problems.filter { $0.line != nil }.count,
                          problem: f.problems.first.map(\.description))
                },
                loadedAt: s.loadedAt.map { ISO8601.format(unixNanoseconds: Int64($0.timeIntervalSince1970 * 1e9)) },
                hitsSinceStart: s.hits, lastHit: s.lastHit, notKeptSinceStart: s.notKept)
        }
    }

    /// Size, modification time and inode: what changes when a file is rewritten or replaced.
    static func signature(_ path: String) -> [Int64]? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return [Int64(st.st_size), Int64(st.st_mtim.tv_sec), Int64(st.st_mtim.tv_nsec), Int64(st.st_ino)]
    }
}

/// The event chain's hotlist stage: matches each event's plate (and its candidates) against the
/// loaded hotlists and marks a hit. A hit is logged with its list and the read's id, never the
/// plate: the log outlives the journal's retention.
struct HotlistEnricher: ReadEventEnricher {
    let book: HotlistBook
    let logger: Logger

    func enrich(_ event: inout ReadEvent) async {
        let now = Int64(Date().timeIntervalSince1970 * 1e9)
        guard let hit = book.hotlist.match(plate: event.plate, candidates: event.candidates.map(\.text), now: now) else { return }
        event.hit = hit
        book.hit(event, hit)
        logger.notice("hotlist hit", metadata: [
            "camera.id": "\(event.camera)", "read.id": "\(event.id.uuidString.lowercased())", "hotlist.list": "\(hit.list)",
            "hotlist.distance": "\(hit.distance)", "read.kind": "\(event.kind.rawValue)",
        ])
    }
}

/// Watches the hotlist files and reloads them when they change (every 2 seconds).
struct HotlistService: Service, CustomStringConvertible {
    let book: HotlistBook

    var description: String { "hotlists (\(book.section.files.count) files)" }

    func run() async {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(2)) }
            if Task.isShuttingDownGracefully || Task.isCancelled { break }
            let book = self.book
            _ = await runOnThread(name: "hotlist-load") { book.reloadIfChanged() }
        }
    }
}
