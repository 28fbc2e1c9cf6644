import Capture

/// Lets one log line of a kind through per interval and counts the ones held back, so a fault that
/// repeats for every frame or every retry (a broken recording, a full disk) writes about one line a
/// second to the system journal instead of thousands.
struct LogThrottle {
    let interval: Double
    private var last: Double?
    private var held = 0

    init(interval: Double = 1) {
        self.interval = interval
    }

    /// Whether to log now; if so, also how many lines were held back since the last one logged.
    mutating func allow(now: Double = SystemClock.monotonic()) -> (log: Bool, held: Int) {
        if let last, now - last < interval {
            held += 1
            return (false, 0)
        }
        last = now
        defer { held = 0 }
        return (true, held)
    }
}
