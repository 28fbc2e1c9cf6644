import Capture
import CV4L2
import Foundation
import Imaging
import PlateKeeperCore
import PlateKeeperTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A V4L2 device played from a script, behind the `V4L2System` seam: the ioctl conversation is the
/// real one (the same structs and request codes), the kernel is not. For what vivid cannot do:
/// MJPEG-only cameras, refusals, busy devices, padded rows, driver drops.
final class ScriptedDevice: V4L2System, @unchecked Sendable {
    struct Format {
        var fourcc: String
        var sizes: [(Int, Int)]
        var fps: [Double] = [30, 15]
    }
    struct Control {
        var id: UInt32
        var name: String
        var min: Int32, max: Int32, value: Int32
    }

    var openError: Int32 = 0
    var capabilities = UInt32(V4L2_CAP_VIDEO_CAPTURE) | UInt32(V4L2_CAP_STREAMING)
    var formats: [Format]
    var controls: [Control] = [Control(id: 0x0098_0900, name: "Brightness", min: 0, max: 255, value: 128),
                               Control(id: 0x0098_0913, name: "Gain", min: 0, max: 10, value: 1)]
    var sFmtError: Int32 = 0
    /// S_FMT answers with this fourcc instead of the one asked for.
    var substituteFourcc: String?
    var extraBytesPerLine = 0
    /// Frames to deliver: bytes and driver sequence number; then `afterFrames` from poll.
    var frames: [(bytes: [UInt8], sequence: UInt32)] = []
    var afterFrames: Int32 = 0
    var qbufErrorAfterFrames = false
    private(set) var setControls: [UInt32: Int32] = [:]
    private(set) var closed = false
    private(set) var current: (fourcc: UInt32, width: Int, height: Int, bytesPerLine: Int, size: Int) = (0, 0, 0, 0, 0)
    private var memory: [UnsafeMutableRawPointer] = []
    private var queued: [UInt32] = []
    private var streaming = false

    init(formats: [Format]) { self.formats = formats }
    deinit { for m in memory { m.deallocate() } }

    static func fourcc(_ s: String) -> UInt32 {
        let b = Array(s.utf8)
        return (0..<4).reduce(UInt32(0)) { $0 | UInt32(b[$1]) << (8 * $1) }
    }

    func open(_ path: String) -> Int32 { openError != 0 ? -openError : 7 }
    func close(_ fd: Int32) { closed = true }
    func mmap(_ fd: Int32, length: Int, offset: Int64) -> UnsafeMutableRawPointer? { memory[Int(offset) / 4096] }
    func munmap(_ address: UnsafeMutableRawPointer, length: Int) {}

    func poll(_ fd: Int32, timeoutMilliseconds: Int32) -> Int32 {
        if !frames.isEmpty, !queued.isEmpty { return 1 }
        return frames.isEmpty ? afterFrames : 0
    }

