import Capture
import EventChain
import Foundation
import Journal
import Logging
import PlateKeeperCore
import ServiceLifecycle

/// Runs the read-event chain (grouping → enrichers → the journal) over what recognition sends,
/// plus a tick once a second.
///
/// It runs until recognition finishes the stream (after the cameras stopped and the queue
/// drained), then closes every open pass and commits it: SIGTERM loses no read in flight.
struct EventChainService: Service, CustomStringConvertible {
    let settings: ChainSettings
    let enrichers: [any ReadEventEnricher]
    let sink: any ReadEventSink
    let inputs: AsyncStream<ChainInput>
    let ticks: AsyncStream<ChainInput>.Continuation
    let status: StatusBoard
    let logger: Logger

    var description: String { "event chain" }

    func run() async {
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                ticks.yield(.tick)
            }
        }
        defer { ticker.cancel() }
        var chain = EventChain(settings: settings, enrichers: enrichers, sink: sink, clock: SystemMonotonicClock(), logger: logger)
        for await input in inputs {
            if case .tick = input { status.beat("journal") }
            await chain.handle(input)
        }
        let lost = await chain.finish()
        if !lost.isEmpty {
            logger.critical("read events could not be journaled before exit", metadata: ["count": "\(lost.count)"])
        }
        logger.info("event chain drained")
        // Return only when asked to. The stream ends when recognition finishes it, a moment before
        // the service group sees recognition itself return; a service that returned in between
        // looked to the group like one ending unexpectedly, and the daemon exited 1 with
        // "ServiceGroupError: Service failed(…)" on a plain SIGTERM.
        try? await gracefulShutdown()
    }
}

/// The system's monotonic clock, for the chain.
struct SystemMonotonicClock: MonotonicClock {
    func now() -> Double { SystemClock.monotonic() }
}

/// The chain's sink: appends each event to the journal, logs it, and counts it on the status board.
/// A full journal that refuses reads by policy is reported, not retried; a write error is thrown,
/// and the chain retries. In hotlist-only mode a read that matched no hotlist is not written at
/// all: only the journal's `not_kept` count grows.
///
/// Logs carry the read's id, never its plate: the system journal keeps lines for as long as its
/// own settings say, beyond the read's retention (docs/privacy.md).
struct JournalSink: ReadEventSink {
    let journal: Journal
    let status: StatusBoard
    let logger: Logger
    /// Hotlist-only mode's book (nil otherwise).
    var hotlistOnly: HotlistBook? = nil

    func commit(_ event: ReadEvent) async throws {
        let meta: Logger.Metadata = [
            "camera.id": "\(event.camera)", "read.id": "\(event.id.uuidString.lowercased())",
            "read.kind": "\(event.kind.rawValue)", "read.frames": "\(event.frameCount)",
            "read.confidence": "\(Int(event.confidence.rounded()))",
        ]
        if let book = hotlistOnly, event.hit == nil {
            try await journal.countNotKept(camera: event.camera, seen: event.firstSeen)
            book.notKept()
            status.camera(event.camera)?.seen()
            logger.debug("read matched no hotlist: not kept (hotlist-only mode)", metadata: meta)
            return
        }
        do {
            let outcome = try await journal.append(event)
            status.commit(error: nil)
            switch outcome {
            case let .stored(evicted, dropped):
                logger.info("journaled", metadata: meta)
                status.camera(event.camera)?.journaled(event)
                if dropped > 0 {
                    logger.warning("journal full: oldest un-uploaded reads dropped", metadata: ["dropped": "\(dropped)"])
                } else if evicted > 0 {
                    logger.debug("uploaded reads evicted for room", metadata: ["evicted": "\(evicted)"])
                }
            case .rejected:
                status.rejected()
                logger.error("journal full and policy is stop-accepting: read dropped", metadata: meta)
            }
        } catch {
            status.commit(error: error.description)
            throw error
        }
    }
}

/// The journal's figures for status (every 2 s) and retention, beside the chain. Retention runs
/// every tenth of the shortest retention age, between every 5 seconds and every 10 minutes, so a
/// read never outlives its age by more than a tenth (a 3-minute rule runs every 18 s).
struct JournalUpkeepService: Service, CustomStringConvertible {
    let journal: Journal
    let status: StatusBoard
    let logger: Logger

    var description: String { "journal upkeep (\(journal.settings.path))" }

    func run() async {
        var lastRetention = -Double.infinity
        let ages = [journal.settings.retentionSeconds, journal.settings.hitRetentionSeconds].compactMap { $0 }
        let interval = min(600, max(5, (ages.min() ?? 6000) / 10))
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            // While the WAL still holds expired reads (a reader held the checkpoint off), every tick.
            if SystemClock.monotonic() - lastRetention >= interval || journal.expiredPagesInWAL.current != nil {
                lastRetention = SystemClock.monotonic()
                await retention()
            }
            await refreshStats()
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(min(2, interval))) }
        }
        await refreshStats()
    }

    private func refreshStats() async {
        let journal = self.journal
        do {
            let stats = try await runOnThread(name: "journal-stats") { Result { () throws(JournalError) in try journal.stats() } }.get()
            status.journal(stats, error: nil)
        } catch {
            status.journal(nil, error: "\(error)")
        }
    }

    private func retention() async {
        do {
            let held = journal.expiredPagesInWAL.current
            let deleted = try await journal.applyRetention()
            if deleted > 0 { logger.notice("retention: expired reads deleted", metadata: ["deleted": "\(deleted)"]) }
            let wal = journal.expiredPagesInWAL
            if let held, held > 5, wal.current == nil {
                logger.notice("retention: the WAL no longer holds expired reads", metadata: ["held_s": "\(Int(wal.longest))"])
            } else if let now = wal.current, now > 60, (held ?? 0) <= 60 {
                logger.warning("retention: a reader of the journal keeps expired reads in its WAL; retrying every 2 s",
                               metadata: ["held_s": "\(Int(now))"])
            }
        } catch {
            logger.error("retention failed", metadata: ["error": "\(error)"])
        }
    }
}
