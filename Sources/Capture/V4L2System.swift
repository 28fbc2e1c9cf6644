import CV4L2

#if canImport(Glibc)
import Glibc
#endif

/// The system calls a V4L2 camera makes. `LibV4L2System` makes them for real, through libv4l2;
/// tests put a scripted device behind this seam (as swift-nio does for its system calls) to
/// exercise negotiation and streaming logic, including devices vivid cannot imitate.
public protocol V4L2System: Sendable {
    /// Returns the descriptor, or -errno.
    func open(_ path: String) -> Int32
    func close(_ fd: Int32)
    /// Returns 0, or -errno.
    func ioctl(_ fd: Int32, _ request: UInt, _ argument: UnsafeMutableRawPointer) -> Int32
    func mmap(_ fd: Int32, length: Int, offset: Int64) -> UnsafeMutableRawPointer?
    func munmap(_ address: UnsafeMutableRawPointer, length: Int)
    /// Waits until a buffer can be dequeued: 1 ready, 0 timed out, -errno on error
    /// (POLLERR/POLLHUP, as when the device goes away, is -ENODEV).
    func poll(_ fd: Int32, timeoutMilliseconds: Int32) -> Int32
}

/// The real thing: libv4l2's wrappers (which also convert formats for devices that need it).
public struct LibV4L2System: V4L2System {
    public init() {}

    /// libv4l2's own stderr messages are silenced once per process, before the first open.
    private static let quiet: Void = cv4l2_silence_log()

    public func open(_ path: String) -> Int32 {
        _ = Self.quiet
        let fd = cv4l2_open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC)
        return fd >= 0 ? fd : -errno
    }

    public func close(_ fd: Int32) { _ = cv4l2_close(fd) }

    public func ioctl(_ fd: Int32, _ request: UInt, _ argument: UnsafeMutableRawPointer) -> Int32 {
        while true {
            if cv4l2_ioctl(fd, request, argument) == 0 { return 0 }
            if errno != EINTR { return -errno }
        }
    }

    public func mmap(_ fd: Int32, length: Int, offset: Int64) -> UnsafeMutableRawPointer? {
        let p = cv4l2_mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, offset)
        return p == MAP_FAILED ? nil : p
    }

    public func munmap(_ address: UnsafeMutableRawPointer, length: Int) { _ = cv4l2_munmap(address, length) }

    public func poll(_ fd: Int32, timeoutMilliseconds: Int32) -> Int32 {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        while true {
            let n = Glibc.poll(&p, 1, timeoutMilliseconds)
            if n < 0, errno == EINTR { continue }
            if n < 0 { return -errno }
            if n == 0 { return 0 }
            if p.revents & Int16(POLLERR | POLLHUP | POLLNVAL) != 0 { return -ENODEV }
            return 1
        }
    }
}