    func ioctl(_ fd: Int32, _ request: UInt, _ arg: UnsafeMutableRawPointer) -> Int32 {
        switch request {
        case CV4L2_VIDIOC_QUERYCAP:
            let cap = arg.assumingMemoryBound(to: v4l2_capability.self)
            cap.pointee = v4l2_capability()
            withUnsafeMutableBytes(of: &cap.pointee.driver) { $0.copyBytes(from: Array("scripted".utf8)) }
            withUnsafeMutableBytes(of: &cap.pointee.card) { $0.copyBytes(from: Array("Scripted camera".utf8)) }
            cap.pointee.capabilities = capabilities
            return 0
        case CV4L2_VIDIOC_ENUM_FMT:
            let d = arg.assumingMemoryBound(to: v4l2_fmtdesc.self)
            guard Int(d.pointee.index) < formats.count else { return -EINVAL }
            let f = formats[Int(d.pointee.index)]
            d.pointee.pixelformat = Self.fourcc(f.fourcc)
            withUnsafeMutableBytes(of: &d.pointee.description) { $0.copyBytes(from: Array(f.fourcc.utf8)) }
            return 0
        case CV4L2_VIDIOC_ENUM_FRAMESIZES:
            let e = arg.assumingMemoryBound(to: v4l2_frmsizeenum.self)
            guard let f = formats.first(where: { Self.fourcc($0.fourcc) == e.pointee.pixel_format }),
                  Int(e.pointee.index) < f.sizes.count else { return -EINVAL }
            e.pointee.type = UInt32(V4L2_FRMSIZE_TYPE_DISCRETE.rawValue)
            e.pointee.discrete.width = UInt32(f.sizes[Int(e.pointee.index)].0)
            e.pointee.discrete.height = UInt32(f.sizes[Int(e.pointee.index)].1)
            return 0
        case CV4L2_VIDIOC_ENUM_FRAMEINTERVALS:
            let e = arg.assumingMemoryBound(to: v4l2_frmivalenum.self)
            guard let f = formats.first(where: { Self.fourcc($0.fourcc) == e.pointee.pixel_format }),
                  Int(e.pointee.index) < f.fps.count else { return -EINVAL }
            e.pointee.type = UInt32(V4L2_FRMIVAL_TYPE_DISCRETE.rawValue)
            e.pointee.discrete.numerator = 1000
            e.pointee.discrete.denominator = UInt32(f.fps[Int(e.pointee.index)] * 1000)
            return 0
        case CV4L2_VIDIOC_S_FMT:
            if sFmtError != 0 { return -sFmtError }
            let f = arg.assumingMemoryBound(to: v4l2_format.self)
            if let substitute = substituteFourcc { f.pointee.fmt.pix.pixelformat = Self.fourcc(substitute) }
            let fourcc = f.pointee.fmt.pix.pixelformat
            let w = Int(f.pointee.fmt.pix.width), h = Int(f.pointee.fmt.pix.height)
            let bpp = fourcc == Self.fourcc("YUYV") ? 2 : 1
            let bpl = fourcc == Self.fourcc("MJPG") ? 0 : w * bpp + extraBytesPerLine
            let size = fourcc == Self.fourcc("MJPG") ? w * h : bpl * h
            f.pointee.fmt.pix.bytesperline = UInt32(bpl)
            f.pointee.fmt.pix.sizeimage = UInt32(size)
            current = (fourcc, w, h, bpl, size)
            return 0
        case CV4L2_VIDIOC_G_PARM, CV4L2_VIDIOC_S_PARM:
            let p = arg.assumingMemoryBound(to: v4l2_streamparm.self)
            p.pointee.parm.capture.capability = UInt32(V4L2_CAP_TIMEPERFRAME)
            if request == CV4L2_VIDIOC_G_PARM {
                p.pointee.parm.capture.timeperframe.numerator = 1
                p.pointee.parm.capture.timeperframe.denominator = 30
            }
            return 0
        case CV4L2_VIDIOC_QUERYCTRL:
            let q = arg.assumingMemoryBound(to: v4l2_queryctrl.self)
            let wanted = q.pointee.id & ~UInt32(V4L2_CTRL_FLAG_NEXT_CTRL)
            guard let c = controls.first(where: { $0.id > wanted }) else { return -EINVAL }
            q.pointee = v4l2_queryctrl()
            q.pointee.id = c.id
            q.pointee.type = V4L2_CTRL_TYPE_INTEGER.rawValue
            q.pointee.minimum = c.min
            q.pointee.maximum = c.max
            q.pointee.step = 1
            q.pointee.default_value = c.value
            withUnsafeMutableBytes(of: &q.pointee.name) { $0.copyBytes(from: Array(c.name.utf8)) }
            return 0
        case CV4L2_VIDIOC_G_CTRL:
            let c = arg.assumingMemoryBound(to: v4l2_control.self)
            c.pointee.value = setControls[c.pointee.id] ?? controls.first { $0.id == c.pointee.id }?.value ?? 0
            return 0
        case CV4L2_VIDIOC_S_CTRL:
            let c = arg.assumingMemoryBound(to: v4l2_control.self)
            setControls[c.pointee.id] = c.pointee.value
            return 0
        case CV4L2_VIDIOC_REQBUFS:
            let r = arg.assumingMemoryBound(to: v4l2_requestbuffers.self)
            r.pointee.count = min(r.pointee.count, 4)
            for m in memory { m.deallocate() }  // a second REQBUFS (count 0 on close) frees the first set, as the kernel does
            memory = (0..<Int(r.pointee.count)).map { _ in UnsafeMutableRawPointer.allocate(byteCount: max(current.size, 1 << 20), alignment: 64) }
            return 0
        case CV4L2_VIDIOC_QUERYBUF:
            let b = arg.assumingMemoryBound(to: v4l2_buffer.self)
            b.pointee.length = UInt32(max(current.size, 1 << 20))
            b.pointee.m.offset = b.pointee.index * 4096
            return 0
        case CV4L2_VIDIOC_QBUF:
            if qbufErrorAfterFrames, streaming, frames.isEmpty { return -ENODEV }
            queued.append(arg.assumingMemoryBound(to: v4l2_buffer.self).pointee.index)
            return 0
        case CV4L2_VIDIOC_DQBUF:
            guard !frames.isEmpty, !queued.isEmpty else { return -EAGAIN }
            let frame = frames.removeFirst()
            let index = queued.removeFirst()
            frame.bytes.withUnsafeBytes { memory[Int(index)].copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            let b = arg.assumingMemoryBound(to: v4l2_buffer.self)
            b.pointee.index = index
            b.pointee.bytesused = UInt32(frame.bytes.count)
            b.pointee.sequence = frame.sequence
            var ts = timespec()
            clock_gettime(CLOCK_MONOTONIC, &ts)
            b.pointee.timestamp = timeval(tv_sec: ts.tv_sec, tv_usec: ts.tv_nsec / 1000)
            return 0
        case CV4L2_VIDIOC_STREAMON:
            streaming = true
            return 0
        case CV4L2_VIDIOC_STREAMOFF:
            streaming = false
            return 0
        default:
            return -ENOTTY
        }
    }
}

@Suite("V4L2 negotiation and streaming against a scripted device")
struct ScriptedV4L2Tests {
    static let all: [PixelFormat] = [.grey, .yuyv, .mjpeg]

