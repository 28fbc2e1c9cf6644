import Capture
import Config
import EventChain
import Foundation
import Logging
import PlateKeeperCore
import Position
import ServiceLifecycle

/// The configured position source as the daemon runs it: the feed every read is tagged from, and
/// (for gpsd or a serial receiver) the source's loop on a thread of its own.
struct PositionSetup: Sendable {
    let feed: PositionFeed
    let source: (any PositionSource)?
    let clockOffsetWarningSeconds: Double

    init(config: PositionSection, logger: Logger) {
        var settings = PositionFeed.Settings()
        settings.maxGapSeconds = config.maxGapSeconds
        settings.maxExtrapolationSeconds = config.maxExtrapolationSeconds
        settings.silentAfterSeconds = config.silentAfterSeconds
        clockOffsetWarningSeconds = config.clockOffsetWarningSeconds
        switch config.source {
        case .none:
            feed = PositionFeed()
            source = nil
        case .fixed:
            feed = PositionFeed(fixed: GeoPosition(
                latitude: config.latitude, longitude: config.longitude, altitudeMeters: config.altitudeMeters, fix: .fixed, source: .fixed))
            source = nil
        case .gpsd:
            feed = PositionFeed(source: .gpsd, settings: settings, clockSynchronized: { SystemClock.state().synchronized })
            source = GpsdSource(host: config.gpsdHost, port: config.gpsdPort, logger: logger)
        case .nmea:
            feed = PositionFeed(source: .nmea, settings: settings, clockSynchronized: { SystemClock.state().synchronized })
            source = SerialNMEASource(path: config.device, baud: config.baud, logger: logger)
        case .recording:
            // A recording's position log, loaded whole: replayed frames carry their recorded
            // capture times, and get the positions the unit had then.
            source = nil
            do {
                let (loaded, summaries) = try PositionRecording.feed(loading: [config.recording], settings: settings)
                feed = loaded
                logger.notice("recorded positions loaded", metadata: [
                    "path": "\(config.recording)", "lines": "\(summaries[0].lines)", "fixes": "\(summaries[0].fixes)",
                    "bad": "\(summaries[0].bad)",
                ])
                if summaries[0].fixes == 0 {
                    feed.unusable("\(config.recording): no fix with a position in \(summaries[0].lines) line(s)")
                    logger.error("the recorded position log has no fix; reads will have no position", metadata: ["path": "\(config.recording)"])
                }
            } catch {
                feed = PositionFeed(source: .nmea, settings: settings)
                feed.unusable("\(config.recording): \(error)")
                logger.error("recorded positions cannot be read; reads will say no-source", metadata: [
                    "path": "\(config.recording)", "error": "\(error)",
                ])
            }
        }
    }
}

/// Runs a receiver's loop (gpsd or serial) until shutdown, and watches the clock: it logs when
/// GNSS time and the system clock drift apart by more than the configured limit.
struct PositionService: Service, CustomStringConvertible {
    let setup: PositionSetup
    let logger: Logger

    var description: String { setup.source.map { "position (\($0))" } ?? "position" }

    func run() async {
        let clockWatch = Task { await watchClock() }
        defer { clockWatch.cancel() }
        guard let source = setup.source else {
            try? await gracefulShutdown()
            return
        }
        let feed = setup.feed
        await runOnThreadUntilShutdown(name: "position") { stop in
            source.run(feed: feed, stop: stop)
        }
    }

    private func watchClock() async {
        var warned = false
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            guard let offset = setup.feed.gpsOffsetSeconds else { continue }
            let over = abs(offset) > setup.clockOffsetWarningSeconds
            if over, !warned {
                logger.warning("system clock differs from GNSS time", metadata: [
                    "offset_s": "\(PositionFeedFormat.seconds(offset))", "limit_s": "\(setup.clockOffsetWarningSeconds)",
                    "clock.synchronized": "\(SystemClock.state().synchronized.map(String.init) ?? "unknown")",
                ])
            } else if !over, warned {
                logger.notice("system clock agrees with GNSS time again", metadata: ["offset_s": "\(PositionFeedFormat.seconds(offset))"])
            }
            warned = over
        }
    }
}

enum PositionFeedFormat {
    static func seconds(_ x: Double) -> String { String(format: "%.3f", x) }
}

/// Gives each read event the position at its best frame's capture time and the clock's state,
/// from the feed: a position with how it was obtained, or an explicit reason there is none.
struct PositionEnricher: ReadEventEnricher {
    let feed: PositionFeed

    func enrich(_ event: inout ReadEvent) async {
        var clock = SystemClock.state()
        clock.gpsOffsetSeconds = feed.gpsOffsetSeconds
        let (position, status) = feed.lookup(at: event.bestSeen.unixNanoseconds, clockSynchronized: clock.synchronized)
        event.position = position
        event.positionStatus = status
        event.clock = clock
    }
}
