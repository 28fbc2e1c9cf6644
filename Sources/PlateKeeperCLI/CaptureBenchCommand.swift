import ArgumentParser
import Capture
import Foundation
import PlateKeeperCore

#if canImport(Glibc)
import Glibc
#endif

/// `platekeeper bench capture`: CPU time per frame of capture (dequeue, luma extraction, requeue)
/// for GREY and YUYV at 640x480 and 1280x720, against `v4l2-ctl --stream-mmap` capturing the same
/// frames on the same device in the same command as the baseline.
struct CaptureBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capture", abstract: "Capture CPU time per frame against v4l2-ctl --stream-mmap (run where a camera is, e.g. in the vivid VM).")

    @Option(help: "The device.") var camera = "/dev/video0"
    @Option(help: "Frames per measurement.") var frames = 150

    func validate() throws { try require(frames, in: 1...100_000, "--frames") }

    func run() throws {
        let cases: [(PixelFormat, Int, Int, Double)] = [(.grey, 640, 480, 25), (.yuyv, 640, 480, 25), (.grey, 1280, 720, 12.5), (.yuyv, 1280, 720, 12.5)]
        print("capture CPU time per frame, \(frames) frames each, \(camera)")
        print("format  size        platekeeper ms  v4l2-ctl ms  ratio")
        for (format, width, height, fps) in cases {
            let ours = try measureOurs(format, width, height, fps)
            let theirs = try measureV4L2Ctl(format, width, height, fps)
            print("\(format.rawValue.padding(toLength: 6, withPad: " ", startingAt: 0))  \("\(width)x\(height)".padding(toLength: 10, withPad: " ", startingAt: 0))"
                  + String(format: "  %14.3f  %11.3f  %5.2f", ours, theirs, theirs > 0 ? ours / theirs : 0))
        }
    }

    /// CPU milliseconds per frame of this thread while capturing.
    private func measureOurs(_ format: PixelFormat, _ width: Int, _ height: Int, _ fps: Double) throws -> Double {
        let device = try V4L2Camera(path: camera, request: CaptureRequest(formats: [format], width: width, height: height, framesPerSecond: fps))
        guard device.negotiated.format == format, device.negotiated.width == width else {
            throw ValidationError("\(camera) gave \(device.negotiated) for \(format.rawValue) \(width)x\(height)")
        }
        _ = try device.nextFrame(timeout: 5)  // warm up
        let start = Self.threadCPU()
        var got = 0
        while got < frames {
            if try device.nextFrame(timeout: 5) != nil { got += 1 }
        }
        return (Self.threadCPU() - start) / Double(frames) * 1000
    }

    /// CPU milliseconds per frame of `v4l2-ctl --stream-mmap`: two runs, of N and 2N frames, and the
    /// difference divided by N, so its start-up (exec, libraries, negotiation) is not counted.
    private func measureV4L2Ctl(_ format: PixelFormat, _ width: Int, _ height: Int, _ fps: Double) throws -> Double {
        let short = try v4l2ctl(format, width, height, fps, count: frames)
        let long = try v4l2ctl(format, width, height, fps, count: 2 * frames)
        return max(0, long - short) / Double(frames) * 1000
    }

    /// CPU seconds of one `v4l2-ctl` run capturing `count` frames.
    private func v4l2ctl(_ format: PixelFormat, _ width: Int, _ height: Int, _ fps: Double, count: Int) throws -> Double {
        let before = Self.cpu(__rusage_who_t(RUSAGE_CHILDREN.rawValue))
        // posix_spawn rather than Foundation's Process, which needs a CFSocket pair the VM's chroot lacks.
        let arguments = ["v4l2-ctl", "-d", camera, "--set-fmt-video=width=\(width),height=\(height),pixelformat=\(format.rawValue)",
                         "--set-parm=\(fps)", "--stream-mmap", "--stream-count=\(count)", "--stream-to=/dev/null"]
        var argv = arguments.map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var pid: pid_t = 0
        guard posix_spawn(&pid, "/usr/bin/v4l2-ctl", &actions, nil, &argv, environ) == 0 else {
            throw ValidationError("cannot start /usr/bin/v4l2-ctl")
        }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        guard status == 0 else { throw ValidationError("v4l2-ctl failed (wait status \(status))") }
        return Self.cpu(__rusage_who_t(RUSAGE_CHILDREN.rawValue)) - before
    }

    /// This thread's CPU seconds (the scheduler's exact count, not tick samples).
    static func threadCPU() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    static func cpu(_ who: __rusage_who_t) -> Double {
        var usage = rusage()
        getrusage(who, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }
}