    @Test("an MJPEG-only camera is negotiated as MJPEG and its frames decode straight to luma")
    func mjpegOnly() throws {
        let device = ScriptedDevice(formats: [.init(fourcc: "MJPG", sizes: [(640, 480), (1280, 720), (1920, 1080)])])
        var image = LumaImage(width: 1280, height: 720, fill: 30)
        for y in 300..<400 { for x in 500..<800 { image[x, y] = 220 } }
        let jpeg = try JPEGEncoder().encode(image, quality: 95)
        device.frames = [(jpeg, 0), (Array(jpeg.prefix(jpeg.count / 2)), 1), (jpeg, 2)]
        let camera = try V4L2Camera(path: "/dev/scripted", request: CaptureRequest(formats: Self.all, width: 1280, height: 720), system: device)
        #expect(camera.negotiated.format == .mjpeg)
        #expect(camera.negotiated.width == 1280 && camera.negotiated.height == 720)
        let first = try #require(try camera.nextFrame(timeout: 1, keepRaw: true))
        #expect(first.image == (try JPEGDecoder().decode(jpeg)))
        #expect(first.raw == jpeg, "MJPEG is recorded as captured")
        // A torn JPEG is a bad frame: an error for that frame, the buffer goes back, the next one reads.
        #expect(throws: CaptureError.self) { try camera.nextFrame(timeout: 1) }
        let third = try #require(try camera.nextFrame(timeout: 1))
        #expect(third.sequence == 2)
    }

    @Test("the config's order of preference decides, and the offered size nearest the request is taken")
    func preferenceAndSize() throws {
        let device = ScriptedDevice(formats: [
            .init(fourcc: "YUYV", sizes: [(640, 480), (1280, 720)]), .init(fourcc: "GREY", sizes: [(640, 480), (1280, 800)]),
        ])
        let camera = try V4L2Camera(path: "/dev/scripted", request: CaptureRequest(formats: [.grey, .yuyv], width: 1280, height: 720), system: device)
        #expect(camera.negotiated.format == .grey)
        #expect(camera.negotiated.width == 1280 && camera.negotiated.height == 800)
        #expect(camera.negotiated.framesPerSecond == 15, "the requested rate, set with S_PARM")
        let yuyvFirst = try V4L2Camera(path: "/dev/scripted", request: CaptureRequest(formats: [.yuyv, .grey], width: 700, height: 500), system: device)
        #expect(yuyvFirst.negotiated.format == .yuyv && yuyvFirst.negotiated.width == 640)
    }

