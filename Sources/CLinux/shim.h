// Linux system calls that Glibc's Swift module does not expose (sys/timex.h, pseudo-terminals).
#ifndef PLATEKEEPER_CLINUX_SHIM_H
#define PLATEKEEPER_CLINUX_SHIM_H
#include <errno.h>
#include <string.h>
#include <sys/timex.h>
#include <sys/ioctl.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

/// Reads the kernel clock state without changing it (adjtimex with modes 0).
/// Returns 1 if the clock is synchronised, 0 if not, -errno if the call failed.
static inline int clinux_clock_synchronized(void) {
    struct timex tx;
    memset(&tx, 0, sizeof tx);
    int state = adjtimex(&tx);
    if (state < 0) return -errno;
    return (state == TIME_ERROR || (tx.status & STA_UNSYNC)) ? 0 : 1;
}

/// The kernel clock state without changing it: synchronised (1/0), estimated and maximum error in
/// microseconds. Returns 0, or -errno if the call failed.
static inline int clinux_clock_state(int *synchronized, long *est_error_us, long *max_error_us) {
    struct timex tx;
    memset(&tx, 0, sizeof tx);
    int state = adjtimex(&tx);
    if (state < 0) return -errno;
    *synchronized = (state == TIME_ERROR || (tx.status & STA_UNSYNC)) ? 0 : 1;
    *est_error_us = tx.esterror;
    *max_error_us = tx.maxerror;
    return 0;
}

/// Opens a new pseudo-terminal master (/dev/ptmx), unlocks it and writes its slave's path into
/// `name`. Returns the master fd, or -errno. (posix_openpt/ptsname need _XOPEN_SOURCE, which
/// Swift's Glibc module is not built with.) For the tests' stand-in serial receivers.
static inline int clinux_open_pty(char *name, size_t length) {
    int fd = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) return -errno;
    int unlock = 0;
    unsigned int number = 0;
    if (ioctl(fd, TIOCSPTLCK, &unlock) != 0 || ioctl(fd, TIOCGPTN, &number) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    snprintf(name, length, "/dev/pts/%u", number);
    return fd;
}
#endif
