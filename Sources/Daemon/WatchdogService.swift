import Logging
import ServiceLifecycle

/// Pings systemd's watchdog while the pipeline's own loops keep beating, and keeps the unit's
/// STATUS= line current. A stuck worker or journal loop stops the pings, and systemd restarts us.
struct WatchdogService: Service, CustomStringConvertible {
    let notifier: SystemdNotifier
    let board: StatusBoard
    let logger: Logger

    var description: String { "watchdog" }

    func run() async {
        let interval = notifier.watchdogInterval
        let period: Duration = interval.map { $0 / 3 } ?? .seconds(10)
        let staleAfter = interval.map { Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18 } ?? 30
        var lastStatus = ""
        var warned = false
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            if interval != nil {
                if board.pipelineAlive(within: staleAfter / 2) {
                    notifier.notify("WATCHDOG=1")
                    warned = false
                } else if !warned {
                    logger.critical("pipeline heartbeat lost: watchdog pings stopped")
                    warned = true
                }
            }
            let doc = board.document()
            let streaming = doc.cameras.filter { $0.state == "streaming" }.count
            let reads = doc.cameras.map(\.readEvents).reduce(0, +)
            let line = "\(streaming)/\(doc.cameras.count) cameras streaming, \(reads) reads journaled, journal \(Int(doc.journal.quotaUsed * 100))% of quota"
            if line != lastStatus {
                notifier.notify("STATUS=\(line)")
                lastStatus = line
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: period) }
        }
    }
}
