public import PlateKeeperCore
import CV4L2
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A frame size a device offers, with the frame rates it offers at that size.
public struct V4L2FrameSize: Sendable, Codable, Equatable {
    public var width: Int
    public var height: Int
    /// Discrete rates; empty when the device gives none (stepwise or unknown).
    public var framesPerSecond: [Double]
    /// For stepwise/continuous sizes: the range, as `maxWidth`/`maxHeight` with steps.
    public var maxWidth: Int?
    public var maxHeight: Int?
    public var stepWidth: Int?
    public var stepHeight: Int?

    public init(width: Int, height: Int, framesPerSecond: [Double], maxWidth: Int? = nil, maxHeight: Int? = nil,
                stepWidth: Int? = nil, stepHeight: Int? = nil) {
        self.width = width
        self.height = height
        self.framesPerSecond = framesPerSecond
        self.maxWidth = maxWidth
        self.maxHeight = maxHeight
        self.stepWidth = stepWidth
        self.stepHeight = stepHeight
    }
}

/// A pixel format a device offers.
public struct V4L2FormatInfo: Sendable, Codable, Equatable {
    public var fourcc: String
    public var description: String
    public var sizes: [V4L2FrameSize]

    public init(fourcc: String, description: String, sizes: [V4L2FrameSize]) {
        self.fourcc = fourcc
        self.description = description
        self.sizes = sizes
    }
}

/// A control a device offers (exposure, gain, …), named as `v4l2-ctl` names it.
public struct V4L2ControlInfo: Sendable, Codable, Equatable {
    public var name: String
    public var label: String
    public var id: UInt32
    public var minimum: Int
    public var maximum: Int
    public var step: Int
    public var defaultValue: Int
    public var value: Int?
}

/// Everything `platekeeper cameras` shows about one device.
public struct V4L2DeviceInfo: Sendable, Codable, Equatable {
    public var path: String
    public var driver: String
    public var card: String
    public var busInfo: String
    public var canCapture: Bool
    public var canStream: Bool
    public var formats: [V4L2FormatInfo]
    public var controls: [V4L2ControlInfo]
    /// Stable names (/dev/v4l/by-id, by-path) that point at this device.
    public var stableNames: [String]
}

/// The ioctl conversations with one open device: capabilities, enumeration, negotiation,
/// controls, buffers. Does not own the descriptor (`V4L2Camera` or `describe` does).
struct V4L2Device {
    let fd: Int32
    let path: String
    let system: any V4L2System

    /// Opens `path`; a missing device is `.notFound`, any other refusal (EBUSY, EACCES…) `.device`.
    static func open(_ path: String, system: any V4L2System) throws(CaptureError) -> Int32 {
        let fd = system.open(path)
        guard fd >= 0 else { throw .failed("v4l2_open", path: path, errno: -fd, fd == -ENOENT ? .notFound : .device) }
        return fd
    }

    func call(_ name: String, _ request: UInt, _ argument: UnsafeMutableRawPointer) throws(CaptureError) {
        let result = system.ioctl(fd, request, argument)
        guard result == 0 else {
            throw .failed(name, path: path, errno: -result)
        }
    }

    func capability() throws(CaptureError) -> v4l2_capability {
        var cap = v4l2_capability()
        try call("VIDIOC_QUERYCAP", CV4L2_VIDIOC_QUERYCAP, &cap)
        return cap
    }

    func requireCapture() throws(CaptureError) {
        let cap = try capability()
        let caps = cap.capabilities & UInt32(V4L2_CAP_DEVICE_CAPS) != 0 ? cap.device_caps : cap.capabilities
        guard caps & UInt32(V4L2_CAP_VIDEO_CAPTURE) != 0 else {
            throw CaptureError(.unsupported, path: path, "not a video capture device (\(Self.text(cap.card)))", call: "VIDIOC_QUERYCAP")
        }
        guard caps & UInt32(V4L2_CAP_STREAMING) != 0 else {
            throw CaptureError(.unsupported, path: path, "the device cannot stream (no V4L2_CAP_STREAMING)", call: "VIDIOC_QUERYCAP")
        }
    }

    /// Every pixel format with its sizes and rates.
    func formats() throws(CaptureError) -> [V4L2FormatInfo] {
        var result: [V4L2FormatInfo] = []
        for index in 0..<64 {
            var desc = v4l2_fmtdesc()
            desc.index = UInt32(index)
            desc.type = UInt32(V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue)
            let r = system.ioctl(fd, CV4L2_VIDIOC_ENUM_FMT, &desc)
            if r == -EINVAL { break }
            guard r == 0 else { throw .failed("VIDIOC_ENUM_FMT", path: path, errno: -r) }
            result.append(V4L2FormatInfo(fourcc: Self.fourcc(desc.pixelformat), description: Self.text(desc.description),
                                         sizes: sizes(desc.pixelformat)))
        }
        return result
    }