    @Test("YUYV with padded rows: luma is the Y bytes of each row, the padding skipped; sequence numbers come through")
    func paddedYUYV() throws {
        let device = ScriptedDevice(formats: [.init(fourcc: "YUYV", sizes: [(4, 2)])])
        device.extraBytesPerLine = 8
        let row0: [UInt8] = [10, 128, 20, 128, 30, 128, 40, 128] + [UInt8](repeating: 0xEE, count: 8)
        let row1: [UInt8] = [50, 128, 60, 128, 70, 128, 80, 128] + [UInt8](repeating: 0xEE, count: 8)
        device.frames = [(row0 + row1, 5), (row0 + row1, 9)]
        let camera = try V4L2Camera(path: "/dev/scripted", request: CaptureRequest(formats: [.yuyv], width: 4, height: 2), system: device)
        #expect(camera.negotiated.bytesPerLine == 16)
        let a = try #require(try camera.nextFrame(timeout: 1, keepRaw: true))
        #expect(a.image.pixels == [10, 20, 30, 40, 50, 60, 70, 80])
        #expect(a.raw == Array(row0.prefix(8)) + Array(row1.prefix(8)), "recorded without the padding")
        let b = try #require(try camera.nextFrame(timeout: 1))
        #expect(b.sequence - a.sequence == 4, "three frames dropped by the driver show as a gap")
        #expect(abs(b.time.unixNanoseconds - Int64(Date().timeIntervalSince1970 * 1e9)) < 2_000_000_000)
    }

    @Test("refusals are typed errors naming the call: no usable format, format substituted, busy, not a capture device, missing")
    func refusals() {
        func attempt(_ device: ScriptedDevice, _ formats: [PixelFormat] = ScriptedV4L2Tests.all) -> CaptureError? {
            do {
                _ = try V4L2Camera(path: "/dev/scripted", request: CaptureRequest(formats: formats), system: device)
                return nil
            } catch {
                #expect(device.closed || device.openError != 0, "the descriptor is closed after a failed open")
                return error
            }
        }
        let rgb = attempt(ScriptedDevice(formats: [.init(fourcc: "RGB3", sizes: [(640, 480)])]))
        #expect(rgb?.code == .unsupported && rgb?.message.contains("offers RGB3") == true)

        let substituted = ScriptedDevice(formats: [.init(fourcc: "GREY", sizes: [(640, 480)])])
        substituted.substituteFourcc = "YUYV"
        let s = attempt(substituted, [.grey])
        #expect(s?.code == .unsupported && s?.call == "VIDIOC_S_FMT")

        let busy = ScriptedDevice(formats: [.init(fourcc: "GREY", sizes: [(640, 480)])])
        busy.sFmtError = EBUSY
        let b = attempt(busy)
        #expect(b?.code == .device && b?.errno == EBUSY && b?.call == "VIDIOC_S_FMT")

        let output = ScriptedDevice(formats: [])
        output.capabilities = UInt32(V4L2_CAP_VIDEO_OUTPUT) | UInt32(V4L2_CAP_STREAMING)
        #expect(attempt(output)?.message.contains("not a video capture device") == true)

        let noStreaming = ScriptedDevice(formats: [.init(fourcc: "GREY", sizes: [(640, 480)])])
        noStreaming.capabilities = UInt32(V4L2_CAP_VIDEO_CAPTURE)
        #expect(attempt(noStreaming)?.message.contains("cannot stream") == true)

        let missing = ScriptedDevice(formats: [])
        missing.openError = ENOENT
        let m = attempt(missing)
        #expect(m?.code == .notFound && m?.call == "v4l2_open" && m?.errno == ENOENT)
    }

    @Test("controls are set by name; unknown names and values out of range are reported, not fatal")
    func controls() throws {
        let device = ScriptedDevice(formats: [.init(fourcc: "GREY", sizes: [(640, 480)])])
        let request = CaptureRequest(formats: [.grey], controls: ["gain": 7, "brightness": 999, "zoom": 2])
        let camera = try V4L2Camera(path: "/dev/scripted", request: request, system: device)
        #expect(device.setControls == [0x0098_0913: 7])
        #expect(camera.controlProblems.count == 2)
        #expect(camera.controlProblems.contains { $0.contains("brightness = 999 is outside 0...255") })
        #expect(camera.controlProblems.contains { $0.contains("no control named zoom") })
    }

