import Capture
import Config
import Foundation
import Grouping
import Journal
import Logging
import PlateKeeperCore
import ServiceLifecycle

/// Grouping and the journal: turns the stream of reads into read events and commits each one.
///
/// It runs until recognition finishes the stream (which happens after the cameras stopped and the
/// queue drained), then closes every open pass and commits it: SIGTERM loses no read in flight. An
/// event whose commit failed (disk error) is kept in memory and retried every second.
struct JournalService: Service, CustomStringConvertible {
    let journal: Journal
    let grouping: GroupingSettings
    let position: GeoPosition?
    let events: AsyncStream<PipelineEvent>
    let ticks: AsyncStream<PipelineEvent>.Continuation
    let status: StatusBoard
    let logger: Logger

    var description: String { "journal (\(journal.settings.path))" }

    func run() async {
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                ticks.yield(.tick)
            }
        }
        defer { ticker.cancel() }
        var grouper = ReadGrouper(settings: grouping)
        var lastFrame: [CameraID: Double] = [:]
        var seen: [CameraID: Int] = [:]
        var unwritten: [ReadEvent] = []
        var failureLog = LogThrottle(interval: 60, burst: 1)
        var lastStats = 0.0, lastRetention = 0.0
        await refreshStats()
        await retention()
        for await item in events {
            var ready: [ReadEvent] = []
            switch item {
            case let .frame(camera, time, observations):
                lastFrame[camera] = SystemClock.monotonic()
                seen[camera, default: 0] += 1
                ready += grouper.advance(camera: camera, to: time)
                for observation in observations { ready += grouper.add(observation) }
            case .tick:
                status.beat("journal")
                let now = SystemClock.monotonic()
                // A camera is idle when nothing of it is queued or being read, every frame read has
                // reached us, and the window has passed: its open passes are complete.
                for (camera, last) in lastFrame where now - last > grouping.windowSeconds {
                    guard let progress = status.camera(camera)?.progress,
                          progress.inFlight == 0, progress.processed == seen[camera, default: 0] else { continue }
                    ready += grouper.closeAll(camera: camera)
                }
                if now - lastStats >= 2 {
                    lastStats = now
                    await refreshStats()
                }
                if now - lastRetention >= 600 {
                    lastRetention = now
                    await retention()
                }
            }
            // Events that failed to commit are retried once a second, on the tick, not with every
            // frame; new events queue behind them so the journal keeps their order.
            if unwritten.isEmpty {
                unwritten = await store(ready, failureLog: &failureLog)
            } else if case .tick = item {
                unwritten = await store(unwritten + ready, failureLog: &failureLog)
            } else {
                unwritten += ready
            }
        }
        unwritten = await store(unwritten + grouper.closeAll(), failureLog: &failureLog)
        if !unwritten.isEmpty {
            logger.critical("read events could not be journaled before exit", metadata: ["count": "\(unwritten.count)"])
        }
        await refreshStats()
        logger.info("journal drained")
        // Return only when asked to. The stream ends when recognition finishes it, a moment before
        // the service group sees recognition itself return; a journal that returned in between
        // looked to the group like a service ending unexpectedly, and the daemon exited 1 with
        // "ServiceGroupError: Service failed(journal …)" on a plain SIGTERM.
        try? await gracefulShutdown()
    }

    /// Commits events in order; returns those that could not be written. A failure is logged at
    /// once, and again at most once a minute while it lasts, with the count of reads waiting.
    private func store(_ events: [ReadEvent], failureLog: inout LogThrottle) async -> [ReadEvent] {
        var failed: [ReadEvent] = []
        for var event in events {
            guard failed.isEmpty else {
                failed.append(event)
                continue
            }
            if event.position == nil { event.position = position }
            let meta: Logger.Metadata = [
                "camera.id": "\(event.camera)", "read.id": "\(event.id.uuidString.lowercased())", "read.plate": "\(event.plate)",
                "read.kind": "\(event.kind.rawValue)", "read.frames": "\(event.frameCount)",
                "read.confidence": "\(Int(event.confidence.rounded()))",
            ]
            do {
                switch try await journal.append(event) {
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
                let (log, held) = failureLog.allow()
                if log {
                    logger.error("journal write failed; will retry every second", metadata: meta.merging([
                        "error": "\(error)", "reads.waiting": "\(events.count)", "held.back": "\(held)",
                    ]) { $1 })
                }
                status.journal(nil, error: error.description)
                failed.append(event)
            }
        }
        if failed.count > 10_000 {
            logger.critical("journal unwritable: dropping reads held in memory", metadata: ["dropped": "\(failed.count - 10_000)"])
            failed.removeFirst(failed.count - 10_000)
        }
        return failed
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
            let deleted = try await journal.applyRetention()
            if deleted > 0 { logger.notice("retention: expired reads deleted", metadata: ["deleted": "\(deleted)"]) }
        } catch {
            logger.error("retention failed", metadata: ["error": "\(error)"])
        }
    }
}