    func sizes(_ pixelformat: UInt32) -> [V4L2FrameSize] {
        var sizes: [V4L2FrameSize] = []
        for index in 0..<64 {
            var size = v4l2_frmsizeenum()
            size.index = UInt32(index)
            size.pixel_format = pixelformat
            guard system.ioctl(fd, CV4L2_VIDIOC_ENUM_FRAMESIZES, &size) == 0 else { break }
            if size.type == UInt32(V4L2_FRMSIZE_TYPE_DISCRETE.rawValue) {
                let w = Int(size.discrete.width), h = Int(size.discrete.height)
                sizes.append(V4L2FrameSize(width: w, height: h, framesPerSecond: rates(pixelformat, w, h)))
            } else {
                let s = size.stepwise
                sizes.append(V4L2FrameSize(
                    width: Int(s.min_width), height: Int(s.min_height), framesPerSecond: [],
                    maxWidth: Int(s.max_width), maxHeight: Int(s.max_height), stepWidth: Int(max(s.step_width, 1)),
                    stepHeight: Int(max(s.step_height, 1))))
                break
            }
        }
        return sizes
    }

    func rates(_ pixelformat: UInt32, _ width: Int, _ height: Int) -> [Double] {
        var rates: [Double] = []
        for index in 0..<64 {
            var interval = v4l2_frmivalenum()
            interval.index = UInt32(index)
            interval.pixel_format = pixelformat
            interval.width = UInt32(width)
            interval.height = UInt32(height)
            guard system.ioctl(fd, CV4L2_VIDIOC_ENUM_FRAMEINTERVALS, &interval) == 0,
                  interval.type == UInt32(V4L2_FRMIVAL_TYPE_DISCRETE.rawValue) else { break }
            let f = interval.discrete
            if f.numerator > 0 { rates.append((Double(f.denominator) / Double(f.numerator) * 100).rounded() / 100) }
        }
        return rates
    }

    /// Picks format and size from what is offered, sets them (S_FMT) and the rate (S_PARM).
    func negotiate(_ request: CaptureRequest, offered: [V4L2FormatInfo]) throws(CaptureError) -> NegotiatedFormat {
        guard let choice = V4L2Negotiation.choose(request, offered: offered) else {
            let names = offered.map(\.fourcc).joined(separator: ", ")
            throw CaptureError(.unsupported, path: path,
                               "offers \(names.isEmpty ? "no formats" : names); none of \(request.formats.map(\.rawValue).joined(separator: ", ")) asked for")
        }
        var format = v4l2_format()
        format.type = UInt32(V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue)
        format.fmt.pix.width = UInt32(choice.width)
        format.fmt.pix.height = UInt32(choice.height)
        format.fmt.pix.pixelformat = Self.fourcc(choice.format)
        format.fmt.pix.field = UInt32(V4L2_FIELD_NONE.rawValue)
        try call("VIDIOC_S_FMT", CV4L2_VIDIOC_S_FMT, &format)
        let got = format.fmt.pix
        guard V4L2Negotiation.pixelFormat(Self.fourcc(got.pixelformat)) == choice.format else {
            throw CaptureError(.unsupported, path: path,
                               "asked for \(choice.format.rawValue), the driver set \(Self.fourcc(got.pixelformat))", call: "VIDIOC_S_FMT")
        }
        let width = Int(got.width), height = Int(got.height)
        let minimumLine = width * (choice.format == .yuyv ? 2 : 1)
        let bytesPerLine = choice.format == .mjpeg ? 0 : max(Int(got.bytesperline), minimumLine)
        var negotiated = NegotiatedFormat(format: choice.format, width: width, height: height, bytesPerLine: bytesPerLine,
                                          imageBytes: Int(got.sizeimage), framesPerSecond: nil)
        negotiated.framesPerSecond = setRate(request.framesPerSecond)
        return negotiated
    }

    /// Sets the frame interval if the driver allows it; returns the rate in effect, if known.
    func setRate(_ fps: Double) -> Double? {
        var parm = v4l2_streamparm()
        parm.type = UInt32(V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue)
        guard system.ioctl(fd, CV4L2_VIDIOC_G_PARM, &parm) == 0 else { return nil }
        if parm.parm.capture.capability & UInt32(V4L2_CAP_TIMEPERFRAME) != 0, fps > 0 {
            parm.parm.capture.timeperframe.numerator = 1000
            parm.parm.capture.timeperframe.denominator = UInt32((fps * 1000).rounded())
            _ = system.ioctl(fd, CV4L2_VIDIOC_S_PARM, &parm)
        }
        let t = parm.parm.capture.timeperframe
        return t.numerator > 0 && t.denominator > 0 ? (Double(t.denominator) / Double(t.numerator) * 100).rounded() / 100 : nil
    }

