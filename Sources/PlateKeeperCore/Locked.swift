import Foundation

/// A value behind a lock, for state that threads and tasks share (status counters, the signal relay).
///
/// An NSLock (a pthread mutex) rather than Synchronization.Mutex: ThreadSanitizer intercepts
/// pthread mutexes, while Mutex's contended path runs inside the uninstrumented standard library,
/// where TSan cannot see the hand-over and reports races that are not there (`.ci/sanitizers`
/// reported one on CameraBoard, with both sides inside withLock).
public final class Locked<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    public init(_ value: Value) {
        self.value = value
    }

    public func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
