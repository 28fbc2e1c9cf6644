import Foundation
import Synchronization

/// A flag one side sets to ask a blocking loop on another thread to stop (camera threads,
/// recognition workers, position sources).
public final class StopFlag: Sendable {
    public init() {}

    private let flag = Atomic<Bool>(false)
    public func set() { flag.store(true, ordering: .releasing) }
    public var isSet: Bool { flag.load(ordering: .acquiring) }

    /// Sleeps up to `seconds`, waking early when the flag is set. Returns false if it was set.
    public func sleep(_ seconds: Double) -> Bool {
        var left = seconds
        while left > 0 {
            if isSet { return false }
            let step = min(left, 0.05)
            Thread.sleep(forTimeInterval: step)
            left -= step
        }
        return !isSet
    }
}
