import Foundation
import ServiceLifecycle
import Synchronization

/// A flag one side sets to ask a blocking loop on another thread to stop.
final class StopFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    func set() { flag.store(true, ordering: .releasing) }
    var isSet: Bool { flag.load(ordering: .acquiring) }

    /// Sleeps up to `seconds`, waking early when the flag is set. Returns false if it was set.
    func sleep(_ seconds: Double) -> Bool {
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

/// Runs blocking work (C calls, file I/O, sleeps) on a thread of its own, so the cooperative
/// pool (two threads on these units) is never held up; resumes when the work returns.
func runOnThread<T: Sendable>(name: String, _ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        let thread = Thread {
            continuation.resume(returning: body())
        }
        thread.name = name
        thread.stackSize = 4 << 20
        thread.start()
    }
}

/// Runs a blocking loop on a thread of its own until it returns, or the service group shuts down
/// gracefully, or the task is cancelled (another service failed): both set the loop's stop flag.
func runOnThreadUntilShutdown(name: String, _ body: @escaping @Sendable (StopFlag) -> Void) async {
    let stop = StopFlag()
    await withTaskCancellationOrGracefulShutdownHandler {
        await runOnThread(name: name) { body(stop) }
    } onCancelOrGracefulShutdown: {
        stop.set()
    }
}
