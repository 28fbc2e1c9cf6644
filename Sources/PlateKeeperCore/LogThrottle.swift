/// Lets log lines of one kind through at a bounded rate and counts the ones held back, so a fault
/// that repeats for every frame or every retry (a broken recording, a full disk) writes a few lines
/// instead of thousands a second. A token bucket: `burst` lines at once, then one per `interval`.
public struct LogThrottle: Sendable {
    public let interval: Double
    public let burst: Double
    private var tokens: Double
    private var last: Double?
    private var held = 0

    public init(interval: Double = 1, burst: Int = 10) {
        self.interval = interval
        self.burst = Double(max(burst, 1))
        tokens = self.burst
    }

    /// Whether to log now (`now`: monotonic seconds); if so, also how many lines were held back
    /// since the last one logged.
    public mutating func allow(now: Double) -> (log: Bool, held: Int) {
        if let last { tokens = min(burst, tokens + (now - last) / interval) }
        last = now
        guard tokens >= 1 else {
            held += 1
            return (false, 0)
        }
        tokens -= 1
        defer { held = 0 }
        return (true, held)
    }
}