    func controls() -> [V4L2ControlInfo] {
        var result: [V4L2ControlInfo] = []
        var query = v4l2_queryctrl()
        query.id = UInt32(V4L2_CTRL_FLAG_NEXT_CTRL)
        for _ in 0..<512 {
            guard system.ioctl(fd, CV4L2_VIDIOC_QUERYCTRL, &query) == 0 else { break }
            let id = query.id
            if query.flags & UInt32(V4L2_CTRL_FLAG_DISABLED) == 0, query.type != V4L2_CTRL_TYPE_CTRL_CLASS.rawValue {
                var control = v4l2_control()
                control.id = id
                let value: Int? = system.ioctl(fd, CV4L2_VIDIOC_G_CTRL, &control) == 0 ? Int(control.value) : nil
                let label = Self.text(query.name)
                result.append(V4L2ControlInfo(
                    name: Self.controlName(label), label: label, id: id, minimum: Int(query.minimum), maximum: Int(query.maximum),
                    step: Int(query.step), defaultValue: Int(query.default_value), value: value))
            }
            query = v4l2_queryctrl()
            query.id = id | UInt32(V4L2_CTRL_FLAG_NEXT_CTRL)
        }
        return result
    }

    /// Sets controls by name; returns a message per control that is unknown, out of range or refused.
    func apply(controls wanted: [String: Int]) -> [String] {
        guard !wanted.isEmpty else { return [] }
        let known = controls()
        var problems: [String] = []
        for (name, value) in wanted.sorted(by: { $0.key < $1.key }) {
            guard let info = known.first(where: { $0.name == name }) else {
                problems.append("no control named \(name) (has: \(known.map(\.name).joined(separator: ", ")))")
                continue
            }
            guard (info.minimum...info.maximum).contains(value) else {
                problems.append("\(name) = \(value) is outside \(info.minimum)...\(info.maximum)")
                continue
            }
            var control = v4l2_control()
            control.id = info.id
            control.value = Int32(value)
            let r = system.ioctl(fd, CV4L2_VIDIOC_S_CTRL, &control)
            if r != 0 { problems.append("\(name) = \(value) refused: \(String(cString: strerror(-r))) (VIDIOC_S_CTRL)") }
        }
        return problems
    }

    func mapBuffers(count: Int) throws(CaptureError) -> [(address: UnsafeMutableRawPointer, length: Int)] {
        var request = v4l2_requestbuffers()
        request.count = UInt32(count)
        request.type = UInt32(V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue)
        request.memory = UInt32(V4L2_MEMORY_MMAP.rawValue)
        try call("VIDIOC_REQBUFS", CV4L2_VIDIOC_REQBUFS, &request)
        guard request.count >= 2 else {
            throw CaptureError(.device, path: path, "the driver granted \(request.count) buffers, at least 2 are needed", call: "VIDIOC_REQBUFS")
        }
        var mapped: [(address: UnsafeMutableRawPointer, length: Int)] = []
        do throws(CaptureError) {
            for index in 0..<request.count {
                var buffer = v4l2_buffer()
                buffer.index = index
                buffer.type = UInt32(V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue)
                buffer.memory = UInt32(V4L2_MEMORY_MMAP.rawValue)
                try call("VIDIOC_QUERYBUF", CV4L2_VIDIOC_QUERYBUF, &buffer)
                guard let address = system.mmap(fd, length: Int(buffer.length), offset: Int64(buffer.m.offset)) else {
                    throw .failed("v4l2_mmap", path: path, errno: errno)
                }
                mapped.append((address, Int(buffer.length)))
                try call("VIDIOC_QBUF", CV4L2_VIDIOC_QBUF, &buffer)
            }
        } catch {
            for b in mapped { system.munmap(b.address, length: b.length) }
            throw error
        }
        return mapped
    }

    func streamOn() throws(CaptureError) {
        var type = UInt32(V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue)
        try call("VIDIOC_STREAMON", CV4L2_VIDIOC_STREAMON, &type)
    }

    // MARK: Names

    static func fourcc(_ value: UInt32) -> String {
        String(decoding: (0..<4).map { UInt8((value >> (8 * $0)) & 0xFF) }, as: UTF8.self)
            .trimmingCharacters(in: .whitespaces)
    }

