public import PlateKeeperCore
import CV4L2
import Imaging
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// What a camera is asked for (from the config): formats in order of preference, size, rate,
/// buffers and controls by name.
public struct CaptureRequest: Sendable, Equatable {
    public var formats: [PixelFormat]
    public var width: Int
    public var height: Int
    public var framesPerSecond: Double
    public var buffers: Int
    public var controls: [String: Int]

    public init(formats: [PixelFormat] = [.grey, .yuyv, .mjpeg], width: Int = 1280, height: Int = 720,
                framesPerSecond: Double = 15, buffers: Int = 4, controls: [String: Int] = [:]) {
        self.formats = formats
        self.width = width
        self.height = height
        self.framesPerSecond = framesPerSecond
        self.buffers = buffers
        self.controls = controls
    }
}

/// What the device agreed to.
public struct NegotiatedFormat: Sendable, Equatable, Codable {
    public var format: PixelFormat
    public var width: Int
    public var height: Int
    public var bytesPerLine: Int
    public var imageBytes: Int
    /// nil when the driver does not let the rate be set.
    public var framesPerSecond: Double?
}

/// One dequeued frame: luma, and the raw bytes as captured when asked for.
public struct CapturedFrame: Sendable {
    public var image: LumaImage
    public var raw: [UInt8]?
    /// The driver's frame counter; gaps are frames the driver dropped.
    public var sequence: UInt32
    /// Capture time: the buffer's monotonic timestamp mapped to wall time at dequeue (see `V4L2Camera`).
    public var time: CaptureTime
}

/// One open V4L2 capture device, streaming through mmap buffers. Owns the descriptor and the
/// mappings and releases them in `deinit` (stream off, unmap, close).
///
/// Opening checks the capabilities (video capture and streaming), negotiates the first preferred
/// pixel format the device offers at the size nearest the request, sets the frame rate with
/// S_PARM, applies controls by name (QUERYCTRL), and queues the buffers. Luma comes without colour
/// conversion: GREY as is, the Y bytes of YUYV, MJPEG decoded straight to gray.
///
/// Time: drivers stamp buffers with CLOCK_MONOTONIC when the frame was taken. At dequeue the
/// offset between CLOCK_REALTIME and CLOCK_MONOTONIC is read and added, so the wall time is the
/// capture instant on the current wall clock (immune to how long the frame waited in the queue;
/// a wall-clock step between capture and dequeue shifts it, by design).
public final class V4L2Camera {
    public let path: String
    public let negotiated: NegotiatedFormat
    /// Controls the request named that the device does not have, or refused.
    public private(set) var controlProblems: [String] = []
    private let system: any V4L2System
    private let fd: Int32
    private var buffers: [(address: UnsafeMutableRawPointer, length: Int)] = []
    private var streaming = false
    private let jpeg: JPEGDecoder?

    public init(path: String, request: CaptureRequest, system: any V4L2System = LibV4L2System()) throws(CaptureError) {
        self.path = path
        self.system = system
        let fd = try V4L2Device.open(path, system: system)
        self.fd = fd
        do {
            let device = V4L2Device(fd: fd, path: path, system: system)
            try device.requireCapture()
            let formats = try device.formats()
            negotiated = try device.negotiate(request, offered: formats)
            controlProblems = device.apply(controls: request.controls)
            jpeg = negotiated.format == .mjpeg ? try? JPEGDecoder() : nil
            buffers = try device.mapBuffers(count: request.buffers)
            try device.streamOn()
            streaming = true
        } catch {
            for b in buffers { system.munmap(b.address, length: b.length) }
            system.close(fd)
            throw error
        }
    }

    deinit {
        if streaming {
            var type = UInt32(V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue)
            _ = system.ioctl(fd, CV4L2_VIDIOC_STREAMOFF, &type)
        }
        for b in buffers { system.munmap(b.address, length: b.length) }
        system.close(fd)
    }

