import Foundation
import PlateKeeperCore

/// The hand-over between camera threads and recognition workers: a few frames per camera.
///
/// When a camera's slots are full the oldest waiting frame is dropped for the new one (the newest
/// frame wins: a late read of an old frame is worth less than a read of the car now in view), and the
/// drop is counted by the caller. Workers take frames round-robin over cameras so one busy camera
/// cannot starve the others. Blocking, for threads; never used from the cooperative pool.
final class FrameQueue: @unchecked Sendable {
    enum Taken {
        case frame(Frame)
        case timedOut
        case closed
    }

    private let condition = NSCondition()
    private var waiting: [CameraID: [Frame]] = [:]
    private var order: [CameraID] = []
    private var next = 0
    private var closed = false
    /// Frames of each camera queued or being read (taken, not yet `finished`).
    private var outstanding: [CameraID: Int] = [:]
    let depth: Int

    init(depth: Int) {
        self.depth = max(1, depth)
    }

    /// Queues `frame`; returns true when an older frame of the same camera was dropped for it.
    /// After `close()`, frames are refused (returns true: the frame is dropped).
    @discardableResult
    func push(_ frame: Frame) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        if closed { return true }
        if waiting[frame.camera] == nil { order.append(frame.camera) }
        var frames = waiting[frame.camera, default: []]
        var dropped = false
        if frames.count >= depth {
            frames.removeFirst()
            dropped = true
        } else {
            outstanding[frame.camera, default: 0] += 1
        }
        frames.append(frame)
        waiting[frame.camera] = frames
        condition.signal()
        return dropped
    }

    /// Queues `frame` once its camera has room, waiting as long as it takes (for replay sources that
    /// play as fast as recognition reads: nothing is dropped). Returns false if the queue was closed
    /// or `stop` was set first.
    func pushWhenRoom(_ frame: Frame, unless stop: StopFlag) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while !closed, !stop.isSet, waiting[frame.camera, default: []].count >= depth {
            _ = condition.wait(until: Date(timeIntervalSinceNow: 0.1))
        }
        if closed || stop.isSet { return false }
        if waiting[frame.camera] == nil { order.append(frame.camera) }
        waiting[frame.camera, default: []].append(frame)
        outstanding[frame.camera, default: 0] += 1
        condition.broadcast()
        return true
    }

    /// The next frame, waiting up to `timeout` seconds. After `close()`, the frames still queued are
    /// handed out, then `.closed`.
    func take(timeout: Double) -> Taken {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date(timeIntervalSinceNow: timeout)
        while true {
            for step in 0..<order.count {
                let camera = order[(next + step) % order.count]
                if var frames = waiting[camera], !frames.isEmpty {
                    let frame = frames.removeFirst()
                    waiting[camera] = frames
                    next = (next + step + 1) % order.count
                    condition.broadcast()  // a camera waiting for room may go on
                    return .frame(frame)
                }
            }
            if closed { return .closed }
            if !condition.wait(until: deadline) { return .timedOut }
        }
    }

    /// A worker is done with `frame` (its result handed on). When that was the camera's last frame
    /// queued or being read, `drained` is called, under the queue's lock: a frame queued after it
    /// can only be handed on after the call.
    func finished(_ frame: Frame, drained: (CameraID) -> Void) {
        condition.lock()
        defer { condition.unlock() }
        let left = max(0, outstanding[frame.camera, default: 0] - 1)
        outstanding[frame.camera] = left
        if left == 0 { drained(frame.camera) }
    }

    /// No more frames will come: workers finish what is queued and stop.
    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }

    var count: Int {
        condition.lock()
        defer { condition.unlock() }
        return waiting.values.reduce(0) { $0 + $1.count }
    }
}