    @Test("an unplugged device: poll's error and a refused QBUF both surface as device errors")
    func unplugged() throws {
        let device = ScriptedDevice(formats: [.init(fourcc: "GREY", sizes: [(2, 2)])])
        device.frames = [([1, 2, 3, 4], 0)]
        device.afterFrames = -ENODEV
        let camera = try V4L2Camera(path: "/dev/scripted", request: CaptureRequest(formats: [.grey], width: 2, height: 2), system: device)
        #expect(try camera.nextFrame(timeout: 1)?.image.pixels == [1, 2, 3, 4])
        do {
            _ = try camera.nextFrame(timeout: 1)
            Issue.record("no error after unplug")
        } catch {
            #expect(error.code == .device && error.errno == ENODEV && error.call == "poll")
        }
        let gone = ScriptedDevice(formats: [.init(fourcc: "GREY", sizes: [(2, 2)])])
        gone.frames = [([1, 2, 3, 4], 0)]
        gone.qbufErrorAfterFrames = true
        let camera2 = try V4L2Camera(path: "/dev/scripted", request: CaptureRequest(formats: [.grey], width: 2, height: 2), system: gone)
        #expect(throws: CaptureError.self) { try camera2.nextFrame(timeout: 1) }
    }

    @Test("stepwise sizes are clamped to the range and aligned to the step")
    func stepwise() {
        let offered = [V4L2FormatInfo(fourcc: "GREY", description: "", sizes: [
            V4L2FrameSize(width: 16, height: 16, framesPerSecond: [], maxWidth: 1920, maxHeight: 1080, stepWidth: 16, stepHeight: 8),
        ])]
        let inside = V4L2Negotiation.choose(CaptureRequest(formats: [.grey], width: 1000, height: 700), offered: offered)
        #expect(inside?.width == 992 && inside?.height == 696)
        let above = V4L2Negotiation.choose(CaptureRequest(formats: [.grey], width: 4000, height: 3000), offered: offered)
        #expect(above?.width == 1920 && above?.height == 1080)
        #expect(V4L2Negotiation.choose(CaptureRequest(formats: [.mjpeg]), offered: offered) == nil)
    }
}

@Suite("Recordings from a camera replay bit-exactly")
struct RecordingTests {
    @Test("MJPEG: frames recorded from an MJPEG-only camera replay to the same luma; a changed frame is caught")
    func mjpegRecordReplay() throws {
        let device = ScriptedDevice(formats: [.init(fourcc: "MJPG", sizes: [(320, 240)])])
        let encoder = try JPEGEncoder()
        var originals: [LumaImage] = []
        for i in 0..<4 {
            var image = LumaImage(width: 320, height: 240, fill: UInt8(40 + i * 30))
            for y in 100..<140 { for x in (40 + i * 20)..<(200 + i * 20) { image[x, y] = 250 } }
            originals.append(image)
            device.frames.append((try encoder.encode(image, quality: 90), UInt32(i * 2)))
        }
        let camera = try V4L2Camera(path: "/dev/scripted", request: CaptureRequest(formats: [.grey, .mjpeg], width: 320, height: 240), system: device)
        let dir = try TemporaryDirectory()
        let writer = try RecordingWriter(folder: dir.file("rec"), camera: "lane-9", format: camera.negotiated)
        var captured: [LumaImage] = []
        while let frame = try camera.nextFrame(timeout: 0.1, keepRaw: true) {
            captured.append(frame.image)
            try writer.append(frame)
        }
        try writer.finish(clockQuality: .synchronized)
        #expect(captured.count == 4)

        let plan = ReplaySource.plan([dir.file("rec")])
        #expect(plan.errors.isEmpty)
        #expect(plan.items.map(\.sequence) == [0, 2, 4, 6])
        let source = try ReplaySource()
        let replayed = try plan.items.map { try source.frame(for: $0) }
        #expect(replayed.map(\.image) == captured, "replay decodes exactly the luma the camera delivered")
        #expect(replayed.allSatisfy { $0.camera == "lane-9" && $0.captureTime.quality == .synchronized })

        // Re-encode one frame (same size, different bytes): the checksum catches it.
        var changed = originals[1]
        changed[5, 5] = 0
        try Data(try encoder.encode(changed, quality: 50)).write(to: URL(fileURLWithPath: plan.items[1].path))
        #expect(throws: CaptureError.self) { try source.frame(for: plan.items[1]) }
        #expect(throws: CaptureError.self) { try RecordingWriter(folder: dir.file("rec"), camera: "x", format: camera.negotiated) }
    }
}
