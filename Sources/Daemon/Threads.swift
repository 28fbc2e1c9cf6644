import Foundation
import PlateKeeperCore
import ServiceLifecycle

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
