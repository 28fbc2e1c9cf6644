import PlateKeeperCore
import ArgumentParser
import Config
import Daemon
import Foundation

/// `platekeeper status`: asks the running daemon how it is doing.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the running daemon's cameras, journal, upload, position and clock.",
        discussion: """
            Exit status, as monitoring checks read it: 0 healthy; 1 degraded (running, but the \
            system clock is not synchronised, so read times may be off); 2 unhealthy (a camera, \
            the journal, upload or the position source has a problem); 3 the daemon cannot be \
            reached or its answer cannot be read.
            """
    )

    @Option(help: "The daemon's status socket (default: from the configuration file).")
    var socket: String?

    @Option(name: .shortAndLong, help: "The configuration file to take the socket path from.")
    var config: String = PlateKeeperConfig.defaultPath

    @Flag(help: "Print the status document as JSON.")
    var json = false

    func run() throws {
        // The socket the file names, even when the file does not validate: a daemon may be running
        // on the previous configuration after a refused SIGHUP.
        let path = socket ?? ConfigLoader.statusSocket(path: config) ?? StatusSection().socket
        let data: Data
        do {
            data = try StatusSocket.fetch(from: path)
        } catch {
            Terminal.stderrLine("platekeeper status: \(error)")
            throw ExitCode(3)
        }
        guard let doc = try? StatusDocument.decode(data) else {
            Terminal.stderrLine("platekeeper status: the daemon at \(path) sent a document this version cannot read")
            throw ExitCode(3)
        }
        if json {
            FileHandle.standardOutput.write(data)
        } else {
            print(Self.render(doc))
        }
        switch doc.state {
        case "healthy": break
        case "degraded": throw ExitCode(1)
        default: throw ExitCode(2)
        }
    }

    static func render(_ d: StatusDocument) -> String {
        var out: [String] = []
        out.append("platekeeper \(d.version), pid \(d.pid), up \(duration(d.uptimeSeconds)): \(d.state == "healthy" ? d.state : d.state.uppercased())")
        for p in d.problems { out.append("  ! \(p)") }
        for w in d.warnings { out.append("  ~ \(w)") }
        var clock = "clock: \(d.clockSynchronized ? "synchronised" : d.clockQuality == "unsynchronized" ? "NOT synchronised" : "synchronisation \(d.clockQuality)")"
        if let c = d.clock {
            if let est = c.estimatedErrorSeconds, let max = c.maximumErrorSeconds {
                clock += String(format: ", estimated error %.6f s, maximum %.3f s", est, max)
            }
            if let offset = c.gpsOffsetSeconds { clock += String(format: ", GNSS − system %+.3f s", offset) }
        }
        out.append(clock)
        let p = d.position
        var position = "position: \(p.source)"
        if p.source == "fixed", let lat = p.latitude, let lon = p.longitude {
            position += String(format: " %.6f, %.6f", lat, lon)
        } else if p.source != "none" {
            if let state = p.state { position += ", \(state)" }
            if let mode = p.fixMode { position += ", fix \(mode)" } else if p.lastFixMode != nil { position += ", no fix now" }
            if p.dateFromSystemClock == true { position += " (dated from the system clock)" }
            if let used = p.satellitesUsed { position += ", \(used)" + (p.satellitesSeen.map { "/\($0)" } ?? "") + " satellites" }
            if let age = p.lastFixAgeSeconds { position += ", last \(p.fixMode == nil ? (p.lastFixMode.map { "\($0) " } ?? "") : "")fix \(duration(age)) ago" }
            if let lat = p.latitude, let lon = p.longitude { position += String(format: " (%.6f, %.6f)", lat, lon) }
        }
        out.append(position)
        if let e = p.error { out.append("  error: \(e)") }
        if let n = p.badInputs, n > 0 { out.append("  \(n) bad input line(s), last: \(p.lastBadInput ?? "?")") }
        if let n = p.implausibleTimes, n > 0 { out.append("  \(n) fix(es) with an implausible time refused, last: \(p.lastImplausibleTime ?? "?")") }
        if let n = p.timeSteps, n > 0 { out.append("  the receiver's time stepped \(n) time(s); the track restarted") }
        out.append("cameras:")
        for c in d.cameras {
            var line = "  \(c.id): \(c.state), \(c.framesReceived) frames in (\(c.receivedPerSecond)/s), \(c.framesProcessed) read (\(c.processedPerSecond)/s), \(c.framesDropped) dropped"
            if let age = c.lastFrameAgeSeconds { line += ", last frame \(duration(age)) ago" }
            out.append(line)
            if let r = c.lastRead {
                out.append("    last read at \(r.at), confidence \(Int(r.confidence))" + (r.hit.map { ", hit on \($0)" } ?? "")
                    + "; \(c.readEvents) reads this run")
            }
            if let e = c.error { out.append("    error: \(e)") }
            if c.framesBad > 0 { out.append("    \(c.framesBad) bad frame(s) skipped, last: \(c.lastBadFrame ?? "?")") }
            if c.faults > 0, let last = c.lastFault { out.append("    \(c.faults) fault(s) since start, last: \(last)") }
            out.append("    source: \(c.source)")
        }
        let j = d.journal
        out.append("journal: \(j.path)")
        out.append("  \(j.rows) reads, \(j.pending) waiting for upload, \(bytes(j.bytes)) of \(bytes(j.quotaBytes)) (\(Int((j.quotaUsed * 100).rounded())) %)")
        if let o = j.oldest { out.append("  oldest held: first seen \(o), journaled \(j.oldestJournaled ?? "?")") }
        if let o = j.oldestPending { out.append("  oldest waiting for upload: \(o)") }
        if j.hits + j.notKept > 0 { out.append("  hotlist hits held: \(j.hits); reads not kept (hotlist-only): \(j.notKept)") }
        if j.droppedFull + j.rejectedSinceStart > 0 {
            out.append("  dropped because full: \(j.droppedFull)" + (j.rejectedSinceStart > 0 ? ", \(j.rejectedSinceStart) refused since start" : ""))
        }
        if j.expired > 0 { out.append("  expired by retention: \(j.expired)") }
        if let held = j.expiredInWalSeconds, held >= 5 {
            out.append("  expired reads still in the WAL for \(Int(held)) s: a reader of the journal holds the checkpoint off")
        }
        if let q = j.quarantined { out.append("  an unusable journal was moved to \(q)") }
        if let e = j.error { out.append("  error: \(e)") }
        if j.deadLetters > 0 { out.append("  dead letters (refused by the store, kept): \(j.deadLetters)") }
        if let u = d.upload {
            out.append("upload: \(u.state), to \(u.url)")
            var backlog = "  backlog: \(u.backlog) read(s)"
            if let age = u.oldestWaitingSeconds { backlog += ", oldest waiting \(duration(age))" }
            out.append(backlog + "; \(u.uploadedSinceStart) uploaded since start (\(u.readsPerSecond)/s over the last minute)")
            out.append("  last success: \(u.lastSuccess ?? "none since start")")
            if let e = u.lastError {
                out.append("  last error: \(e) at \(u.lastErrorAt ?? "?")" + (u.failuresInARow > 0 ? " (\(u.failuresInARow) failure(s) in a row)" : ""))
            }
            if let next = u.nextAttempt { out.append("  next attempt: \(next)") }
            if u.deadLetters > 0 { out.append("  dead letters: \(u.deadLetters) (journal export shows them with the reason)") }
        } else {
            out.append("upload: off")
        }
        if let h = d.hotlist {
            let lists = h.lists.map { "\($0.name) (\($0.entries))" }.joined(separator: ", ")
            out.append("hotlists: \(lists.isEmpty ? "none loaded" : lists)" + (h.only ? "; hotlist-only: reads matching none are not kept" : ""))
            out.append("  \(h.hitsSinceStart) hit(s) since start" + (h.lastHit.map { ", last on \($0.list) at \($0.at) by \($0.camera) (read \($0.read))" } ?? "")
                + (h.only ? "; \(h.notKeptSinceStart) read(s) not kept" : ""))
            for f in h.files where !f.loaded || f.skippedLines > 0 {
                out.append("  \(f.path): " + (f.loaded ? "\(f.entries) entries, \(f.skippedLines) line(s) skipped" : "NOT LOADED") + (f.problem.map { "; \($0)" } ?? ""))
            }
        }
        if let free = d.diskFreeBytes { out.append("disk free: \(bytes(free))") }
        out.append("recognition: \(d.workers) worker(s), \(d.framesQueued) frame(s) queued")
        // Names from outside (camera ids, errors quoting a device's output) cannot drive the terminal.
        return out.map { Printable.escaped($0) }.joined(separator: "\n")
    }

    static func duration(_ s: Double) -> String {
        if s < 60 { return String(format: "%.1f s", s) }
        if s < 3600 { return "\(Int(s) / 60) min \(Int(s) % 60) s" }
        if s < 86_400 { return "\(Int(s) / 3600) h \(Int(s) % 3600 / 60) min" }
        return "\(Int(s) / 86_400) d \(Int(s) % 86_400 / 3600) h"
    }

    static func bytes(_ n: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var v = Double(n), i = 0
        while v >= 1024, i < units.count - 1 {
            v /= 1024
            i += 1
        }
        return i == 0 ? "\(n) B" : "\((v * 10).rounded() / 10) \(units[i])"
    }
}
