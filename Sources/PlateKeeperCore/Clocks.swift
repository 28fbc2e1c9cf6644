#if canImport(Glibc)
import Glibc
#endif

/// The two clock readings every stage takes: monotonic seconds (for ages and rates, immune to
/// the wall clock stepping) and the wall clock in Unix nanoseconds. `SystemClock` (Capture) adds
/// the kernel's synchronisation state to the latter.
public enum Clocks {
    public static func monotonicSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    public static func wallNanoseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}
