// Linux system calls that Glibc's Swift module does not expose (sys/timex.h).
#ifndef PLATEKEEPER_CLINUX_SHIM_H
#define PLATEKEEPER_CLINUX_SHIM_H
#include <errno.h>
#include <string.h>
#include <sys/timex.h>

/// Reads the kernel clock state without changing it (adjtimex with modes 0).
/// Returns 1 if the clock is synchronised, 0 if not, -errno if the call failed.
static inline int clinux_clock_synchronized(void) {
    struct timex tx;
    memset(&tx, 0, sizeof tx);
    int state = adjtimex(&tx);
    if (state < 0) return -errno;
    return (state == TIME_ERROR || (tx.status & STA_UNSYNC)) ? 0 : 1;
}
#endif
