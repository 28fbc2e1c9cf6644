import Capture
import Config
import Foundation
import Logging
import PlateKeeperCore
import ServiceLifecycle

/// A V4L2 camera: opens the device, streams, and hands luma frames to recognition, on a thread of
/// its own. Every fault (device missing, busy, unplugged mid-stream, a format it refuses, no frames
/// arriving) is reported in status and retried with backoff (1 s doubling to 30 s), without
/// touching the other cameras or the journal. Driver-side drops show as sequence gaps and are
/// counted with the queue's drops. Frames that cannot be decoded are counted, logged (ten at once,
/// then at most one a second), and do not count as frames: a camera that sends only torn frames shows as stalled.
struct DeviceCameraService: Service, CustomStringConvertible {
    let camera: CameraSection
    let path: String
    let board: CameraBoard
    let queue: FrameQueue
    let logger: Logger

    var description: String { "camera \(camera.id) (\(path))" }

    func run() async {
        await runOnThreadUntilShutdown(name: "camera-\(camera.id)") { self.capture($0) }
        board.set(state: "stopped")
    }

    private func capture(_ stop: StopFlag) {
        let request = CaptureRequest(
            formats: camera.pixelFormats, width: camera.width, height: camera.height, framesPerSecond: camera.framesPerSecond,
            buffers: camera.buffers, controls: camera.controls)
        var backoff = 1.0
        var sequence: UInt64 = 0
        var badFrameLog = LogThrottle()
        while !stop.isSet {
            let device: V4L2Camera
            do {
                device = try V4L2Camera(path: path, request: request)
            } catch {
                board.set(state: "retrying", error: error.description)
                logger.error("camera cannot start; retrying", metadata: ["error": "\(error)", "retry.seconds": "\(backoff)"])
                if !stop.sleep(backoff) { return }
                backoff = min(backoff * 2, 30)
                continue
            }
            let n = device.negotiated
            logger.notice("camera streaming", metadata: [
                "format": "\(n.format.rawValue)", "size": "\(n.width)x\(n.height)", "fps": "\(n.framesPerSecond.map { "\($0)" } ?? "?")",
            ])
            for problem in device.controlProblems { logger.warning("camera control not applied", metadata: ["problem": "\(problem)"]) }
            board.set(state: "streaming", error: device.controlProblems.first)
            var lastSequence: UInt32?
            var stalled = false
            var lastFrameAt = SystemClock.monotonic()
            var lastBadFrame: String?
            while !stop.isSet {
                var frame: CapturedFrame?
                do {
                    frame = try device.nextFrame(timeout: min(camera.stallSeconds, 0.5))
                } catch let error where error.code == .badFrame {
                    // Not a frame for the stall clock: a camera that sends only torn frames is
                    // stalled, and gets reopened like one.
                    board.badFrame(error.description)
                    lastBadFrame = error.description
                    let (log, held) = badFrameLog.allow(now: SystemClock.monotonic())
                    if log { logger.warning("bad frame skipped", metadata: ["error": "\(error)", "held.back": "\(held)"]) }
                    frame = nil
                } catch {
                    board.set(state: "retrying", error: error.description)
                    logger.error("camera failed while streaming; reopening", metadata: ["error": "\(error)"])
                    break
                }
                guard let frame else {
                    let silent = SystemClock.monotonic() - lastFrameAt
                    let reason = "no good frame for \(Int(silent)) s" + (lastBadFrame.map { "; last bad frame: \($0)" } ?? "")
                    if silent > camera.stallSeconds, !stalled {
                        stalled = true
                        board.set(state: "stalled", error: reason)
                        logger.warning("no frames from the camera", metadata: ["seconds": "\(Int(silent))"])
                    }
                    if silent > camera.stallSeconds * 3 {
                        board.set(state: "retrying", error: reason)
                        break  // reopen: some drivers only recover from a fresh open
                    }
                    continue
                }
                lastBadFrame = nil
                lastFrameAt = SystemClock.monotonic()
                if stalled {
                    stalled = false
                    board.set(state: "streaming")
                }
                backoff = 1
                if let last = lastSequence, frame.sequence > last &+ 1 {
                    board.driverDropped(Int(frame.sequence - last - 1))
                }
                lastSequence = frame.sequence
                let f = Frame(camera: camera.id, sequence: sequence, captureTime: CaptureTime(unixNanoseconds: frame.time.unixNanoseconds, quality: SystemClock.quality()),
                              name: "\(camera.id)#\(frame.sequence)", image: frame.image)
                sequence += 1
                board.received(dropped: queue.push(f))
            }
            if !stop.isSet, !stop.sleep(backoff) { return }
            backoff = min(backoff * 2, 30)
        }
    }
}
