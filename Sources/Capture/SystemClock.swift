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

    /// The kernel's clock state: synchronised, estimated and maximum error (`adjtimex`, read only).
    /// `synchronized` is nil when the call failed.
    public static func state() -> ClockState {
        var synced: Int32 = 0
        var est = 0, max = 0
        guard clinux_clock_state(&synced, &est, &max) == 0 else { return ClockState(synchronized: nil) }
        // The kernel caps both at NTP_PHASE_LIMIT-ish values (16 s); bounded anyway.
        func seconds(_ us: Int) -> Double { Double(Swift.min(Swift.max(us, 0), 1_000_000_000)) / 1e6 }
        return ClockState(synchronized: synced == 1, estimatedErrorSeconds: seconds(est), maximumErrorSeconds: seconds(max))
    }

    public static func now() -> CaptureTime {
        CaptureTime(unixNanoseconds: Clocks.wallNanoseconds(), quality: quality())
    }

    /// Monotonic seconds, for rates and ages that must not jump with the wall clock.
    public static func monotonic() -> Double { Clocks.monotonicSeconds() }
}