    static func fourcc(_ format: PixelFormat) -> UInt32 {
        let bytes = Array(format.rawValue.utf8)
        return (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[$1]) << (8 * $1) }
    }

    /// A fixed-size C char array as a Swift string.
    static func text<T>(_ tuple: T) -> String {
        withUnsafeBytes(of: tuple) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    /// "Exposure Time, Absolute" → "exposure_time_absolute", as v4l2-ctl names controls.
    static func controlName(_ label: String) -> String {
        var out = ""
        var pendingUnderscore = false
        for ch in label.lowercased() {
            if ch.isLetter || ch.isNumber {
                if pendingUnderscore, !out.isEmpty { out.append("_") }
                out.append(ch)
                pendingUnderscore = false
            } else {
                pendingUnderscore = true
            }
        }
        return out
    }
}

/// Choosing a format and size from what a device offers (pure, so it is unit-tested on its own).
public enum V4L2Negotiation {
    /// The first preferred format the device offers, at the offered size nearest the request.
    public static func choose(_ request: CaptureRequest, offered: [V4L2FormatInfo]) -> (format: PixelFormat, width: Int, height: Int)? {
        for wanted in request.formats {
            guard let info = offered.first(where: { pixelFormat($0.fourcc) == wanted }) else { continue }
            var best: (Int, Int)?
            var bestCost = Int.max
            for size in info.sizes {
                let candidate: (Int, Int)
                if let maxW = size.maxWidth, let maxH = size.maxHeight {
                    let sw = size.stepWidth ?? 1, sh = size.stepHeight ?? 1
                    let w = min(max(request.width, size.width), maxW), h = min(max(request.height, size.height), maxH)
                    candidate = (size.width + (w - size.width) / sw * sw, size.height + (h - size.height) / sh * sh)
                } else {
                    candidate = (size.width, size.height)
                }
                // Nearest in pixel count; a size at least as large as asked wins a tie.
                let cost = abs(candidate.0 * candidate.1 - request.width * request.height) * 2
                    + (candidate.0 < request.width || candidate.1 < request.height ? 1 : 0)
                if cost < bestCost {
                    bestCost = cost
                    best = candidate
                }
            }
            let size = best ?? (request.width, request.height)
            return (wanted, size.0, size.1)
        }
        return nil
    }

    /// The pipeline's format for a V4L2 fourcc (JPEG is treated as MJPEG).
    public static func pixelFormat(_ fourcc: String) -> PixelFormat? {
        switch fourcc {
        case "GREY": .grey
        case "YUYV": .yuyv
        case "MJPG", "JPEG": .mjpeg
        default: nil
        }
    }
}

/// Listing devices for `platekeeper cameras`.
public enum V4L2Probe {
    /// /dev/video* nodes, in number order.
    public static func devicePaths() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/dev")) ?? []
        return names.filter { $0.hasPrefix("video") && Int($0.dropFirst(5)) != nil }
            .sorted { Int($0.dropFirst(5))! < Int($1.dropFirst(5))! }
            .map { "/dev/\($0)" }
    }

    /// Opens `path` briefly and reads everything it offers (no streaming).
    public static func describe(_ path: String, system: any V4L2System = LibV4L2System()) throws(CaptureError) -> V4L2DeviceInfo {
        let fd = try V4L2Device.open(path, system: system)
        defer { system.close(fd) }
        let device = V4L2Device(fd: fd, path: path, system: system)
        let cap = try device.capability()
        let caps = cap.capabilities & UInt32(V4L2_CAP_DEVICE_CAPS) != 0 ? cap.device_caps : cap.capabilities
        let canCapture = caps & UInt32(V4L2_CAP_VIDEO_CAPTURE) != 0
        return V4L2DeviceInfo(
            path: path, driver: V4L2Device.text(cap.driver), card: V4L2Device.text(cap.card), busInfo: V4L2Device.text(cap.bus_info),
            canCapture: canCapture, canStream: caps & UInt32(V4L2_CAP_STREAMING) != 0,
            formats: canCapture ? (try device.formats()) : [], controls: device.controls(), stableNames: stableNames(of: path))
    }

    /// The /dev/v4l/by-id and by-path links that resolve to `path`.
    public static func stableNames(of path: String) -> [String] {
        let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: path)).map { _ in path } ?? path
        var names: [String] = []
        for folder in ["/dev/v4l/by-id", "/dev/v4l/by-path"] {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] {
                let link = "\(folder)/\(name)"
                if URL(fileURLWithPath: link).resolvingSymlinksInPath().path == URL(fileURLWithPath: target).resolvingSymlinksInPath().path {
                    names.append(link)
                }
            }
        }
        return names.sorted()
    }
}
