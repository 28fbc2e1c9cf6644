import Foundation
import CLinux
public import PlateKeeperCore

#if canImport(Glibc)
import Glibc
#endif

/// Whether the system clock is synchronised, as the kernel reports it (`adjtimex`, read only).
///
/// NTP daemons (chrony, systemd-timesyncd, ntpd) and GPS time servers clear the kernel's
/// "unsynchronised" flag while they keep the clock disciplined; that is what each read's clock
/// quality is based on.
public enum SystemClock {
    public static func quality() -> ClockQuality {
        switch clinux_clock_synchronized() {
        case 1: .synchronized
        case 0: .unsynchronized
        default: .unknown
        }
    }

    public static func now() -> CaptureTime {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return CaptureTime(unixNanoseconds: Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec), quality: quality())
    }

    /// Monotonic seconds, for rates and ages that must not jump with the wall clock.
    public static func monotonic() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
