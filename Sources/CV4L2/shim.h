/* CV4L2: the few things Swift cannot import from libv4l2 and <linux/videodev2.h>.
 * v4l2_open and v4l2_ioctl are variadic, and the VIDIOC_* request numbers are
 * function-like macros (_IOWR), so both are re-exported here as non-variadic
 * functions and plain constants, and libv4l2's log stream is set here (a C global Swift 6
 * cannot assign safely). Nothing else belongs in this file. */
#ifndef CV4L2_SHIM_H
#define CV4L2_SHIM_H
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <stdio.h>
#include <sys/mman.h>
#include <linux/videodev2.h>
#include <libv4l2.h>

/* Opens a device and asks it VIDIOC_QUERYCAP before libv4l2 sees it: libv4l2's plugins (the
 * mplane one) print perror() lines on stderr for a file that is not a V4L2 device, whatever
 * v4l2_log_file says. Only a device that answers is handed to v4l2_fd_open. */
static inline int cv4l2_open(const char *path, int flags) {
    int fd = open(path, flags);
    if (fd < 0) return -1;
    struct v4l2_capability cap;
    int r;
    do { r = ioctl(fd, VIDIOC_QUERYCAP, &cap); } while (r < 0 && errno == EINTR);
    if (r < 0 || v4l2_fd_open(fd, 0) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}
static inline int cv4l2_close(int fd) { return v4l2_close(fd); }
static inline int cv4l2_ioctl(int fd, unsigned long request, void *arg) { return v4l2_ioctl(fd, request, arg); }
static inline void *cv4l2_mmap(void *start, size_t length, int prot, int flags, int fd, int64_t offset) {
    return v4l2_mmap(start, length, prot, flags, fd, offset);
}
static inline int cv4l2_munmap(void *start, size_t length) { return v4l2_munmap(start, length); }
/* libv4l2 prints its errors ("libv4l2: error getting pixformat…") to stderr unless given a
 * log file: send them to /dev/null once; every failing call is reported with its errno anyway. */
static inline void cv4l2_silence_log(void) {
    if (!v4l2_log_file) { v4l2_log_file = fopen("/dev/null", "we"); }
}

static const unsigned long CV4L2_VIDIOC_QUERYCAP = VIDIOC_QUERYCAP;
static const unsigned long CV4L2_VIDIOC_ENUM_FMT = VIDIOC_ENUM_FMT;
static const unsigned long CV4L2_VIDIOC_ENUM_FRAMESIZES = VIDIOC_ENUM_FRAMESIZES;
static const unsigned long CV4L2_VIDIOC_ENUM_FRAMEINTERVALS = VIDIOC_ENUM_FRAMEINTERVALS;
static const unsigned long CV4L2_VIDIOC_G_FMT = VIDIOC_G_FMT;
static const unsigned long CV4L2_VIDIOC_S_FMT = VIDIOC_S_FMT;
static const unsigned long CV4L2_VIDIOC_G_PARM = VIDIOC_G_PARM;
static const unsigned long CV4L2_VIDIOC_S_PARM = VIDIOC_S_PARM;
static const unsigned long CV4L2_VIDIOC_REQBUFS = VIDIOC_REQBUFS;
static const unsigned long CV4L2_VIDIOC_QUERYBUF = VIDIOC_QUERYBUF;
static const unsigned long CV4L2_VIDIOC_QBUF = VIDIOC_QBUF;
static const unsigned long CV4L2_VIDIOC_DQBUF = VIDIOC_DQBUF;
static const unsigned long CV4L2_VIDIOC_STREAMON = VIDIOC_STREAMON;
static const unsigned long CV4L2_VIDIOC_STREAMOFF = VIDIOC_STREAMOFF;
static const unsigned long CV4L2_VIDIOC_QUERYCTRL = VIDIOC_QUERYCTRL;
static const unsigned long CV4L2_VIDIOC_G_CTRL = VIDIOC_G_CTRL;
static const unsigned long CV4L2_VIDIOC_S_CTRL = VIDIOC_S_CTRL;

static const unsigned int CV4L2_PIX_FMT_GREY = V4L2_PIX_FMT_GREY;
static const unsigned int CV4L2_PIX_FMT_YUYV = V4L2_PIX_FMT_YUYV;
static const unsigned int CV4L2_PIX_FMT_MJPEG = V4L2_PIX_FMT_MJPEG;
static const unsigned int CV4L2_PIX_FMT_JPEG = V4L2_PIX_FMT_JPEG;

_Static_assert(sizeof(struct v4l2_capability) == 104, "v4l2_capability layout");
#endif
