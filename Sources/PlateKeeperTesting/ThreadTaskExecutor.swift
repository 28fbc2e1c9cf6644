import Foundation

/// A task executor on a serial dispatch queue of its own. Tests run the code under test on it
/// (`Task(executorPreference:)`) so that it keeps going while other tests block the cooperative
/// pool's few threads with synchronous waits (on 2 cores, two such tests stall every other task).
public final class ThreadTaskExecutor: TaskExecutor, @unchecked Sendable {
    private let queue: DispatchQueue

    public init(_ label: String = "platekeeper.test-executor") {
        queue = DispatchQueue(label: label)
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        queue.async { unowned.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }

    /// Starts `body` on a fresh executor of this kind.
    public static func task(_ label: String = "platekeeper.test-executor", _ body: @escaping @Sendable () async -> Void) -> Task<Void, Never> {
        Task(executorPreference: ThreadTaskExecutor(label)) { await body() }
    }
}