    /// Waits up to `timeout` seconds for the next frame; nil if none came. Throws when the device
    /// failed (unplugged: ENODEV/EIO) or delivered a frame that cannot be read.
    public func nextFrame(timeout: Double, keepRaw: Bool = false) throws(CaptureError) -> CapturedFrame? {
        let ready = system.poll(fd, timeoutMilliseconds: Int32(max(0, min(timeout * 1000, 3_600_000))))
        if ready == 0 { return nil }
        if ready < 0 { throw .failed("poll", path: path, errno: -ready) }
        var buffer = v4l2_buffer()
        buffer.type = UInt32(V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue)
        buffer.memory = UInt32(V4L2_MEMORY_MMAP.rawValue)
        let result = system.ioctl(fd, CV4L2_VIDIOC_DQBUF, &buffer)
        if result == -EAGAIN { return nil }
        guard result == 0 else {
            throw .failed("VIDIOC_DQBUF", path: path, errno: -result)
        }
        let monotonicNow = Self.clock(CLOCK_MONOTONIC), realNow = Self.clock(CLOCK_REALTIME)
        let stamp = Int64(buffer.timestamp.tv_sec) * 1_000_000_000 + Int64(buffer.timestamp.tv_usec) * 1000
        let captured = stamp > 0 && stamp <= monotonicNow ? realNow - (monotonicNow - stamp) : realNow
        guard Int(buffer.index) < buffers.count else {
            throw CaptureError(.device, path: path, "driver returned buffer \(buffer.index) of \(buffers.count)", call: "VIDIOC_DQBUF")
        }
        if buffer.flags & UInt32(V4L2_BUF_FLAG_ERROR) != 0 {
            throw CaptureError(.badFrame, path: path, "frame \(buffer.sequence) flagged as corrupted by the driver", call: "VIDIOC_DQBUF")
        }
        let memory = UnsafeRawBufferPointer(start: buffers[Int(buffer.index)].address, count: min(Int(buffer.bytesused), buffers[Int(buffer.index)].length))
        let image: LumaImage
        var raw: [UInt8]?
        do {
            image = try luma(memory, sequence: buffer.sequence)
            if keepRaw {
                raw = negotiated.format == .mjpeg ? [UInt8](memory) : compact(memory)
            }
        } catch {
            try requeue(buffer)
            throw error
        }
        // Hand the buffer back to the driver; a refusal means the device is gone (unplugged).
        try requeue(buffer)
        return CapturedFrame(image: image, raw: raw, sequence: buffer.sequence,
                             time: CaptureTime(unixNanoseconds: captured, quality: .unknown))
    }

    private func requeue(_ buffer: v4l2_buffer) throws(CaptureError) {
        var back = buffer
        let result = system.ioctl(fd, CV4L2_VIDIOC_QBUF, &back)
        guard result == 0 else {
            throw .failed("VIDIOC_QBUF", path: path, errno: -result)
        }
    }

    /// GREY and YUYV rows without the driver's padding (exactly width × height × bytes per pixel).
    private func compact(_ memory: UnsafeRawBufferPointer) -> [UInt8] {
        let n = negotiated, rowBytes = n.width * (n.format == .yuyv ? 2 : 1)
        if n.bytesPerLine == rowBytes { return [UInt8](memory.prefix(rowBytes * n.height)) }
        var out = [UInt8](repeating: 0, count: rowBytes * n.height)
        for y in 0..<n.height where y * n.bytesPerLine + rowBytes <= memory.count {
            for x in 0..<rowBytes { out[y * rowBytes + x] = memory[y * n.bytesPerLine + x] }
        }
        return out
    }

    private func luma(_ memory: UnsafeRawBufferPointer, sequence: UInt32) throws(CaptureError) -> LumaImage {
        let n = negotiated
        switch n.format {
        case .grey, .yuyv:
            let step = n.format == .yuyv ? 2 : 1
            let needed = n.bytesPerLine * (n.height - 1) + n.width * step
            guard memory.count >= needed else {
                throw CaptureError(.badFrame, path: path, "frame \(sequence) has \(memory.count) bytes, \(needed) expected for \(n.width)x\(n.height) \(n.format.rawValue)")
            }
            let source = memory.baseAddress!.assumingMemoryBound(to: UInt8.self)
            let pixels = [UInt8](unsafeUninitializedCapacity: n.width * n.height) { out, count in
                let dst = out.baseAddress!
                for y in 0..<n.height {
                    let row = source + y * n.bytesPerLine
                    let target = dst + y * n.width
                    if step == 1 {
                        target.update(from: row, count: n.width)  // GREY: one copy per row
                    } else {
                        for x in 0..<n.width { target[x] = row[2 &* x] }  // YUYV: every even byte
                    }
                }
                count = n.width * n.height
            }
            return LumaImage(width: n.width, height: n.height, pixels: pixels)
        case .mjpeg:
            guard let jpeg else { throw CaptureError(.unsupported, path: path, "no JPEG decoder") }
            do {
                let image = try jpeg.decode([UInt8](memory))
                guard image.width == n.width, image.height == n.height else {
                    throw CaptureError(.badFrame, path: path, "MJPEG frame \(sequence) is \(image.width)x\(image.height), \(n.width)x\(n.height) negotiated")
                }
                return image
            } catch let error as CaptureError {
                throw error
            } catch {
                throw CaptureError(.badFrame, path: path, "MJPEG frame \(sequence): \(error)")
            }
        }
    }

    static func clock(_ id: clockid_t) -> Int64 {
        var ts = timespec()
        clock_gettime(id, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}
